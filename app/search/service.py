"""Searching a workspace: parse, ask the backend, and reload every hit through the
workspace-scoped ORM, so a backend (or a filter) that went wrong can still never show
another workspace's transcript, a deleted one, or a Private Transcript."""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup, escape
from sqlalchemy import select

from app.db import as_utc
from app.extensions import db
from app.search import snippets
from app.search.backend import RawHit, SearchUnavailable, backend
from app.search.query import SearchQuery, parse
from app.transcripts.models import Status, Transcript, TranscriptSpeaker

log = logging.getLogger("verbatim.search")


@dataclass(frozen=True)
class Hit:
    transcript_id: uuid.UUID
    title: str
    title_html: Markup
    created_at: datetime
    language: str | None
    chunk: int
    start: float  # seconds: where the first matched word's segment begins
    speaker: str
    snippet: snippets.Snippet


@dataclass(frozen=True)
class SearchPage:
    query: SearchQuery
    hits: list[Hit]
    total: int
    backend: str
    took_ms: float
    capped: bool = False  # more than `total` matches (see RawPage.capped)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.query.per_page))

    @property
    def has_previous(self) -> bool:
        return self.query.page > 1

    @property
    def has_next(self) -> bool:
        return self.query.page < self.pages


@dataclass(frozen=True)
class FilterOptions:
    speakers: list[str]
    languages: list[str]
    tags: list[str]
    folders: list[tuple[uuid.UUID, str]]
    uploaders: list[tuple[uuid.UUID, str]]


def languages() -> tuple[str, ...]:
    """Languages of the current workspace's searchable transcripts."""
    rows = db.session.scalars(
        select(Transcript.language)
        .where(Transcript.status == Status.COMPLETED, Transcript.language.is_not(None))
        .distinct()
    )
    return tuple(sorted(x for x in rows if x))


def search(args: Mapping[str, str | None], workspace_id: uuid.UUID) -> SearchPage:
    """Search the workspace the request was authorised for, from request parameters."""
    return run(parse(args, workspace_id, languages()))


def run(query: SearchQuery) -> SearchPage:
    began = time.perf_counter()
    engine = backend()
    if query.empty:
        return SearchPage(query, [], 0, engine.name, 0.0)
    try:
        raw = engine.search(query)
    except SearchUnavailable:
        raise
    except Exception as e:  # a backend bug must read as "unavailable", not as a 500
        log.exception("search backend %s failed", engine.name)
        raise SearchUnavailable() from e
    hits = _reload(raw.hits)
    took = (time.perf_counter() - began) * 1000
    return SearchPage(query, hits, raw.total, engine.name, took, raw.capped)


def readable(ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Transcript]:
    """Which of these transcripts a hit may show, read through the workspace-scoped ORM:
    the current workspace's completed ones that are not Private. An index that is behind,
    or wrong, proposes ids; this decides."""
    wanted = set(ids)
    if not wanted:
        return {}
    return {
        t.id: t
        for t in db.session.scalars(
            select(Transcript).where(
                Transcript.id.in_(wanted),
                Transcript.status == Status.COMPLETED,
                Transcript.encrypted.is_(False),
            )
        )
    }


def _reload(raw_hits: list[RawHit]) -> list[Hit]:
    found = readable(h.transcript_id for h in raw_hits)
    hits: list[Hit] = []
    for raw in raw_hits:
        t = found.get(raw.transcript_id)
        if t is None:  # deleted, moved, or never ours: the index is behind or wrong
            log.info("search hit %s dropped: not in this workspace", raw.transcript_id)
            continue
        snippet, first = snippets.around_first_match(raw.text)
        title = snippets.whole(raw.title)
        hits.append(
            Hit(
                transcript_id=t.id,
                title=t.title,
                # The live title; highlighted only while the index holds the same one.
                title_html=title.html if title.text == t.title else escape(t.title),
                created_at=as_utc(t.created_at),
                language=t.language,
                chunk=raw.chunk,
                start=snippets.moment(raw.marks, first, raw.start),
                speaker=raw.speaker,
                snippet=snippet,
            )
        )
    return hits


def filter_options(workspace_id: uuid.UUID) -> FilterOptions:
    """What the filters of the current workspace can be set to."""
    from app.tenants.services import members
    from app.transcripts.organizing import folders, tag_counts

    speakers = db.session.scalars(
        select(TranscriptSpeaker.name).distinct().order_by(TranscriptSpeaker.name).limit(500)
    )
    people = [(m.user_id, u.name or u.email) for m, u in members(workspace_id)]  # type: ignore[attr-defined]
    return FilterOptions(
        speakers=[s for s in speakers if s],
        languages=list(languages()),
        tags=[tag for tag, _count in tag_counts()],
        folders=[(f.id, f.name) for f in folders()],
        uploaders=sorted(people, key=lambda p: p[1].lower()),
    )
