"""Invitations end to end: the form (plain and htmx), the mail over SMTP, the link, the seat."""

from __future__ import annotations

import html
import re
import uuid
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from app.auth.models import User
from app.db import utcnow
from app.mail.models import OutboundEmail
from app.security.tokens import hash_token
from app.tenants.models import Invitation, Membership, Workspace
from tests.integration.test_workspaces import (
    add_member,
    audit_events,
    create_team,
    database,
    ip_of,
    role_of,
)
from tests.mailbox import Mailbox
from tests.web import PASSWORD, Web, make_user, unique_email

SUBJECT = "You are invited to"


@pytest.fixture
def owner(app: Flask, web: Web) -> User:
    user = make_user(app, name="Iris Inviter")
    web.login(user)
    return user


def invite(web: Web, slug: str, email: str, role: str = "member", htmx: bool = False):  # type: ignore[no-untyped-def]
    return web.post(f"/w/{slug}/invitations", {"email": email, "role": role}, htmx=htmx)


def mailed_link(run_jobs, mailbox: Mailbox, email: str) -> str:  # type: ignore[no-untyped-def]
    run_jobs("email")
    mail = mailbox.last(email, SUBJECT)
    return mail.link(r"http://localhost/invitations/\S+")


def path_of(link: str) -> str:
    return link.removeprefix("http://localhost")


def invitations_to(app: Flask, workspace_id: uuid.UUID, email: str) -> list[Invitation]:
    with database(app, workspace_id) as s:
        return list(
            s.scalars(
                select(Invitation).where(Invitation.email == email).order_by(Invitation.created_at)
            )
        )


def pending_section(page: str) -> str:
    """The pending-invitations table of the members page ('' when there is none)."""
    return page.split("<h3>Pending invitations</h3>", 1)[1] if "<h3>Pending" in page else ""


def signed_up(app: Flask, email: str) -> Web:
    """A second person, in their own browser, who signed up with `email`."""
    client = Web(app, remote_addr=f"10.9.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}")
    resp = client.signup(email, PASSWORD, "Ivan Invitee")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    with database(app) as s:
        client.user = s.scalar(select(User).where(User.email == email))
    return client


# --- the happy path -----------------------------------------------------------------------


def test_invite_by_form_mail_accept(app, web, owner, mailbox, run_jobs):
    team = create_team(web, "Invite Crew")
    email = unique_email("invitee")
    resp = invite(web, team.slug, email, "viewer")
    assert resp.status_code == 302
    page = web.get(resp.headers["Location"]).get_data(as_text=True)
    assert f"Invitation sent to {email}." in page
    assert email in page  # listed as pending

    link = mailed_link(run_jobs, mailbox, email)
    mail = mailbox.last(email, SUBJECT)
    assert "Invite Crew" in mail.subject
    assert "as viewer" in mail.body

    invitee = signed_up(app, email)
    page = invitee.get(path_of(link))
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "Join Invite Crew" in body
    assert "Accept" in body

    resp = invitee.post(path_of(link) + "/accept")
    assert resp.status_code == 302
    assert resp.headers["Location"] == f"/w/{team.slug}/"
    dashboard = invitee.get(resp.headers["Location"]).get_data(as_text=True)
    assert "You joined Invite Crew." in dashboard
    assert role_of(app, team.id, invitee.user.id) == "viewer"

    [invitation] = invitations_to(app, team.id, email)
    assert invitation.accepted_at is not None
    assert invitation.invited_by_id == owner.id
    [created] = audit_events(app, team.id, "invitation.created")
    assert created.actor_user_id == owner.id
    assert created.ip == ip_of(web)
    assert created.details == {"email": email, "role": "viewer"}
    [joined] = audit_events(app, team.id, "member.joined")
    assert joined.actor_user_id == invitee.user.id
    assert joined.ip == ip_of(invitee)

    # Single use: the link is dead now, with a clear message and no second membership.
    again = invitee.post(path_of(link) + "/accept")
    assert again.status_code == 410
    assert "This invitation has already been used." in again.get_data(as_text=True)
    shown = invitee.get(path_of(link))
    assert shown.status_code == 410
    assert "already been used" in shown.get_data(as_text=True)
    with database(app, team.id) as s:
        count = s.scalar(
            select(func.count(Membership.id)).where(Membership.user_id == invitee.user.id)
        )
        assert count == 1


def test_invite_by_htmx_returns_the_partial(app, web, owner, mailbox, run_jobs):
    team = create_team(web)
    email = unique_email("htmx")
    resp = invite(web, team.slug, email, "admin", htmx=True)
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="members"')
    assert "<html" not in body
    assert f"Invitation sent to {email}." in body
    assert email in body
    assert "2 of 5 seats used" in body
    [invitation] = invitations_to(app, team.id, email)
    assert invitation.role == "admin"
    assert mailed_link(run_jobs, mailbox, email)

    # A refusal comes back as the partial too, with the message, and the form keeps the input.
    resp = invite(web, team.slug, "not-an-email", htmx=True)
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert "Enter a valid email address." in body
    assert 'value="not-an-email"' in body
    assert invitations_to(app, team.id, "not-an-email") == []


def test_token_is_stored_only_as_a_hash(app, web, owner, mailbox, run_jobs):
    team = create_team(web)
    email = unique_email("hash")
    assert invite(web, team.slug, email).status_code == 302
    link = mailed_link(run_jobs, mailbox, email)
    raw = link.rsplit("/", 1)[1]
    assert len(raw) >= 40
    [invitation] = invitations_to(app, team.id, email)
    assert invitation.token_hash == hash_token(raw)
    for column in Invitation.__table__.columns:
        assert raw not in str(getattr(invitation, column.key))
    # The queued mail, which held the link, is deleted once sent.
    with database(app) as s:
        bodies = s.scalars(select(OutboundEmail.body)).all()
        assert not [b for b in bodies if raw in b]


def test_decline(app, web, owner, mailbox, run_jobs):
    team = create_team(web)
    email = unique_email("decline")
    invite(web, team.slug, email)
    link = mailed_link(run_jobs, mailbox, email)
    invitee = signed_up(app, email)
    resp = invitee.post(path_of(link) + "/decline")
    assert resp.status_code == 302
    assert "Invitation declined." in invitee.get("/", follow_redirects=True).get_data(as_text=True)
    assert role_of(app, team.id, invitee.user.id) is None
    [invitation] = invitations_to(app, team.id, email)
    assert invitation.declined_at is not None
    assert invitation.accepted_at is None
    assert len(audit_events(app, team.id, "invitation.declined")) == 1
    # A declined invitation cannot be accepted afterwards.
    resp = invitee.post(path_of(link) + "/accept")
    assert resp.status_code == 410
    assert "already been used" in resp.get_data(as_text=True)
    assert role_of(app, team.id, invitee.user.id) is None


# --- dead links ---------------------------------------------------------------------------


def test_expired_invitation(app, web, owner, mailbox, run_jobs):
    team = create_team(web)
    email = unique_email("expired")
    invite(web, team.slug, email)
    link = mailed_link(run_jobs, mailbox, email)
    with database(app, team.id) as s:
        s.execute(
            update(Invitation)
            .where(Invitation.email == email)
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
        s.commit()
    invitee = signed_up(app, email)
    shown = invitee.get(path_of(link))
    assert shown.status_code == 410
    assert "This invitation has expired. Ask for a new one." in shown.get_data(as_text=True)
    resp = invitee.post(path_of(link) + "/accept")
    assert resp.status_code == 410
    assert "This invitation has expired. Ask for a new one." in resp.get_data(as_text=True)
    assert role_of(app, team.id, invitee.user.id) is None
    [invitation] = invitations_to(app, team.id, email)
    assert invitation.accepted_at is None
    # An expired invitation no longer holds a seat or shows as pending.
    page = web.get(f"/w/{team.slug}/members").get_data(as_text=True)
    assert email not in pending_section(page)
    assert "1 of 5 seats used" in page


def test_revoked_invitation(app, web, owner, mailbox, run_jobs):
    team = create_team(web)
    email = unique_email("revoked")
    invite(web, team.slug, email)
    link = mailed_link(run_jobs, mailbox, email)
    [invitation] = invitations_to(app, team.id, email)
    resp = web.post(f"/w/{team.slug}/invitations/{invitation.id}/revoke", htmx=True)
    assert resp.status_code == 200
    assert "Invitation withdrawn." in resp.get_data(as_text=True)
    assert len(audit_events(app, team.id, "invitation.revoked")) == 1

    invitee = signed_up(app, email)
    resp = invitee.post(path_of(link) + "/accept")
    assert resp.status_code == 410
    assert "This invitation was withdrawn." in resp.get_data(as_text=True)
    assert role_of(app, team.id, invitee.user.id) is None
    # Withdrawing twice: nothing left to withdraw.
    assert web.post(f"/w/{team.slug}/invitations/{invitation.id}/revoke").status_code == 404


def test_unknown_token_is_not_found(app, web, owner):
    resp = web.get("/invitations/not-a-real-token")
    assert resp.status_code == 404
    assert "This invitation link is not valid." in resp.get_data(as_text=True)
    assert web.post("/invitations/not-a-real-token/accept").status_code == 404


def test_signed_in_as_someone_else(app, web, web2, owner, mailbox, run_jobs):
    team = create_team(web)
    email = unique_email("intended")
    invite(web, team.slug, email)
    link = mailed_link(run_jobs, mailbox, email)
    stranger = make_user(app)
    web2.login(stranger)
    page = web2.get(path_of(link)).get_data(as_text=True)
    assert f"This invitation was sent to {email}" in page
    assert "Accept</button>" not in page
    for action in ("accept", "decline"):
        resp = web2.post(f"{path_of(link)}/{action}")
        assert resp.status_code == 403
        assert f"This invitation was sent to {email}." in resp.get_data(as_text=True)
    assert role_of(app, team.id, stranger.id) is None
    [invitation] = invitations_to(app, team.id, email)
    assert invitation.accepted_at is None and invitation.declined_at is None
    # The right person can still use it.
    invitee = signed_up(app, email)
    assert invitee.post(path_of(link) + "/accept").status_code == 302
    assert role_of(app, team.id, invitee.user.id) == "member"


def test_link_needs_sign_in(app, web, owner, mailbox, run_jobs):
    team = create_team(web)
    email = unique_email("anon")
    invite(web, team.slug, email)
    link = mailed_link(run_jobs, mailbox, email)
    anonymous = Web(app, remote_addr=ip_of(web))
    resp = anonymous.get(path_of(link))
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/login?next=")


def test_invitee_without_an_account_signs_up_and_lands_on_the_invitation(
    app, web, owner, mailbox, run_jobs
):
    team = create_team(web)
    email = unique_email("newcomer")
    invite(web, team.slug, email)
    link = path_of(mailed_link(run_jobs, mailbox, email))
    newcomer = Web(app, remote_addr=ip_of(web))
    login_page = newcomer.get(newcomer.get(link).headers["Location"]).get_data(as_text=True)
    signup_href = re.search(r'href="(/signup\?next=[^"]+)"', login_page).group(1)
    signup_url = html.unescape(signup_href)
    resp = newcomer.post(signup_url, {"email": email, "password": PASSWORD, "age_13": "on"})
    assert resp.status_code == 302
    assert resp.headers["Location"] == link
    assert "Accept" in newcomer.get(link).get_data(as_text=True)


# --- re-inviting, members, roles ---------------------------------------------------------


def test_reinvite_replaces_the_pending_invitation(app, web, owner, mailbox, run_jobs):
    team = create_team(web)
    email = unique_email("again")
    invite(web, team.slug, email, "viewer")
    old_link = mailed_link(run_jobs, mailbox, email)
    invite(web, team.slug, email, "admin")
    new_link = mailed_link(run_jobs, mailbox, email)
    assert old_link != new_link

    old, new = invitations_to(app, team.id, email)
    assert old.revoked_at is not None
    assert new.revoked_at is None and new.role == "admin"
    page = web.get(f"/w/{team.slug}/members").get_data(as_text=True)
    assert pending_section(page).count(email) == 1  # one pending row, not two
    assert "2 of 5 seats used" in page

    invitee = signed_up(app, email)
    resp = invitee.post(path_of(old_link) + "/accept")
    assert resp.status_code == 410
    assert "withdrawn" in resp.get_data(as_text=True)
    assert role_of(app, team.id, invitee.user.id) is None
    assert invitee.post(path_of(new_link) + "/accept").status_code == 302
    assert role_of(app, team.id, invitee.user.id) == "admin"


def test_existing_member_is_not_invited(app, web, owner):
    team = create_team(web)
    member = make_user(app)
    add_member(app, team.id, member, "member")
    resp = invite(web, team.slug, member.email.upper())
    assert resp.status_code == 422
    assert f"{member.email} is already a member." in resp.get_data(as_text=True)
    assert invitations_to(app, team.id, member.email) == []


@pytest.mark.parametrize("role", ["owner", "superuser", ""])
def test_invite_with_a_bad_role(app, web, owner, role):
    team = create_team(web)
    email = unique_email("role")
    resp = web.post(f"/w/{team.slug}/invitations", {"email": email, "role": role})
    if role == "":
        # An empty choice falls back to the default role.
        assert resp.status_code == 302
        [invitation] = invitations_to(app, team.id, email)
        assert invitation.role == "member"
        return
    assert resp.status_code == 422
    assert "Choose a role: admin, member or viewer." in resp.get_data(as_text=True)
    assert invitations_to(app, team.id, email) == []


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_members_and_viewers_cannot_invite(app, web, web2, owner, role):
    team = create_team(web)
    person = make_user(app)
    add_member(app, team.id, person, role)
    web2.login(person)
    email = unique_email("nope")
    assert invite(web2, team.slug, email).status_code == 403
    assert invite(web2, team.slug, email, htmx=True).status_code == 403
    assert invitations_to(app, team.id, email) == []
    assert invite(web, team.slug, email).status_code == 302
    [invitation] = invitations_to(app, team.id, email)
    assert web2.post(f"/w/{team.slug}/invitations/{invitation.id}/revoke").status_code == 403
    assert invitations_to(app, team.id, email)[0].revoked_at is None


# --- seats ---------------------------------------------------------------------------------


def set_seat_limit(app: Flask, workspace_id: uuid.UUID, seats: int) -> None:
    with database(app) as s:
        s.execute(update(Workspace).where(Workspace.id == workspace_id).values(seat_limit=seats))
        s.commit()


def test_seat_limit_counts_members_and_pending_invitations(app, web, owner, mailbox, run_jobs):
    team = create_team(web)
    set_seat_limit(app, team.id, 3)
    first, second, third = (unique_email("seat") for _ in range(3))
    assert invite(web, team.slug, first).status_code == 302
    assert invite(web, team.slug, second).status_code == 302
    run_jobs("email")
    mails_before = len(mailbox.to(third))

    resp = invite(web, team.slug, third, htmx=True)
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert "All 3 seats are taken (members and pending invitations)." in body
    assert invitations_to(app, team.id, third) == []
    run_jobs("email")
    assert len(mailbox.to(third)) == mails_before
    assert audit_events(app, team.id, "invitation.created")[0].details["email"] == second

    # Re-inviting someone already pending takes no extra seat.
    assert invite(web, team.slug, second, "viewer").status_code == 302
    # Withdrawing an invitation frees its seat.
    [pending] = invitations_to(app, team.id, first)
    web.post(f"/w/{team.slug}/invitations/{pending.id}/revoke")
    assert invite(web, team.slug, third).status_code == 302


def test_accept_is_refused_when_seats_filled_meanwhile(app, web, owner, mailbox, run_jobs):
    team = create_team(web, "Full House")
    email = unique_email("late")
    invite(web, team.slug, email)
    link = mailed_link(run_jobs, mailbox, email)
    # Meanwhile the plan shrank to the members already there.
    set_seat_limit(app, team.id, 1)
    invitee = signed_up(app, email)
    resp = invitee.post(path_of(link) + "/accept")
    assert resp.status_code == 409
    assert "Full House has no free seat left (1 of 1 used)." in resp.get_data(as_text=True)
    assert role_of(app, team.id, invitee.user.id) is None
    [invitation] = invitations_to(app, team.id, email)
    assert invitation.accepted_at is None
    assert audit_events(app, team.id, "member.joined") == []
    # Once a seat is free again the same link works.
    set_seat_limit(app, team.id, 2)
    assert invitee.post(path_of(link) + "/accept").status_code == 302
    assert role_of(app, team.id, invitee.user.id) == "member"
