"""History of a transcript: a snapshot after every save, who made it, and what changed.

A snapshot is the whole transcript (segments with ids, times, text, speaker and words; the
speakers' names) as zlib-compressed JSON, so any revision opens, diffs and restores on its
own. The engine's output is revision 1, written lazily just before the first edit.

Autosave must not flood the history: a text edit of the same segment by the same person
within two minutes of their previous one replaces that revision's snapshot (its number
moves up to the new one) instead of adding a row. The transcript's revision counter still
counts every save, so a history can read 1, 2, 5, 6.
"""

from __future__ import annotations

import functools
import json
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from difflib import SequenceMatcher
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Text, cast, select
from sqlalchemy.orm import defer

from app.auth.models import User
from app.db import as_utc, utcnow
from app.errors import NotFound
from app.extensions import db
from app.private import contents
from app.transcripts import words as W
from app.transcripts.models import (
    Transcript,
    TranscriptRevision,
    TranscriptSegment,
    TranscriptSpeaker,
)

FORMAT = 1
# Every save compresses a snapshot: level 1 is four times faster than the default level 6
# on a 3-hour transcript's 1.5 MB of JSON, for a blob about 12% larger (~600 kB).
LEVEL = 1
COALESCE_WINDOW = timedelta(minutes=2)
ORIGINAL = "original"
# A Private Transcript has no server-side history (its browser keeps the ciphertext's
# revision), so every way into revisions refuses it.
FEATURE = _l("Edit history on the server")

Snapshot = dict[str, Any]
# Given the summary of the revision a save might fold into, the merged summary, or None
# when the save needs a revision of its own.
Coalesce = Callable[[str], str | None]


# --- snapshots ---------------------------------------------------------------------------


def capture_json(t: Transcript) -> str:
    """The transcript as it is in this transaction (flush first), as snapshot JSON.

    Words are taken as the JSON text the database holds and spliced in as they are:
    decoding and encoding a 3-hour transcript's 30k words would be most of a save's time.
    """
    rows = db.session.execute(
        select(
            TranscriptSegment.id,
            TranscriptSegment.start,
            TranscriptSegment.end,
            TranscriptSegment.text,
            TranscriptSegment.speaker,
            cast(TranscriptSegment.words, Text).label("words"),
        )
        .where(TranscriptSegment.transcript_id == t.id)
        .order_by(TranscriptSegment.position)
    ).all()
    speakers = db.session.execute(
        select(TranscriptSpeaker.label, TranscriptSpeaker.name)
        .where(TranscriptSpeaker.transcript_id == t.id)
        .order_by(TranscriptSpeaker.label)
    ).all()
    dump = functools.partial(json.dumps, ensure_ascii=False)
    segments = ",".join(
        f'{{"id":"{r.id}","start":{dump(r.start)},"end":{dump(r.end)},"text":{dump(r.text)},'
        f'"speaker":{dump(r.speaker)},"words":{r.words or "[]"}}}'
        for r in rows
    )
    head = dump({"v": FORMAT, "language": t.language, "speakers": dict(speakers)})
    return f'{head[:-1]},"segments":[{segments}]}}'


def capture(t: Transcript) -> Snapshot:
    return json.loads(capture_json(t))


def encode(snapshot: Snapshot | str) -> bytes:
    raw = snapshot if isinstance(snapshot, str) else json.dumps(snapshot, ensure_ascii=False)
    return zlib.compress(raw.encode("utf-8"), LEVEL)


def decode(blob: bytes) -> Snapshot:
    return json.loads(zlib.decompress(blob))


# --- rows ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RevisionInfo:
    number: int
    kind: str
    summary: str
    created_at: datetime
    author_id: uuid.UUID | None = None
    author_name: str | None = None

    @property
    def who(self) -> str:
        if self.author_name:
            return self.author_name
        return _("The transcription engine") if self.kind == ORIGINAL else _("Someone")


def _original_summary(t: Transcript) -> str:
    return f"Transcribed with {t.model}"[:300]


def _synthetic_original(t: Transcript) -> RevisionInfo:
    """Revision 1 before anyone edited: nothing is written until the first save."""
    return RevisionInfo(t.revision, ORIGINAL, _original_summary(t), t.finished_at or t.created_at)


def _infos(t: Transcript, *conditions: Any, order: Any, limit: int | None = None) -> list:
    query = (
        select(
            TranscriptRevision.number,
            TranscriptRevision.kind,
            TranscriptRevision.summary,
            TranscriptRevision.created_at,
            TranscriptRevision.author_id,
            User.name,
            User.email,
        )
        .outerjoin(User, User.id == TranscriptRevision.author_id)
        .where(TranscriptRevision.transcript_id == t.id, *conditions)
        .order_by(order)
    )
    if limit is not None:
        query = query.limit(limit)
    return [
        RevisionInfo(
            r.number,
            r.kind,
            r.summary,
            r.created_at,
            r.author_id,
            (r.name or (r.email or "").split("@", 1)[0] or None) if r.author_id else None,
        )
        for r in db.session.execute(query)
    ]


def history(t: Transcript) -> list[RevisionInfo]:
    """Every revision, newest first."""
    contents.refuse(t, FEATURE)
    return _infos(t, order=TranscriptRevision.number.desc()) or [_synthetic_original(t)]


def saved_at_or_after(t: Transcript, number: int) -> RevisionInfo | None:
    """The revision that holds save `number` (a folded autosave lives in the next row)."""
    found = _infos(t, TranscriptRevision.number >= number, order=TranscriptRevision.number, limit=1)
    return found[0] if found else None


def latest(t: Transcript, *kinds: str, after: int = 0) -> RevisionInfo | None:
    """The newest revision (of one of `kinds`, when given) numbered above `after`."""
    conditions = [TranscriptRevision.number > after]
    if kinds:
        conditions.append(TranscriptRevision.kind.in_(kinds))
    found = _infos(t, *conditions, order=TranscriptRevision.number.desc(), limit=1)
    return found[0] if found else None


def _blob(t: Transcript, number: int) -> bytes:
    blob = db.session.scalar(
        select(TranscriptRevision.snapshot).where(
            TranscriptRevision.transcript_id == t.id, TranscriptRevision.number == number
        )
    )
    assert blob is not None
    return blob


def _has_rows(t: Transcript) -> bool:
    return (
        db.session.scalar(
            select(TranscriptRevision.id).where(TranscriptRevision.transcript_id == t.id).limit(1)
        )
        is not None
    )


def snapshot(t: Transcript, number: int) -> tuple[RevisionInfo, Snapshot]:
    """Revision `number` and its snapshot; NotFound for a number that is not in the history."""
    contents.refuse(t, FEATURE)
    found = _infos(t, TranscriptRevision.number == number, order=TranscriptRevision.number)
    if found:
        return found[0], decode(_blob(t, number))
    if number == t.revision and not _has_rows(t):
        return _synthetic_original(t), capture(t)
    later = saved_at_or_after(t, number) if 0 < number < t.revision else None
    if later is not None:
        raise NotFound(
            _(
                "Revision %(number)d was an autosave folded into revision %(later)d, "
                "which holds it.",
                number=number,
                later=later.number,
            )
        )
    raise NotFound(_("No such revision of this transcript."))


def previous(t: Transcript, number: int) -> tuple[RevisionInfo, Snapshot] | None:
    """The revision before `number` in the history, and its snapshot."""
    found = _infos(
        t, TranscriptRevision.number < number, order=TranscriptRevision.number.desc(), limit=1
    )
    if not found:
        return None
    return found[0], decode(_blob(t, found[0].number))


def as_of(t: Transcript, number: int) -> Snapshot:
    """The transcript as it was right after save `number`, as far as speakers, times and the
    order of segments go (a folded autosave differs from its row only in one segment's text).
    """
    holder = saved_at_or_after(t, number)
    return decode(_blob(t, holder.number)) if holder is not None else capture(t)


def ensure_original(t: Transcript) -> None:
    """Write revision 1 (the engine's output) before the first change, once. Every edit
    passes here first (editing.begin), so a Private Transcript's edits stop here too."""
    contents.refuse(t, _("Editing on the server"))
    if _has_rows(t):
        return
    db.session.add(
        TranscriptRevision(
            transcript_id=t.id,
            workspace_id=t.workspace_id,
            number=t.revision,
            author_id=None,
            created_at=t.finished_at or t.created_at,
            kind=ORIGINAL,
            summary=_original_summary(t),
            snapshot=encode(capture_json(t)),
        )
    )
    db.session.flush()


def record(
    t: Transcript,
    *,
    author_id: uuid.UUID | None,
    kind: str,
    summary: str,
    coalesce: Coalesce | None = None,
) -> TranscriptRevision:
    """Snapshot the transcript as revision t.revision (flushed already), or fold it into
    the previous revision when `coalesce` allows."""
    contents.refuse(t, FEATURE)
    blob = encode(capture_json(t))
    now = utcnow()
    summary = summary[:300]
    last = db.session.scalars(
        select(TranscriptRevision)
        .options(defer(TranscriptRevision.snapshot))
        .where(TranscriptRevision.transcript_id == t.id)
        .order_by(TranscriptRevision.number.desc())
        .limit(1)
    ).first()
    if (
        coalesce is not None
        and last is not None
        and author_id is not None
        and last.author_id == author_id
        and last.kind == kind
        and now - as_utc(last.created_at) <= COALESCE_WINDOW
    ):
        merged = coalesce(last.summary)
        if merged is not None:
            last.number = t.revision
            last.snapshot = blob
            last.created_at = now
            last.summary = merged[:300]
            db.session.flush()
            return last
    row = TranscriptRevision(
        transcript_id=t.id,
        workspace_id=t.workspace_id,
        number=t.revision,
        author_id=author_id,
        created_at=now,
        kind=kind,
        summary=summary,
        snapshot=blob,
    )
    db.session.add(row)
    db.session.flush()
    return row


# --- what changed ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Chunk:
    op: str  # "same", "add" or "del"
    text: str


@dataclass(frozen=True)
class SegmentChange:
    status: str  # "added", "removed" or "changed"
    number: int  # 1-based place in the newer revision (in the older one when removed)
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    chunks: list[Chunk] = field(default_factory=list)
    text: bool = False
    times: bool = False
    speaker: bool = False
    words: bool = False  # only word timings or confidences (a review accept, say)


@dataclass(frozen=True)
class SpeakerChange:
    label: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class Diff:
    segments: list[SegmentChange]
    speakers: list[SpeakerChange]
    unchanged: int  # segments that are the same in both

    @property
    def empty(self) -> bool:
        return not self.segments and not self.speakers


def diff(old: Snapshot, new: Snapshot) -> Diff:
    """What changed from `old` to `new`, per segment (matched by id) with word-level text
    changes, and per speaker."""
    language = new.get("language")
    before, after = old["segments"], new["segments"]
    matcher = SequenceMatcher(
        None, [s["id"] for s in before], [s["id"] for s in after], autojunk=False
    )
    changes: list[SegmentChange] = []
    unchanged = 0
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for k in range(i2 - i1):
                a, b = before[i1 + k], after[j1 + k]
                change = None if a == b else _changed(a, b, j1 + k + 1, language)
                if change is None:
                    unchanged += 1
                else:
                    changes.append(change)
            continue
        for i in range(i1, i2):
            changes.append(
                SegmentChange("removed", i + 1, before[i], None, [Chunk("del", before[i]["text"])])
            )
        for j in range(j1, j2):
            changes.append(
                SegmentChange("added", j + 1, None, after[j], [Chunk("add", after[j]["text"])])
            )
    names_before, names_after = old.get("speakers", {}), new.get("speakers", {})
    speakers = [
        SpeakerChange(label, names_before.get(label), names_after.get(label))
        for label in sorted(set(names_before) | set(names_after))
        if names_before.get(label) != names_after.get(label)
    ]
    return Diff(changes, speakers, unchanged)


def _changed(
    a: dict[str, Any], b: dict[str, Any], number: int, language: str | None
) -> SegmentChange | None:
    """How segment `a` became `b`; None when only float noise differs."""
    text = a["text"] != b["text"]
    times = _times(a) != _times(b)
    speaker = a.get("speaker") != b.get("speaker")
    marks = _marks(a) != _marks(b)
    if not (text or times or speaker or marks):
        return None
    return SegmentChange(
        "changed",
        number,
        a,
        b,
        word_chunks(a["text"], b["text"], language) if text else [Chunk("same", b["text"])],
        text=text,
        times=times,
        speaker=speaker,
        words=marks and not text,
    )


def _times(s: dict[str, Any]) -> tuple[float, float]:
    return round(s["start"], 2), round(s["end"], 2)


def _marks(s: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Word timings (to the hundredth, as shown) and confidences."""
    return [
        (w[1] if w[1] is None else round(w[1], 2), w[2] if w[2] is None else round(w[2], 2), w[3])
        for w in s.get("words") or []
    ]


def word_chunks(old: str, new: str, language: str | None) -> list[Chunk]:
    """`old` turned into `new`, word by word: runs of kept, removed and added words."""
    a, b = W.tokenize(old, language), W.tokenize(new, language)
    sep = W.joiner(language)
    chunks: list[Chunk] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            chunks.append(Chunk("same", sep.join(b[j1:j2])))
            continue
        if i2 > i1:
            chunks.append(Chunk("del", sep.join(a[i1:i2])))
        if j2 > j1:
            chunks.append(Chunk("add", sep.join(b[j1:j2])))
    return chunks
