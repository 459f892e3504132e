"""SQLite FTS5: the quick start's and small installs' search. bm25 ranking, highlight(),
prefix queries (with prefix indexes), Porter stemming and diacritics folding.

Document metadata lives in search_docs; words in the FTS5 table search_fts under the same
rowid, with the workspace as a token of its own `scope` column: every MATCH starts with
that token, so FTS5 intersects the query with the workspace's posting list, and the
joined metadata is filtered by workspace_id once more.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar

from flask_babel import gettext as _
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from app.extensions import db
from app.search.backend import RawHit, RawPage, SearchUnavailable
from app.search.backends.sql_base import SqlBackend
from app.search.documents import MARK_END, MARK_START, ChunkDoc
from app.search.query import SearchQuery, Term

ORDER = {
    "relevance": "rank, d.created_ts DESC, d.transcript_id, d.chunk",
    "newest": "d.created_ts DESC, d.transcript_id, d.chunk",
    "oldest": "d.created_ts ASC, d.transcript_id, d.chunk",
}
_DOC_COLUMNS = (
    'id, workspace_id, transcript_id, chunk, version, revision, speaker, start, "end",'
    " marks, language, tags, folder_id, uploader_id, created_ts"
)
_INSERT_DOC = text(
    f"INSERT INTO search_docs ({_DOC_COLUMNS}) VALUES (:id, :workspace_id, :transcript_id,"  # noqa: S608
    " :chunk, :version, :revision, :speaker, :start, :end, :marks, :language, :tags,"
    " :folder_id, :uploader_id, :created_ts)"
)
_INSERT_WORDS = text(
    "INSERT INTO search_fts (rowid, scope, title, text) VALUES (:id, :scope, :title, :text)"
)
_TEXT_COLUMNS = "{title text}"


def _hex(value: uuid.UUID | None) -> str | None:
    return value.hex if value is not None else None


def _scope(workspace_id: uuid.UUID) -> str:
    return "w" + workspace_id.hex


def _string(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


def _term(term: Term) -> str:
    if term.phrase:
        body = _string(" ".join(term.words))
    else:
        body = " AND ".join(_string(w) for w in term.words)
    return body + " *" if term.prefix else body


def match_expression(query: SearchQuery) -> str:
    """The MATCH argument: the workspace's token, then the terms. Words are \\w+ only and
    each is a quoted FTS5 string, so no query text is ever read as FTS5 syntax."""
    expression = f"scope : {_string(_scope(query.workspace_id))}"
    if query.positive:
        positive = " AND ".join(f"({_term(t)})" for t in query.positive)
        expression += f" AND {_TEXT_COLUMNS} : ({positive})"
    if query.negative:
        negative = " OR ".join(f"({_term(t)})" for t in query.negative)
        expression += f" NOT {_TEXT_COLUMNS} : ({negative})"
    return expression


class SqliteBackend(SqlBackend):
    name: ClassVar[str] = "sqlite"
    table: ClassVar[str] = "search_docs"  # its trigger removes the words (search_fts) too

    def key(self, value: uuid.UUID) -> str:
        return value.hex

    def insert(self, docs: Sequence[ChunkDoc]) -> None:
        # replace() deleted first, which took the database's write lock: the ids counted
        # here stay free until the commit.
        first = (db.session.execute(text("SELECT max(id) FROM search_docs")).scalar() or 0) + 1
        rows = [self._row(first + i, d) for i, d in enumerate(docs)]
        db.session.execute(_INSERT_DOC, rows)
        db.session.execute(_INSERT_WORDS, rows)

    @staticmethod
    def _row(row_id: int, doc: ChunkDoc) -> dict[str, Any]:
        return {
            "id": row_id,
            "workspace_id": doc.workspace_id.hex,
            "transcript_id": doc.transcript_id.hex,
            "chunk": doc.chunk,
            "version": doc.version,
            "revision": doc.revision,
            "speaker": doc.speaker,
            "start": doc.start,
            "end": doc.end,
            "marks": json.dumps(doc.marks),
            "language": doc.language,
            "tags": json.dumps(list(doc.tags)),
            "folder_id": _hex(doc.folder_id),
            "uploader_id": _hex(doc.uploader_id),
            "created_ts": doc.created_at.timestamp(),
            "scope": _scope(doc.workspace_id),
            "title": doc.title,
            "text": doc.text,
        }

    def delete_workspace(self, workspace_id: uuid.UUID) -> None:
        db.session.execute(
            text("DELETE FROM search_docs WHERE workspace_id = :w"), {"w": workspace_id.hex}
        )

    # --- Reads ------------------------------------------------------------------------------

    def search(self, query: SearchQuery) -> RawPage:
        params: dict[str, Any] = {
            "match": match_expression(query),
            "w": query.workspace_id.hex,
            "limit": query.per_page,
            "offset": query.offset,
            "s": MARK_START,
            "e": MARK_END,
        }
        where = ["d.workspace_id = :w", *self._filters(query, params)]
        sort = "newest" if query.browsing and query.sort == "relevance" else query.sort
        # Built from constants; every value is a bound parameter. FTS5's auxiliary
        # functions cannot share a query with window functions: rank first, mark after.
        # The matches drive the join (MATERIALIZED, CROSS JOIN): the other way round,
        # SQLite would run the MATCH once for every document of the workspace.
        sql = f"""
            WITH m AS MATERIALIZED (
                SELECT rowid AS id, bm25(search_fts, 0.0, 5.0, 1.0) AS rank
                FROM search_fts WHERE search_fts MATCH :match
            )
            SELECT d.id, d.transcript_id, d.chunk, d.start, d.speaker, d.marks, d.created_ts,
                   count(*) OVER () AS total
            FROM m CROSS JOIN search_docs d ON d.id = m.id
            WHERE {" AND ".join(where)}
            ORDER BY {ORDER[sort]}
            LIMIT :limit OFFSET :offset
        """  # noqa: S608
        rows = self._timed(sql, params)
        if rows:
            total = int(rows[0][7])
        elif query.page > 1:
            count = f"""
                SELECT count(*) FROM search_fts CROSS JOIN search_docs d ON d.id = search_fts.rowid
                WHERE search_fts MATCH :match AND {" AND ".join(where)}
            """  # noqa: S608
            total = int(self._timed(count, params)[0][0])
        else:
            total = 0
        marked = self._marked(params, [r[0] for r in rows])
        hits = [
            RawHit(
                transcript_id=uuid.UUID(r[1]),
                chunk=int(r[2]),
                start=float(r[3]),
                speaker=r[4],
                marks=tuple((int(a), float(b)) for a, b in json.loads(r[5])),
                created_at=datetime.fromtimestamp(r[6], UTC),
                text=marked[r[0]][0],
                title=marked[r[0]][1],
            )
            for r in rows
        ]
        return RawPage(hits, total)

    def _marked(self, params: dict[str, Any], ids: list[int]) -> dict[int, tuple[str, str]]:
        """Text and title of the page's rows with the matched words marked."""
        if not ids:
            return {}
        marks = {f"r{i}": row_id for i, row_id in enumerate(ids)}
        sql = f"""
            SELECT rowid, highlight(search_fts, 2, :s, :e), highlight(search_fts, 1, :s, :e)
            FROM search_fts WHERE search_fts MATCH :match
            AND rowid IN ({", ".join(":" + k for k in marks)})
        """  # noqa: S608
        rows = self._timed(sql, {**params, **marks})
        return {r[0]: (r[1], r[2]) for r in rows}

    def _filters(self, query: SearchQuery, params: dict[str, Any]) -> list[str]:
        f = query.filters
        clauses = self.equality_filters(query, "d", params)
        if f.tag is not None:
            clauses.append("EXISTS (SELECT 1 FROM json_each(d.tags) WHERE json_each.value = :tag)")
            params["tag"] = f.tag
        if f.created_from is not None:
            clauses.append("d.created_ts >= :created_from")
            params["created_from"] = f.created_from.timestamp()
        if f.created_before is not None:
            clauses.append("d.created_ts < :created_before")
            params["created_before"] = f.created_before.timestamp()
        return clauses

    def _timed(self, sql: str, params: dict[str, Any]) -> list[Any]:
        try:
            with self._deadline():
                return list(db.session.execute(text(sql), params).all())
        except OperationalError as e:
            if "interrupted" in str(e):
                raise SearchUnavailable(
                    _("That search took too long. Try more specific words or a filter.")
                ) from e
            raise SearchUnavailable() from e

    @contextmanager
    def _deadline(self) -> Iterator[None]:
        """Interrupt a statement that runs past the timeout (SQLite has no statement
        timeout; its progress handler is called every N virtual-machine steps)."""
        raw = db.session.connection().connection.driver_connection
        until = time.monotonic() + self.timeout_seconds
        raw.set_progress_handler(lambda: int(time.monotonic() > until), 10_000)
        try:
            yield
        finally:
            raw.set_progress_handler(None, 0)

    def versions(self, workspace_id: uuid.UUID) -> dict[uuid.UUID, int]:
        rows = db.session.execute(
            text(
                "SELECT transcript_id, version FROM search_docs"
                " WHERE workspace_id = :w AND chunk = 0"
            ),
            {"w": workspace_id.hex},
        ).all()
        return {uuid.UUID(r[0]): int(r[1]) for r in rows}

    def workspace_ids(self) -> set[uuid.UUID]:
        rows = db.session.execute(text("SELECT DISTINCT workspace_id FROM search_docs")).all()
        return {uuid.UUID(r[0]) for r in rows}
