"""The front door and the health check."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

from app.tenants.services import user_workspaces

bp = Blueprint("web", __name__)


@bp.get("/")
def index() -> Any:
    if not current_user.is_authenticated:
        return render_template("landing.html")
    entries = user_workspaces(current_user.id)
    if not entries:
        return redirect(url_for("account.new_workspace"))
    return redirect(url_for("workspace.dashboard", slug=entries[0].workspace.slug))


@bp.get("/healthz")
def healthz() -> Any:
    return {"status": "ok"}
