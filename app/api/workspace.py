"""API: the key's workspace, its members, invitations, API keys and audit log."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, g, jsonify
from flask_smorest.pagination import PaginationParameters
from sqlalchemy import func, select

from app.api.blueprint import api_blueprint
from app.api.schemas import (
    ApiKeyOut,
    AuditEventOut,
    ErrorOut,
    InvitationIn,
    InvitationOut,
    MemberOut,
    WorkspaceOut,
)
from app.audit.models import AuditEvent
from app.auth import api_keys
from app.errors import ServiceError, refusal_status
from app.extensions import db
from app.tenants import services

bp = api_blueprint("api_workspace", __name__, "The workspace an API key belongs to")


def _problem(e: ServiceError) -> Response:
    # A Response, not a dict: @bp.response would dump a dict through the success schema
    # and drop the message.
    db.session.rollback()
    resp = jsonify(error=type(e).__name__.lower(), message=e.message)
    resp.status_code = refusal_status(e)
    return resp


@bp.get("/workspace")
@bp.response(200, WorkspaceOut)
def get_workspace() -> Any:
    ws = g.workspace
    return {
        "id": ws.id,
        "slug": ws.slug,
        "name": ws.name,
        "plan": ws.plan,
        "seat_limit": ws.seat_limit,
        "seats_used": services.seats_used(),
        "personal": ws.personal,
    }


@bp.get("/members")
@bp.response(200, MemberOut(many=True))
def list_members() -> Any:
    return [
        {
            "id": m.id,
            "user_id": u.id,
            "email": u.email,
            "name": u.name,
            "role": m.role,
            "joined_at": m.created_at,
        }
        for m, u in services.members(g.workspace.id)
    ]


@bp.get("/invitations")
@bp.response(200, InvitationOut(many=True))
def list_invitations() -> Any:
    return services.pending_invitations()


@bp.post("/invitations")
@bp.arguments(InvitationIn)
@bp.response(201, InvitationOut)
@bp.alt_response(422, schema=ErrorOut, description="Refused (bad email or role, no seat left)")
def create_invitation(body: dict[str, Any]) -> Any:
    try:
        invitation, _raw = services.invite(g.workspace, g.role, body["email"], body["role"])
    except ServiceError as e:
        return _problem(e)
    return invitation


@bp.delete("/invitations/<uuid:invitation_id>")
@bp.response(204)
@bp.alt_response(404, schema=ErrorOut, description="No such pending invitation")
def revoke_invitation(invitation_id: uuid.UUID) -> Any:
    try:
        services.revoke_invitation(invitation_id)
    except ServiceError as e:
        return _problem(e)
    return None


@bp.get("/api-keys")
@bp.response(200, ApiKeyOut(many=True))
def list_keys() -> Any:
    return api_keys.list_api_keys()


@bp.delete("/api-keys/<uuid:key_id>")
@bp.response(204)
@bp.alt_response(404, schema=ErrorOut, description="No such live key")
def revoke_key(key_id: uuid.UUID) -> Any:
    try:
        api_keys.revoke_api_key(key_id)
    except ServiceError as e:
        return _problem(e)
    return None


@bp.get("/audit-events")
@bp.response(200, AuditEventOut(many=True))
@bp.paginate(page_size=50, max_page_size=200)
def list_audit_events(pagination_parameters: PaginationParameters) -> Any:
    """Newest first; the X-Pagination header carries the totals."""
    pagination_parameters.item_count = db.session.scalar(select(func.count(AuditEvent.id))) or 0
    return list(
        db.session.scalars(
            select(AuditEvent)
            .order_by(AuditEvent.created_at.desc(), AuditEvent.id)
            .offset(pagination_parameters.first_item)
            .limit(pagination_parameters.page_size)
        )
    )
