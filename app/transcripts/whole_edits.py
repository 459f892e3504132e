"""Changes of the whole transcript: find and replace across it, restore a revision.

Both need the current revision as their base (a stale page is refused with a conflict) and
make one revision however many segments they change.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import delete, insert, select

from app.audit.service import record as audit
from app.errors import ServiceError
from app.extensions import db
from app.private import contents
from app.transcripts import revisions, services
from app.transcripts import words as W
from app.transcripts.editing import MAX_TEXT, Save, Saved, clean, quote, run
from app.transcripts.lifecycle import clean_text
from app.transcripts.models import (
    SEGMENT_COLUMNS,
    Transcript,
    TranscriptSegment,
    TranscriptSpeaker,
)

MAX_FIND = 1_000


# --- find and replace ----------------------------------------------------------------------


def pattern(find: str | None, *, match_case: bool, whole_words: bool) -> re.Pattern[str]:
    needle = clean_text(find or "")
    if not needle.strip():
        raise ServiceError(_("Type what to find."), field="find")
    if len(needle) > MAX_FIND:
        raise ServiceError(
            _("Find at most %(max)s characters at a time.", max=f"{MAX_FIND:,}"), field="find"
        )
    body = re.escape(" ".join(needle.split()))
    if whole_words:
        body = rf"(?<!\w){body}(?!\w)"
    return re.compile(body, 0 if match_case else re.IGNORECASE)


@dataclass(frozen=True)
class Match:
    segment_id: uuid.UUID
    number: int
    before: str
    found: str
    after: str


@dataclass(frozen=True)
class Preview:
    count: int
    segments: int
    samples: list[Match]


def preview_replace(
    transcript_id: uuid.UUID,
    find: str | None,
    *,
    match_case: bool,
    whole_words: bool,
    limit: int = 20,
) -> Preview:
    """How many places a replace-all would change, and the first few of them in context."""
    t = services.get(transcript_id)
    contents.refuse(t, _("Find and replace on the server"))
    regex = pattern(find, match_case=match_case, whole_words=whole_words)
    rows = db.session.execute(
        select(TranscriptSegment.id, TranscriptSegment.position, TranscriptSegment.text)
        .where(TranscriptSegment.transcript_id == t.id)
        .order_by(TranscriptSegment.position)
    )
    count = segments = 0
    samples: list[Match] = []
    for row in rows:
        hits = list(regex.finditer(row.text))
        if not hits:
            continue
        count += len(hits)
        segments += 1
        for m in hits:
            if len(samples) < limit:
                samples.append(
                    Match(
                        row.id,
                        row.position + 1,
                        row.text[max(0, m.start() - 40) : m.start()],
                        m.group(0),
                        row.text[m.end() : m.end() + 40],
                    )
                )
    return Preview(count, segments, samples)


def replace_all(
    transcript_id: uuid.UUID,
    find: str | None,
    replacement: str | None,
    *,
    match_case: bool,
    whole_words: bool,
    base_revision: Any,
    author_id: uuid.UUID | None,
) -> Saved:
    """Replace every match across the transcript in one revision."""
    # Another workspace's transcript: 404 before any refusal; a private one: 409.
    contents.refuse(services.get(transcript_id), _("Find and replace on the server"))
    regex = pattern(find, match_case=match_case, whole_words=whole_words)
    with_text = clean_text(replacement or "")
    if len(with_text) > MAX_FIND:
        raise ServiceError(
            _("Replace with at most %(max)s characters.", max=f"{MAX_FIND:,}"), field="replace"
        )

    def work(save: Save) -> Saved:
        count = 0
        touched = []
        for seg in services.segments(save.t):
            new, n = regex.subn(lambda _m: with_text, seg.text)
            if not n:
                continue
            count += n
            new = clean(new)
            if new == seg.text:
                continue
            if not new:
                raise ServiceError(
                    _(
                        "This would leave segment %(n)d empty; merge it instead.",
                        n=seg.position + 1,
                    ),
                    field="replace",
                )
            if len(new) > MAX_TEXT:
                raise ServiceError(
                    _(
                        "Segment %(n)d would be over %(max)s characters.",
                        n=seg.position + 1,
                        max=f"{MAX_TEXT:,}",
                    ),
                    field="replace",
                )
            seg.words = W.rewords(seg.words or [], new, save.language, seg.start, seg.end)
            seg.text = new
            touched.append(seg)
        if not count:
            raise ServiceError(
                _("Nothing matches %(find)s.", find=quote(clean(find))), field="find"
            )
        if not touched:
            raise ServiceError(
                _("The replacement is the same as what it replaces."), field="replace"
            )
        save.touch(*touched)
        times = "1 time" if count == 1 else f"{count} times"
        summary = f"Replaced {quote(clean(find))} with {quote(with_text)} ({times})"
        return save.finish("replace", summary, segments=touched, count=count)

    return run(transcript_id, base_revision, author_id, work, whole=True)


# --- restore -------------------------------------------------------------------------------


def restore(
    transcript_id: uuid.UUID, number: int, *, base_revision: Any, author_id: uuid.UUID | None
) -> Saved:
    """Make revision `number` the current text again, as a new revision."""
    contents.refuse(services.get(transcript_id), _("Edit history on the server"))

    def work(save: Save) -> Saved:
        t = save.t
        if number == t.revision:
            raise ServiceError(
                _(
                    "Revision %(number)d is the current version: nothing to restore.",
                    number=number,
                )
            )
        _info, snap = revisions.snapshot(t, number)
        here = TranscriptSegment.transcript_id == t.id
        current = {str(r.id): r for r in db.session.execute(select(*SEGMENT_COLUMNS).where(here))}
        rows = []
        for position, item in enumerate(snap["segments"]):
            old = current.get(item["id"])
            same = old is not None and (
                old.position,
                old.start,
                old.end,
                old.text,
                old.speaker,
                old.words,
            ) == (
                position,
                item["start"],
                item["end"],
                item["text"],
                item["speaker"],
                item["words"],
            )
            rows.append(
                {
                    "id": uuid.UUID(item["id"]),
                    "workspace_id": t.workspace_id,
                    "transcript_id": t.id,
                    "position": position,
                    "start": item["start"],
                    "end": item["end"],
                    "text": item["text"],
                    "speaker": item["speaker"],
                    "words": item["words"],
                    # A segment that comes back as it is now keeps its mark: whoever is
                    # editing it is not refused for nothing.
                    "changed_in": old.changed_in if same else save.number,
                }
            )
        # Segments are re-created: any loaded ones leave the session with their rows.
        for obj in list(db.session.identity_map.values()):
            if isinstance(obj, TranscriptSegment):
                db.session.expunge(obj)
        db.session.execute(
            delete(TranscriptSegment).where(here), execution_options={"synchronize_session": False}
        )
        if rows:
            db.session.execute(insert(TranscriptSegment), rows)
        _restore_speakers(t, snap.get("speakers", {}), {r["speaker"] for r in rows})
        audit("transcript.revision_restored", target=t, details={"number": number})
        return save.finish("restore", f"Restored revision {number}")

    return run(transcript_id, base_revision, author_id, work, whole=True)


def _restore_speakers(t: Transcript, names: dict[str, str], used: set[str | None]) -> None:
    """Speakers become those of the snapshot (and any label a segment still uses)."""
    rows = services.speakers(t)
    wanted = dict(names)
    for label in used:
        if label is not None and label not in wanted:
            wanted[label] = rows[label].name if label in rows else label
    for label, row in rows.items():
        if label not in wanted:
            db.session.delete(row)
        elif row.name != wanted[label]:
            row.name = wanted[label]
    for label, name in wanted.items():
        if label not in rows:
            db.session.add(
                TranscriptSpeaker(
                    transcript_id=t.id, workspace_id=t.workspace_id, label=label, name=name
                )
            )
    t.speaker_count = len(wanted)
