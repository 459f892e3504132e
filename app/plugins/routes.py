"""Admins turn plugins on and off per workspace, fill in their settings and test them."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.errors import ServiceError, refusal_status
from app.extensions import db
from app.plugins.events import recent_deliveries, send_test_event
from app.plugins.manager import registry, set_plugin, workspace_settings
from app.tenants.models import Role
from app.tenants.web import require_role, workspace_blueprint

bp: Blueprint = workspace_blueprint("plugins", __name__, "/plugins")


def _page(status: int = 200, **extra: Any) -> Any:
    return render_template(
        "plugins/index.html",
        infos=registry().infos.values(),
        rows=workspace_settings(),
        deliveries=recent_deliveries(),
        **extra,
    ), status


def _refused(e: ServiceError, name: str) -> Any:
    db.session.rollback()  # a refused change leaves nothing behind
    return _page(refusal_status(e), error=e, failed=name)


@bp.get("/")
@require_role(Role.ADMIN)
def index() -> Any:
    return _page()


@bp.post("/<name>")
@require_role(Role.ADMIN)
def update(name: str) -> Any:
    info = registry().infos.get(name)
    if info is None:
        abort(404)
    config: dict[str, Any] = {}
    for f in info.config_fields:
        value = (request.form.get(f.name) or "").strip()
        if f.kind == "secret" and not value:
            continue  # blank keeps the stored secret; it is never sent back to the browser
        config[f.name] = value if f.kind != "bool" else value == "on"
    try:
        set_plugin(name, request.form.get("enabled") == "on", config, g.workspace.id)
    except ServiceError as e:
        return _refused(e, name)
    flash(_("%(plugin)s settings saved.", plugin=info.title), "success")
    return redirect(url_for("plugins.index"))


@bp.post("/<name>/test")
@require_role(Role.ADMIN)
def test_event(name: str) -> Any:
    try:
        send_test_event(name)
    except ServiceError as e:
        return _refused(e, name)
    flash(_("Test event queued; its delivery shows below in a moment."), "success")
    return redirect(url_for("plugins.index"))
