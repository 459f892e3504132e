"""What the search tests share: an app with one search backend, fresh workspaces in it, and
the steps of the real pipeline (make transcripts, drain the outbox, search as a request
would, inside the workspace's scope)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.services import sign_up
from app.extensions import db
from app.search import indexer, service
from app.search.backend import RawPage, SearchBackend, backend
from app.search.models import SearchOutbox
from app.search.query import parse
from app.tenants.context import unscoped, workspace_scope
from app.tenants.models import Membership
from app.tenants.services import create_workspace
from app.transcripts import editing
from app.transcripts.models import Folder, Transcript, TranscriptSegment
from tests.transcripts import drain_index, make_transcript
from tests.web import PASSWORD, unique_email

Segments = list[tuple[float, float, str, str | None]]


@dataclass(frozen=True)
class Space:
    """A workspace of its own for one test: its owner and a second member."""

    id: uuid.UUID
    slug: str
    owner: uuid.UUID
    member: uuid.UUID


@dataclass
class SearchApp:
    """An app whose search goes to one backend, and the pipeline's steps on it."""

    kind: str  # "postgres", "sqlite", "meilisearch-fake", "meilisearch"
    app: Flask

    # --- the database ----------------------------------------------------------------------

    @contextmanager
    def session(self, workspace_id: uuid.UUID | None = None) -> Iterator[Session]:
        """The app's session in a workspace's scope (unscoped without one); committed by
        the caller, rolled back and removed afterwards (the session is thread-wide)."""
        with self.app.app_context():
            try:
                if workspace_id is None:
                    with unscoped("search tests look across workspaces"):
                        yield db.session
                else:
                    with workspace_scope(workspace_id):
                        yield db.session
            finally:
                db.session.expunge_all()
                db.session.rollback()
                db.session.remove()

    def space(self, tag: str = "s", owner: uuid.UUID | None = None) -> Space:
        with self.app.test_request_context():
            try:
                if owner is None:
                    owner = sign_up(unique_email(f"{tag}-owner"), PASSWORD, f"Owner {tag}").id
                slug = f"{tag}-{uuid.uuid4().hex[:10]}"
                workspace = create_workspace(owner, f"Space {tag}", slug)
                member = sign_up(unique_email(f"{tag}-member"), PASSWORD, f"Member {tag}").id
                with workspace_scope(workspace.id):
                    db.session.add(Membership(user_id=member, role="member"))
                    db.session.commit()
                return Space(workspace.id, slug, owner, member)
            finally:
                db.session.remove()

    def transcript(
        self,
        space: Space,
        title: str,
        segments: Segments,
        speakers: dict[str, str] | None = None,
        **fields: Any,
    ) -> uuid.UUID:
        fields.setdefault("uploader_id", space.owner)
        fields.setdefault("language", "en")
        return make_transcript(
            self.app, space.id, title, segments=segments, speakers=speakers, **fields
        )

    def folder(self, space: Space, name: str) -> uuid.UUID:
        with self.session(space.id) as s:
            folder = Folder(name=name)
            s.add(folder)
            s.commit()
            return folder.id

    def row(self, space_id: uuid.UUID, transcript_id: uuid.UUID) -> Transcript | None:
        with self.session(space_id) as s:
            return s.get(Transcript, transcript_id)

    def outbox(self, workspace_id: uuid.UUID, transcript_id: uuid.UUID | None) -> int:
        """Outbox rows waiting for one transcript (or for a whole workspace's removal)."""
        target = (
            SearchOutbox.transcript_id.is_(None)
            if transcript_id is None
            else SearchOutbox.transcript_id == transcript_id
        )
        with self.session() as s:
            return (
                s.scalar(
                    select(func.count(SearchOutbox.id)).where(
                        SearchOutbox.workspace_id == workspace_id, target
                    )
                )
                or 0
            )

    def committed_outbox(self, workspace_id: uuid.UUID, transcript_id: uuid.UUID) -> int:
        """Outbox rows another connection sees (what is committed), whatever this thread's
        session is in the middle of."""
        statement = select(func.count(SearchOutbox.id)).where(
            SearchOutbox.workspace_id == workspace_id,
            SearchOutbox.transcript_id == transcript_id,
        )
        with self.app.extensions["verbatim.engine"].connect() as connection:
            return int(connection.execute(statement).scalar() or 0)

    # --- the pipeline ----------------------------------------------------------------------

    @property
    def backend(self) -> SearchBackend:
        with self.app.app_context():
            return backend()

    def versions(self, workspace_id: uuid.UUID) -> dict[uuid.UUID, int]:
        with self.session():
            return backend().versions(workspace_id)

    def workspace_ids(self) -> set[uuid.UUID]:
        with self.session():
            return backend().workspace_ids()

    def drain(self) -> indexer.DrainReport:
        return drain_index(self.app)

    def search(self, space: Space | uuid.UUID, **args: str) -> service.SearchPage:
        """Search as a request of that workspace would (its id, never a parameter)."""
        workspace_id = space.id if isinstance(space, Space) else space
        with self.session(workspace_id):
            return service.search(args, workspace_id)

    def raw(self, space: Space | uuid.UUID, **args: str) -> RawPage:
        """The backend's own answer, before the service reloads hits through the ORM."""
        workspace_id = space.id if isinstance(space, Space) else space
        with self.session(workspace_id):
            return backend().search(parse(args, workspace_id, service.languages()))

    def write(self, workspace_id: uuid.UUID, change: Any) -> Any:
        """Call the backend as the indexer does: in the workspace's scope, then wait for
        the write (search servers) and commit (SQL backends write in the transaction)."""
        with self.session(workspace_id) as s:
            engine = backend()
            result = change(engine)
            engine.commit()
            s.commit()
            return result


READING = [
    (0.0, 4.0, "the pelican brief was read aloud", "S0"),
    (4.0, 8.0, "then the walrus report", "S1"),
]
READING_NAMES = {"S0": "Ana", "S1": "Ben"}


def reading(sa: SearchApp, space: Space, title: str = "Reading", **kw: Any) -> uuid.UUID:
    """A short transcript: Ana reads "the pelican brief", Ben "the walrus report"."""
    return sa.transcript(space, title, READING, READING_NAMES, **kw)


def segment_id(sa: SearchApp, space: Space, tid: uuid.UUID, position: int) -> uuid.UUID:
    with sa.session(space.id) as s:
        found = s.scalar(
            select(TranscriptSegment.id).where(
                TranscriptSegment.transcript_id == tid, TranscriptSegment.position == position
            )
        )
        assert found is not None
        return found


def edit(sa: SearchApp, space: Space, tid: uuid.UUID, position: int, text: str) -> None:
    """A person's edit of one segment, through the editing service (its own transaction)."""
    seg = segment_id(sa, space, tid, position)
    row = sa.row(space.id, tid)
    assert row is not None
    with sa.session(space.id):
        saved = editing.edit_text(tid, seg, text, base_revision=row.revision, author_id=space.owner)
    assert saved.changed


def ids(page: service.SearchPage) -> list[uuid.UUID]:
    """Transcript ids of the hits, in order (one per hit: several chunks repeat)."""
    return [h.transcript_id for h in page.hits]


def found(page: service.SearchPage) -> set[uuid.UUID]:
    return set(ids(page))


def marked(hit: service.Hit) -> list[str]:
    """The words of a hit's snippet that are highlighted."""
    return [hit.snippet.text[a:b] for a, b in hit.snippet.matches]


def at(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    from datetime import UTC

    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def args(**kw: Any) -> Mapping[str, str]:
    return {k: str(v) for k, v in kw.items()}
