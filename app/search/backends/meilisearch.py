"""Meilisearch: the production backend, through the official client.

One index (settings.meili_index) holds every workspace's chunk documents; the workspace is
a filter that search() always sets first, from the SearchQuery the service built from the
authorised request. Filter values are quoted and escaped here, never pasted in raw.

Meilisearch compares filter strings case-insensitively (and Unicode-normalised), while a
speaker or language filter must match exactly, as on the SQL backends: documents also carry
those two values as digests (speaker_exact, language_exact), and the filters compare those.

Writes are asynchronous in Meilisearch: replace/delete enqueue tasks and commit() waits
for them, so the indexer deletes its outbox rows only once the index really changed.
Every failure of the server or the connection reaches callers as SearchUnavailable.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import meilisearch
import requests
from flask_babel import gettext as _
from meilisearch.errors import (
    MeilisearchApiError,
    MeilisearchCommunicationError,
    MeilisearchError,
    MeilisearchTimeoutError,
)

from app.search.backend import RawHit, RawPage, SearchUnavailable
from app.search.documents import MARK_END, MARK_START, ChunkDoc
from app.search.query import MAX_PAGE, MAX_PER_PAGE, SearchQuery

if TYPE_CHECKING:
    from meilisearch.index import Index

    from app.config import Settings

log = logging.getLogger("verbatim.search")
T = TypeVar("T")

FILTERABLE = [
    "workspace_id",
    "transcript_id",
    "chunk",
    "speaker",
    "speaker_exact",
    "language",
    "language_exact",
    "tags",
    "folder_id",
    "uploader_id",
    "created_at",
]
INDEX_SETTINGS: dict[str, Any] = {
    "searchableAttributes": ["title", "text"],
    "filterableAttributes": FILTERABLE,
    # transcript_id breaks ties between transcripts created in the same instant, as the
    # SQL backends do.
    "sortableAttributes": ["created_at", "transcript_id", "chunk"],
    # The built-in rules in their default order, with "sort" moved first: a search sorted
    # by date is then really in date order; without a sort parameter the rule does nothing,
    # so relevance ranking is the default one.
    "rankingRules": ["sort", "words", "typo", "proximity", "attribute", "exactness"],
    # totalHits never exceeds maxTotalHits (default 1000): let it count every page the
    # query parser allows.
    "pagination": {"maxTotalHits": MAX_PAGE * MAX_PER_PAGE},
}
RETRIEVED = ["transcript_id", "chunk", "start", "speaker", "marks", "created_at", "text", "title"]
SORTS = {
    "newest": ["created_at:desc", "transcript_id:asc", "chunk:asc"],
    "oldest": ["created_at:asc", "transcript_id:asc", "chunk:asc"],
}
FETCH_PAGE = 1000  # documents per /documents/fetch call when listing versions
REBUILD_BATCH = 100  # enqueued rebuild tasks checked at a time (a failure shows early)
REBUILD_WAIT_SECONDS = 600.0  # a full rebuild indexes everything: far beyond a search's wait
_POLL_MS = 50

# Meilisearch highlights only the matched part of a word (the typed prefix of a longer
# word, say); the protocol wants whole words marked.
_CUT_END = re.compile(f"{MARK_END}(\\w+)")
_CUT_START = re.compile(f"(\\w+){MARK_START}")


def quote(value: str) -> str:
    """A filter-syntax string literal: backslash and double quote escaped (Meilisearch ≥
    1.4 unescapes both), so no value can end the literal and add operators."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def exact(value: str) -> str:
    """A value that compares equal, whatever the case folding, only to the same string."""
    return hashlib.sha256(value.encode()).hexdigest()


def quote_id(value: uuid.UUID | str) -> str:
    return quote(str(uuid.UUID(str(value))))


def compile_q(query: SearchQuery) -> str:
    """The q parameter from the parsed terms only (words are letters and digits): phrases
    in double quotes, negations with a leading minus. Meilisearch treats the last word as
    a prefix unless whitespace follows it, so a trailing space closes a finished word."""
    parts: list[str] = []
    for term in query.terms:
        body = " ".join(term.words)
        if term.phrase:
            body = f'"{body}"'
        parts.append(f"-{body}" if term.negated else body)
    text = " ".join(parts)
    if query.terms and not query.terms[-1].prefix:
        text += " "
    return text


def filters(query: SearchQuery) -> list[str]:
    """The filter as an array (its items are ANDed, each parsed on its own): the workspace
    always first, then each filter the query sets."""
    f = query.filters
    out = [f"workspace_id = {quote_id(query.workspace_id)}"]
    if f.transcript_id is not None:
        out.append(f"transcript_id = {quote_id(f.transcript_id)}")
    if f.speaker is not None:
        out.append(f"speaker_exact = {quote(exact(f.speaker))}")
    if f.language is not None:
        out.append(f"language_exact = {quote(exact(f.language))}")
    if f.tag is not None:
        out.append(f"tags = {quote(f.tag)}")
    if f.folder_id is not None:
        out.append(f"folder_id = {quote_id(f.folder_id)}")
    if f.uploader_id is not None:
        out.append(f"uploader_id = {quote_id(f.uploader_id)}")
    if f.created_from is not None:
        out.append(f"created_at >= {int(f.created_from.timestamp())}")
    if f.created_before is not None:
        out.append(f"created_at < {int(f.created_before.timestamp())}")
    return out


def document(doc: ChunkDoc) -> dict[str, Any]:
    return {
        "id": doc.id,
        "workspace_id": str(doc.workspace_id),
        "transcript_id": str(doc.transcript_id),
        "chunk": doc.chunk,
        "version": doc.version,
        "revision": doc.revision,
        "title": doc.title,
        "text": doc.text,
        "speaker": doc.speaker,
        "speaker_exact": exact(doc.speaker),
        "start": doc.start,
        "end": doc.end,
        "marks": [[offset, seconds] for offset, seconds in doc.marks],
        "language": doc.language,
        "language_exact": exact(doc.language),
        "tags": list(doc.tags),
        "folder_id": str(doc.folder_id) if doc.folder_id else None,
        "uploader_id": str(doc.uploader_id) if doc.uploader_id else None,
        # Unix seconds with the fraction: filters compare numbers, order stays exact.
        "created_at": doc.created_at.timestamp(),
    }


def settings_match(current: dict[str, Any]) -> bool:
    """Whether an index's settings already are ours (attribute sets in any order)."""
    for key, wanted in INDEX_SETTINGS.items():
        found = current.get(key)
        if key in ("filterableAttributes", "sortableAttributes"):
            if not isinstance(found, list) or sorted(map(str, found)) != sorted(wanted):
                return False
        elif key == "pagination":
            if not isinstance(found, dict) or found.get("maxTotalHits") != wanted["maxTotalHits"]:
                return False
        elif found != wanted:
            return False
    return True


def whole_words(marked: str) -> str:
    marked = _CUT_END.sub(lambda m: m.group(1) + MARK_END, marked)
    return _CUT_START.sub(lambda m: MARK_START + m.group(1), marked)


def _hit(raw: dict[str, Any]) -> RawHit:
    formatted = raw.get("_formatted") or {}
    return RawHit(
        transcript_id=uuid.UUID(str(raw["transcript_id"])),
        chunk=int(raw["chunk"]),
        start=float(raw["start"]),
        speaker=str(raw.get("speaker") or ""),
        marks=tuple((int(a), float(b)) for a, b in raw.get("marks") or ()),
        text=whole_words(str(formatted.get("text", raw.get("text", "")))),
        title=whole_words(str(formatted.get("title", raw.get("title", "")))),
        created_at=datetime.fromtimestamp(float(raw["created_at"]), UTC),
    )


class MeilisearchBackend:
    name: ClassVar[str] = "meilisearch"
    typo_tolerant: ClassVar[bool] = True

    def __init__(self, url: str, api_key: str, index_uid: str, timeout_seconds: float) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.index_uid = index_uid
        self.timeout = float(timeout_seconds)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._pending: list[int] = []  # tasks enqueued since the last commit()
        self._ready = False

    @classmethod
    def from_settings(cls, settings: Settings) -> MeilisearchBackend:
        if not settings.meili_url:
            raise RuntimeError("VERBATIM_MEILI_URL must be set for the meilisearch backend")
        return cls(
            settings.meili_url,
            settings.meili_api_key,
            settings.meili_index,
            settings.search_timeout_seconds,
        )

    # --- Talking to the server ----------------------------------------------------------

    def client(self) -> meilisearch.Client:
        """One client per thread: the client's request headers are shared mutable state."""
        found = getattr(self._local, "client", None)
        if found is None:
            found = meilisearch.Client(self.url, self.api_key or None, timeout=self.timeout)  # type: ignore[arg-type]
            self._local.client = found
        return found

    def index(self, uid: str | None = None) -> Index:
        return self.client().index(uid or self.index_uid)

    @contextmanager
    def _talking(self, doing: str) -> Iterator[None]:
        """Any failure of the server or the connection, as SearchUnavailable."""
        try:
            yield
        except SearchUnavailable:
            raise
        except MeilisearchTimeoutError as e:
            log.warning("meilisearch timed out while %s: %s", doing, e)
            raise SearchUnavailable(
                _("The search server took too long to answer. Try again in a minute.")
            ) from e
        except (MeilisearchCommunicationError, requests.RequestException) as e:
            log.warning("meilisearch unreachable while %s: %s", doing, e)
            raise SearchUnavailable(
                _("The search server cannot be reached right now. Try again in a minute.")
            ) from e
        except MeilisearchApiError as e:
            log.error(
                "meilisearch refused %s: HTTP %s %s %s", doing, e.status_code, e.code, e.message
            )
            raise SearchUnavailable(
                _("The search server refused the request. Try again in a minute.")
            ) from e
        except (MeilisearchError, ValueError, KeyError, TypeError) as e:
            # A malformed answer (not JSON, fields missing): the server is not well.
            log.error("meilisearch answered oddly while %s: %r", doing, e)
            raise SearchUnavailable() from e

    def _call(self, doing: str, fn: Callable[[], T]) -> T:
        with self._talking(doing):
            return fn()

    @staticmethod
    def _missing(e: MeilisearchApiError, *codes: str) -> bool:
        return e.status_code == 404 and e.code in codes

    def _wait(self, task_uid: int, deadline: float, doing: str) -> None:
        """Wait for one task; a failed or cancelled one is SearchUnavailable."""
        remaining_ms = max(1, int((deadline - time.monotonic()) * 1000))
        task = self._call(
            doing,
            lambda: self.client().wait_for_task(
                task_uid, timeout_in_ms=remaining_ms, interval_in_ms=_POLL_MS
            ),
        )
        if task.status != "succeeded":
            error = task.error or {}
            log.error(
                "meilisearch task %s (%s) %s: %s %s",
                task_uid,
                task.type,
                task.status,
                error.get("code"),
                error.get("message"),
            )
            raise SearchUnavailable(_("The search server could not apply a change to the index."))

    def _wait_all(self, task_uids: Sequence[int], seconds: float, doing: str) -> None:
        deadline = time.monotonic() + seconds
        for task_uid in task_uids:  # processed in order: each wait after the first is short
            self._wait(task_uid, deadline, doing)

    def _enqueue(self, doing: str, fn: Callable[[], Any]) -> None:
        info = self._call(doing, fn)
        with self._lock:
            self._pending.append(int(info.task_uid))

    # --- Setup ----------------------------------------------------------------------------

    def ensure_ready(self) -> None:
        self._prepare(self.index_uid)
        self._ready = True

    def _ensure_once(self) -> None:
        # The index worker writes without calling ensure_ready(); documents added to a
        # missing index would create it without filterable attributes.
        if not self._ready:
            self.ensure_ready()

    def _prepare(self, uid: str) -> None:
        """Create the index if missing and apply the settings where they differ."""
        tasks: list[int] = []
        with self._talking("checking the index"):
            try:
                current = self.index(uid).get_settings()
            except MeilisearchApiError as e:
                if not self._missing(e, "index_not_found"):
                    raise
                info = self.client().create_index(uid, {"primaryKey": "id"})
                self._wait_created(int(info.task_uid))
                current = {}
            if not settings_match(current):
                tasks.append(int(self.index(uid).update_settings(dict(INDEX_SETTINGS)).task_uid))
        self._wait_all(tasks, max(self.timeout, 30.0), "applying the index settings")

    def _wait_created(self, task_uid: int) -> None:
        task = self._call(
            "creating the index",
            lambda: self.client().wait_for_task(
                task_uid, timeout_in_ms=int(max(self.timeout, 30.0) * 1000), interval_in_ms=_POLL_MS
            ),
        )
        # Another process may have created it meanwhile: that is fine.
        if task.status != "succeeded" and (task.error or {}).get("code") != "index_already_exists":
            log.error("meilisearch could not create the index: %s", task.error)
            raise SearchUnavailable(_("The search server could not create the index."))

    # --- Writes -----------------------------------------------------------------------------

    def stored_version(self, transcript_id: uuid.UUID) -> int | None:
        """The version of the transcript's chunk 0 in the index, None when absent."""
        doc_id = f"{transcript_id.hex}-0"
        with self._talking("reading a stored version"):
            try:
                doc = self.index().get_document(doc_id, {"fields": ["version"]})
            except MeilisearchApiError as e:
                if self._missing(e, "document_not_found", "index_not_found"):
                    return None
                raise
            return int(doc.version)

    def replace(
        self, workspace_id: uuid.UUID, transcript_id: uuid.UUID, docs: Sequence[ChunkDoc]
    ) -> bool:
        if not docs:
            raise ValueError("replace() needs documents; use delete()")
        if any(d.workspace_id != workspace_id or d.transcript_id != transcript_id for d in docs):
            raise ValueError("documents of another transcript or workspace")
        self._ensure_once()
        # Under the indexer's lock on this transcript, and the previous sync committed
        # (waited for its tasks) before releasing it: this read sees every earlier write.
        stored = self.stored_version(transcript_id)
        if stored is not None and stored > docs[0].version:
            return False
        # Adding overwrites chunks 0..n-1 in place; only then do the extra chunks of a
        # longer old version go, so the transcript never drops out of search meanwhile.
        self._enqueue(
            "adding documents",
            lambda: self.index().add_documents([document(d) for d in docs], primary_key="id"),
        )
        stale = (
            f"transcript_id = {quote_id(transcript_id)} AND workspace_id = "
            f"{quote_id(workspace_id)} AND chunk >= {len(docs)}"
        )
        self._enqueue("deleting old chunks", lambda: self.index().delete_documents(filter=stale))
        return True

    def delete(self, workspace_id: uuid.UUID, transcript_id: uuid.UUID) -> None:
        self._ensure_once()
        where = (
            f"workspace_id = {quote_id(workspace_id)} AND transcript_id = {quote_id(transcript_id)}"
        )
        self._enqueue("deleting documents", lambda: self.index().delete_documents(filter=where))

    def delete_workspace(self, workspace_id: uuid.UUID) -> None:
        self._ensure_once()
        where = f"workspace_id = {quote_id(workspace_id)}"
        self._enqueue("deleting a workspace", lambda: self.index().delete_documents(filter=where))

    def commit(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        self._wait_all(pending, self.timeout, "waiting for index updates")

    # --- Reads ------------------------------------------------------------------------------

    def search(self, query: SearchQuery) -> RawPage:
        sort = "newest" if query.browsing and query.sort == "relevance" else query.sort
        params: dict[str, Any] = {
            "filter": filters(query),
            "matchingStrategy": "all",
            "page": query.page,
            "hitsPerPage": query.per_page,
            "attributesToRetrieve": RETRIEVED,
            "attributesToHighlight": ["text", "title"],
            "highlightPreTag": MARK_START,
            "highlightPostTag": MARK_END,
        }
        if sort in SORTS:
            params["sort"] = SORTS[sort]
        q = compile_q(query) if query.terms else ""
        with self._talking("searching"):
            try:
                answer = self.index().search(q, params)
            except MeilisearchApiError as e:
                if self._missing(e, "index_not_found"):  # nothing indexed yet
                    log.warning("meilisearch index %s does not exist yet", self.index_uid)
                    return RawPage([], 0)
                raise
            hits = [_hit(h) for h in answer["hits"]]
            return RawPage(hits, int(answer.get("totalHits") or 0))

    def _documents(self, uid: str, where: str, fields: list[str]) -> Iterator[dict[str, Any]]:
        """Every document matching `where` (only `fields`), page by page."""
        offset = 0
        while True:
            with self._talking("listing documents"):
                try:
                    page = self.index(uid).get_documents(
                        {"filter": where, "fields": fields, "limit": FETCH_PAGE, "offset": offset}
                    )
                except MeilisearchApiError as e:
                    if self._missing(e, "index_not_found"):
                        return
                    raise
                rows = [dict(d) for d in page.results]
            yield from rows
            offset += len(rows)
            if not rows or offset >= page.total:
                return

    def versions(self, workspace_id: uuid.UUID) -> dict[uuid.UUID, int]:
        where = f"workspace_id = {quote_id(workspace_id)} AND chunk = 0"
        return {
            uuid.UUID(d["transcript_id"]): int(d["version"])
            for d in self._documents(self.index_uid, where, ["transcript_id", "version"])
        }

    def workspace_ids(self) -> set[uuid.UUID]:
        # Paging through chunk-0 documents rather than a facet distribution: facet values
        # are capped (maxValuesPerFacet) and a purge missed for want of a facet slot would
        # leave a deleted workspace's words in the index. Reconcile reads as many
        # documents through versions() anyway.
        return {
            uuid.UUID(d["workspace_id"])
            for d in self._documents(self.index_uid, "chunk = 0", ["workspace_id"])
        }

    def begin_rebuild(self) -> MeilisearchRebuild:
        self.ensure_ready()
        return MeilisearchRebuild(self)


class MeilisearchRebuild:
    """Builds a fresh index "<index>_rebuild", then swaps it with the live one (atomic in
    Meilisearch) and drops the old documents; searches use the live index throughout."""

    def __init__(self, engine: MeilisearchBackend) -> None:
        self.engine = engine
        self.uid = f"{engine.index_uid}_rebuild"
        self._tasks: list[int] = []
        self._drop()  # a leftover of an interrupted rebuild
        engine._prepare(self.uid)

    def add(self, docs: Sequence[ChunkDoc]) -> None:
        if not docs:
            return
        info = self.engine._call(
            "adding documents to the rebuild",
            lambda: self.engine.index(self.uid).add_documents(
                [document(d) for d in docs], primary_key="id"
            ),
        )
        self._tasks.append(int(info.task_uid))
        if len(self._tasks) >= REBUILD_BATCH:
            self._settle()

    def _settle(self) -> None:
        tasks, self._tasks = self._tasks, []
        self.engine._wait_all(tasks, REBUILD_WAIT_SECONDS, "building the new index")

    def finish(self) -> None:
        self._settle()
        live = self.engine.index_uid
        info = self.engine._call(
            "swapping indexes",
            lambda: self.engine.client().swap_indexes([{"indexes": [live, self.uid]}]),
        )
        self.engine._wait_all([int(info.task_uid)], REBUILD_WAIT_SECONDS, "swapping indexes")
        try:
            self._drop()  # now the old documents
        except SearchUnavailable:
            log.warning("the old index %s is left over; the next rebuild drops it", self.uid)

    def abort(self) -> None:
        try:
            self._drop()
        except SearchUnavailable:  # must not hide what made the rebuild fail
            log.warning("could not drop the unfinished index %s", self.uid)

    def _drop(self) -> None:
        with self.engine._talking("dropping an index"):
            try:
                info = self.engine.client().delete_index(self.uid)
            except MeilisearchApiError as e:
                if self.engine._missing(e, "index_not_found"):
                    return
                raise
        task_uid = int(info.task_uid)
        task = self.engine._call(
            "dropping an index",
            lambda: self.engine.client().wait_for_task(
                task_uid,
                timeout_in_ms=int(REBUILD_WAIT_SECONDS * 1000),
                interval_in_ms=_POLL_MS,
            ),
        )
        if task.status != "succeeded" and (task.error or {}).get("code") != "index_not_found":
            raise SearchUnavailable(_("The search server could not drop an old index."))
