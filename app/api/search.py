"""API: search the words of every transcript of the key's workspace, and the filters' values.

The parameters are the search page's (app.search.query.parse checks them, for both): the
schema below types and documents them; ranges and lengths are checked by the service, which
answers 400 naming the parameter.
"""

from __future__ import annotations

from typing import Any

from flask import g, request, url_for
from marshmallow import EXCLUDE, Schema, fields

from app.api.blueprint import api_blueprint
from app.api.transcript_schemas import ProblemOut
from app.api.transcripts import problem
from app.errors import BadRequest
from app.search import query, service
from app.search.backend import SearchUnavailable
from app.search.routes import hit_url
from app.settings import settings

bp = api_blueprint("api_search", __name__, "Search: the words of every transcript of the workspace")


class SearchQueryIn(Schema):
    class Meta:
        unknown = EXCLUDE

    q = fields.String(
        load_default="",
        metadata={
            "description": "Words to find. A phrase in double quotes; a word after a minus "
            "is left out; the last word also matches longer words starting with it (as you "
            f"type). At most {query.MAX_QUERY_CHARS} characters. Empty with no filter: no hits."
        },
    )
    sort = fields.String(
        load_default="relevance",
        metadata={
            "enum": list(query.SORTS),
            "description": "relevance (best match first), newest or oldest transcript first",
        },
    )
    page = fields.Integer(load_default=1, metadata={"minimum": 1, "maximum": query.MAX_PAGE})
    per_page = fields.Integer(
        load_default=query.PER_PAGE, metadata={"minimum": 1, "maximum": query.MAX_PER_PAGE}
    )
    date_from = fields.Date(metadata={"description": "Transcripts created on or after (UTC)"})
    date_to = fields.Date(metadata={"description": "Transcripts created on or before (UTC)"})
    speaker = fields.String(metadata={"description": "A speaker's name, exactly"})
    language = fields.String(metadata={"description": "A language code, e.g. en"})
    tag = fields.String()
    folder = fields.UUID(metadata={"description": "A folder's id"})
    uploader = fields.UUID(metadata={"description": "The user id of the person who uploaded"})
    transcript = fields.UUID(metadata={"description": "Search within this transcript only"})


class SearchHitOut(Schema):
    transcript_id = fields.UUID()
    title = fields.String()
    url = fields.String(
        metadata={"description": "The transcript's page, at the moment of the hit (#t=seconds)"}
    )
    api_url = fields.String(metadata={"description": "The transcript in this API"})
    chunk = fields.Integer(
        metadata={"description": "Which passage of the transcript matched (0-based)"}
    )
    start = fields.Float(
        metadata={"description": "Seconds into the recording where the matched words are said"}
    )
    speaker = fields.String(metadata={"description": "Empty when speakers were not detected"})
    language = fields.String(allow_none=True)
    created_at = fields.DateTime()
    snippet = fields.String(metadata={"description": "Plain text around the first match"})
    snippet_html = fields.String(
        metadata={"description": "The snippet, HTML-escaped, matches in <mark>"}
    )
    matches = fields.List(
        fields.List(fields.Integer()),
        metadata={"description": "[start, end) character ranges of the matches in `snippet`"},
    )


class SearchOut(Schema):
    query = fields.String(metadata={"description": "The words searched for, tidied"})
    sort = fields.String()
    page = fields.Integer()
    per_page = fields.Integer()
    pages = fields.Integer(metadata={"description": "At least 1"})
    total = fields.Integer(metadata={"description": "Matching passages, all pages"})
    capped = fields.Boolean(
        metadata={
            "description": "More passages match than `total`: counting stopped there, and "
            "hits come from the newest `total` of them (the oldest, sorted oldest first). "
            "Add words or a filter to narrow."
        }
    )
    backend = fields.String(metadata={"description": "The search backend that answered"})
    took_ms = fields.Float()
    hits = fields.List(fields.Nested(SearchHitOut))


class FolderChoiceOut(Schema):
    id = fields.UUID()
    name = fields.String()


class UploaderChoiceOut(Schema):
    id = fields.UUID(metadata={"description": "A user id"})
    name = fields.String()


class SearchFiltersOut(Schema):
    speakers = fields.List(fields.String())
    languages = fields.List(fields.String())
    tags = fields.List(fields.String())
    folders = fields.List(fields.Nested(FolderChoiceOut))
    uploaders = fields.List(
        fields.Nested(UploaderChoiceOut), metadata={"description": "Members of the workspace"}
    )


def _absolute(path: str) -> str:
    return settings().base_url.rstrip("/") + path


def _hit_out(hit: service.Hit) -> dict[str, Any]:
    return {
        "transcript_id": hit.transcript_id,
        "title": hit.title,
        "url": _absolute(hit_url(hit.transcript_id, hit.start, slug=g.workspace.slug)),
        "api_url": _absolute(
            url_for("api_transcripts.get_transcript", transcript_id=hit.transcript_id)
        ),
        "chunk": hit.chunk,
        "start": hit.start,
        "speaker": hit.speaker,
        "language": hit.language,
        "created_at": hit.created_at,
        "snippet": hit.snippet.text,
        "snippet_html": str(hit.snippet.html),
        "matches": [list(m) for m in hit.snippet.matches],
    }


@bp.get("/search")
@bp.arguments(SearchQueryIn, location="query")
@bp.response(200, SearchOut)
@bp.alt_response(
    400, schema=ProblemOut, description="A parameter out of range, e.g. too long a query"
)
@bp.alt_response(422, schema=ProblemOut, description="A parameter of the wrong type")
@bp.alt_response(503, schema=ProblemOut, description="The search server cannot answer now")
def search(_args: dict[str, Any]) -> Any:
    """Hits are passages (a few sentences of one speaker), best match first unless sorted
    by date; each says where in the recording it was said. Private Transcripts are never
    searched. A page past the end has no hits (and the real `pages`)."""
    # The schema checked the types; the service reads the same parameters as the page does.
    try:
        found = service.search(request.args, g.workspace.id)
    except (BadRequest, SearchUnavailable) as e:
        return problem(e)
    q = found.query
    return {
        "query": q.text,
        "sort": q.sort,
        "page": q.page,
        "per_page": q.per_page,
        "pages": found.pages,
        "total": found.total,
        "capped": found.capped,
        "backend": found.backend,
        "took_ms": round(found.took_ms, 2),
        "hits": [_hit_out(h) for h in found.hits],
    }


@bp.get("/search/filters")
@bp.response(200, SearchFiltersOut)
def search_filters() -> Any:
    """What the search filters can be set to in this workspace."""
    options = service.filter_options(g.workspace.id)
    return {
        "speakers": options.speakers,
        "languages": options.languages,
        "tags": options.tags,
        "folders": [{"id": i, "name": n} for i, n in options.folders],
        "uploaders": [{"id": i, "name": n} for i, n in options.uploaders],
    }
