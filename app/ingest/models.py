"""Audio staged (encrypted) between upload and transcription, and resumable uploads."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, TimestampMixin, WorkspaceScoped


class StagedAudio(WorkspaceScoped, IdMixin, TimestampMixin, Base):
    """One encrypted file under the staging directory; its name is its id.

    The data key is stored wrapped by the server's key; deleting the row's key and file
    (app.ingest.staging.discard) is what "audio deleted" means.
    """

    __tablename__ = "staged_audio"

    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary(128))
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    complete: Mapped[bool] = mapped_column(default=False)
    # The sweeper removes it after this, whatever the jobs' state.
    expires_at: Mapped[datetime] = mapped_column(index=True)
    discarded_at: Mapped[datetime | None]


class Upload(WorkspaceScoped, IdMixin, TimestampMixin, Base):
    """A resumable upload: bytes arrive in pieces at increasing offsets."""

    __tablename__ = "uploads"

    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    staged_audio_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staged_audio.id", ondelete="SET NULL")
    )
    filename: Mapped[str] = mapped_column(String(255))  # shown only; never a path
    size: Mapped[int] = mapped_column(BigInteger)
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open|done|failed
    source: Mapped[str] = mapped_column(String(16), default="upload")  # upload|recording
    # What to do once the bytes are in: title, engine, model, language, speakers, compare.
    options: Mapped[dict] = mapped_column(default=dict)
    error: Mapped[str] = mapped_column(String(500), default="")
    expires_at: Mapped[datetime]
