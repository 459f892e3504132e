"""The front door and the health check."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

from app.ingest import staging
from app.tenants.services import user_workspaces

bp = Blueprint("web", __name__)
log = logging.getLogger("verbatim.web")


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
    return {"status": "ok", "audio_sweep": _audio_sweep()}


def _audio_sweep() -> dict[str, Any] | None:
    """The audio sweeper's metric (one Redis read): when it last ran, what it removed,
    and how much audio it found past its deadline (which also raised an alert)."""
    try:
        return staging.sweep_metrics()
    except Exception:  # the health check answers even when Redis does not
        log.warning("audio sweep metric unreadable", exc_info=True)
        return None
