"""The search outbox: a row per change that the index has yet to learn about."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, utcnow


class SearchOutbox(Base):
    """Written in the same transaction as the change, so the index can never miss one.

    Not workspace-owned: it holds ids only (no text), and the index worker drains every
    workspace's rows. No foreign keys either: a row must outlive the transcript (or the
    workspace) whose removal it announces. `transcript_id` None means the whole workspace
    is gone.
    """

    __tablename__ = "search_outbox"
    __table_args__ = (Index("ix_search_outbox_target", "workspace_id", "transcript_id"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    workspace_id: Mapped[uuid.UUID]
    transcript_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
