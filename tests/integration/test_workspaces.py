"""Team workspaces through the web UI: create, switch, roles, members, rename, delete."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.auth.api_keys import create_api_key
from app.auth.models import ApiKey, User
from app.extensions import db
from app.tenants.context import unscoped, workspace_scope
from app.tenants.models import Invitation, Membership, Workspace
from tests.web import Web, make_user, unique_email


def new_slug(tag: str = "team") -> str:
    return f"{tag}-{uuid.uuid4().hex[:8]}"


@contextmanager
def database(app: Flask, workspace_id: uuid.UUID | None = None) -> Iterator[Session]:
    """A look at the database, scoped to one workspace or (without one) unscoped.

    The session is removed afterwards: the test client shares this thread's session.
    """
    with app.app_context():
        try:
            if workspace_id is None:
                with unscoped("test inspects rows across workspaces"):
                    yield db.session
            else:
                with workspace_scope(workspace_id):
                    yield db.session
        finally:
            db.session.expunge_all()  # objects read here stay readable, detached
            db.session.rollback()
            db.session.remove()


def workspace_by_slug(app: Flask, slug: str) -> Workspace | None:
    with database(app) as s:
        return s.scalar(select(Workspace).where(Workspace.slug == slug))


def create_team(web: Web, name: str = "Acme Team", slug: str | None = None) -> Workspace:
    slug = slug or new_slug()
    resp = web.post("/workspaces/new", {"name": name, "slug": slug})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert resp.headers["Location"] == f"/w/{slug}/members"
    workspace = workspace_by_slug(web.app, slug)
    assert workspace is not None
    return workspace


def add_member(app: Flask, workspace_id: uuid.UUID, user: User, role: str) -> uuid.UUID:
    """A member put straight in the database (joining by invitation has its own tests)."""
    with database(app, workspace_id) as s:
        membership = Membership(user_id=user.id, role=role)
        s.add(membership)
        s.commit()
        return membership.id


def role_of(app: Flask, workspace_id: uuid.UUID, user_id: uuid.UUID) -> str | None:
    with database(app, workspace_id) as s:
        return s.scalar(select(Membership.role).where(Membership.user_id == user_id))


def membership_id(app: Flask, workspace_id: uuid.UUID, user_id: uuid.UUID) -> uuid.UUID:
    with database(app, workspace_id) as s:
        found = s.scalar(select(Membership.id).where(Membership.user_id == user_id))
        assert found is not None
        return found


def audit_events(app: Flask, workspace_id: uuid.UUID, action: str) -> list[AuditEvent]:
    with database(app, workspace_id) as s:
        return list(
            s.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == action)
                .order_by(AuditEvent.created_at.desc())
            )
        )


def ip_of(web: Web) -> str:
    return web.client.environ_base["REMOTE_ADDR"]


@pytest.fixture
def owner(app: Flask, web: Web) -> User:
    user = make_user(app, name="Olivia Owner")
    web.login(user)
    return user


# --- create -------------------------------------------------------------------------------


def test_create_team_makes_owner_and_audits(app, web, owner):
    team = create_team(web, "Research Group")
    assert team.personal is False
    assert team.seat_limit == app.extensions["verbatim.settings"].default_seat_limit
    assert role_of(app, team.id, owner.id) == "owner"
    [event] = audit_events(app, team.id, "workspace.created")
    assert event.actor_user_id == owner.id
    assert event.actor_label == owner.email
    assert event.ip == ip_of(web)
    assert event.details == {"slug": team.slug}

    page = web.get(f"/w/{team.slug}/members")
    assert page.status_code == 200
    assert "Invite someone" in page.get_data(as_text=True)


@pytest.mark.parametrize(
    ("slug", "message"),
    [
        ("taken", "That address is taken; choose another."),
        ("Not A Slug!", "Use 3 to 40 lowercase letters, digits and dashes"),
        ("ab", "Use 3 to 40 lowercase letters, digits and dashes"),
        ("-dash-first", "Use 3 to 40 lowercase letters, digits and dashes"),
        ("x" * 41, "Use 3 to 40 lowercase letters, digits and dashes"),
        ("admin", "Use 3 to 40 lowercase letters, digits and dashes"),
        ("api", "Use 3 to 40 lowercase letters, digits and dashes"),
    ],
)
def test_create_team_bad_slug_is_refused_without_rows(app, web, owner, slug, message):
    if slug == "taken":
        slug = create_team(web).slug
    name = f"Refused {uuid.uuid4().hex[:6]}"
    with database(app) as s:
        before = s.scalar(select(func.count(Workspace.id)))
        members_before = s.scalar(select(func.count(Membership.id)))
    resp = web.post("/workspaces/new", {"name": name, "slug": slug})
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert message in body.replace("&#39;", "'")
    assert f'value="{name}"' in body  # the form keeps what was typed
    with database(app) as s:
        assert s.scalar(select(func.count(Workspace.id))) == before
        assert s.scalar(select(func.count(Workspace.id)).where(Workspace.name == name)) == 0
        assert s.scalar(select(func.count(Membership.id))) == members_before


def test_create_team_needs_a_name(app, web, owner):
    slug = new_slug()
    resp = web.post("/workspaces/new", {"name": "  ", "slug": slug})
    assert resp.status_code == 422
    assert "Give the workspace a name" in resp.get_data(as_text=True)
    assert workspace_by_slug(app, slug) is None


def test_switcher_lists_personal_and_team(app, web, owner):
    team = create_team(web, "Switcher Squad")
    page = web.get(f"/w/{team.slug}/").get_data(as_text=True)
    # The page wires the switcher to load its list when opened (htmx), as here:
    assert f'hx-get="/account/workspaces?current={team.slug}"' in page
    switcher = web.get(f"/account/workspaces?current={team.slug}", headers={"HX-Request": "true"})
    assert switcher.status_code == 200
    listing = switcher.get_data(as_text=True)
    with database(app) as s:
        personal = s.scalar(
            select(Workspace)
            .join(Membership, Membership.workspace_id == Workspace.id)
            .where(Membership.user_id == owner.id, Workspace.personal.is_(True))
        )
    assert personal is not None
    assert f'href="/w/{personal.slug}/"' in listing
    assert f'href="/w/{team.slug}/"' in listing
    assert "Switcher Squad" in listing
    assert 'aria-current="page"' in listing.split(f'href="/w/{team.slug}/"', 1)[1].split("</li>")[0]
    # Both dashboards open; each page lives under its own /w/<slug>/.
    assert web.get(f"/w/{personal.slug}/").status_code == 200
    assert web.get(f"/w/{team.slug}/members").status_code == 200


def test_strangers_get_404_for_a_team(app, web, web2, owner):
    team = create_team(web)
    web2.login(make_user(app))
    for path in ("/", "/members", "/settings", "/audit/", "/api-keys/"):
        assert web2.get(f"/w/{team.slug}{path}").status_code == 404
    assert web2.get("/w/no-such-workspace-here/").status_code == 404


# --- settings: rename, slug -----------------------------------------------------------------


def test_rename_and_change_slug(app, web, owner):
    team = create_team(web, "Old Name")
    new = new_slug("renamed")
    resp = web.post(f"/w/{team.slug}/settings", {"name": "New Name", "slug": new})
    assert resp.status_code == 302
    assert resp.headers["Location"] == f"/w/{new}/settings"
    assert web.get(f"/w/{team.slug}/").status_code == 404
    assert "New Name" in web.get(f"/w/{new}/").get_data(as_text=True)
    [event] = audit_events(app, team.id, "workspace.updated")
    assert event.details == {"name": "New Name", "slug": new}
    assert event.actor_user_id == owner.id
    assert event.ip == ip_of(web)


def test_change_slug_to_a_taken_one_is_refused(app, web, owner):
    team = create_team(web, "Keeps Its Name")
    other = create_team(web)
    resp = web.post(f"/w/{team.slug}/settings", {"name": "Changed", "slug": other.slug})
    assert resp.status_code == 422
    assert "That address is taken; choose another." in resp.get_data(as_text=True)
    fresh = workspace_by_slug(app, team.slug)
    assert fresh is not None
    assert fresh.name == "Keeps Its Name"
    assert audit_events(app, team.id, "workspace.updated") == []


def test_member_cannot_open_settings(app, web, web2, owner):
    team = create_team(web)
    member = make_user(app)
    add_member(app, team.id, member, "member")
    web2.login(member)
    assert web2.get(f"/w/{team.slug}/settings").status_code == 403
    resp = web2.post(f"/w/{team.slug}/settings", {"name": "Hijacked", "slug": new_slug()})
    assert resp.status_code == 403
    assert workspace_by_slug(app, team.slug).name == "Acme Team"


# --- delete -------------------------------------------------------------------------------


def test_delete_needs_the_slug_typed(app, web, owner):
    team = create_team(web)
    resp = web.post(f"/w/{team.slug}/delete", {"confirm": "not-the-slug"})
    assert resp.status_code == 422
    assert f"Type {team.slug} to confirm." in resp.get_data(as_text=True)
    assert workspace_by_slug(app, team.slug) is not None
    assert role_of(app, team.id, owner.id) == "owner"


def test_only_the_owner_deletes(app, web, web2, owner):
    team = create_team(web)
    admin = make_user(app)
    add_member(app, team.id, admin, "admin")
    web2.login(admin)
    resp = web2.post(f"/w/{team.slug}/delete", {"confirm": team.slug})
    assert resp.status_code == 403
    assert workspace_by_slug(app, team.slug) is not None


def test_delete_removes_every_row_of_the_workspace(app, web, web2, owner):
    team = create_team(web)
    member = make_user(app)
    add_member(app, team.id, member, "member")
    resp = web.post(f"/w/{team.slug}/invitations", {"email": "later@example.test"})
    assert resp.status_code == 302
    with database(app, team.id) as s:
        create_api_key("deploy", owner.id)
        assert s.scalar(select(func.count(Invitation.id))) == 1
    web2.login(member)
    assert web2.get(f"/w/{team.slug}/").status_code == 200

    resp = web.post(f"/w/{team.slug}/delete", {"confirm": f"  {team.slug} "})
    assert resp.status_code == 302
    assert "was deleted" in web.get(resp.headers["Location"], follow_redirects=True).get_data(
        as_text=True
    )

    assert web.get(f"/w/{team.slug}/").status_code == 404
    assert web2.get(f"/w/{team.slug}/").status_code == 404
    assert web2.get(f"/w/{team.slug}/members").status_code == 404
    assert workspace_by_slug(app, team.slug) is None
    with database(app) as s:
        for model in (Membership, Invitation, ApiKey, AuditEvent):
            count = s.scalar(select(func.count()).where(model.workspace_id == team.id))
            assert count == 0, model.__name__
        # The people stay; only their membership went.
        assert s.get(User, member.id) is not None


def test_personal_workspace_cannot_be_deleted_or_invited_into(app, web, owner):
    with database(app) as s:
        personal = s.scalar(
            select(Workspace)
            .join(Membership, Membership.workspace_id == Workspace.id)
            .where(Membership.user_id == owner.id)
        )
    assert personal.personal
    page = web.get(f"/w/{personal.slug}/settings").get_data(as_text=True)
    assert "Delete this workspace" not in page
    resp = web.post(f"/w/{personal.slug}/delete", {"confirm": personal.slug})
    assert resp.status_code == 422
    assert "personal workspace is deleted with your account" in resp.get_data(as_text=True)
    assert workspace_by_slug(app, personal.slug) is not None

    members_page = web.get(f"/w/{personal.slug}/members").get_data(as_text=True)
    assert "Invite someone" not in members_page
    resp = web.post(f"/w/{personal.slug}/invitations", {"email": "friend@example.test"})
    assert resp.status_code == 422
    assert "create a team to invite people" in resp.get_data(as_text=True)
    with database(app, personal.id) as s:
        assert s.scalar(select(func.count(Invitation.id))) == 0


# --- roles --------------------------------------------------------------------------------


def test_admin_changes_roles_between_member_viewer_admin(app, web, web2, owner):
    team = create_team(web)
    admin, person = make_user(app), make_user(app)
    add_member(app, team.id, admin, "admin")
    mid = add_member(app, team.id, person, "member")
    web2.login(admin)
    url = f"/w/{team.slug}/members/{mid}/role"
    for new_role in ("viewer", "member", "viewer"):
        resp = web2.post(url, {"role": new_role})
        assert resp.status_code == 302
        assert role_of(app, team.id, person.id) == new_role
    # The htmx form gets the members partial back, with the change in it.
    resp = web2.post(url, {"role": "admin"}, htmx=True)
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="members"')
    assert "<html" not in body
    assert "Role changed." in body
    assert role_of(app, team.id, person.id) == "admin"

    events = audit_events(app, team.id, "member.role_changed")
    assert len(events) == 4
    assert events[0].details == {"email": person.email, "from": "viewer", "to": "admin"}
    assert events[0].actor_user_id == admin.id
    assert events[0].ip == ip_of(web2)


def test_role_change_refusals(app, web, web2, owner):
    team = create_team(web)
    admin, other_admin, person = make_user(app), make_user(app), make_user(app)
    admin_mid = add_member(app, team.id, admin, "admin")
    other_mid = add_member(app, team.id, other_admin, "admin")
    mid = add_member(app, team.id, person, "member")
    owner_mid = membership_id(app, team.id, owner.id)
    web2.login(admin)

    cases = [
        (owner_mid, "admin", 422, "Transfer ownership"),  # the owner's role is not edited
        (mid, "owner", 422, "Transfer ownership"),  # ownership is not granted here
        (admin_mid, "member", 422, "You cannot change your own role."),
        (other_mid, "member", 403, "Only the owner can change an admin"),
        (mid, "superuser", 422, "Choose a role: admin, member or viewer."),
    ]
    for target, new_role, status, message in cases:
        resp = web2.post(f"/w/{team.slug}/members/{target}/role", {"role": new_role}, htmx=True)
        assert resp.status_code == status, (target, new_role)
        assert message in resp.get_data(as_text=True).replace("&#39;", "'")
    assert role_of(app, team.id, owner.id) == "owner"
    assert role_of(app, team.id, admin.id) == "admin"
    assert role_of(app, team.id, other_admin.id) == "admin"
    assert role_of(app, team.id, person.id) == "member"
    assert audit_events(app, team.id, "member.role_changed") == []

    # The owner may change an admin's role.
    resp = web.post(f"/w/{team.slug}/members/{other_mid}/role", {"role": "member"})
    assert resp.status_code == 302
    assert role_of(app, team.id, other_admin.id) == "member"


def test_members_and_viewers_cannot_manage(app, web, web2, owner):
    team = create_team(web)
    member, viewer, target = make_user(app), make_user(app), make_user(app)
    add_member(app, team.id, member, "member")
    add_member(app, team.id, viewer, "viewer")
    tid = add_member(app, team.id, target, "viewer")
    for user in (member, viewer):
        client = Web(app, remote_addr=ip_of(web2))
        client.login(user)
        page = client.get(f"/w/{team.slug}/members").get_data(as_text=True)
        assert "Invite someone" not in page
        assert (
            client.post(f"/w/{team.slug}/members/{tid}/role", {"role": "member"}).status_code == 403
        )
        assert client.post(f"/w/{team.slug}/members/{tid}/remove").status_code == 403
        assert client.get(f"/w/{team.slug}/audit/").status_code == 403
        assert client.get(f"/w/{team.slug}/api-keys/").status_code == 403
    assert role_of(app, team.id, target.id) == "viewer"


# --- remove, leave, transfer ----------------------------------------------------------------


def test_remove_member_rules(app, web, web2, owner):
    team = create_team(web)
    admin, other_admin, person = make_user(app), make_user(app), make_user(app)
    add_member(app, team.id, admin, "admin")
    other_mid = add_member(app, team.id, other_admin, "admin")
    mid = add_member(app, team.id, person, "member")
    owner_mid = membership_id(app, team.id, owner.id)
    web2.login(admin)

    resp = web2.post(f"/w/{team.slug}/members/{other_mid}/remove", htmx=True)
    assert resp.status_code == 403
    assert "Only the owner can remove an admin." in resp.get_data(as_text=True)
    resp = web2.post(f"/w/{team.slug}/members/{owner_mid}/remove", htmx=True)
    assert resp.status_code == 422
    assert "The owner cannot be removed" in resp.get_data(as_text=True)
    assert role_of(app, team.id, other_admin.id) == "admin"
    assert role_of(app, team.id, owner.id) == "owner"

    resp = web2.post(f"/w/{team.slug}/members/{mid}/remove", htmx=True)
    assert resp.status_code == 200
    assert "Member removed." in resp.get_data(as_text=True)
    assert person.email not in resp.get_data(as_text=True)
    assert role_of(app, team.id, person.id) is None

    # The owner can remove an admin.
    resp = web.post(f"/w/{team.slug}/members/{other_mid}/remove")
    assert resp.status_code == 302
    assert role_of(app, team.id, other_admin.id) is None

    events = audit_events(app, team.id, "member.removed")
    assert [e.details["email"] for e in events] == [other_admin.email, person.email]
    assert events[1].actor_user_id == admin.id
    assert events[1].ip == ip_of(web2)
    assert events[0].actor_user_id == owner.id

    # A removed member loses access at once.
    removed = Web(app, remote_addr=ip_of(web2))
    removed.login(person)
    assert removed.get(f"/w/{team.slug}/").status_code == 404


def test_leave(app, web, web2, owner):
    team = create_team(web)
    person = make_user(app)
    add_member(app, team.id, person, "viewer")
    web2.login(person)
    resp = web2.post(f"/w/{team.slug}/leave")
    assert resp.status_code == 302
    assert role_of(app, team.id, person.id) is None
    assert web2.get(f"/w/{team.slug}/").status_code == 404
    [event] = audit_events(app, team.id, "member.left")
    assert event.actor_user_id == person.id
    assert event.ip == ip_of(web2)


def test_owner_must_transfer_before_leaving(app, web, owner):
    team = create_team(web)
    resp = web.post(f"/w/{team.slug}/leave", follow_redirects=True)
    assert "Transfer ownership to someone else before you leave." in resp.get_data(as_text=True)
    assert role_of(app, team.id, owner.id) == "owner"
    assert audit_events(app, team.id, "member.left") == []


def test_transfer_ownership(app, web, web2, owner):
    team = create_team(web)
    heir = make_user(app)
    heir_mid = add_member(app, team.id, heir, "member")

    # Only the owner transfers.
    web2.login(heir)
    own_mid = membership_id(app, team.id, heir.id)
    assert web2.post(f"/w/{team.slug}/members/{own_mid}/transfer").status_code == 403

    resp = web.post(f"/w/{team.slug}/members/{heir_mid}/transfer")
    assert resp.status_code == 302
    assert role_of(app, team.id, heir.id) == "owner"
    assert role_of(app, team.id, owner.id) == "admin"
    [event] = audit_events(app, team.id, "workspace.ownership_transferred")
    assert event.details == {"to": heir.email}
    assert event.actor_user_id == owner.id
    assert event.ip == ip_of(web)

    # Now the old owner may leave, and the new one may delete.
    assert web.post(f"/w/{team.slug}/leave").status_code == 302
    assert role_of(app, team.id, owner.id) is None
    assert web2.post(f"/w/{team.slug}/delete", {"confirm": team.slug}).status_code == 302
    assert workspace_by_slug(app, team.slug) is None


# --- audit log ----------------------------------------------------------------------------


def test_audit_log_page_for_admins_only(app, web, web2, owner):
    team = create_team(web, "Audited")
    web.post(f"/w/{team.slug}/settings", {"name": "Audited Renamed", "slug": team.slug})
    page = web.get(f"/w/{team.slug}/audit/")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    for expected in ("workspace.created", "workspace.updated", owner.email, ip_of(web)):
        assert expected in body
    assert "Audited Renamed" in body  # the details say what changed

    member = make_user(app)
    add_member(app, team.id, member, "member")
    web2.login(member)
    assert web2.get(f"/w/{team.slug}/audit/").status_code == 403


def test_refused_htmx_action_shows_its_message_in_the_flash_area(app, web, owner):
    """A viewer's htmx action refused by role: a message fragment, retargeted."""
    team = create_team(web)
    viewer = make_user(app)
    add_member(app, team.id, viewer, "viewer")
    other = Web(app, remote_addr="10.91.0.9")
    other.login(viewer)
    resp = other.post(
        f"/w/{team.slug}/invitations", {"email": unique_email(), "role": "member"}, htmx=True
    )
    assert resp.status_code == 403
    assert resp.headers["HX-Retarget"] == "#flash-area"
    assert resp.headers["HX-Reswap"] == "innerHTML"
    body = resp.get_data(as_text=True)
    assert "You do not have permission to do that." in body
    assert "<html" not in body
