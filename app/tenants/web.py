"""Workspace blueprints: every page under /w/<slug>/ resolves its workspace here, once.

Not a member, or no such workspace: the same 404, so a slug's existence does not leak.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, abort, g, request
from flask_login import current_user
from sqlalchemy import select

from app.extensions import db, login_manager
from app.tenants.context import enter_workspace
from app.tenants.models import Membership, Role, Workspace


def workspace_blueprint(name: str, import_name: str, url_prefix: str = "") -> Blueprint:
    bp = Blueprint(name, import_name, url_prefix=f"/w/<slug>{url_prefix}")

    @bp.url_value_preprocessor
    def _pop_slug(_endpoint: str | None, values: dict[str, Any] | None) -> None:
        g.workspace_slug = (values or {}).pop("slug", None)

    @bp.url_defaults
    def _add_slug(_endpoint: str, values: dict[str, Any]) -> None:
        if "slug" not in values and g.get("workspace") is not None:
            values["slug"] = g.workspace.slug

    @bp.before_request
    def _resolve_workspace() -> Any:
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        load_workspace_for_user(g.workspace_slug, current_user.id)
        return None

    return bp


def load_workspace_for_user(slug: str | None, user_id: Any) -> Workspace:
    workspace = db.session.scalar(select(Workspace).where(Workspace.slug == (slug or "")))
    if workspace is None:
        abort(404)
    enter_workspace(workspace.id)
    membership = db.session.scalar(select(Membership).where(Membership.user_id == user_id))
    if membership is None:
        abort(404)
    g.workspace = workspace
    g.membership = membership
    g.role = Role(membership.role)
    return workspace


def require_role(role: Role) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """403 for a member whose role is below `role` (they may know the workspace exists)."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not g.role.at_least(role):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_role = role  # type: ignore[attr-defined]
        return wrapped

    return decorator


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"
