"""The signed-in person's own pages: profile, password, their workspaces, new team."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.auth import services as auth_services
from app.errors import ServiceError
from app.extensions import limiter
from app.forms import field
from app.settings import settings
from app.tenants import services
from app.tenants.services import user_workspaces

bp = Blueprint("account", __name__)


@bp.get("/account")
@login_required
def show() -> Any:
    return render_template("account/show.html", entries=user_workspaces(current_user.id))


@bp.get("/account/workspaces")
@login_required
def switcher() -> Any:
    """The workspace switcher's list, loaded when the switcher is opened."""
    return render_template(
        "account/_switcher.html",
        entries=user_workspaces(current_user.id),
        current_slug=request.args.get("current", ""),
    )


@bp.post("/account/password")
@login_required
# The current password is checked here too: as guessable as the sign-in form.
@limiter.limit(lambda: settings().ratelimit_login)
def change_password() -> Any:
    try:
        auth_services.change_password(
            current_user,
            request.form.get("current_password", ""),
            request.form.get("new_password", ""),
        )
    except ServiceError as e:
        flash(e.message, "error")
        return redirect(url_for("account.show"))
    from app.auth.routes import start_session

    start_session(current_user._get_current_object())  # keep this session, end the others
    flash(_("Password changed. Your other sessions were signed out."), "success")
    return redirect(url_for("account.show"))


@bp.route("/workspaces/new", methods=["GET", "POST"])
@login_required
def new_workspace() -> Any:
    if request.method == "POST":
        try:
            workspace = services.create_workspace(current_user.id, field("name"), field("slug"))
        except ServiceError as e:
            return render_template("account/new_workspace.html", error=e, form=request.form), 422
        flash(_("%(workspace)s is ready. Invite your team.", workspace=workspace.name), "success")
        return redirect(url_for("workspace.members", slug=workspace.slug))
    return render_template("account/new_workspace.html", form={})
