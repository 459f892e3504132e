"""The page an invitation link opens: accept or decline."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.errors import ServiceError, refusal_status
from app.extensions import db
from app.tenants import services
from app.tenants.models import Workspace

bp = Blueprint("invitations", __name__, url_prefix="/invitations")


def _refused(message: str, status: int) -> Any:
    return render_template("errors/error.html", status=status, message=message), status


def _link_refused(e: ServiceError) -> Any:
    # A used, expired or withdrawn link is gone for good: 410 says so to clients too.
    return _refused(e.message, refusal_status(e, 410))


@bp.get("/<token>")
@login_required
def show(token: str) -> Any:
    try:
        invitation = services.find_invitation(token)
    except ServiceError as e:
        return _link_refused(e)
    problem = services.invitation_problem(invitation)
    if problem:
        return _refused(problem, 410)
    workspace = db.session.get(Workspace, invitation.workspace_id)
    return render_template(
        "invitations/show.html",
        invitation=invitation,
        team=workspace,
        token=token,
        mismatch=invitation.email != current_user.email,
    )


@bp.post("/<token>/accept")
@login_required
def accept(token: str) -> Any:
    try:
        workspace = services.accept_invitation(token, current_user)
    except ServiceError as e:
        return _link_refused(e)
    flash(_("You joined %(workspace)s.", workspace=workspace.name), "success")
    return redirect(url_for("workspace.dashboard", slug=workspace.slug))


@bp.post("/<token>/decline")
@login_required
def decline(token: str) -> Any:
    try:
        services.decline_invitation(token, current_user)
    except ServiceError as e:
        return _link_refused(e)
    flash(_("Invitation declined."), "info")
    return redirect(url_for("web.index"))
