"""Workspaces, memberships and invitations: every change is checked, audited, atomic."""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.audit.service import record
from app.db import as_utc, utcnow
from app.errors import Conflict, Forbidden, NotFound, ServiceError
from app.extensions import db
from app.mail.service import queue_mail
from app.plugins.events import emit
from app.security.tokens import hash_token, new_token
from app.settings import settings
from app.tenants.context import unscoped, workspace_scope
from app.tenants.models import Invitation, Membership, Role, Workspace
from app.web.urls import external_url

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,38}[a-z0-9])$")
RESERVED_SLUGS = frozenset({"new", "api", "admin", "settings", "static", "www", "help"})
INVITABLE_ROLES = (Role.ADMIN, Role.MEMBER, Role.VIEWER)


@dataclass(frozen=True)
class WorkspaceEntry:
    workspace: Workspace
    role: Role


def user_workspaces(user_id: uuid.UUID) -> list[WorkspaceEntry]:
    with unscoped("list the signed-in user's own memberships"):
        rows = db.session.execute(
            select(Workspace, Membership.role)
            .join(Membership, Membership.workspace_id == Workspace.id)
            .where(Membership.user_id == user_id)
            .order_by(Workspace.personal.desc(), Workspace.name)
        ).all()
    return [WorkspaceEntry(ws, Role(role)) for ws, role in rows]


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not 1 <= len(name) <= 120:
        raise ServiceError(_("Give the workspace a name of 1 to 120 characters."), field="name")
    return name


def _check_slug(slug: str, *, current: Workspace | None = None) -> str:
    slug = (slug or "").strip().lower()
    if not SLUG.match(slug) or slug in RESERVED_SLUGS:
        raise ServiceError(
            _("Use 3 to 40 lowercase letters, digits and dashes for the address."), field="slug"
        )
    taken = db.session.scalar(select(Workspace.id).where(Workspace.slug == slug))
    if taken is not None and (current is None or taken != current.id):
        raise ServiceError(_("That address is taken; choose another."), field="slug")
    return slug


def suggest_slug(text: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:30].strip("-") or "workspace"
    base = base if len(base) >= 3 else f"{base}-ws"
    slug = base
    while db.session.scalar(select(Workspace.id).where(Workspace.slug == slug)) is not None:
        slug = f"{base}-{secrets.token_hex(2)}"
    return slug


def _add_owner(workspace: Workspace, user_id: uuid.UUID, action: str) -> None:
    with workspace_scope(workspace.id):
        db.session.add(Membership(user_id=user_id, role=Role.OWNER.value))
        record(action, target=workspace, details={"slug": workspace.slug}, actor_user_id=user_id)
        db.session.flush()


def create_personal_workspace(user) -> Workspace:  # type: ignore[no-untyped-def]
    workspace = Workspace(
        slug=suggest_slug(user.email.split("@", 1)[0]),
        name=_("%(name)s's workspace", name=user.display_name),
        personal=True,
        seat_limit=1,
    )
    db.session.add(workspace)
    db.session.flush()
    _add_owner(workspace, user.id, "workspace.created")
    return workspace


def create_workspace(user_id: uuid.UUID, name: str, slug: str) -> Workspace:
    workspace = Workspace(
        name=_check_name(name),
        slug=_check_slug(slug),
        seat_limit=settings().default_seat_limit,
    )
    db.session.add(workspace)
    try:
        db.session.flush()
        _add_owner(workspace, user_id, "workspace.created")
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ServiceError(_("That address is taken; choose another."), field="slug") from None
    return workspace


def update_workspace(workspace: Workspace, name: str, slug: str) -> None:
    new_name, new_slug = _check_name(name), _check_slug(slug, current=workspace)
    changes = {
        k: v for k, v in (("name", new_name), ("slug", new_slug)) if getattr(workspace, k) != v
    }
    if not changes:
        return
    for key, value in changes.items():
        setattr(workspace, key, value)
    record("workspace.updated", target=workspace, details=changes)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ServiceError(_("That address is taken; choose another."), field="slug") from None


def delete_workspace(workspace: Workspace, actor_role: Role, confirm: str) -> None:
    if actor_role is not Role.OWNER:
        raise Forbidden(_("Only the owner can delete the workspace."))
    if workspace.personal:
        raise ServiceError(_("Your personal workspace is deleted with your account."))
    if (confirm or "").strip() != workspace.slug:
        raise ServiceError(_("Type %(slug)s to confirm.", slug=workspace.slug), field="confirm")
    from app.privacy import deletion  # here: privacy builds on the tenants package

    deletion.delete_team(workspace.id)


def members(workspace_id: uuid.UUID) -> list[tuple[Membership, object]]:
    from app.auth.models import User

    return list(
        db.session.execute(
            select(Membership, User).join(User, User.id == Membership.user_id).order_by(User.email)
        ).all()
    )


def _pending_filter():  # type: ignore[no-untyped-def]
    return (
        Invitation.accepted_at.is_(None),
        Invitation.declined_at.is_(None),
        Invitation.revoked_at.is_(None),
        Invitation.expires_at > utcnow(),
    )


def pending_invitations() -> list[Invitation]:
    return list(
        db.session.scalars(
            select(Invitation).where(*_pending_filter()).order_by(Invitation.created_at.desc())
        )
    )


def seat_counts() -> tuple[int, int]:
    """(members, pending invitations) of the current workspace, in one query."""
    members = select(func.count(Membership.id)).scalar_subquery()
    pending = select(func.count(Invitation.id)).where(*_pending_filter()).scalar_subquery()
    row = db.session.execute(select(members, pending)).one()
    return int(row[0]), int(row[1])


def seats_used() -> int:
    return sum(seat_counts())


def _lock(workspace: Workspace) -> Workspace:
    # Serialises seat counting per workspace (a no-op on SQLite, which locks the database).
    locked = db.session.scalar(
        select(Workspace).where(Workspace.id == workspace.id).with_for_update()
    )
    assert locked is not None
    return locked


def invite(workspace: Workspace, actor_role: Role, email: str, role: str) -> tuple[Invitation, str]:
    from app.auth.models import User
    from app.auth.services import normalize_email

    if not actor_role.at_least(Role.ADMIN):
        raise Forbidden(_("Only admins can invite people."))
    if workspace.personal:
        raise ServiceError(
            _("A personal workspace is yours alone; create a team to invite people.")
        )
    email = normalize_email(email)
    try:
        new_role = Role(role)
    except ValueError:
        raise ServiceError(_("Choose a role: admin, member or viewer."), field="role") from None
    if new_role not in INVITABLE_ROLES:
        raise ServiceError(_("Choose a role: admin, member or viewer."), field="role")
    workspace = _lock(workspace)
    already = db.session.scalar(
        select(Membership.id).join(User, User.id == Membership.user_id).where(User.email == email)
    )
    if already is not None:
        raise ServiceError(_("%(email)s is already a member.", email=email), field="email")
    for old in pending_invitations():
        if old.email == email:  # a new invitation replaces the pending one
            old.revoked_at = utcnow()
    db.session.flush()
    if seats_used() >= workspace.seat_limit:
        db.session.rollback()
        raise ServiceError(
            ngettext(
                "The one seat is taken (members and pending invitations). "
                "Remove someone or revoke an invitation first.",
                "All %(num)d seats are taken (members and pending invitations). "
                "Remove someone or revoke an invitation first.",
                workspace.seat_limit,
            ),
            field="email",
        )
    raw, digest = new_token()
    invitation = Invitation(
        email=email,
        role=new_role.value,
        token_hash=digest,
        expires_at=utcnow() + timedelta(hours=settings().invitation_ttl_hours),
    )
    from flask_login import current_user

    invitation.invited_by_id = current_user.id if current_user.is_authenticated else None
    db.session.add(invitation)
    db.session.flush()
    record(
        "invitation.created", target=invitation, details={"email": email, "role": new_role.value}
    )
    link = external_url("invitations.show", token=raw)
    queue_mail(
        email,
        _l("You are invited to %(workspace)s on Verbatim", workspace=workspace.name),
        "invitation",
        workspace=workspace,
        link=link,
        role=new_role.value,
        hours=settings().invitation_ttl_hours,
    )
    db.session.commit()
    return invitation, raw


def revoke_invitation(invitation_id: uuid.UUID) -> None:
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None or invitation.closed:
        raise NotFound()
    invitation.revoked_at = utcnow()
    record("invitation.revoked", target=invitation, details={"email": invitation.email})
    db.session.commit()


def invitation_problem(invitation: Invitation) -> str | None:
    """Why the link can no longer be used, or None while it is open."""
    if invitation.accepted_at or invitation.declined_at:
        return _("This invitation has already been used.")
    if invitation.revoked_at:
        return _("This invitation was withdrawn. Ask for a new one.")
    if as_utc(invitation.expires_at) <= utcnow():
        return _("This invitation has expired. Ask for a new one.")
    return None


def find_invitation(raw: str) -> Invitation:
    """The invitation behind a link, whatever its workspace (the token is the secret)."""
    with unscoped("invitation looked up by its secret token"):
        invitation = db.session.scalar(
            select(Invitation).where(Invitation.token_hash == hash_token(raw or ""))
        )
    if invitation is None:
        raise NotFound(_("This invitation link is not valid."))
    return invitation


def _open_invitation_for(raw: str, user) -> Invitation:  # type: ignore[no-untyped-def]
    invitation = find_invitation(raw)
    problem = invitation_problem(invitation)
    if problem:
        raise ServiceError(problem)
    if invitation.email != user.email:
        raise Forbidden(
            _(
                "This invitation was sent to %(email)s. Sign in with that address to accept it.",
                email=invitation.email,
            )
        )
    return invitation


def accept_invitation(raw: str, user) -> Workspace:  # type: ignore[no-untyped-def]
    invitation = _open_invitation_for(raw, user)
    with workspace_scope(invitation.workspace_id):
        # populate_existing: the row was read before the lock; re-read it under the lock.
        invitation = db.session.get(
            Invitation, invitation.id, with_for_update=True, populate_existing=True
        )
        workspace = _lock(db.session.get(Workspace, invitation.workspace_id))
        problem = invitation_problem(invitation)
        if problem:
            db.session.rollback()
            raise ServiceError(problem)
        member_count = db.session.scalar(select(func.count(Membership.id))) or 0
        if member_count >= workspace.seat_limit:
            db.session.rollback()
            raise Conflict(
                _(
                    "%(workspace)s has no free seat left (%(used)d of %(total)d used). "
                    "Ask an admin to free one, then open the link again.",
                    workspace=workspace.name,
                    used=member_count,
                    total=workspace.seat_limit,
                )
            )
        invitation.accepted_at = utcnow()
        db.session.add(Membership(user_id=user.id, role=invitation.role))
        record(
            "member.joined",
            target=invitation,
            details={"email": user.email, "role": invitation.role},
        )
        emit(
            "member.joined",
            {"user_id": str(user.id), "email": user.email, "role": invitation.role},
        )
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            raise ServiceError(_("You are already a member of this workspace.")) from None
    return workspace


def decline_invitation(raw: str, user) -> None:  # type: ignore[no-untyped-def]
    invitation = _open_invitation_for(raw, user)
    with workspace_scope(invitation.workspace_id):
        invitation = db.session.get(
            Invitation, invitation.id, with_for_update=True, populate_existing=True
        )
        problem = invitation_problem(invitation)
        if problem:
            db.session.rollback()
            raise ServiceError(problem)
        invitation.declined_at = utcnow()
        record("invitation.declined", target=invitation, details={"email": user.email})
        db.session.commit()


def _email_of(membership: Membership) -> str:
    from app.auth.models import User

    user = db.session.get(User, membership.user_id)
    return user.email if user else str(membership.user_id)


def _member(membership_id: uuid.UUID) -> Membership:
    membership = db.session.get(Membership, membership_id)
    if membership is None:
        raise NotFound()
    return membership


def change_role(actor: Membership, membership_id: uuid.UUID, role: str) -> None:
    target = _member(membership_id)
    if not Role(actor.role).at_least(Role.ADMIN):
        raise Forbidden()
    try:
        new_role = Role(role)
    except ValueError:
        raise ServiceError(_("Choose a role: admin, member or viewer."), field="role") from None
    if target.role == Role.OWNER.value or new_role is Role.OWNER:
        raise ServiceError(_("Ownership changes hands with 'Transfer ownership'."))
    if target.id == actor.id:
        raise ServiceError(_("You cannot change your own role."))
    if target.role == Role.ADMIN.value and actor.role != Role.OWNER.value:
        raise Forbidden(_("Only the owner can change an admin's role."))
    old = target.role
    target.role = new_role.value
    record(
        "member.role_changed",
        target=target,
        details={"email": _email_of(target), "from": old, "to": new_role.value},
    )
    db.session.commit()


def remove_member(actor: Membership, membership_id: uuid.UUID) -> None:
    target = _member(membership_id)
    if not Role(actor.role).at_least(Role.ADMIN):
        raise Forbidden()
    if target.role == Role.OWNER.value:
        raise ServiceError(_("The owner cannot be removed; transfer ownership first."))
    if target.id == actor.id:
        raise ServiceError(_("Use 'Leave workspace' to remove yourself."))
    if target.role == Role.ADMIN.value and actor.role != Role.OWNER.value:
        raise Forbidden(_("Only the owner can remove an admin."))
    email = _email_of(target)
    db.session.delete(target)
    record("member.removed", target=target, details={"email": email})
    emit("member.removed", {"user_id": str(target.user_id), "email": email})
    db.session.commit()


def leave(workspace: Workspace, membership: Membership) -> None:
    if workspace.personal:
        raise ServiceError(_("You cannot leave your personal workspace."))
    if membership.role == Role.OWNER.value:
        raise ServiceError(_("Transfer ownership to someone else before you leave."))
    db.session.delete(membership)
    record("member.left", target=membership, details={"email": _email_of(membership)})
    db.session.commit()


def transfer_ownership(actor: Membership, membership_id: uuid.UUID) -> None:
    if actor.role != Role.OWNER.value:
        raise Forbidden(_("Only the owner can transfer ownership."))
    target = _member(membership_id)
    if target.id == actor.id:
        raise ServiceError(_("You already own this workspace."))
    target.role = Role.OWNER.value
    actor.role = Role.ADMIN.value
    record(
        "workspace.ownership_transferred",
        target=target,
        details={"to": _email_of(target)},
    )
    db.session.commit()
