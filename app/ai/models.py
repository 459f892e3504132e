"""What the AI features store: summaries, conversations and their messages, the
workspace's own prompt templates and provider settings, and token usage."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, TimestampMixin, WorkspaceScoped, utcnow


class RunStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self in (RunStatus.COMPLETED, RunStatus.FAILED)


class ProviderRun:
    """Columns every stored AI result carries: who made it, with what, at what cost."""

    status: Mapped[str] = mapped_column(String(16), default=RunStatus.QUEUED)
    content: Mapped[str] = mapped_column(Text, default="")  # markdown, as the model wrote it
    # [{"label", "valid", "transcript_id", "start", "position"}, ...] (app/ai/citations.py)
    citations: Mapped[list] = mapped_column(default=list)
    provider: Mapped[str] = mapped_column(String(64), default="")
    model: Mapped[str] = mapped_column(String(128), default="")
    calls: Mapped[int] = mapped_column(default=0)
    prompt_tokens: Mapped[int] = mapped_column(default=0)
    completion_tokens: Mapped[int] = mapped_column(default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    finished_at: Mapped[datetime | None]
    rq_job_id: Mapped[str | None] = mapped_column(String(128))

    @property
    def state(self) -> RunStatus:
        return RunStatus(self.status)


class AiTemplate(WorkspaceScoped, IdMixin, TimestampMixin, Base):
    """A workspace's own summary prompt, next to the built-in ones (app/ai/templates.py)."""

    __tablename__ = "ai_templates"
    __table_args__ = (UniqueConstraint("workspace_id", "name", name="uq_ai_templates_name"),)

    name: Mapped[str] = mapped_column(String(120))
    instructions: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AiSummary(ProviderRun, WorkspaceScoped, IdMixin, TimestampMixin, Base):
    """One generated summary. Kept with the transcript revision, prompt and model that made
    it: after an edit the revision differs and the page says the summary is stale."""

    __tablename__ = "ai_summaries"
    __table_args__ = (Index("ix_ai_summaries_transcript", "transcript_id", "created_at"),)

    transcript_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("transcripts.id", ondelete="CASCADE")
    )
    # A built-in key ("overview") or "custom:<template id>"; the title and prompt are
    # copied, so renaming or deleting a template leaves what it made readable.
    template_key: Mapped[str] = mapped_column(String(64))
    template_title: Mapped[str] = mapped_column(String(120))
    prompt: Mapped[str] = mapped_column(Text)
    revision: Mapped[int]
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )


class AiConversation(WorkspaceScoped, IdMixin, TimestampMixin, Base):
    """One person's chat with one transcript, or their questions across the workspace
    (transcript_id None). Private to that person."""

    __tablename__ = "ai_conversations"
    __table_args__ = (
        UniqueConstraint("workspace_id", "user_id", "scope", name="uq_ai_conversations_scope"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    transcript_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("transcripts.id", ondelete="CASCADE"), index=True
    )
    scope: Mapped[str] = mapped_column(String(40))  # "workspace" or the transcript id (hex)


class AiMessage(ProviderRun, WorkspaceScoped, IdMixin, TimestampMixin, Base):
    """A question (role user, completed at once) or an answer (role assistant, filled by
    the `ai` worker as the provider writes it)."""

    __tablename__ = "ai_messages"
    __table_args__ = (Index("ix_ai_messages_conversation", "conversation_id", "created_at"),)

    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ai_conversations.id", ondelete="CASCADE")
    )
    role: Mapped[str] = mapped_column(String(16))
    # The transcript revision a chat answer read; for questions across the workspace, the
    # filters they were asked with ({"date_from": ..., "tag": ...}).
    revision: Mapped[int | None]
    filters: Mapped[dict] = mapped_column(default=dict)


class AiUsage(WorkspaceScoped, IdMixin, TimestampMixin, Base):
    """One provider run's cost, for the workspace's monthly limit and billing. Rows outlive
    what they were spent on (no foreign key to it)."""

    __tablename__ = "ai_usage"
    __table_args__ = (Index("ix_ai_usage_workspace_created", "workspace_id", "created_at"),)

    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    feature: Mapped[str] = mapped_column(String(16))  # summary, chat, ask
    provider: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(128))
    calls: Mapped[int] = mapped_column(default=0)
    prompt_tokens: Mapped[int] = mapped_column(default=0)
    completion_tokens: Mapped[int] = mapped_column(default=0)
    # The provider did not report usage; the numbers are our estimate (characters / 4).
    estimated: Mapped[bool] = mapped_column(default=False)


class AiSettings(WorkspaceScoped, IdMixin, Base):
    """A workspace's override of the installation's provider: empty fields inherit."""

    __tablename__ = "ai_settings"
    __table_args__ = (UniqueConstraint("workspace_id", name="uq_ai_settings_workspace"),)

    provider: Mapped[str] = mapped_column(String(64), default="")
    model: Mapped[str] = mapped_column(String(128), default="")
    base_url: Mapped[str] = mapped_column(String(500), default="")
    # Sealed with the installation's secret (app/security/sealed.py); never shown again.
    api_key_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    updated_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
