"""Workspace API keys page (admins): create (shown once), list, revoke."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user

from app.auth import api_keys
from app.errors import ServiceError
from app.forms import field, parse_id
from app.tenants.models import Role
from app.tenants.web import require_role, workspace_blueprint

bp: Blueprint = workspace_blueprint("api_keys", __name__, "/api-keys")


@bp.get("/")
@require_role(Role.ADMIN)
def index() -> Any:
    return render_template("api_keys/index.html", keys=api_keys.list_api_keys())


@bp.post("/")
@require_role(Role.ADMIN)
def create() -> Any:
    try:
        key, raw = api_keys.create_api_key(field("name"), current_user.id)
    except ServiceError as e:
        return render_template("api_keys/index.html", keys=api_keys.list_api_keys(), error=e), 422
    # Shown once, on this response only; never stored or shown again.
    return render_template(
        "api_keys/index.html", keys=api_keys.list_api_keys(), new_key=key, raw_key=raw
    )


@bp.post("/<key_id>/revoke")
@require_role(Role.ADMIN)
def revoke(key_id: str) -> Any:
    key = api_keys.revoke_api_key(parse_id(key_id))
    flash(f"Key {key.prefix}… revoked; it stops working now.", "success")
    return redirect(url_for("api_keys.index"))
