"""Transcripts, their segments, speakers and revisions; folders; public share links."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import Float, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, IdMixin, TimestampMixin, WorkspaceScoped, utcnow


class Status(enum.StrEnum):
    FETCHING = "fetching"  # a link is being downloaded
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (Status.COMPLETED, Status.FAILED, Status.CANCELLED)


ACTIVE = (Status.FETCHING, Status.QUEUED, Status.PROCESSING)

# The statuses as a person reads them (the same words as templates/_macros.html status_name).
_STATUS_NAMES = {
    Status.FETCHING: _l("fetching"),
    Status.QUEUED: _l("queued"),
    Status.PROCESSING: _l("processing"),
    Status.COMPLETED: _l("completed"),
    Status.FAILED: _l("failed"),
    Status.CANCELLED: _l("cancelled"),
}


def status_name(value: str) -> str:
    """`value` (a status) in the reader's language; an unknown value as it is."""
    name = _STATUS_NAMES.get(value)  # type: ignore[call-overload]
    return str(name) if name is not None else str(value)


class Source(enum.StrEnum):
    UPLOAD = "upload"
    RECORDING = "recording"
    URL = "url"


class Transcript(WorkspaceScoped, IdMixin, TimestampMixin, Base):
    __tablename__ = "transcripts"
    __table_args__ = (
        Index("ix_transcripts_workspace_created", "workspace_id", "created_at"),
        Index("ix_transcripts_status_heartbeat", "status", "heartbeat_at"),
    )

    title: Mapped[str] = mapped_column(String(300))
    uploader_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(16), default=Status.QUEUED)
    source: Mapped[str] = mapped_column(String(16), default=Source.UPLOAD)
    # A link is kept only until it is fetched (PRODUCT.md: the URL is not kept).
    source_url: Mapped[str | None] = mapped_column(Text)
    staged_audio_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staged_audio.id", ondelete="SET NULL"), index=True
    )
    # Two transcripts of one file made to compare models share this id.
    compare_group: Mapped[uuid.UUID | None] = mapped_column(index=True)

    # What was asked for.
    engine: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(128))
    language_requested: Mapped[str | None] = mapped_column(String(16))
    diarize: Mapped[bool] = mapped_column(default=False)
    min_speakers: Mapped[int | None]
    max_speakers: Mapped[int | None]

    # What the file is (probed before queueing).
    container: Mapped[str] = mapped_column(String(32), default="")
    duration_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    has_video: Mapped[bool] = mapped_column(default=False)

    # How it went.
    language: Mapped[str | None] = mapped_column(String(16))
    language_probability: Mapped[float | None] = mapped_column(Float)
    speaker_count: Mapped[int] = mapped_column(default=0)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    stage: Mapped[str] = mapped_column(String(32), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    warnings: Mapped[list] = mapped_column(default=list)
    timings: Mapped[dict] = mapped_column(default=dict)
    attempts: Mapped[int] = mapped_column(default=0)
    # Compare-and-set claim: the job that set it owns the transcript until it ends.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    heartbeat_at: Mapped[datetime | None]
    queued_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    rq_job_id: Mapped[str | None] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    # Working with it. `revision` counts saves: an edit names the revision it was based on,
    # and one made on a stale base is refused where it touches what changed since.
    revision: Mapped[int] = mapped_column(default=1, server_default="1")
    folder_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("folders.id", ondelete="SET NULL"), index=True
    )
    tags: Mapped[list] = mapped_column(default=list)  # lowercase names, sorted, unique
    # Private Transcript: the server holds ciphertext only, so it never indexes, shares or
    # sends the text anywhere.
    encrypted: Mapped[bool] = mapped_column(default=False, server_default="false")
    # Bumped with every change the search index must learn (app/search/outbox.py); the
    # index stores it per document, so reconcile sees drift by comparing two integers.
    search_version: Mapped[int] = mapped_column(default=0, server_default="0")

    segments: Mapped[list[TranscriptSegment]] = relationship(
        order_by="TranscriptSegment.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="raise_on_sql",
    )

    @property
    def state(self) -> Status:
        return Status(self.status)


class TranscriptSegment(WorkspaceScoped, IdMixin, Base):
    __tablename__ = "transcript_segments"
    __table_args__ = (
        UniqueConstraint("transcript_id", "position", name="uq_transcript_segments_position"),
    )

    transcript_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("transcripts.id", ondelete="CASCADE")
    )
    position: Mapped[int]
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    speaker: Mapped[str | None] = mapped_column(String(64))
    # [[text, start, end, probability], ...]: compact, read and written with the segment.
    words: Mapped[list] = mapped_column(default=list)
    # The transcript revision that last changed this segment: two people editing different
    # segments both save; the second edit of the same segment on a stale base is refused.
    changed_in: Mapped[int] = mapped_column(default=1, server_default="1")


# A segment as plain columns: pages and whole-transcript edits read ~1,700 of them at once,
# where ORM objects (identity map, change tracking) would cost more than the query.
SEGMENT_COLUMNS = (
    TranscriptSegment.id,
    TranscriptSegment.position,
    TranscriptSegment.start,
    TranscriptSegment.end,
    TranscriptSegment.text,
    TranscriptSegment.speaker,
    TranscriptSegment.words,
    TranscriptSegment.changed_in,
)


class TranscriptSpeaker(WorkspaceScoped, IdMixin, Base):
    __tablename__ = "transcript_speakers"
    __table_args__ = (
        UniqueConstraint("transcript_id", "label", name="uq_transcript_speakers_label"),
    )

    transcript_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("transcripts.id", ondelete="CASCADE")
    )
    label: Mapped[str] = mapped_column(String(64))  # the engine's, e.g. SPEAKER_00
    name: Mapped[str] = mapped_column(String(120))  # what people call them; editable


class TranscriptRevision(WorkspaceScoped, IdMixin, Base):
    """The whole transcript as it was after one save (zlib-compressed JSON).

    Snapshots rather than deltas: any revision opens, diffs and restores on its own, and
    a 3-hour transcript compresses to a few hundred kB.
    """

    __tablename__ = "transcript_revisions"
    __table_args__ = (
        UniqueConstraint("transcript_id", "number", name="uq_transcript_revisions_number"),
    )

    transcript_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("transcripts.id", ondelete="CASCADE")
    )
    number: Mapped[int]  # Transcript.revision right after this save
    author_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))  # original, edit, split, merge, restore...
    summary: Mapped[str] = mapped_column(String(300), default="")
    snapshot: Mapped[bytes] = mapped_column(LargeBinary)


class Folder(WorkspaceScoped, IdMixin, TimestampMixin, Base):
    __tablename__ = "folders"
    __table_args__ = (UniqueConstraint("workspace_id", "name", name="uq_folders_name"),)

    name: Mapped[str] = mapped_column(String(120))


class ShareLink(WorkspaceScoped, IdMixin, TimestampMixin, Base):
    """A public, read-only link to one transcript. Only the token's hash is stored."""

    __tablename__ = "share_links"

    transcript_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("transcripts.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    expires_at: Mapped[datetime | None]  # None: permanent (a plan feature)
    revoked_at: Mapped[datetime | None]
    allow_download: Mapped[bool] = mapped_column(default=False)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    opened_count: Mapped[int] = mapped_column(default=0)
    last_opened_at: Mapped[datetime | None]
