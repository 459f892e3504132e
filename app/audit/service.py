"""Recording audit events in the caller's transaction."""

from __future__ import annotations

import uuid
from typing import Any

from flask import g, has_request_context, request
from flask_login import current_user

from app.audit.models import AuditEvent
from app.extensions import db


def _actor() -> tuple[uuid.UUID | None, uuid.UUID | None, str]:
    if not has_request_context():
        return None, None, "system"
    api_key = g.get("api_key")
    if api_key is not None:
        return None, api_key.id, f"API key {api_key.prefix}"
    if current_user and current_user.is_authenticated:
        return current_user.id, None, current_user.email
    return None, None, "anonymous"


def record(
    action: str,
    *,
    target: Any = None,
    details: dict[str, Any] | None = None,
    workspace_id: uuid.UUID | None = None,
    actor_user_id: uuid.UUID | None = None,
) -> AuditEvent:
    user_id, key_id, label = _actor()
    event = AuditEvent(
        action=action,
        target_type=type(target).__name__.lower() if target is not None else "",
        target_id=str(getattr(target, "id", "")) if target is not None else "",
        details=details or {},
        actor_user_id=actor_user_id or user_id,
        actor_api_key_id=key_id,
        actor_label=label,
    )
    if workspace_id is not None:
        event.workspace_id = workspace_id
    if has_request_context():
        event.ip = (request.remote_addr or "")[:64]
        event.user_agent = (request.user_agent.string or "")[:255]
    db.session.add(event)
    return event
