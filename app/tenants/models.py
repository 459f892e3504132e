"""Workspaces and who belongs to them."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, TimestampMixin, WorkspaceScoped


class Role(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


_RANK = {Role.VIEWER: 0, Role.MEMBER: 1, Role.ADMIN: 2, Role.OWNER: 3}


class Workspace(IdMixin, TimestampMixin, Base):
    """Not workspace-scoped itself: it is the scope. Resolved by slug, then membership."""

    __tablename__ = "workspaces"

    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    personal: Mapped[bool] = mapped_column(default=False)
    seat_limit: Mapped[int] = mapped_column(default=5)
    plan: Mapped[str] = mapped_column(String(40), default="free")


class Membership(WorkspaceScoped, IdMixin, TimestampMixin, Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("workspace_id", "user_id", name="uq_memberships_user"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))

    @property
    def role_enum(self) -> Role:
        return Role(self.role)


class Invitation(WorkspaceScoped, IdMixin, TimestampMixin, Base):
    """An emailed, expiring, single-use link; only the token's hash is stored."""

    __tablename__ = "invitations"

    email: Mapped[str] = mapped_column(String(320), index=True)
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    declined_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    @property
    def closed(self) -> bool:
        return bool(self.accepted_at or self.declined_at or self.revoked_at)
