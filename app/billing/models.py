"""Usage: what each workspace used, recorded once per transcript."""

from __future__ import annotations

import uuid

from sqlalchemy import Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, TimestampMixin, WorkspaceScoped


class UsageRecord(WorkspaceScoped, IdMixin, TimestampMixin, Base):
    """Transcribed audio seconds. The unique transcript id is what makes "counted once"
    hold under retries and duplicate job deliveries; the row outlives the transcript."""

    __tablename__ = "usage_records"

    transcript_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("transcripts.id", ondelete="SET NULL"), unique=True
    )
    kind: Mapped[str] = mapped_column(String(32), default="transcription")
    seconds: Mapped[float] = mapped_column(Float)
    model: Mapped[str] = mapped_column(String(128), default="")
