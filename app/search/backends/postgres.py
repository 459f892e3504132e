"""PostgreSQL full-text search: tsvector per chunk in the language's text-search
configuration, a GIN index led by the workspace (btree_gin), ts_rank_cd, ts_headline.

Each chunk is stemmed with its transcript's language, so a query is compiled once per
language present in the workspace and each chunk is matched only by the query of its own
language (an OR of per-configuration branches, each served by the GIN index).
Writes run in the caller's transaction (the indexer's, with the outbox rows it clears);
reads run under row-level security like every workspace-owned table.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any, ClassVar

from flask_babel import gettext as _
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from app.extensions import db
from app.search.backend import RawHit, RawPage, SearchUnavailable
from app.search.backends.sql_base import SqlBackend
from app.search.documents import MARK_END, MARK_START, ChunkDoc
from app.search.query import SearchQuery, Term, fold
from app.tenants.context import unscoped

# Whisper language codes -> PostgreSQL text-search configurations that ship with it.
CONFIGS = {
    "ar": "arabic",
    "hy": "armenian",
    "eu": "basque",
    "ca": "catalan",
    "da": "danish",
    "nl": "dutch",
    "en": "english",
    "fi": "finnish",
    "fr": "french",
    "de": "german",
    "el": "greek",
    "hi": "hindi",
    "hu": "hungarian",
    "id": "indonesian",
    "ga": "irish",
    "it": "italian",
    "lt": "lithuanian",
    "ne": "nepali",
    "no": "norwegian",
    "nn": "norwegian",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sr": "serbian",
    "es": "spanish",
    "sv": "swedish",
    "ta": "tamil",
    "tr": "turkish",
    "yi": "yiddish",
}
FALLBACK = "simple"

_COLUMNS = (
    "workspace_id, transcript_id, chunk, version, revision, title, text, title_folded,"
    " text_folded, speaker, start,"
    ' "end", marks, language, config, tags, folder_id, uploader_id, created_at, tsv'
)
_INSERT = text(
    f"INSERT INTO search_chunks ({_COLUMNS}) VALUES ("  # noqa: S608 (constant columns)
    ":workspace_id, :transcript_id, :chunk, :version, :revision, :title, :text,"
    " :title_folded, :text_folded, :speaker,"
    " :start, :end, CAST(:marks AS jsonb), :language, CAST(:config AS regconfig), :tags,"
    " :folder_id, :uploader_id, :created_at,"
    " setweight(to_tsvector(CAST(:config AS regconfig), coalesce(:title_folded, :title)), 'A')"
    " || setweight(to_tsvector(CAST(:config AS regconfig), coalesce(:text_folded, :text)), 'B'))"
)
ORDER = {
    "relevance": "rank DESC, created_at DESC, transcript_id, chunk",
    "newest": "created_at DESC, transcript_id, chunk",
    "oldest": "created_at ASC, transcript_id, chunk",
}
# Matches ranked and counted at most. Ranking reads every candidate's tsvector (TOAST): a
# word in 20,000 chunks of one workspace took 100 ms at 1M segments, capped 15 ms (see
# docs/benchmarks.md). Past this, ranking by how often a word occurs says little, and
# people add a word or a filter; Meilisearch caps its totals too (maxTotalHits).
MAX_COUNTED = 2000

# The same order over the page's rows (the outer query names them page.*).
PAGE_ORDER = {
    "relevance": "page.rank DESC, page.created_at DESC, page.transcript_id, page.chunk",
    "newest": "page.created_at DESC, page.transcript_id, page.chunk",
    "oldest": "page.created_at ASC, page.transcript_id, page.chunk",
}
_HEADLINE = f"HighlightAll=true, StartSel={MARK_START}, StopSel={MARK_END}"


def config_for(language: str | None) -> str:
    return CONFIGS.get((language or "").lower().split("-")[0], FALLBACK)


_NOT_MARKUP = str.maketrans("<>&", "   ")


def _matchable(value: str) -> str:
    """Accents folded, and no < > &: PostgreSQL's parser reads `<b>word</b>` as tags and
    entities and drops them, and spoken words are never markup. One character for one."""
    return fold(value).translate(_NOT_MARKUP)


def _differs(folded: str, original: str) -> str | None:
    return folded if folded != original else None


def _marked(original: str, folded_marked: str | None) -> str:
    """Carry ts_headline's markers, placed on the folded text, over to the original (the
    two have the same length: query.fold keeps one character for one)."""
    if folded_marked is None:
        return original
    out: list[str] = []
    at = 0
    for char in folded_marked:
        if char in (MARK_START, MARK_END):
            out.append(char)
        else:
            out.append(original[at] if at < len(original) else char)
            at += 1
    return "".join(out)


def _lexeme(word: str) -> str:
    # Words are \w+ only (app/search/query.py); quoting makes each one lexeme whatever
    # the parser of the configuration would make of it.
    return "'" + word.replace("'", "''").replace("\\", "\\\\") + "'"


def _term(term: Term) -> str:
    lexemes = [_lexeme(w) for w in term.words]
    if term.prefix:
        lexemes[-1] += ":*"
    body = " <-> ".join(lexemes) if term.phrase else " & ".join(lexemes)
    return f"!({body})" if term.negated else f"({body})"


def tsquery_text(query: SearchQuery) -> str:
    """to_tsquery input for the whole query (positive terms first: a query of negations
    alone matches nothing, and browsing applies negations as a filter)."""
    terms = [*query.positive, *query.negative]
    return " & ".join(_term(t) for t in terms)


class PostgresBackend(SqlBackend):
    name: ClassVar[str] = "postgres"
    table: ClassVar[str] = "search_chunks"

    def insert(self, docs: Sequence[ChunkDoc]) -> None:
        db.session.execute(_INSERT, [self._row(d) for d in docs])

    @staticmethod
    def _row(doc: ChunkDoc) -> dict[str, Any]:
        return {
            "workspace_id": doc.workspace_id,
            "transcript_id": doc.transcript_id,
            "chunk": doc.chunk,
            "version": doc.version,
            "revision": doc.revision,
            # Stored as written (highlighting shows it), matched folded (see query.fold).
            "title": doc.title,
            "text": doc.text,
            "title_folded": _differs(_matchable(doc.title), doc.title),
            "text_folded": _differs(_matchable(doc.text), doc.text),
            "speaker": doc.speaker,
            "start": doc.start,
            "end": doc.end,
            "marks": json.dumps(doc.marks),
            "language": doc.language,
            "config": config_for(doc.language),
            "tags": list(doc.tags),
            "folder_id": doc.folder_id,
            "uploader_id": doc.uploader_id,
            "created_at": doc.created_at,
        }

    def delete_workspace(self, workspace_id: uuid.UUID) -> None:
        with unscoped("the index worker purges a deleted workspace's search chunks"):
            db.session.execute(
                text("DELETE FROM search_chunks WHERE workspace_id = :w"), {"w": workspace_id}
            )

    # --- Reads ------------------------------------------------------------------------------

    def search(self, query: SearchQuery) -> RawPage:
        params: dict[str, Any] = {
            "w": query.workspace_id,
            # Pages end where counting ends (the extra candidate only tells there are more).
            "limit": max(0, min(query.per_page, MAX_COUNTED - query.offset)),
            "offset": query.offset,
            "headline": _HEADLINE,
            "cap": MAX_COUNTED + 1,
        }
        where = ["c.workspace_id = :w", *self._filters(query, params)]
        configs = self._configs(query)
        expression = tsquery_text(query)
        params["q"] = expression
        if query.browsing:
            match = "true"
            rank = "0.0"
            queries = "SELECT NULL::regconfig AS config, NULL::tsquery AS q"
            join = "true"
            if query.negative:  # :q holds only the negated terms here
                where.append("c.tsv @@ to_tsquery(c.config, :q)")
        else:
            queries = " UNION ALL ".join(
                f"SELECT CAST('{cfg}' AS regconfig) AS config, to_tsquery('{cfg}', :q) AS q"
                for cfg in configs
            )
            join = "c.config = qs.config"
            # One scan of the GIN index finds the candidates with a constant tsquery (every
            # configuration's, ORed); with negations, each chunk must also match its own
            # language's query (English drops "drafts" only as "draft"). Ranked with its
            # own language's query. Fenced (MATERIALIZED), or the planner runs one index
            # scan per language.
            any_language = " || ".join(f"to_tsquery('{cfg}', :q)" for cfg in configs)
            match = f"c.tsv @@ ({any_language})"
            rank = "ts_rank(c.tsv, qs.q)"
        sort = "newest" if query.browsing and query.sort == "relevance" else query.sort
        newest_first = "ASC" if sort == "oldest" else "DESC"
        # Built from constants only (configurations from CONFIGS, clauses above); every
        # value is a bound parameter. The ranked, counted rows are narrow (keys and rank);
        # text is read for the page's rows only, so a common word's 20,000 matches are not
        # carried (and spilled) through the count. At most MAX_COUNTED candidates are
        # ranked and counted: the newest (the oldest, sorted oldest first).
        sql = f"""
            WITH qs AS ({queries}),
            candidates AS MATERIALIZED (
                SELECT c.transcript_id, c.chunk, c.created_at, c.config, c.tsv
                FROM search_chunks c
                WHERE {" AND ".join(where)} AND {match}
                ORDER BY c.created_at {newest_first}, c.transcript_id, c.chunk
                LIMIT :cap
            ),
            page AS (
                SELECT c.transcript_id, c.chunk, c.created_at, {rank} AS rank,
                       count(*) OVER () AS total
                FROM candidates c JOIN qs ON {join}
                {"WHERE c.tsv @@ qs.q" if query.negative and not query.browsing else ""}
                ORDER BY {ORDER[sort]}
                LIMIT :limit OFFSET :offset
            )
            SELECT page.transcript_id, page.chunk, c.start, c.speaker, c.marks,
                   page.created_at, page.total, c.text, c.title,
                   CASE WHEN qs.q IS NULL THEN NULL ELSE
                        ts_headline(c.config, coalesce(c.text_folded, c.text), qs.q, :headline)
                   END,
                   CASE WHEN qs.q IS NULL THEN NULL ELSE
                        ts_headline(c.config, coalesce(c.title_folded, c.title), qs.q, :headline)
                   END
            FROM page
            JOIN search_chunks c ON c.workspace_id = :w
                 AND c.transcript_id = page.transcript_id AND c.chunk = page.chunk
            LEFT JOIN qs ON qs.config = c.config
            ORDER BY {PAGE_ORDER[sort]}
        """  # noqa: S608
        rows = self._timed(sql, params)
        if rows:
            total = int(rows[0][6])
        elif query.page > 1:
            own = "c.tsv @@ qs.q" if query.negative and not query.browsing else "true"
            total = self._count([*where, match, own], join, queries, params)
        else:
            total = 0
        capped = total > MAX_COUNTED
        hits = [
            RawHit(
                transcript_id=r[0],
                chunk=r[1],
                start=float(r[2]),
                speaker=r[3],
                marks=tuple((int(a), float(b)) for a, b in r[4]),
                created_at=r[5],
                text=_marked(r[7], r[9]),
                title=_marked(r[8], r[10]),
            )
            for r in rows
        ]
        return RawPage(hits, min(total, MAX_COUNTED), capped)

    @staticmethod
    def _configs(query: SearchQuery) -> list[str]:
        if query.filters.language is not None:
            return [config_for(query.filters.language)]
        return sorted({FALLBACK, *(config_for(x) for x in query.languages)})

    def _filters(self, query: SearchQuery, params: dict[str, Any]) -> list[str]:
        f = query.filters
        clauses = self.equality_filters(query, "c", params)
        if f.tag is not None:
            clauses.append("c.tags @> ARRAY[CAST(:tag AS text)]")
            params["tag"] = f.tag
        if f.created_from is not None:
            clauses.append("c.created_at >= :created_from")
            params["created_from"] = f.created_from
        if f.created_before is not None:
            clauses.append("c.created_at < :created_before")
            params["created_before"] = f.created_before
        return clauses

    def _count(self, where: list[str], join: str, queries: str, params: dict[str, Any]) -> int:
        """Matches of a page past the end (which has no row to carry the count)."""
        sql = (
            f"WITH qs AS ({queries}) SELECT count(*) FROM (SELECT 1 FROM search_chunks c"  # noqa: S608
            f" JOIN qs ON {join} WHERE {' AND '.join(where)} LIMIT :cap) AS matches"
        )
        rows = self._timed(sql, params)
        return int(rows[0][0]) if rows else 0

    def _timed(self, sql: str, params: dict[str, Any]) -> list[Any]:
        """Run a read with a statement timeout: a search that takes too long is given up
        with a clear answer, and the request's transaction stays usable."""
        connection = db.session.connection()
        connection.exec_driver_sql("SAVEPOINT verbatim_search")
        try:
            connection.execute(
                text("SELECT set_config('statement_timeout', :ms, true)"),
                {"ms": str(max(1, int(self.timeout_seconds * 1000)))},
            )
            rows = list(db.session.execute(text(sql), params).all())
        except OperationalError as e:
            connection.exec_driver_sql("ROLLBACK TO SAVEPOINT verbatim_search")
            if "statement timeout" in str(e):
                raise SearchUnavailable(
                    _("That search took too long. Try more specific words or a filter.")
                ) from e
            raise SearchUnavailable() from e
        connection.execute(text("SELECT set_config('statement_timeout', '0', true)"))
        connection.exec_driver_sql("RELEASE SAVEPOINT verbatim_search")
        return rows

    def versions(self, workspace_id: uuid.UUID) -> dict[uuid.UUID, int]:
        with unscoped("reconcile reads the index's versions of one workspace"):
            rows = db.session.execute(
                text(
                    "SELECT transcript_id, version FROM search_chunks"
                    " WHERE workspace_id = :w AND chunk = 0"
                ),
                {"w": workspace_id},
            ).all()
        return {r[0]: int(r[1]) for r in rows}

    def workspace_ids(self) -> set[uuid.UUID]:
        with unscoped("reconcile lists the workspaces present in the index"):
            rows = db.session.execute(
                text(
                    "WITH RECURSIVE w AS ("
                    " (SELECT workspace_id FROM search_chunks ORDER BY workspace_id LIMIT 1)"
                    " UNION ALL SELECT (SELECT s.workspace_id FROM search_chunks s"
                    "  WHERE s.workspace_id > w.workspace_id ORDER BY s.workspace_id LIMIT 1)"
                    " FROM w WHERE w.workspace_id IS NOT NULL)"
                    " SELECT workspace_id FROM w WHERE workspace_id IS NOT NULL"
                )
            ).all()
        return {r[0] for r in rows}
