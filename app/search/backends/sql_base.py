"""What the two SQL backends share: they write in the caller's transaction (the indexer's,
with the outbox rows it clears), guard versions in SQL, and rebuild in place."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, ClassVar

from sqlalchemy import text

from app.config import Settings
from app.extensions import db
from app.search.documents import ChunkDoc
from app.search.query import SearchQuery


class SqlBackend:
    name: ClassVar[str]
    typo_tolerant: ClassVar[bool] = False
    table: ClassVar[str]  # the table with one row per chunk (workspace_id, transcript_id)

    def __init__(self, timeout_seconds: float) -> None:
        self.timeout_seconds = timeout_seconds

    @classmethod
    def from_settings(cls, settings: Settings) -> Any:
        return cls(settings.search_timeout_seconds)

    def ensure_ready(self) -> None:
        pass  # the migration made the tables

    def commit(self) -> None:
        pass  # written in the caller's transaction

    def key(self, value: uuid.UUID) -> Any:
        """A uuid as the table stores it."""
        return value

    def replace(
        self, workspace_id: uuid.UUID, transcript_id: uuid.UUID, docs: Sequence[ChunkDoc]
    ) -> bool:
        if not docs:
            raise ValueError("replace() needs documents; use delete()")
        stored = db.session.execute(
            text(
                f"SELECT max(version) FROM {self.table}"  # noqa: S608 (a class constant)
                " WHERE workspace_id = :w AND transcript_id = :t"
            ),
            {"w": self.key(workspace_id), "t": self.key(transcript_id)},
        ).scalar()
        if stored is not None and stored > docs[0].version:
            return False  # a stale revision never overwrites a newer one
        self.delete(workspace_id, transcript_id)
        self.insert(docs)
        return True

    def delete(self, workspace_id: uuid.UUID, transcript_id: uuid.UUID) -> None:
        db.session.execute(
            text(f"DELETE FROM {self.table} WHERE workspace_id = :w AND transcript_id = :t"),  # noqa: S608
            {"w": self.key(workspace_id), "t": self.key(transcript_id)},
        )

    def insert(self, docs: Sequence[ChunkDoc]) -> None:
        raise NotImplementedError

    def equality_filters(self, query: SearchQuery, alias: str, params: dict[str, Any]) -> list[str]:
        """WHERE clauses of the filters that compare one column (values bound, never
        pasted); each backend adds its own for tags and dates."""
        f = query.filters
        clauses = []
        for column, value in (
            ("speaker", f.speaker),
            ("language", f.language),
            ("folder_id", f.folder_id),
            ("uploader_id", f.uploader_id),
            ("transcript_id", f.transcript_id),
        ):
            if value is not None:
                clauses.append(f"{alias}.{column} = :{column}")
                params[column] = self.key(value) if isinstance(value, uuid.UUID) else value
        return clauses

    def begin_rebuild(self) -> InPlaceRebuild:
        return InPlaceRebuild(self)


class InPlaceRebuild:
    """SQL backends rebuild in place, one transcript per replace: every transcript stays
    searchable throughout (its old rows are replaced within one transaction), and
    reconcile then removes documents of transcripts that no longer exist."""

    def __init__(self, engine: SqlBackend) -> None:
        self.engine = engine

    def add(self, docs: Sequence[ChunkDoc]) -> None:
        if docs:
            self.engine.replace(docs[0].workspace_id, docs[0].transcript_id, docs)

    def finish(self) -> None:
        pass

    def abort(self) -> None:
        pass
