"""Per-workspace plugin enablement and configuration, events and their deliveries."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, TimestampMixin, WorkspaceScoped, utcnow


class PluginSetting(WorkspaceScoped, IdMixin, TimestampMixin, Base):
    __tablename__ = "plugin_settings"
    __table_args__ = (UniqueConstraint("workspace_id", "plugin", name="uq_plugin_settings_plugin"),)

    plugin: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(default=False)
    config: Mapped[dict] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class IntegrationEvent(WorkspaceScoped, IdMixin, TimestampMixin, Base):
    """An event integrations are told about; the job that delivers it gets only its id."""

    __tablename__ = "integration_events"

    type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict] = mapped_column(default=dict)


class EventDelivery(WorkspaceScoped, IdMixin, TimestampMixin, Base):
    __tablename__ = "event_deliveries"

    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("integration_events.id", ondelete="CASCADE"), index=True
    )
    plugin: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(2048), default="")
    status_code: Mapped[int | None]
    error: Mapped[str] = mapped_column(Text, default="")
    attempt: Mapped[int] = mapped_column(default=1)
