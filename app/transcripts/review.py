"""The review pass: step through words the engine was unsure of; accept, fix, fix all.

A word below the threshold is listed with a few words of context. Accepting it sets its
probability to 1.0 (a person confirmed it); fixing it replaces its text (a word a person
typed has no probability, so it leaves the list too); "fix all" replaces every word with the
same normalised text across the transcript in one revision. Each is a revision; accepts in
a row by one person fold into one, like autosaves.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.errors import ServiceError
from app.extensions import db
from app.private import contents
from app.transcripts import editing, services
from app.transcripts import words as W
from app.transcripts.models import TranscriptSegment

# Words whose probability is below this are marked on the page and offered for review.
DEFAULT_THRESHOLD = 0.5
CONTEXT_WORDS = 6
PAGE = 100
MAX_WORD = 200
FEATURE = _l("The review pass on the server")  # what a Private Transcript is refused


def parse_threshold(raw: Any) -> float:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return DEFAULT_THRESHOLD
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = -1.0
    if not 0.0 < value <= 1.0:  # also refuses NaN
        raise ServiceError(
            _("The threshold is a confidence between 0 and 1, such as 0.5."), field="threshold"
        )
    return value


@dataclass(frozen=True)
class ReviewWord:
    segment_id: uuid.UUID
    number: int  # the segment's place, from 1
    index: int  # the word's place in its segment, from 0
    text: str
    probability: float
    start: float | None
    end: float | None
    before: str  # up to CONTEXT_WORDS words of the segment before it
    after: str
    same: int  # words in the transcript with the same normalised text, this one included
    more_before: bool = False  # the segment goes on beyond the context shown
    more_after: bool = False


@dataclass(frozen=True)
class Review:
    revision: int
    threshold: float
    total: int
    offset: int
    words: list[ReviewWord]


def pending(
    transcript_id: uuid.UUID,
    threshold: float = DEFAULT_THRESHOLD,
    *,
    offset: int = 0,
    limit: int = PAGE,
) -> Review:
    """Words below `threshold`, in order (`limit` of them from `offset`), with context."""
    t = services.get(transcript_id)
    contents.refuse(t, FEATURE)
    sep = W.joiner(t.language)
    rows = db.session.execute(
        select(TranscriptSegment.id, TranscriptSegment.position, TranscriptSegment.words)
        .where(TranscriptSegment.transcript_id == t.id)
        .order_by(TranscriptSegment.position)
    ).all()
    counts: Counter[str] = Counter()
    found: list[tuple[Any, int]] = []
    for row in rows:
        words = row.words or []
        counts.update(W.normal(str(w[0])) for w in words)
        found.extend((row, i) for i, w in enumerate(words) if _below(w, threshold))
    offset = max(0, offset)
    listed = []
    for row, i in found[offset : offset + limit]:
        words = row.words
        w = words[i]
        listed.append(
            ReviewWord(
                row.id,
                row.position + 1,
                i,
                str(w[0]),
                float(w[3]),
                w[1],
                w[2],
                sep.join(str(x[0]) for x in words[max(0, i - CONTEXT_WORDS) : i]),
                sep.join(str(x[0]) for x in words[i + 1 : i + 1 + CONTEXT_WORDS]),
                counts[W.normal(str(w[0]))],
                i > CONTEXT_WORDS,
                i + 1 + CONTEXT_WORDS < len(words),
            )
        )
    return Review(t.revision, threshold, len(found), offset, listed)


def _below(word: list, threshold: float) -> bool:
    p = word[3] if len(word) > 3 else None
    return isinstance(p, int | float) and p < threshold


def low_count(segments: Iterable[Any], threshold: float = DEFAULT_THRESHOLD) -> int:
    # Inline, not through _below: the transcript page counts every word of the transcript.
    return sum(1 for s in segments for w in s.words or () if w[3] is not None and w[3] < threshold)


# --- acting on one word ----------------------------------------------------------------------


def _word(seg: TranscriptSegment, index: Any, expected: str | None) -> list:
    try:
        i = int(index)
    except (TypeError, ValueError):
        raise ServiceError(_("Say which word (its index in the segment)."), field="index") from None
    words = seg.words or []
    if not 0 <= i < len(words):
        raise ServiceError(
            _(
                "Segment %(n)d has no word %(index)d (it has %(count)d).",
                n=seg.position + 1,
                index=i,
                count=len(words),
            ),
            field="index",
        )
    if expected is not None and str(words[i][0]) != expected:
        raise ServiceError(
            _(
                "Word %(index)d of segment %(n)d is “%(word)s”, not “%(expected)s”: "
                "reload the list.",
                index=i,
                n=seg.position + 1,
                word=words[i][0],
                expected=expected,
            ),
            field="word",
        )
    return words[i]


_ACCEPTED = re.compile(r"^Accepted (\d+) words?$")


def _more_accepted(previous: str) -> str | None:
    match = _ACCEPTED.match(previous)
    return f"Accepted {int(match.group(1)) + 1} words" if match else None


def accept(
    transcript_id: uuid.UUID,
    segment_id: uuid.UUID,
    index: Any,
    *,
    base_revision: Any,
    author_id: uuid.UUID | None,
    expected: str | None = None,
) -> editing.Saved:
    """A person confirmed the word as it is: its probability becomes 1.0."""
    contents.refuse(services.get(transcript_id), FEATURE)

    def work(save: editing.Save) -> editing.Saved:
        seg = save.segment(segment_id)
        save.check(seg)
        _word(seg, index, expected)
        return _accept_in(save, seg, int(index))

    return editing.run(transcript_id, base_revision, author_id, work)


def _fix_text(raw: str | None) -> str:
    if raw is None:
        raise ServiceError(_("Send the correct text (empty removes the word)."), field="text")
    text = editing.clean(raw)
    if len(text) > MAX_WORD:
        raise ServiceError(_("A fix is at most %(max)d characters.", max=MAX_WORD), field="text")
    return text


def _respell(original: str, replacement: str) -> str:
    """`replacement` in the place of `original`, keeping its punctuation and capital."""
    if not replacement:
        return ""
    lead, core, trail = W.edges(original)
    if core[:1].isupper() and replacement[:1].islower():
        replacement = replacement[:1].upper() + replacement[1:]
    return lead + replacement + trail


def _retext(
    seg: TranscriptSegment, changes: dict[int, str], language: str | None
) -> tuple[str, list]:
    """The segment's text and words with words at some indexes replaced (or removed)."""
    words = seg.words or []
    offsets = W.word_offsets(seg.text, words)
    if offsets is not None:
        text = seg.text
        for i in sorted(changes, reverse=True):
            at = offsets[i]
            text = text[:at] + changes[i] + text[at + len(str(words[i][0])) :]
    else:
        text = W.joiner(language).join(changes.get(i, str(w[0])) for i, w in enumerate(words))
    text = editing.clean(text)
    if not text:
        raise ServiceError(
            _("This would leave segment %(n)d empty; merge it instead.", n=seg.position + 1),
            field="text",
        )
    if len(text) > editing.MAX_TEXT:
        raise ServiceError(
            _(
                "Segment %(n)d would be over %(max)s characters.",
                n=seg.position + 1,
                max=f"{editing.MAX_TEXT:,}",
            ),
            field="text",
        )
    return text, W.rewords(words, text, language, seg.start, seg.end)


def fix(
    transcript_id: uuid.UUID,
    segment_id: uuid.UUID,
    index: Any,
    text: str | None,
    *,
    base_revision: Any,
    author_id: uuid.UUID | None,
    expected: str | None = None,
) -> editing.Saved:
    """Replace one word (text with spaces makes several; empty text removes it)."""
    contents.refuse(services.get(transcript_id), FEATURE)
    fixed = _fix_text(text)

    def work(save: editing.Save) -> editing.Saved:
        seg = save.segment(segment_id)
        save.check(seg)
        word = _word(seg, index, expected)
        old = str(word[0])
        if fixed == old:
            return _accept_in(save, seg, int(index))
        seg.text, seg.words = _retext(seg, {int(index): fixed}, save.language)
        save.touch(seg)
        summary = f"Fixed {editing.quote(old, 40)} to {editing.quote(fixed, 40)} in segment"
        return save.finish("fix", f"{summary} {seg.position + 1}", segments=[seg])

    return editing.run(transcript_id, base_revision, author_id, work)


def _accept_in(save: editing.Save, seg: TranscriptSegment, i: int) -> editing.Saved:
    if seg.words[i][3] == 1.0:
        return save.unchanged(segments=[seg])
    seg.words = [[*w[:3], 1.0] if k == i else w for k, w in enumerate(seg.words)]
    save.touch(seg)
    return save.finish("accept", "Accepted 1 word", coalesce=_more_accepted, segments=[seg])


def fix_all(
    transcript_id: uuid.UUID,
    word: str | None,
    text: str | None,
    *,
    base_revision: Any,
    author_id: uuid.UUID | None,
) -> editing.Saved:
    """Replace every word that reads like `word` (case and punctuation aside) across the
    transcript, in one revision; `count` says how many."""
    contents.refuse(services.get(transcript_id), FEATURE)
    target = W.normal(editing.clean(word))
    if not target:
        raise ServiceError(_("Say which word to fix everywhere."), field="word")
    fixed = _fix_text(text)

    def work(save: editing.Save) -> editing.Saved:
        found = 0
        count = 0
        touched = []
        for seg in services.segments(save.t):
            matching = [
                (i, str(w[0]))
                for i, w in enumerate(seg.words or [])
                if W.normal(str(w[0])) == target
            ]
            found += len(matching)
            # A word already reading as the fix (with its own punctuation) stays as it is.
            changes = {
                i: _respell(old, fixed) for i, old in matching if _respell(old, fixed) != old
            }
            if not changes:
                continue
            count += len(changes)
            seg.text, seg.words = _retext(seg, changes, save.language)
            touched.append(seg)
        if not found:
            raise ServiceError(
                _("No word reads %(word)s.", word=editing.quote(word or "", 40)), field="word"
            )
        if not count:
            raise ServiceError(_("Every one of them already reads like the fix."), field="text")
        save.touch(*touched)
        times = "1 time" if count == 1 else f"{count} times"
        summary = (
            f"Fixed {editing.quote(word or '', 40)} to {editing.quote(fixed, 40)} everywhere "
            f"({times})"
        )
        return save.finish("fix_all", summary, segments=touched, count=count)

    return editing.run(transcript_id, base_revision, author_id, work, whole=True)
