"""Declarative base, naming convention, common mixins and the session factory."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import DateTime, ForeignKey, MetaData, Uuid, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    declared_attr,
    mapped_column,
    scoped_session,
    sessionmaker,
)
from sqlalchemy.types import JSON

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive UTC, PostgreSQL aware values: compare them as aware UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        uuid.UUID: Uuid(),
        datetime: DateTime(timezone=True),
        dict: JSON(),
        list: JSON(),
    }


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WorkspaceScoped:
    """Marks a model as owned by a workspace.

    Reads and writes of these rows need a workspace context (app.tenants.context); the
    ORM refuses them otherwise, and PostgreSQL enforces the same with row-level security.
    """

    @declared_attr
    def workspace_id(cls) -> Mapped[uuid.UUID]:
        return mapped_column(
            ForeignKey("workspaces.id", ondelete="CASCADE"), index=True, nullable=False
        )


def rowcount(result: object) -> int:
    """Rows a bulk UPDATE or DELETE touched (0 when the driver cannot say)."""
    return int(getattr(result, "rowcount", 0) or 0)


def make_engine(url: str, pool_size: int = 10) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


class AppSession(Session):
    """Binds to the engine of the app in context, so several apps can share a process."""

    def get_bind(self, mapper=None, clause=None, **kw):  # type: ignore[no-untyped-def,override]
        if self.bind is not None:  # an explicitly bound session (tests, scripts)
            return super().get_bind(mapper, clause, **kw)
        from flask import current_app

        return current_app.extensions["verbatim.engine"]


class Database:
    """A thread-scoped session over the current app's engine (see AppSession)."""

    def __init__(self) -> None:
        self.session = scoped_session(sessionmaker(class_=AppSession, expire_on_commit=False))

    @property
    def engine(self) -> Engine:
        from flask import current_app

        return current_app.extensions["verbatim.engine"]
