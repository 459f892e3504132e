"""API: export all of my data. "Me" is the person who made the API key, and only while
they still belong to the key's workspace: the export holds their data from every
workspace they are in, so a key whose maker left cannot ask for it."""

from __future__ import annotations

import uuid
from typing import Any

from flask import g, url_for
from flask_babel import gettext as _
from marshmallow import Schema, fields
from sqlalchemy import select

from app.api.blueprint import api_blueprint
from app.api.transcript_schemas import ProblemOut
from app.api.transcripts import problem
from app.auth.models import User
from app.errors import Forbidden, ServiceError
from app.extensions import db
from app.privacy import exports
from app.privacy.export_routes import zip_response
from app.privacy.models import PrivacyRequest, RequestStatus
from app.tenants.models import Membership

bp = api_blueprint(
    "api_privacy", __name__, "Privacy: export all of my data (the key's maker's) as a zip"
)

_BINARY = {"schema": {"type": "string", "format": "binary"}}


class ExportIn(Schema):
    formats = fields.List(
        fields.String(),
        load_default=list,
        metadata={
            "description": "Formats to add to each transcript's JSON: "
            + ", ".join(exports.FORMATS)
            + " (JSON is always included)"
        },
    )


class ExportOut(Schema):
    id = fields.UUID()
    status = fields.String(metadata={"description": "pending, running, ready, expired or failed"})
    formats = fields.List(fields.String())
    requested_at = fields.DateTime()
    due_at = fields.DateTime(metadata={"description": "When it must be answered at the latest"})
    completed_at = fields.DateTime(allow_none=True)
    expires_at = fields.DateTime(
        allow_none=True, metadata={"description": "Until when it can be downloaded"}
    )
    size = fields.Integer(metadata={"description": "Bytes of the zip"})
    downloads = fields.Integer()
    download_url = fields.String(
        allow_none=True, metadata={"description": "Set while it can be downloaded"}
    )
    detail = fields.String()


class ExportsOut(Schema):
    exports = fields.List(fields.Nested(ExportOut))


def _out(req: PrivacyRequest) -> dict[str, Any]:
    ready = exports.downloadable(req)
    # Past its expiry but before the expiry job ran: already expired for the caller.
    lapsed = req.status == RequestStatus.READY and not ready
    return {
        "id": req.id,
        "status": RequestStatus.EXPIRED if lapsed else req.status,
        "formats": ["json", *[f for f in req.formats.split(",") if f]],
        "requested_at": req.created_at,
        "due_at": req.due_at,
        "completed_at": req.completed_at,
        "expires_at": req.expires_at,
        "size": req.file_size,
        "downloads": req.downloads,
        "download_url": url_for("api_privacy.download_export", export_id=req.id) if ready else None,
        "detail": req.detail,
    }


def _me() -> User:
    maker = g.api_key.created_by_id
    # Read in the key's workspace (the request's context): is the maker still in it?
    member = maker is not None and (
        db.session.scalar(select(Membership.id).where(Membership.user_id == maker)) is not None
    )
    user = db.session.get(User, maker) if member else None
    if user is None:
        raise Forbidden(
            _(
                "This API key's maker is no longer a member of its workspace, so it cannot "
                "act for them. Use a key they made."
            )
        )
    return user


@bp.get("/me/exports")
@bp.response(200, ExportsOut)
@bp.alt_response(403, schema=ProblemOut, description="The key's maker left its workspace")
def list_exports() -> Any:
    """My latest data exports, newest first."""
    try:
        me = _me()
    except ServiceError as e:
        return problem(e)
    return {"exports": [_out(r) for r in exports.list_exports(me.id)]}


@bp.post("/me/exports")
@bp.arguments(ExportIn)
@bp.response(202, ExportOut)
@bp.alt_response(403, schema=ProblemOut, description="The key's maker left its workspace")
@bp.alt_response(409, schema=ProblemOut, description="An export is already being prepared")
@bp.alt_response(422, schema=ProblemOut, description="An unknown format")
@bp.alt_response(429, schema=ProblemOut, description="Too many exports in 24 hours")
def create_export(body: dict[str, Any]) -> Any:
    """Ask for an export of all my data: account, memberships, my transcripts (JSON plus
    the formats asked for), their AI summaries, my chats, usage, API keys' metadata. A
    job prepares it; poll the export, then download it (an email says when it is ready)."""
    try:
        req = exports.request_export(_me(), body["formats"])
    except ServiceError as e:
        return problem(e)
    return _out(req)


@bp.get("/me/exports/<uuid:export_id>")
@bp.response(200, ExportOut)
@bp.alt_response(404, schema=ProblemOut, description="No such export of mine")
def get_export(export_id: uuid.UUID) -> Any:
    try:
        req = exports.get_export(_me().id, export_id)
    except ServiceError as e:
        return problem(e)
    return _out(req)


@bp.get("/me/exports/<uuid:export_id>/download")
@bp.doc(responses={"200": {"description": "The zip", "content": {"application/zip": _BINARY}}})
@bp.alt_response(404, schema=ProblemOut, description="No such export of mine")
@bp.alt_response(409, schema=ProblemOut, description="Not ready yet, or it failed")
@bp.alt_response(410, schema=ProblemOut, description="It expired; ask for a new one")
def download_export(export_id: uuid.UUID) -> Any:
    try:
        found = exports.open_download(_me().id, export_id)
    except ServiceError as e:
        return problem(e)
    return zip_response(found)
