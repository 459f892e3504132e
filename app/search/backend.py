"""The one protocol every search backend implements, and the installation's choice of one.

Backends are plugins (hook `verbatim_search_backends`): first-party ones are postgres,
sqlite and meilisearch (app/plugins/builtin/search_backends.py). VERBATIM_SEARCH_BACKEND
picks one for the installation; "auto" takes the SQL backend of the database in use.

Backends store and match; they never decide who may see what. The indexer hands them
documents, the service hands them a SearchQuery whose workspace came from the authorised
request; the service then reloads every hit through the workspace-scoped ORM.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar, Protocol

from flask import current_app
from flask_babel import gettext as _

from app.errors import Unavailable

if TYPE_CHECKING:
    from app.config import Settings
    from app.search.documents import ChunkDoc
    from app.search.query import SearchQuery

HOOK = "verbatim_search_backends"


class SearchUnavailable(Unavailable):
    """The search server is down, slow or refused: saves go on, the outbox waits."""

    def __init__(self, message: str | None = None) -> None:
        if message is None:
            message = _("Search is unavailable right now. Try again in a minute.")
        super().__init__(message)


@dataclass(frozen=True)
class RawHit:
    """A matching chunk as a backend found it; text and title carry the highlight markers
    (documents.MARK_START / MARK_END) around matched words, over their whole length."""

    transcript_id: uuid.UUID
    chunk: int
    start: float
    speaker: str
    marks: tuple[tuple[int, float], ...]
    text: str
    title: str
    created_at: datetime


@dataclass(frozen=True)
class RawPage:
    hits: list[RawHit]
    total: int  # matching chunks, all pages
    # The backend stopped counting (and ranking) at `total`: there are more matches, and
    # hits come from the newest (or, sorted oldest first, the oldest) `total` of them.
    capped: bool = False


class Rebuild(Protocol):
    """A rebuild in progress (`flask search reindex`): searches keep answering from the
    current index until finish()."""

    def add(self, docs: Sequence[ChunkDoc]) -> None: ...
    def finish(self) -> None: ...
    def abort(self) -> None: ...


class SearchBackend(Protocol):
    name: ClassVar[str]
    typo_tolerant: ClassVar[bool]  # a misspelt word still finds its match

    @classmethod
    def from_settings(cls, settings: Settings) -> SearchBackend: ...

    def ensure_ready(self) -> None:
        """Create what the backend needs (indexes, settings); safe to call again."""

    def replace(
        self, workspace_id: uuid.UUID, transcript_id: uuid.UUID, docs: Sequence[ChunkDoc]
    ) -> bool:
        """Make `docs` the transcript's documents in that workspace (its other chunks there
        go). A version lower than the stored one changes nothing and returns False: a stale
        revision never overwrites a newer one. Docs must be non-empty."""

    def delete(self, workspace_id: uuid.UUID, transcript_id: uuid.UUID) -> None:
        """Remove a transcript's documents from one workspace."""

    def delete_workspace(self, workspace_id: uuid.UUID) -> None: ...

    def commit(self) -> None:
        """Wait until the writes so far are visible to searches; SearchUnavailable when
        they failed. (SQL backends write in the caller's transaction: nothing to do.)"""

    def search(self, query: SearchQuery) -> RawPage: ...

    def versions(self, workspace_id: uuid.UUID) -> dict[uuid.UUID, int]:
        """transcript id -> indexed version, for every transcript the workspace has in the
        index (reconcile compares it with the database)."""

    def workspace_ids(self) -> set[uuid.UUID]:
        """Every workspace with documents in the index."""

    def begin_rebuild(self) -> Rebuild: ...


def backend_classes() -> dict[str, type[SearchBackend]]:
    """Every backend the installed plugins offer, by name (first party first)."""
    from app.plugins.manager import registry

    reg = registry()
    found: dict[str, type[SearchBackend]] = {}
    # Every installed plugin: the backend is the installation's choice, not a workspace's.
    for _plugin, cls in reg.offerings(HOOK, reg.infos):
        found.setdefault(cls.name, cls)
    return found


def chosen_name(settings: Settings) -> str:
    name = settings.search_backend.strip().lower()
    if name == "auto":
        return "postgres" if settings.database_url.startswith("postgresql") else "sqlite"
    return name


def backend() -> SearchBackend:
    """The installation's backend, made once per app."""
    current = current_app.extensions.get("verbatim.search")
    if current is None:
        from app.settings import settings

        cfg = settings()
        name = chosen_name(cfg)
        classes = backend_classes()
        if name not in classes:
            raise RuntimeError(
                f"VERBATIM_SEARCH_BACKEND={name!r} is not installed; choose one of "
                f"{', '.join(sorted(classes))}"
            )
        current = classes[name].from_settings(cfg)
        current_app.extensions["verbatim.search"] = current
    return current
