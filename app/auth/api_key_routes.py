"""Workspace API keys page (admins): create (shown once), list, revoke."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.auth import api_keys
from app.errors import ServiceError
from app.forms import field, parse_id
from app.privacy import api_log
from app.settings import settings
from app.tenants.models import Role
from app.tenants.web import require_role, workspace_blueprint

bp: Blueprint = workspace_blueprint("api_keys", __name__, "/api-keys")


RECENT_REQUESTS = 50


def _page(**extra: Any) -> str:
    keys = api_keys.list_api_keys()
    return render_template(
        "api_keys/index.html",
        keys=keys,
        key_names={k.id: k.name for k in keys},
        requests=api_log.recent(g.workspace.id, limit=RECENT_REQUESTS),
        request_limit=RECENT_REQUESTS,
        request_days=settings().api_log_retention_days,
        **extra,
    )


@bp.get("/")
@require_role(Role.ADMIN)
def index() -> Any:
    return _page()


@bp.post("/")
@require_role(Role.ADMIN)
def create() -> Any:
    try:
        key, raw = api_keys.create_api_key(field("name"), current_user.id)
    except ServiceError as e:
        return _page(error=e), 422
    # Shown once, on this response only; never stored or shown again.
    return _page(new_key=key, raw_key=raw)


@bp.post("/<key_id>/revoke")
@require_role(Role.ADMIN)
def revoke(key_id: str) -> Any:
    key = api_keys.revoke_api_key(parse_id(key_id))
    flash(_("Key %(prefix)s… revoked; it stops working now.", prefix=key.prefix), "success")
    return redirect(url_for("api_keys.index"))
