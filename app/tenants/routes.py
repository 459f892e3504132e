"""Workspace pages: dashboard, members and invitations, settings."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.errors import ServiceError, refusal_status
from app.extensions import db
from app.forms import field, parse_id
from app.tenants import services
from app.tenants.models import Role
from app.tenants.web import is_htmx, require_role, workspace_blueprint

bp: Blueprint = workspace_blueprint("workspace", __name__)


@bp.get("/")
def dashboard() -> Any:
    members, pending = services.seat_counts()
    return render_template(
        "workspaces/dashboard.html", seats_used=members + pending, member_count=members
    )


def _members_page(status: int = 200, **extra: Any) -> Any:
    template = "workspaces/_members.html" if is_htmx() else "workspaces/members.html"
    return render_template(
        template,
        members=services.members(g.workspace.id),
        invitations=services.pending_invitations(),
        seats_used=services.seats_used(),
        roles=[r.value for r in services.INVITABLE_ROLES],
        **extra,
    ), status


@bp.get("/members")
def members() -> Any:
    return _members_page()


def _act(action: Any, success: str) -> Any:
    try:
        action()
    except ServiceError as e:
        db.session.rollback()  # a refused action leaves nothing half-done behind
        return _members_page(refusal_status(e), error=e, form=request.form)
    if is_htmx():
        # The partial replaces #members in place, so it carries the confirmation itself.
        return _members_page(notice=success)
    flash(success, "success")
    return redirect(url_for("workspace.members"))


@bp.post("/invitations")
@require_role(Role.ADMIN)
def invite() -> Any:
    email = field("email")
    return _act(
        lambda: services.invite(g.workspace, g.role, email, field("role", "member")),
        _("Invitation sent to %(email)s.", email=email),
    )


@bp.post("/invitations/<invitation_id>/revoke")
@require_role(Role.ADMIN)
def revoke_invitation(invitation_id: str) -> Any:
    iid = parse_id(invitation_id)
    return _act(lambda: services.revoke_invitation(iid), _("Invitation withdrawn."))


@bp.post("/members/<membership_id>/role")
@require_role(Role.ADMIN)
def change_role(membership_id: str) -> Any:
    mid = parse_id(membership_id)
    return _act(lambda: services.change_role(g.membership, mid, field("role")), _("Role changed."))


@bp.post("/members/<membership_id>/remove")
@require_role(Role.ADMIN)
def remove_member(membership_id: str) -> Any:
    mid = parse_id(membership_id)
    return _act(lambda: services.remove_member(g.membership, mid), _("Member removed."))


@bp.post("/members/<membership_id>/transfer")
@require_role(Role.OWNER)
def transfer(membership_id: str) -> Any:
    mid = parse_id(membership_id)
    return _act(
        lambda: services.transfer_ownership(g.membership, mid),
        _("Ownership transferred. You are now an admin."),
    )


@bp.post("/leave")
def leave() -> Any:
    try:
        services.leave(g.workspace, g.membership)
    except ServiceError as e:
        flash(e.message, "error")
        return redirect(url_for("workspace.members"))
    flash(_("You left %(workspace)s.", workspace=g.workspace.name), "success")
    return redirect(url_for("web.index"))


@bp.route("/settings", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def settings_page() -> Any:
    if request.method == "POST":
        try:
            services.update_workspace(g.workspace, field("name"), field("slug"))
        except ServiceError as e:
            return render_template("workspaces/settings.html", error=e, form=request.form), 422
        flash(_("Workspace updated."), "success")
        return redirect(url_for("workspace.settings_page", slug=g.workspace.slug))
    return render_template("workspaces/settings.html", form={})


@bp.post("/delete")
@require_role(Role.OWNER)
def delete() -> Any:
    name = g.workspace.name
    try:
        services.delete_workspace(g.workspace, g.role, field("confirm"))
    except ServiceError as e:
        return render_template("workspaces/settings.html", error=e, form={}), refusal_status(e)
    flash(_("%(workspace)s was deleted.", workspace=name), "success")
    return redirect(url_for("web.index"))
