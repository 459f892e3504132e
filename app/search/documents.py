"""What the index holds: one document per chunk of consecutive segments of one speaker.

Never one document per transcript: Meilisearch ignores words past 65,535 positions in an
attribute, and a hit should land on a moment, not on a 3-hour recording. A chunk never mixes
speakers, so a hit's speaker and the speaker filter are exact; it stays short enough
(MAX_CHUNK_CHARS) that its snippet and timestamp point at the words that matched.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from app.db import as_utc
from app.extensions import db
from app.transcripts import services
from app.transcripts.models import Status, Transcript, TranscriptSegment

MAX_CHUNK_CHARS = 1000
# Highlight markers backends put around matched words; control characters that cleaned
# transcript text (app.transcripts.lifecycle.clean_text) and titles never contain.
MARK_START = "\x02"
MARK_END = "\x03"


class EncryptedTranscript(RuntimeError):
    """A Private Transcript must never become search documents."""


@dataclass(frozen=True)
class ChunkDoc:
    workspace_id: uuid.UUID
    transcript_id: uuid.UUID
    chunk: int  # 0-based order within the transcript
    version: int  # Transcript.search_version when built: a lower one never replaces it
    revision: int  # Transcript.revision (the text's save counter)
    title: str
    text: str
    speaker: str  # the speaker's display name; "" when the engine gave none
    start: float
    end: float
    # (offset of a segment's first character in `text`, that segment's start in seconds):
    # where in the recording a match at any character of the chunk was said.
    marks: tuple[tuple[int, float], ...]
    language: str  # "" when unknown
    tags: tuple[str, ...]
    folder_id: uuid.UUID | None
    uploader_id: uuid.UUID | None
    created_at: datetime  # the transcript's, aware UTC

    @property
    def id(self) -> str:
        """Unique across the index: the same chunk keeps its id through edits and moves."""
        return f"{self.transcript_id.hex}-{self.chunk}"


def indexable(t: Transcript) -> bool:
    return t.status == Status.COMPLETED and not t.encrypted


def build(t: Transcript) -> list[ChunkDoc]:
    """The documents of a transcript as it is now (read in the caller's workspace scope)."""
    if t.encrypted:
        raise EncryptedTranscript(f"transcript {t.id} is a Private Transcript")
    if t.status != Status.COMPLETED:
        return []
    names = services.speaker_names(t)
    rows = db.session.execute(
        select(
            TranscriptSegment.start,
            TranscriptSegment.end,
            TranscriptSegment.text,
            TranscriptSegment.speaker,
        )
        .where(TranscriptSegment.transcript_id == t.id)
        .order_by(TranscriptSegment.position)
    ).all()
    return chunk(t, [(r.start, r.end, r.text, names.get(r.speaker, r.speaker or "")) for r in rows])


def chunk(t: Transcript, segments: Sequence[tuple[float, float, str, str]]) -> list[ChunkDoc]:
    """Group (start, end, text, speaker name) segments into documents."""
    docs: list[ChunkDoc] = []
    parts: list[str] = []
    marks: list[tuple[int, float]] = []
    length = 0
    speaker = ""
    start = end = 0.0

    def close() -> None:
        if parts:
            docs.append(_doc(t, len(docs), " ".join(parts), speaker, start, end, marks))

    for seg_start, seg_end, raw, name in segments:
        text = " ".join((raw or "").split())
        if not text:
            continue
        if parts and (name != speaker or length + 1 + len(text) > MAX_CHUNK_CHARS):
            close()
            parts, marks, length = [], [], 0
        if not parts:
            speaker, start = name, seg_start
        offset = length + (1 if parts else 0)
        marks.append((offset, seg_start))
        parts.append(text)
        length = offset + len(text)
        end = seg_end
    close()
    return docs


def _doc(
    t: Transcript,
    number: int,
    text: str,
    speaker: str,
    start: float,
    end: float,
    marks: list[tuple[int, float]],
) -> ChunkDoc:
    return ChunkDoc(
        workspace_id=t.workspace_id,
        transcript_id=t.id,
        chunk=number,
        version=t.search_version,
        revision=t.revision,
        title=t.title,
        text=text,
        speaker=speaker or "",
        start=float(start),
        end=float(end),
        marks=tuple(marks),
        language=t.language or "",
        tags=tuple(t.tags or ()),
        folder_id=t.folder_id,
        uploader_id=t.uploader_id,
        created_at=as_utc(t.created_at),
    )
