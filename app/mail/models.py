"""Mail waiting for the `email` queue; the row is deleted once sent (it may hold tokens)."""

from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, TimestampMixin


class OutboundEmail(IdMixin, TimestampMixin, Base):
    __tablename__ = "outbound_emails"

    to: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
