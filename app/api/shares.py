"""API: public share links of a transcript: list, create (the URL is returned this once),
revoke. The same rules as the web: app.transcripts.sharing decides."""

from __future__ import annotations

import uuid
from datetime import UTC
from typing import Any

from marshmallow import EXCLUDE, Schema, fields, validate

from app.api.blueprint import api_blueprint
from app.api.transcript_schemas import ProblemOut
from app.api.transcripts import problem
from app.errors import ServiceError
from app.transcripts import sharing
from app.transcripts.models import ShareLink
from app.transcripts.sharing import ShareOptions

bp = api_blueprint("api_shares", __name__, "Public share links of a transcript")


class ShareIn(Schema):
    class Meta:
        unknown = EXCLUDE

    password = fields.String(
        load_default="",
        validate=validate.Length(max=sharing.MAX_PASSWORD),
        metadata={"description": "Optional; needs a plan with link passwords"},
    )
    expires_in_days = fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        metadata={"description": "Lifetime in days (give at most one of the expiry fields)"},
    )
    expires_at = fields.AwareDateTime(
        load_default=None,
        allow_none=True,
        default_timezone=UTC,
        metadata={"description": "When it stops working (UTC unless an offset is given)"},
    )
    permanent = fields.Boolean(
        load_default=False,
        metadata={"description": "Never expires; needs a plan with permanent links"},
    )
    allow_download = fields.Boolean(load_default=False)


class ShareOut(Schema):
    id = fields.UUID()
    transcript_id = fields.UUID()
    state = fields.String(metadata={"enum": ["active", "expired", "revoked"]})
    created_at = fields.DateTime()
    created_by_id = fields.UUID(
        allow_none=True, metadata={"description": "The person; null when made with an API key"}
    )
    expires_at = fields.DateTime(allow_none=True, metadata={"description": "null: never"})
    revoked_at = fields.DateTime(allow_none=True)
    has_password = fields.Boolean()
    allow_download = fields.Boolean()
    opened_count = fields.Integer()
    last_opened_at = fields.DateTime(allow_none=True)


class ShareCreatedOut(ShareOut):
    url = fields.String(
        metadata={"description": "The public link; returned this once and never again"}
    )


def share_out(link: ShareLink) -> dict[str, Any]:
    return {
        "id": link.id,
        "transcript_id": link.transcript_id,
        "state": sharing.state(link),
        "created_at": link.created_at,
        "created_by_id": link.created_by_id,
        "expires_at": link.expires_at,
        "revoked_at": link.revoked_at,
        "has_password": link.password_hash is not None,
        "allow_download": link.allow_download,
        "opened_count": link.opened_count,
        "last_opened_at": link.last_opened_at,
    }


@bp.get("/transcripts/<uuid:transcript_id>/shares")
@bp.response(200, ShareOut(many=True))
@bp.alt_response(404, schema=ProblemOut, description="No such transcript")
def list_shares(transcript_id: uuid.UUID) -> Any:
    """Every link of the transcript, revoked and expired ones too, newest first."""
    try:
        return [share_out(link) for link in sharing.links(transcript_id)]
    except ServiceError as e:
        return problem(e)


@bp.post("/transcripts/<uuid:transcript_id>/shares")
@bp.arguments(ShareIn)
@bp.response(201, ShareCreatedOut)
@bp.alt_response(404, schema=ProblemOut, description="No such transcript")
@bp.alt_response(409, schema=ProblemOut, description="The transcript cannot be shared (yet)")
@bp.alt_response(422, schema=ProblemOut, description="An option the plan or the rules refuse")
def create_share(body: dict[str, Any], transcript_id: uuid.UUID) -> Any:
    """Make a public link. Without an expiry it lasts the plan's default; the response's
    `url` is the only time the link is shown."""
    options = ShareOptions(
        password=body["password"],
        days=body["expires_in_days"],
        expires_at=body["expires_at"],
        permanent=body["permanent"],
        allow_download=body["allow_download"],
    )
    try:
        # Made by the workspace's key, not a person: the audit log names the key.
        new = sharing.create(transcript_id, options, created_by_id=None)
    except ServiceError as e:
        return problem(e)
    return share_out(new.link) | {"url": sharing.public_url(new.token)}


@bp.delete("/transcripts/<uuid:transcript_id>/shares/<uuid:share_id>")
@bp.response(204)
@bp.alt_response(404, schema=ProblemOut, description="No such transcript or link")
@bp.alt_response(409, schema=ProblemOut, description="Already revoked")
def revoke_share(transcript_id: uuid.UUID, share_id: uuid.UUID) -> Any:
    """Revoke a link: it stops working at once and stays listed as revoked."""
    try:
        sharing.revoke(transcript_id, share_id)
    except ServiceError as e:
        return problem(e)
    return None
