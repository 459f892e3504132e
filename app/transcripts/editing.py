"""Changing a transcript's segments and speakers. Every save is a revision.

Each change names the revision the person was looking at (`base_revision`). The transcript
row is locked while saving (SELECT ... FOR UPDATE), so two saves cannot both pass the check:
a change is refused (EditConflict, 409) only when something it touches was saved by someone
else after that base (TranscriptSegment.changed_in says when a segment last changed). Two
people editing different segments both succeed. Whole-transcript changes (find and replace,
restore: app.transcripts.whole_edits) need the current revision.

`run` is the one way to save: lock, check, change, record the revision, commit.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select, update

from app.errors import Conflict, NotFound, ServiceError
from app.extensions import db
from app.private import contents
from app.transcripts import revisions, services
from app.transcripts import words as W
from app.transcripts.lifecycle import clean_text
from app.transcripts.models import (
    Status,
    Transcript,
    TranscriptSegment,
    TranscriptSpeaker,
    status_name,
)

MAX_TEXT = 10_000  # characters in one segment
MAX_NAME = 120
EPSILON = 1e-6


class EditConflict(Conflict):
    """Someone else saved what this change touches after the revision it was based on."""

    def __init__(
        self,
        message: str,
        *,
        revision: int,
        saved_by: str | None = None,
        saved_at: datetime | None = None,
        segments: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.revision = revision
        self.saved_by = saved_by
        self.saved_at = saved_at
        self.segments = segments or []


@dataclass
class Saved:
    """What a change did: the revision it made (the current one when nothing changed)."""

    revision: int
    changed: bool = True
    summary: str = ""
    segments: list[TranscriptSegment] = field(default_factory=list)
    removed: list[uuid.UUID] = field(default_factory=list)
    speaker: TranscriptSpeaker | None = None
    count: int = 0


# --- input ---------------------------------------------------------------------------------


def clean(text: str | None) -> str:
    """Text as stored: no control characters, whitespace runs as one space, trimmed."""
    return " ".join(clean_text(text or "").split())


def segment_text(raw: str | None) -> str:
    text = clean(raw)
    if not text:
        raise ServiceError(
            _("A segment cannot be empty: merge it with its neighbour instead."), field="text"
        )
    if len(text) > MAX_TEXT:
        raise ServiceError(
            _(
                "A segment holds at most %(max)s characters (%(given)s given): split it first.",
                max=f"{MAX_TEXT:,}",
                given=f"{len(text):,}",
            ),
            field="text",
        )
    return text


def speaker_name(raw: str | None) -> str:
    name = clean(raw)
    if not name or len(name) > MAX_NAME:
        raise ServiceError(
            _("A speaker's name must be 1 to %(max)d characters.", max=MAX_NAME), field="name"
        )
    return name


def parse_base(raw: Any) -> int:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise ServiceError(
            _("Say which revision the change is based on (base_revision); reload the page."),
            field="base_revision",
        )
    try:
        base = int(raw)
    except (TypeError, ValueError):
        raise ServiceError(
            _("base_revision must be a whole number."), field="base_revision"
        ) from None
    if base < 1:
        raise ServiceError(_("base_revision starts at 1."), field="base_revision")
    return base


_CLOCK = re.compile(r"^(?:(\d+):)?(?:(\d+):)?(\d+(?:[.,]\d+)?)$")


def parse_clock(raw: str | None, field_name: str) -> float | None:
    """Seconds from "83.5", "1:23.5" or "1:01:23.5"; None for an empty field."""
    value = (raw or "").strip()
    if not value:
        return None
    match = _CLOCK.match(value)
    if not match:
        raise ServiceError(
            _(
                "Write the %(field)s as seconds (83.5) or minutes:seconds (1:23.5).",
                field=_field_word(field_name),
            ),
            field=field_name,
        )
    parts = [p for p in match.groups() if p is not None]
    total = 0.0
    for part in parts:
        total = total * 60 + float(part.replace(",", "."))
    return total


def clock(value: float) -> str:
    """A time as people read it in messages: 1:23.45 (h:mm:ss.ss past the first hour)."""
    value = max(0.0, value)
    minutes, secs = divmod(value, 60)
    hours, minutes = divmod(int(minutes), 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:05.2f}"
    return f"{minutes}:{secs:05.2f}"


def _field_word(name: str) -> str:
    """A time field's name as the message reads it ("start", "end")."""
    return {"start": _("start"), "end": _("end")}.get(name, name)


# --- one save ------------------------------------------------------------------------------


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else _("a moment ago")


def segment_dict(seg: TranscriptSegment, names: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "id": seg.id,
        "position": seg.position,
        "number": seg.position + 1,
        "start": seg.start,
        "end": seg.end,
        "text": seg.text,
        "speaker": seg.speaker,
        "speaker_name": (names or {}).get(seg.speaker or "", None),
        "words": seg.words or [],
        "changed_in": seg.changed_in,
    }


class Save:
    """A save in progress: the locked transcript and the revision it will make."""

    def __init__(self, t: Transcript, base: int, author_id: uuid.UUID | None) -> None:
        self.t = t
        self.base = base
        self.author_id = author_id
        self.number = t.revision + 1
        self.made: TranscriptSpeaker | None = None  # a speaker this save created

    @property
    def language(self) -> str | None:
        return self.t.language

    def segment(self, segment_id: uuid.UUID) -> TranscriptSegment:
        seg = db.session.scalar(
            select(TranscriptSegment)
            .where(TranscriptSegment.id == segment_id, TranscriptSegment.transcript_id == self.t.id)
            .execution_options(populate_existing=True)
        )
        if seg is not None:
            return seg
        if self.base < self.t.revision:
            # It was there when the person loaded the page: someone merged it away or
            # restored a revision without it.
            raise self.conflict(
                revisions.saved_at_or_after(self.t, self.base + 1),
                _(
                    "%(who)s removed this segment at %(when)s (revision %(revision)s), "
                    "after you opened it."
                ),
                _("Your change was not saved; copy your text before reloading."),
            )
        raise NotFound(_("No such segment in this transcript."))

    def at(self, position: int) -> TranscriptSegment | None:
        if position < 0:
            return None
        return db.session.scalar(
            select(TranscriptSegment)
            .where(
                TranscriptSegment.transcript_id == self.t.id,
                TranscriptSegment.position == position,
            )
            .execution_options(populate_existing=True)
        )

    def check(self, *segments: TranscriptSegment) -> None:
        """Refuse the save when one of `segments` changed after the base revision."""
        stale = [s for s in segments if s.changed_in > self.base]
        if not stale:
            return
        newest = max(stale, key=lambda s: s.changed_in)
        did = (
            _(
                "%(who)s changed this segment at %(when)s (revision %(revision)s), "
                "after you opened it."
            )
            if len(segments) == 1
            else _(
                "%(who)s changed segment %(segment)s at %(when)s (revision %(revision)s), "
                "after you opened it."
            )
        )
        names = services.speaker_names(self.t)
        raise self.conflict(
            revisions.saved_at_or_after(self.t, newest.changed_in),
            did,
            _("Your change was not saved: compare both versions and choose."),
            segments=[segment_dict(s, names) for s in segments],
            segment=newest.position + 1,
        )

    def stale_whole(self) -> EditConflict:
        return self.conflict(
            revisions.latest(self.t),
            _("%(who)s saved a change at %(when)s (revision %(revision)s), after you opened it."),
            _(
                "This changes the whole transcript, so it needs the latest version: reload, "
                "then try again."
            ),
        )

    def conflict(
        self,
        holder: revisions.RevisionInfo | None,
        did: str,
        advice: str,
        *,
        segments: list[dict[str, Any]] | None = None,
        **values: Any,
    ) -> EditConflict:
        """ "Ada changed this segment at 14:02 UTC (revision 7), after you opened it."

        `did` is that sentence, translated but not yet filled in: %(who)s, %(when)s and
        %(revision)s come from here, any other placeholder from `values`."""
        if holder is None:
            who, when, number = _("Someone"), _("a moment ago"), self.t.revision
        else:
            mine = holder.author_id is not None and holder.author_id == self.author_id
            who = _("You (in another window)") if mine else holder.who
            when, number = _when(holder.created_at), holder.number
        sentence = did % {**values, "who": who, "when": when, "revision": number}
        return EditConflict(
            f"{sentence} {advice}",
            revision=self.t.revision,
            saved_by=holder.who if holder else None,
            saved_at=holder.created_at if holder else None,
            segments=segments,
        )

    def touch(self, *segments: TranscriptSegment) -> None:
        for seg in segments:
            seg.changed_in = self.number

    def shift(self, after: int, by: int) -> None:
        """Move segments after position `after` by `by` places. Through negative positions,
        so the unique (transcript, position) constraint holds at every row."""
        here = TranscriptSegment.transcript_id == self.t.id
        db.session.execute(
            update(TranscriptSegment)
            .where(here, TranscriptSegment.position > after)
            .values(position=-(TranscriptSegment.position + by) - 1)
            .execution_options(synchronize_session=False)
        )
        db.session.execute(
            update(TranscriptSegment)
            .where(here, TranscriptSegment.position < 0)
            .values(position=-(TranscriptSegment.position + 1))
            .execution_options(synchronize_session=False)
        )
        # Loaded segments still hold their old places: read them again when next used.
        for obj in list(db.session.identity_map.values()):
            if isinstance(obj, TranscriptSegment):
                db.session.expire(obj)

    def unchanged(self, **result: Any) -> Saved:
        db.session.rollback()
        return Saved(revision=self.t.revision, changed=False, **result)

    def finish(
        self, kind: str, summary: str, *, coalesce: revisions.Coalesce | None = None, **result: Any
    ) -> Saved:
        self.t.revision = self.number
        db.session.flush()
        revisions.record(
            self.t, author_id=self.author_id, kind=kind, summary=summary, coalesce=coalesce
        )
        db.session.commit()
        return Saved(revision=self.number, summary=summary, **result)


def begin(
    transcript_id: uuid.UUID,
    base_revision: Any,
    author_id: uuid.UUID | None,
    *,
    whole: bool = False,
    base_optional: bool = False,
) -> Save:
    """Lock the transcript for a save; refuse what cannot be edited."""
    services.get(transcript_id)  # another workspace's id: the same 404 as a missing one
    base = None if base_optional and base_revision in (None, "") else parse_base(base_revision)
    t = db.session.scalar(
        select(Transcript)
        .where(Transcript.id == transcript_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if t is None:  # deleted meanwhile
        raise NotFound(_("No such transcript."))
    contents.refuse(t, _("Editing on the server"))  # its owner's browser edits it
    if t.status != Status.COMPLETED:
        db.session.rollback()
        raise ServiceError(
            _(
                "This transcript is %(status)s; it can be edited once it is completed.",
                status=status_name(t.status),
            )
        )
    if base is None:
        base = t.revision
    if base > t.revision:
        db.session.rollback()
        raise ServiceError(
            _(
                "Revision %(base)d does not exist yet: this transcript is at revision %(current)d.",
                base=base,
                current=t.revision,
            ),
            field="base_revision",
        )
    save = Save(t, base, author_id)
    if whole and base != t.revision:
        conflict = save.stale_whole()
        db.session.rollback()
        raise conflict
    revisions.ensure_original(t)
    return save


def run(
    transcript_id: uuid.UUID,
    base_revision: Any,
    author_id: uuid.UUID | None,
    work: Callable[[Save], Saved],
    *,
    whole: bool = False,
    base_optional: bool = False,
) -> Saved:
    """Lock, check and run `work(save)`; any refusal rolls the whole save back."""
    save = begin(transcript_id, base_revision, author_id, whole=whole, base_optional=base_optional)
    try:
        return work(save)
    except BaseException:
        db.session.rollback()
        raise


# --- one segment ---------------------------------------------------------------------------


def _same_text(summary: str) -> revisions.Coalesce:
    return lambda previous: summary if previous == summary else None


def update_segment(
    transcript_id: uuid.UUID,
    segment_id: uuid.UUID,
    *,
    base_revision: Any,
    author_id: uuid.UUID | None,
    text: str | None = None,
    start: float | None = None,
    end: float | None = None,
    speaker: str | None = None,
    new_speaker: str | None = None,
) -> Saved:
    """Change a segment's text, times and/or speaker in one revision.

    `speaker` is the label of one of the transcript's speakers; `new_speaker` names a new
    one, made for this segment.
    """
    new_text = segment_text(text) if text is not None else None
    if speaker is not None and new_speaker is not None:
        raise ServiceError(
            _("Choose an existing speaker or name a new one, not both."), field="speaker"
        )
    # An empty name for a new speaker: "Speaker N", as the engine names them.
    named = speaker_name(new_speaker) if new_speaker and new_speaker.strip() else new_speaker
    for name, value in (("start", start), ("end", end)):
        if value is not None and not math.isfinite(value):
            raise ServiceError(
                _("The %(field)s must be a number of seconds.", field=_field_word(name)),
                field=name,
            )

    def work(save: Save) -> Saved:
        seg = save.segment(segment_id)
        save.check(seg)
        changes: list[str] = []
        made: TranscriptSpeaker | None = None
        if (start is not None or end is not None) and _set_times(save, seg, start, end):
            changes.append("times")
        if new_text is not None and new_text != seg.text:
            seg.words = W.rewords(seg.words or [], new_text, save.language, seg.start, seg.end)
            seg.text = new_text
            changes.append("text")
        if (speaker is not None or named is not None) and _set_speaker(save, seg, speaker, named):
            changes.append("speaker")
            made = save.made
        if not changes:
            return save.unchanged(segments=[seg])
        save.touch(seg)
        number = seg.position + 1
        if changes == ["text"]:
            summary = f"Edited segment {number}"
            return save.finish("edit", summary, coalesce=_same_text(summary), segments=[seg])
        if changes == ["times"]:
            summary = f"Set segment {number} to {clock(seg.start)} to {clock(seg.end)}"
            return save.finish("times", summary, segments=[seg])
        if changes == ["speaker"]:
            verb = "a new speaker" if made else "the speaker"
            summary = f"Gave segment {number} {verb}: {_name_of(save.t, seg.speaker)}"
            return save.finish("speaker", summary, segments=[seg], speaker=made)
        summary = f"Edited segment {number} ({', '.join(changes)})"
        return save.finish("segment", summary, segments=[seg], speaker=made)

    return run(transcript_id, base_revision, author_id, work)


def edit_text(
    transcript_id: uuid.UUID,
    segment_id: uuid.UUID,
    text: str | None,
    *,
    base_revision: Any,
    author_id: uuid.UUID | None,
) -> Saved:
    """Replace a segment's text (autosave calls this); edits of one segment by one person
    within two minutes share a revision."""
    return update_segment(
        transcript_id, segment_id, base_revision=base_revision, author_id=author_id, text=text
    )


def _set_times(save: Save, seg: TranscriptSegment, start: float | None, end: float | None) -> bool:
    # Milliseconds for what the person typed; a time they left alone stays exactly as it is.
    new_start = seg.start if start is None else round(start, 3)
    new_end = seg.end if end is None else round(end, 3)
    if new_start == seg.start and new_end == seg.end:
        return False
    n = seg.position + 1
    if new_start < 0:
        raise ServiceError(_("A segment cannot start before 0:00.00."), field="start")
    duration = save.t.duration_seconds
    if duration and new_end > duration + EPSILON:
        raise ServiceError(
            _("A segment cannot end after the recording does (%(end)s).", end=clock(duration)),
            field="end",
        )
    if new_start >= new_end:
        raise ServiceError(
            _(
                "The start (%(start)s) must be before the end (%(end)s).",
                start=clock(new_start),
                end=clock(new_end),
            ),
            field="end" if end is not None else "start",
        )
    if new_start != seg.start:
        before = save.at(seg.position - 1)
        if before is not None and new_start < before.end - EPSILON:
            raise ServiceError(
                _(
                    "Segment %(n)d would start at %(start)s, before segment %(previous)d ends "
                    "(%(end)s): segments keep their order and do not overlap.",
                    n=n,
                    start=clock(new_start),
                    previous=n - 1,
                    end=clock(before.end),
                ),
                field="start",
            )
    if new_end != seg.end:
        after = save.at(seg.position + 1)
        if after is not None and new_end > after.start + EPSILON:
            raise ServiceError(
                _(
                    "Segment %(n)d would end at %(end)s, after segment %(next)d starts "
                    "(%(start)s): segments keep their order and do not overlap.",
                    n=n,
                    end=clock(new_end),
                    next=n + 1,
                    start=clock(after.start),
                ),
                field="end",
            )
    seg.start, seg.end = new_start, new_end
    seg.words = W.settle([list(w) for w in seg.words or []], new_start, new_end)
    return True


_LABEL = re.compile(r"SPEAKER_(\d+)")


def _fresh_label(taken: Iterable[str]) -> str:
    taken = set(taken)
    numbers = [int(m.group(1)) for label in taken if (m := _LABEL.fullmatch(label))]
    n = max(numbers, default=-1) + 1
    while f"SPEAKER_{n:02d}" in taken:
        n += 1
    return f"SPEAKER_{n:02d}"


def _set_speaker(save: Save, seg: TranscriptSegment, label: str | None, name: str | None) -> bool:
    rows = services.speakers(save.t)
    if name is not None:
        made = TranscriptSpeaker(
            transcript_id=save.t.id,
            workspace_id=save.t.workspace_id,
            label=_fresh_label(rows),
            name=name or f"Speaker {len(rows) + 1}",
        )
        db.session.add(made)
        save.made = made
        seg.speaker = made.label
        save.t.speaker_count = len(rows) + 1
        return True
    if label not in rows:
        raise ServiceError(
            _("There is no speaker %(label)s in this transcript.", label=label), field="speaker"
        )
    if seg.speaker == label:
        return False
    seg.speaker = label
    return True


def _name_of(t: Transcript, label: str | None) -> str:
    if label is None:
        return "nobody"
    row = services.speakers(t).get(label)
    return row.name if row else label


def split(
    transcript_id: uuid.UUID,
    segment_id: uuid.UUID,
    *,
    base_revision: Any,
    author_id: uuid.UUID | None,
    word_index: int | None = None,
    offset: int | None = None,
) -> Saved:
    """Cut a segment in two before word `word_index`, or at character `offset` of its text.
    The first part keeps the segment's id; the second is a new segment right after it."""
    if (word_index is None) == (offset is None):
        raise ServiceError(_("Say where to split: a word (word_index) or a character offset."))

    def work(save: Save) -> Saved:
        seg = save.segment(segment_id)
        save.check(seg)
        first, second, at = _cut(save, seg, word_index, offset)
        old_end = seg.end
        save.shift(seg.position, 1)
        seg.text, seg.words, seg.end = first[0], first[1], at
        new = TranscriptSegment(
            id=uuid.uuid4(),
            transcript_id=save.t.id,
            workspace_id=save.t.workspace_id,
            position=seg.position + 1,
            start=at,
            end=old_end,
            text=second[0],
            speaker=seg.speaker,
            words=second[1],
            changed_in=save.number,
        )
        db.session.add(new)
        save.touch(seg)
        summary = f"Split segment {seg.position + 1} at {clock(at)}"
        return save.finish("split", summary, segments=[seg, new])

    return run(transcript_id, base_revision, author_id, work)


Part = tuple[str, list]


def _cut(
    save: Save, seg: TranscriptSegment, word_index: int | None, offset: int | None
) -> tuple[Part, Part, float]:
    words = [list(w) for w in seg.words or []]
    text = seg.text
    if word_index is not None:
        if len(words) < 2:
            raise ServiceError(_("This segment has one word or none: there is nothing to split."))
        if not 1 <= word_index < len(words):
            raise ServiceError(
                _("Split before a word from 2 to %(last)d of this segment.", last=len(words)),
                field="word_index",
            )
        offsets = W.word_offsets(text, words)
        if offsets is None:
            # The stored text does not spell the words (an engine quirk): cut the words.
            sep = W.joiner(save.language)
            at = _inside(
                seg,
                W.split_time(
                    words,
                    sep.join(str(w[0]) for w in words),
                    sum(len(str(w[0])) + len(sep) for w in words[:word_index]),
                    seg.start,
                    seg.end,
                ),
            )
            left, right = words[:word_index], words[word_index:]
            return (
                (sep.join(str(w[0]) for w in left), W.settle(left, seg.start, at)),
                (sep.join(str(w[0]) for w in right), W.settle(right, at, seg.end)),
                at,
            )
        offset = offsets[word_index]
    assert offset is not None
    left_text, right_text = text[:offset].rstrip(), text[offset:].lstrip()
    if not left_text or not right_text:
        raise ServiceError(
            _("Split inside the text, so that both parts keep some of it."), field="offset"
        )
    at = _inside(seg, W.split_time(words, text, offset, seg.start, seg.end))
    return (
        (left_text, W.rewords(words, left_text, save.language, seg.start, at)),
        (right_text, W.rewords(words, right_text, save.language, at, seg.end)),
        at,
    )


def _inside(seg: TranscriptSegment, moment: float) -> float:
    """A split moment strictly inside the segment, when it has any length."""
    room = seg.end - seg.start
    if room <= 0:
        return seg.start
    margin = min(0.01, room / 2)
    return round(min(max(moment, seg.start + margin), seg.end - margin), 3)


def merge(
    transcript_id: uuid.UUID,
    segment_id: uuid.UUID,
    *,
    base_revision: Any,
    author_id: uuid.UUID | None,
    next_id: uuid.UUID | None = None,
) -> Saved:
    """Join a segment with the one after it (`next_id`: the one the person saw there). The
    first keeps its id and speaker."""

    def work(save: Save) -> Saved:
        seg = save.segment(segment_id)
        after = save.at(seg.position + 1)
        if after is None:
            save.check(seg)
            raise ServiceError(_("This is the last segment: there is nothing after it to merge."))
        save.check(seg, after)
        if next_id is not None and after.id != next_id:
            save.check(seg, save.segment(next_id))
            raise ServiceError(_("Those two segments are not next to each other."))
        sep = W.joiner(save.language)
        text = f"{seg.text.rstrip()}{sep}{after.text.lstrip()}"
        if len(text) > MAX_TEXT:
            raise ServiceError(
                _(
                    "Together they would be over %(max)s characters, more than a segment holds.",
                    max=f"{MAX_TEXT:,}",
                )
            )
        end = max(seg.end, after.end)
        seg.words = W.settle(
            [list(w) for w in (seg.words or []) + (after.words or [])], seg.start, end
        )
        seg.text, seg.end = text, end
        gone = after.id
        db.session.delete(after)
        db.session.flush()
        save.shift(seg.position + 1, -1)
        save.touch(seg)
        summary = f"Merged segments {seg.position + 1} and {seg.position + 2}"
        return save.finish("merge", summary, segments=[seg], removed=[gone])

    return run(transcript_id, base_revision, author_id, work)


# --- speakers ------------------------------------------------------------------------------


def rename_speaker(
    transcript_id: uuid.UUID,
    label: str,
    name: str,
    *,
    base_revision: Any = None,
    author_id: uuid.UUID | None = None,
) -> Saved:
    """Rename a speaker everywhere at once. Without a base the rename simply applies; with a
    stale one it is refused only when someone renamed this speaker since."""
    t = services.get(transcript_id)
    if label not in services.speakers(t):
        raise NotFound(_("No such speaker in this transcript."))
    new = speaker_name(name)

    def work(save: Save) -> Saved:
        speaker = services.speakers(save.t).get(label)
        if speaker is None:
            raise NotFound(_("No such speaker in this transcript."))
        if save.base < save.t.revision:
            then = revisions.as_of(save.t, save.base).get("speakers", {}).get(label)
            if then is not None and then != speaker.name:
                raise save.conflict(
                    revisions.latest(save.t, "rename", "restore", after=save.base),
                    _(
                        "%(who)s renamed this speaker to “%(name)s” at %(when)s "
                        "(revision %(revision)s), after you opened it."
                    ),
                    _("Reload, then rename again if you still want to."),
                    name=speaker.name,
                )
        if speaker.name == new:
            return save.unchanged(speaker=speaker)
        old = speaker.name
        speaker.name = new
        return save.finish("rename", f"Renamed {old} to {new}", speaker=speaker)

    return run(transcript_id, base_revision, author_id, work, base_optional=True)


def quote(text: str, limit: int = 60) -> str:
    return f"'{text if len(text) <= limit else text[: limit - 1] + '…'}'"
