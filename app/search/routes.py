"""The search page of a workspace, /w/<slug>/search: the box, the filters, the hits.

htmx asks for the results alone as the person types; everything else (a first visit, a
shared link, Back past htmx's history cache) gets the whole page. app.search.service does
the work; this module parses nothing itself and only renders what the service found.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, g, make_response, render_template, request, url_for

from app.errors import BadRequest
from app.extensions import db
from app.search import service
from app.search.backend import SearchUnavailable
from app.tenants.web import is_htmx, workspace_blueprint

bp: Blueprint = workspace_blueprint("search", __name__)

# The request parameters a search understands (app.search.query.parse); only these are
# carried into the pager's links, so nothing else of a URL is echoed back into one.
PARAMS = (
    "q",
    "sort",
    "per_page",
    "date_from",
    "date_to",
    "speaker",
    "language",
    "tag",
    "folder",
    "uploader",
    "transcript",
)
FILTERS = ("date_from", "date_to", "speaker", "language", "tag", "folder", "uploader")
# Fields of the form: an error about one of them is shown next to it.
FORM_FIELDS = ("q", "sort", *FILTERS)


def fragment(start: float) -> str:
    """The #t= fragment the transcript page seeks to (app/static/js/player.js)."""
    return "t=" + (f"{start:.2f}".rstrip("0").rstrip(".") or "0")


def hit_url(transcript_id: uuid.UUID, start: float, **kw: Any) -> str:
    """The transcript page at the moment of a hit."""
    return url_for("transcripts.show", transcript_id=transcript_id, _anchor=fragment(start), **kw)


@bp.get("/search")
def page() -> Any:
    result: service.SearchPage | None = None
    error: BadRequest | SearchUnavailable | None = None
    try:
        result = service.search(request.args, g.workspace.id)
    except (BadRequest, SearchUnavailable) as e:
        db.session.rollback()
        error = e
    args = {k: v for k in PARAMS if (v := request.args.get(k, "").strip())}
    # htmx restoring history it no longer has cached wants the whole page back.
    partial = is_htmx() and request.headers.get("HX-History-Restore-Request") != "true"
    context: dict[str, Any] = {
        "result": result,
        "error": error,
        "args": args,
        "everywhere": {k: v for k, v in args.items() if k != "transcript"},
        "filtered": any(k in args for k in FILTERS),
        "hit_url": hit_url,
        "form_fields": FORM_FIELDS,
    }
    if partial:
        body = render_template("search/_results.html", oob_errors=True, **context)
    else:
        body = render_template(
            "search/page.html",
            options=service.filter_options(g.workspace.id),
            oob_errors=False,
            **context,
        )
    resp = make_response(body, error.status if error else 200)
    # The same URL answers with a page or a partial: caches must keep them apart.
    resp.vary.add("HX-Request")
    return resp
