"""The workspace audit log (admins)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.extensions import db
from app.tenants.models import Role
from app.tenants.web import require_role, workspace_blueprint

bp: Blueprint = workspace_blueprint("audit", __name__, "/audit")
PAGE = 50


@bp.get("/")
@require_role(Role.ADMIN)
def index() -> Any:
    page = max(1, request.args.get("page", 1, type=int) or 1)
    events = list(
        db.session.scalars(
            select(AuditEvent)
            .order_by(AuditEvent.created_at.desc())
            .offset((page - 1) * PAGE)
            .limit(PAGE + 1)
        )
    )
    return render_template(
        "audit/index.html", events=events[:PAGE], page=page, has_next=len(events) > PAGE
    )
