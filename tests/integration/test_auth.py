"""Sign-up, sign-in, sign-out, password reset and email verification, end to end.

Real PostgreSQL, Redis (rate limits, RQ), an RQ worker and an SMTP server: mails are read
from the server they were delivered to.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from urllib.parse import quote, urlsplit

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.auth.models import User, UserToken
from app.db import utcnow
from app.extensions import db
from app.mail.models import OutboundEmail
from app.security.tokens import hash_token
from app.tenants.context import unscoped, workspace_scope
from app.tenants.models import Membership, Workspace
from tests.web import PASSWORD, Web, make_user, unique_email

NEW_PASSWORD = "a brand new passphrase for testing"
GENERIC_LOGIN_ERROR = "That email and password do not match an account."


# --- helpers -------------------------------------------------------------------------------


def _text(resp) -> str:  # type: ignore[no-untyped-def]
    return resp.get_data(as_text=True)


def _path(link: str) -> str:
    return urlsplit(link).path


def _location_path(resp) -> str:  # type: ignore[no-untyped-def]
    loc = urlsplit(resp.headers["Location"])
    assert loc.netloc in ("", "localhost"), resp.headers["Location"]
    return loc.path


def _users_with_email(app: Flask, email: str) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count(User.id)).where(User.email == email.strip().lower())
        )


def _workspace_count(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Workspace.id)))


def _outbound_to(app: Flask, email: str) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count(OutboundEmail.id)).where(OutboundEmail.to == email)
        )


def _user(app: Flask, email: str) -> User:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        assert user is not None
        db.session.expunge(user)
        return user


def _token_row(app: Flask, raw: str) -> UserToken:
    with app.app_context():
        token = db.session.scalar(select(UserToken).where(UserToken.token_hash == hash_token(raw)))
        assert token is not None
        db.session.expunge(token)
        return token


def _signed_in(web: Web) -> bool:
    resp = web.get("/account")
    if resp.status_code == 200:
        return True
    assert resp.status_code == 302 and _location_path(resp) == "/login"
    return False


def _session_cookie(web: Web) -> str:
    cookie = web.client.get_cookie("verbatim_session")
    assert cookie is not None
    return cookie.value


def _mail_link(run_jobs, mailbox, email: str, subject: str) -> str:  # type: ignore[no-untyped-def]
    run_jobs("email")
    return _path(mailbox.last(email, subject).link())


def _request_reset(web: Web, run_jobs, mailbox, email: str) -> str:  # type: ignore[no-untyped-def]
    resp = web.post("/forgot", {"email": email})
    assert resp.status_code == 200
    assert "If an account exists for that address, we sent it a link." in _text(resp)
    return _mail_link(run_jobs, mailbox, email, "Reset your Verbatim password")


# --- sign-up -------------------------------------------------------------------------------


def test_signup_creates_user_personal_workspace_audit_and_verification_mail(
    app: Flask, web: Web, run_jobs, mailbox, own_mail_only
) -> None:
    email = unique_email("signup")
    workspaces_before = _workspace_count(app)

    resp = web.signup(email, name="Ada Lovelace")
    assert resp.status_code == 302, _text(resp)
    assert _signed_in(web)

    assert _users_with_email(app, email) == 1
    assert _workspace_count(app) == workspaces_before + 1
    user = _user(app, email)
    assert user.password_hash is not None and user.password_hash.startswith("$argon2id$")
    assert user.email_verified_at is None
    with app.app_context():
        with unscoped("test reads the new user's memberships"):
            rows = db.session.execute(
                select(Workspace, Membership)
                .join(Membership, Membership.workspace_id == Workspace.id)
                .where(Membership.user_id == user.id)
            ).all()
        assert len(rows) == 1
        workspace, membership = rows[0]
        assert workspace.personal and membership.role == "owner"
        with workspace_scope(workspace.id):
            events = db.session.scalars(select(AuditEvent)).all()
        assert [(e.action, e.actor_user_id) for e in events] == [("workspace.created", user.id)]

    link = _mail_link(run_jobs, mailbox, email, "Confirm your email address")
    assert link.startswith("/verify/")
    # The queued row holds a one-time link: gone once sent.
    assert _outbound_to(app, email) == 0


def test_verify_link_marks_email_verified_once(app: Flask, web: Web, run_jobs, mailbox) -> None:
    email = unique_email("verify")
    assert web.signup(email).status_code == 302
    link = _mail_link(run_jobs, mailbox, email, "Confirm your email address")

    resp = web.get(link)
    assert resp.status_code == 302
    assert _user(app, email).email_verified_at is not None
    assert "Your email address is confirmed." in _text(web.get("/account"))

    again = web.get(link)
    assert again.status_code == 410
    assert "This link is invalid or has already been used." in _text(again)

    bogus = web.get("/verify/not-a-real-token")
    assert bogus.status_code == 410


@pytest.mark.parametrize(
    "variant",
    [
        lambda e: e,
        lambda e: e.upper(),
        lambda e: f"  {e.title()}  ",
    ],
    ids=["same", "upper-case", "spaces-and-case"],
)
def test_duplicate_email_is_refused_without_new_rows(app: Flask, web: Web, variant) -> None:  # type: ignore[no-untyped-def]
    email = unique_email("dup")
    make_user(app, email)
    workspaces_before = _workspace_count(app)
    mails_before = _outbound_to(app, email)

    resp = web.signup(variant(email))
    assert resp.status_code == 422
    assert "An account with this email already exists. Sign in instead." in _text(resp)
    assert _users_with_email(app, email) == 1
    assert _workspace_count(app) == workspaces_before
    assert _outbound_to(app, email) == mails_before
    assert not _signed_in(web)


def _local_part_password(email: str) -> str:
    return email.split("@")[0].upper() + " rocks 2024"


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short1!", "Choose a password of at least 10 characters."),
        ("password123", "That password is too easy to guess; use a longer phrase."),
        ("aaaaaaaaaaaa", "That password is too easy to guess; use a longer phrase."),
        (None, "That password is too easy to guess; use a longer phrase."),
    ],
    ids=["too-short", "common", "repetitive", "contains-local-part"],
)
def test_weak_password_is_refused_without_rows(
    app: Flask, web: Web, password: str | None, message: str
) -> None:
    email = unique_email("weak")
    password = password or _local_part_password(email)
    workspaces_before = _workspace_count(app)

    resp = web.signup(email, password)
    assert resp.status_code == 422
    assert message in _text(resp)
    assert _users_with_email(app, email) == 0
    assert _workspace_count(app) == workspaces_before
    assert _outbound_to(app, email) == 0


@pytest.mark.parametrize("bad", ["not-an-email", "a@b", "two words@example.test", "", "@x.test"])
def test_invalid_email_is_refused(app: Flask, web: Web, bad: str) -> None:
    workspaces_before = _workspace_count(app)
    resp = web.signup(bad)
    assert resp.status_code == 422
    assert "Enter a valid email address." in _text(resp)
    assert _workspace_count(app) == workspaces_before
    assert not _signed_in(web)


# --- sign-in -------------------------------------------------------------------------------


def test_wrong_password_and_unknown_email_look_the_same(app: Flask, web: Web) -> None:
    user = make_user(app)
    wrong = web.post("/login", {"email": user.email, "password": "not the right one at all"})
    unknown = web.post("/login", {"email": unique_email("nobody"), "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    for resp in (wrong, unknown):
        assert GENERIC_LOGIN_ERROR in _text(resp)
    assert not _signed_in(web)


def test_sign_in_is_case_insensitive_and_stores_argon2id(app: Flask, web: Web) -> None:
    user = make_user(app)
    resp = web.post("/login", {"email": f" {user.email.upper()} ", "password": PASSWORD})
    assert resp.status_code == 302
    assert _signed_in(web)
    stored = _user(app, user.email)
    assert stored.password_hash is not None and stored.password_hash.startswith("$argon2id$")
    assert PASSWORD not in stored.password_hash
    assert stored.last_login_at is not None


def test_login_rate_limited_per_address(app: Flask, web: Web) -> None:
    user = make_user(app)
    for _ in range(10):
        resp = web.post("/login", {"email": unique_email("guess"), "password": "wrong password!"})
        assert resp.status_code == 401
    limited = web.post("/login", {"email": unique_email("guess"), "password": "wrong password!"})
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    assert "Too many attempts" in _text(limited)
    # Even the right password waits: the limit is on attempts, not failures.
    right = web.post("/login", {"email": user.email, "password": PASSWORD})
    assert right.status_code == 429
    assert not _signed_in(web)


def test_login_rate_limited_per_email_across_addresses(app: Flask) -> None:
    user = make_user(app)
    for i in range(10):
        client = Web(app, remote_addr=f"172.16.{uuid.uuid4().int % 250}.{i + 1}")
        resp = client.post("/login", {"email": user.email, "password": "wrong password!"})
        assert resp.status_code == 401
    fresh = Web(app, remote_addr="192.168.77.77")
    limited = fresh.post("/login", {"email": user.email.upper(), "password": PASSWORD})
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    assert not _signed_in(fresh)


def test_session_is_cleared_at_sign_in(app: Flask, web: Web) -> None:
    user = make_user(app)
    with web.client.session_transaction() as s:
        s["planted"] = "from before sign-in"
    token = web.csrf()
    before = _session_cookie(web)

    resp = web.client.post(
        "/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token}
    )
    assert resp.status_code == 302
    after = _session_cookie(web)
    assert after != before
    with web.client.session_transaction() as s:
        assert "planted" not in s
        assert "_user_id" in s

    # The pre-sign-in cookie (one an attacker could have planted) is not signed in.
    web.client.set_cookie("verbatim_session", before)
    assert not _signed_in(web)


def test_sign_out_needs_post_and_csrf_and_ends_the_session(app: Flask, web: Web) -> None:
    user = make_user(app)
    web.login(user)
    signed_in_cookie = _session_cookie(web)

    assert web.get("/logout").status_code == 405
    no_csrf = web.post("/logout", csrf=False)
    assert no_csrf.status_code == 400
    assert "This form expired or came from another site." in _text(no_csrf)
    assert _signed_in(web)

    resp = web.post("/logout")
    assert resp.status_code == 302 and _location_path(resp) == "/login"
    assert not _signed_in(web)

    # A copy of the signed-in cookie kept from before sign-out no longer works.
    web.client.set_cookie("verbatim_session", signed_in_cookie)
    assert not _signed_in(web)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/account", "/account"),
        ("//evil.example", "/"),
        ("https://evil.example", "/"),
        ("/\\evil.example", "/"),
        ("/\t/evil.example", "/"),
        ("javascript:alert(1)", "/"),
    ],
    ids=["local", "protocol-relative", "absolute", "backslash", "tab", "javascript"],
)
def test_next_redirect_accepts_only_local_paths(
    app: Flask, web: Web, target: str, expected: str
) -> None:
    user = make_user(app)
    resp = web.post(
        f"/login?next={quote(target, safe='')}", {"email": user.email, "password": PASSWORD}
    )
    assert resp.status_code == 302
    assert urlsplit(resp.headers["Location"]).netloc in ("", "localhost")
    assert _location_path(resp) == expected


# --- password reset ------------------------------------------------------------------------


def test_forgot_for_unknown_email_looks_the_same_and_sends_nothing(
    app: Flask, web: Web, web2: Web, run_jobs, mailbox
) -> None:
    user = make_user(app)
    unknown = unique_email("ghost")
    known_page = web.post("/forgot", {"email": user.email})
    unknown_page = web2.post("/forgot", {"email": unknown})
    assert known_page.status_code == unknown_page.status_code == 200

    def strip_tokens(html: str) -> str:
        return re.sub(r'("X-CSRFToken": "|value=")[^"]+"', "TOKEN", html)

    assert strip_tokens(_text(known_page)) == strip_tokens(_text(unknown_page))
    run_jobs("email")
    assert mailbox.to(unknown) == []
    assert mailbox.last(user.email, "Reset your Verbatim password").link()


def test_reset_mails_are_rate_limited_per_email_across_addresses(
    app: Flask, run_jobs, mailbox
) -> None:
    user = make_user(app)
    for i in range(5):
        client = Web(app, remote_addr=f"172.17.{uuid.uuid4().int % 250}.{i + 1}")
        assert client.post("/forgot", {"email": user.email}).status_code == 200
    limited = Web(app, remote_addr="192.168.78.78").post("/forgot", {"email": user.email})
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    run_jobs("email")
    resets = [m for m in mailbox.to(user.email) if "Reset" in m.subject]
    assert len(resets) == 5


def test_forgot_with_invalid_email_says_so(app: Flask, web: Web) -> None:
    resp = web.post("/forgot", {"email": "nope"})
    assert resp.status_code == 422
    assert "Enter a valid email address." in _text(resp)


def test_reset_link_sets_password_signs_in_and_ends_other_sessions(
    app: Flask, web: Web, web2: Web, run_jobs, mailbox
) -> None:
    user = make_user(app)
    web2.login(user)
    assert _signed_in(web2)

    link = _request_reset(web, run_jobs, mailbox, user.email)
    assert link.startswith("/reset/")
    form = web.get(link)
    assert form.status_code == 200 and 'name="password"' in _text(form)

    resp = web.post(link, {"password": NEW_PASSWORD})
    assert resp.status_code == 302
    assert _signed_in(web)
    assert not _signed_in(web2)

    stored = _user(app, user.email)
    assert stored.password_hash is not None and stored.password_hash.startswith("$argon2id$")
    assert stored.email_verified_at is not None  # the mailed link proved the inbox
    assert _token_row(app, link.rsplit("/", 1)[1]).used_at is not None

    third = Web(app, remote_addr="10.250.1.1")
    old = third.post("/login", {"email": user.email, "password": PASSWORD})
    assert old.status_code == 401
    assert third.post("/login", {"email": user.email, "password": NEW_PASSWORD}).status_code == 302

    # The link works once.
    stranger = Web(app, remote_addr="10.250.1.2")
    again = stranger.post(link, {"password": "yet another fine passphrase"})
    assert again.status_code == 410
    assert "This link is invalid or has already been used." in _text(again)
    assert 'name="password"' not in _text(again)
    assert stranger.get(link).status_code == 410
    assert _user(app, user.email).password_hash == stored.password_hash


def test_expired_reset_link_is_refused(app: Flask, web: Web, run_jobs, mailbox) -> None:
    user = make_user(app)
    link = _request_reset(web, run_jobs, mailbox, user.email)
    raw = link.rsplit("/", 1)[1]
    with app.app_context():
        token = db.session.scalar(select(UserToken).where(UserToken.token_hash == hash_token(raw)))
        assert token is not None
        token.expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    hash_before = _user(app, user.email).password_hash

    page = web.get(link)
    assert page.status_code == 410
    assert "This link has expired. Ask for a new one." in _text(page)
    resp = web.post(link, {"password": NEW_PASSWORD})
    assert resp.status_code == 410
    assert "This link has expired. Ask for a new one." in _text(resp)
    assert _user(app, user.email).password_hash == hash_before
    assert _token_row(app, raw).used_at is None
    assert not _signed_in(web)


def test_weak_new_password_does_not_spend_the_reset_link(
    app: Flask, web: Web, run_jobs, mailbox
) -> None:
    user = make_user(app)
    link = _request_reset(web, run_jobs, mailbox, user.email)
    hash_before = _user(app, user.email).password_hash

    weak = web.post(link, {"password": "short"})
    assert weak.status_code == 422
    assert "Choose a password of at least 10 characters." in _text(weak)
    assert 'name="password"' in _text(weak)  # the form is offered again
    assert _user(app, user.email).password_hash == hash_before
    assert _token_row(app, link.rsplit("/", 1)[1]).used_at is None
    assert not _signed_in(web)

    assert web.post(link, {"password": NEW_PASSWORD}).status_code == 302
    assert _signed_in(web)


# --- change password -----------------------------------------------------------------------


def test_change_password_ends_other_sessions_and_keeps_this_one(
    app: Flask, web: Web, web2: Web
) -> None:
    user = make_user(app)
    web.login(user)
    web2.login(user)

    resp = web.post(
        "/account/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert resp.status_code == 302
    page = web.get("/account")
    assert page.status_code == 200
    assert "Password changed. Your other sessions were signed out." in _text(page)
    assert not _signed_in(web2)

    fresh = Web(app, remote_addr="10.251.2.2")
    assert fresh.post("/login", {"email": user.email, "password": NEW_PASSWORD}).status_code == 302


@pytest.mark.parametrize(
    ("current", "new", "message"),
    [
        ("not my password at all", NEW_PASSWORD, "Your current password is not right."),
        (PASSWORD, "short", "Choose a password of at least 10 characters."),
    ],
    ids=["wrong-current", "weak-new"],
)
def test_change_password_refusals_change_nothing(
    app: Flask, web: Web, web2: Web, current: str, new: str, message: str
) -> None:
    user = make_user(app)
    web.login(user)
    web2.login(user)
    hash_before = _user(app, user.email).password_hash

    resp = web.post("/account/password", {"current_password": current, "new_password": new})
    assert resp.status_code == 302
    assert message in _text(web.get("/account"))
    assert _user(app, user.email).password_hash == hash_before
    assert _signed_in(web2)


# --- personal workspace --------------------------------------------------------------------


def test_every_new_user_gets_a_personal_workspace_only_they_can_open(
    app: Flask, web: Web, web2: Web
) -> None:
    first, second = unique_email("first"), unique_email("second")
    assert web.signup(first).status_code == 302
    assert web2.signup(second).status_code == 302

    landing = web.get("/")
    assert landing.status_code == 302
    slug_path = _location_path(landing)
    assert re.fullmatch(r"/w/[a-z0-9-]+/", slug_path)
    dashboard = web.get(slug_path)
    assert dashboard.status_code == 200

    other_slug_path = _location_path(web2.get("/"))
    assert other_slug_path != slug_path
    refused = web.get(other_slug_path)
    missing = web.get(f"/w/no-such-{uuid.uuid4().hex[:8]}/")
    assert refused.status_code == missing.status_code == 404
    assert _text(refused) == _text(missing)
