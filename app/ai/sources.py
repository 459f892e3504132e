"""Transcript text as the AI sees it, read through the workspace-scoped ORM only.

Across a workspace the search backend finds the chunks; their segments are then read
back here with the workspace's scope (and encrypted or unfinished transcripts skipped),
so an index that is wrong or behind can never put another workspace's words in a prompt.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select

from app.ai import retrieval
from app.ai.citations import label
from app.ai.provider import Line, Source, estimate_tokens
from app.db import as_utc, utcnow
from app.extensions import db
from app.transcripts.models import Transcript, TranscriptSegment
from app.transcripts.services import speaker_names

# Chunks a question across a workspace reads, at most, and sources it cites.
MAX_CHUNKS = 16
MAX_SOURCES = 8
HITS_PER_SEARCH = 20


def lines_of(t: Transcript, *, source: str = "") -> list[Line]:
    """The transcript's non-blank segments, labelled for citing."""
    names = speaker_names(t)
    rows = db.session.execute(
        select(
            TranscriptSegment.position,
            TranscriptSegment.start,
            TranscriptSegment.end,
            TranscriptSegment.speaker,
            TranscriptSegment.text,
        )
        .where(TranscriptSegment.transcript_id == t.id)
        .order_by(TranscriptSegment.position)
    )
    return [
        Line(
            label(start, source), source, pos, start, end, _name(names, spk), " ".join(text.split())
        )
        for pos, start, end, spk, text in rows
        if text and text.strip()
    ]


def _name(names: Mapping[str, str], speaker: str | None) -> str:
    return names.get(speaker, speaker) if speaker else ""


def speakers_in_order(lines: Sequence[Line]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(ln.speaker for ln in lines if ln.speaker))


# Relative dates in a question, read only when the asker set no dates of their own.
_RELATIVE = re.compile(
    r"\b(today|yesterday|this week|last week|this month|last month|this year|last year)\b",
    re.IGNORECASE,
)


def relative_dates(question: str, today: date | None = None) -> tuple[date, date] | None:
    found = _RELATIVE.search(question)
    if not found:
        return None
    today = today or utcnow().date()
    phrase = found.group(1).lower()
    if phrase == "today":
        return today, today
    if phrase == "yesterday":
        day = today - timedelta(days=1)
        return day, day
    if phrase.endswith("week"):
        monday = today - timedelta(days=today.weekday())
        if phrase.startswith("last"):
            monday -= timedelta(days=7)
            return monday, monday + timedelta(days=6)
        return monday, today
    if phrase.endswith("month"):
        first = today.replace(day=1)
        if phrase.startswith("last"):
            last = first - timedelta(days=1)
            return last.replace(day=1), last
        return first, today
    if phrase.startswith("last"):
        return date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)
    return date(today.year, 1, 1), today


@dataclass
class WorkspaceContext:
    sources: list[Source]
    ranked: list[Line]
    filters: dict[str, str] = field(default_factory=dict)  # as applied, for the record


def for_workspace(
    workspace_id: uuid.UUID, question: str, filters: Mapping[str, str], budget: int | None
) -> WorkspaceContext:
    """Retrieve what the workspace's recordings say about `question` (filters: the search
    page's date_from, date_to, speaker, language, tag, folder)."""
    from app.search import query as search_query
    from app.search.backend import backend
    from app.search.service import languages

    applied = {k: v for k, v in filters.items() if v}
    if not (applied.get("date_from") or applied.get("date_to")):
        span = relative_dates(question)
        if span:
            applied["date_from"], applied["date_to"] = span[0].isoformat(), span[1].isoformat()
    base = search_query.parse(
        tuple_args({**applied, "per_page": str(HITS_PER_SEARCH)}), workspace_id, languages()
    )
    words = retrieval.content_words(question)
    if not words:
        return WorkspaceContext([], [], applied)
    engine = backend()
    rankings, raw = [], {}
    # All the words together, then each alone (the lists are fused below): a chunk that
    # has only some of them still counts.
    phrases = [" ".join(words), *words] if len(words) > 1 else words
    for terms in map(search_query.parse_terms, phrases):
        q = _with_terms(base, terms)
        page = engine.search(q)
        rankings.append([(h.transcript_id, h.chunk) for h in page.hits])
        for h in page.hits:
            raw.setdefault((h.transcript_id, h.chunk), h)
    chosen = retrieval.fuse(rankings)[:MAX_CHUNKS]
    return _read_back([raw[k] for k in chosen], question, applied, budget)


def tuple_args(args: Mapping[str, str]) -> Mapping[str, str | None]:
    """search.query.parse caches on its arguments: it wants a hashable mapping."""
    from werkzeug.datastructures import ImmutableMultiDict

    return ImmutableMultiDict(sorted(args.items()))


def _with_terms(base, terms):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    # Whole words only: a question's last word is not being typed.
    fixed = tuple(replace(t, prefix=False) for t in terms)
    return replace(base, terms=fixed, text=" ".join(" ".join(t.words) for t in fixed), page=1)


def _read_back(
    hits: Sequence, question: str, applied: dict, budget: int | None
) -> WorkspaceContext:  # type: ignore[type-arg]
    from app.search.service import readable

    ids = list(dict.fromkeys(h.transcript_id for h in hits))
    found = readable(ids)  # the scoped reload every search hit gets
    order = [i for i in ids if i in found][:MAX_SOURCES]
    keys = {tid: f"T{n}" for n, tid in enumerate(order, 1)}
    wanted: dict[uuid.UUID, set[float]] = {tid: set() for tid in order}
    for h in hits:
        if h.transcript_id in wanted:
            # Marks carry each segment's start as stored; compared to the millisecond.
            wanted[h.transcript_id].update(round(start, 3) for _offset, start in h.marks)
    sources, pool = [], []
    used = 0
    for tid in order:
        t = found[tid]
        starts = wanted[tid]
        lines = [ln for ln in lines_of(t, source=keys[tid]) if round(ln.start, 3) in starts]
        kept = []
        for ln in lines:
            cost = estimate_tokens(ln.render())
            if budget is not None and used + cost > budget:
                break
            kept.append(ln)
            used += cost
        if not kept:
            continue
        pool.extend(kept)
        sources.append(
            Source(
                keys[tid], str(tid), t.title, as_utc(t.created_at).date().isoformat(), tuple(kept)
            )
        )
    ranked = retrieval.rank(pool, question, k=12)
    return WorkspaceContext(sources, ranked, applied)
