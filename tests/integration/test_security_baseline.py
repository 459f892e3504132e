"""The security baseline every page keeps: CSRF everywhere (htmx included), cookie flags,
HSTS, a CSP without inline script (and templates that need none), no-store caching."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from app import ROOT
from app.auth.models import User
from app.extensions import db
from app.tenants.context import workspace_scope
from app.tenants.models import Invitation, Membership, Workspace
from tests.web import PASSWORD, Web, make_user, unique_email

CSRF_MESSAGE = "This form expired or came from another site. Reload the page and try again."
HSTS = "max-age=31536000; includeSubDomains; preload"


def _text(resp) -> str:  # type: ignore[no-untyped-def]
    return resp.get_data(as_text=True)


def _slug() -> str:
    return f"team-{uuid.uuid4().hex[:10]}"


def _workspace_id(app: Flask, slug: str) -> uuid.UUID | None:
    with app.app_context():
        return db.session.scalar(select(Workspace.id).where(Workspace.slug == slug))


def _invitations(app: Flask, workspace_id: uuid.UUID, email: str) -> int:
    with app.app_context(), workspace_scope(workspace_id):
        return db.session.scalar(select(func.count(Invitation.id)).where(Invitation.email == email))


def _team(app: Flask, web: Web) -> tuple[str, uuid.UUID]:
    slug = _slug()
    resp = web.post("/workspaces/new", {"name": "Team " + slug, "slug": slug})
    assert resp.status_code == 302, _text(resp)
    workspace_id = _workspace_id(app, slug)
    assert workspace_id is not None
    return slug, workspace_id


def _signed_in(web: Web) -> bool:
    return web.get("/account").status_code == 200


def _assert_refused(resp) -> None:  # type: ignore[no-untyped-def]
    assert resp.status_code == 400
    assert CSRF_MESSAGE in _text(resp)


# --- CSRF ----------------------------------------------------------------------------------


def test_signup_without_csrf_is_refused(app: Flask, web: Web) -> None:
    email = unique_email("nocsrf")
    _assert_refused(web.post("/signup", {"email": email, "password": PASSWORD}, csrf=False))
    with app.app_context():
        assert db.session.scalar(select(func.count(User.id)).where(User.email == email)) == 0
    assert not _signed_in(web)


def test_login_without_csrf_is_refused(app: Flask, web: Web) -> None:
    user = make_user(app)
    _assert_refused(web.post("/login", {"email": user.email, "password": PASSWORD}, csrf=False))
    assert not _signed_in(web)


def test_logout_without_csrf_is_refused(app: Flask, web: Web) -> None:
    web.login(make_user(app))
    _assert_refused(web.post("/logout", csrf=False))
    assert _signed_in(web)


def test_workspace_creation_without_csrf_is_refused(app: Flask, web: Web) -> None:
    web.login(make_user(app))
    slug = _slug()
    _assert_refused(web.post("/workspaces/new", {"name": "X", "slug": slug}, csrf=False))
    _assert_refused(web.post("/workspaces/new", {"name": "X", "slug": slug}, htmx=True, csrf=False))
    assert _workspace_id(app, slug) is None


def test_invite_needs_csrf_and_htmx_sends_it_in_a_header(app: Flask, web: Web) -> None:
    web.login(make_user(app))
    slug, workspace_id = _team(app, web)
    invitee = unique_email("invitee")
    url = f"/w/{slug}/invitations"
    form = {"email": invitee, "role": "member"}

    _assert_refused(web.post(url, form, csrf=False))
    _assert_refused(web.post(url, form, htmx=True, csrf=False))
    assert _invitations(app, workspace_id, invitee) == 0

    resp = web.post(url, form, htmx=True)  # token in the X-CSRFToken header, as htmx sends it
    assert resp.status_code == 200, _text(resp)
    assert f"Invitation sent to {invitee}." in _text(resp)
    assert "<html" not in _text(resp)  # the partial, not a whole page
    assert _invitations(app, workspace_id, invitee) == 1


def test_pages_carry_the_csrf_token_for_htmx_in_a_header(app: Flask, web: Web) -> None:
    web.login(make_user(app))
    page = _text(web.get("/account"))
    match = re.search(r"<body hx-headers='\{\"X-CSRFToken\": \"([^\"]+)\"\}'>", page)
    assert match, "no hx-headers with the CSRF token on <body>"
    slug = _slug()
    resp = web.client.post(
        "/workspaces/new",
        data={"name": "Via header", "slug": slug},
        headers={"X-CSRFToken": match.group(1), "HX-Request": "true"},
    )
    assert resp.status_code == 302
    assert _workspace_id(app, slug) is not None


def test_token_from_another_session_is_refused(app: Flask, web: Web, web2: Web) -> None:
    web.login(make_user(app))
    web2.login(make_user(app))
    foreign = web2.csrf()
    slug = _slug()
    for send in (
        lambda: web.client.post(
            "/workspaces/new", data={"name": "X", "slug": slug, "csrf_token": foreign}
        ),
        lambda: web.client.post(
            "/workspaces/new",
            data={"name": "X", "slug": slug},
            headers={"X-CSRFToken": foreign, "HX-Request": "true"},
        ),
    ):
        _assert_refused(send())
    assert _workspace_id(app, slug) is None


def test_over_https_a_post_from_another_site_is_refused(app: Flask, web: Web) -> None:
    """Over https Flask-WTF also wants a same-origin Referer (strict mode)."""
    web.login(make_user(app))
    slug = _slug()
    https = {"base_url": "https://localhost"}
    cross = web.post(
        "/workspaces/new",
        {"name": "X", "slug": slug},
        headers={"Referer": "https://evil.example/page"},
        **https,
    )
    _assert_refused(cross)
    # Web.post sends a same-origin Referer unless told otherwise; an empty one is none.
    missing = web.post(
        "/workspaces/new", {"name": "X", "slug": slug}, headers={"Referer": ""}, **https
    )
    _assert_refused(missing)
    assert _workspace_id(app, slug) is None

    same = web.post(
        "/workspaces/new",
        {"name": "X", "slug": slug},
        headers={"Referer": "https://localhost/workspaces/new"},
        **https,
    )
    assert same.status_code == 302
    assert _workspace_id(app, slug) is not None


# --- cookies and headers -------------------------------------------------------------------


def _session_set_cookie(resp) -> str:  # type: ignore[no-untyped-def]
    cookies = [c for c in resp.headers.getlist("Set-Cookie") if c.startswith("verbatim_session=")]
    assert cookies, resp.headers
    return cookies[0]


def test_session_cookie_flags(app: Flask, web: Web) -> None:
    user = make_user(app)
    for resp in (web.get("/login"), web.login(user)):
        attrs = [a.strip().lower() for a in _session_set_cookie(resp).split(";")[1:]]
        assert "secure" in attrs
        assert "httponly" in attrs
        assert "samesite=lax" in attrs


def _assert_baseline_headers(resp) -> None:  # type: ignore[no-untyped-def]
    assert resp.headers["Strict-Transport-Security"] == HSTS
    csp = resp.headers["Content-Security-Policy"]
    directives = {d.strip().split()[0]: d.strip().split()[1:] for d in csp.split(";") if d.strip()}
    assert directives["script-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in resp.headers["Cache-Control"]


def test_pages_carry_the_security_headers(app: Flask, web: Web) -> None:
    for url in ("/", "/login", "/signup", "/forgot"):
        resp = web.get(url)
        assert resp.status_code == 200
        _assert_baseline_headers(resp)
    web.login(make_user(app))
    for url in ("/account", "/workspaces/new"):
        resp = web.get(url)
        assert resp.status_code == 200
        _assert_baseline_headers(resp)
    landing = web.get("/")
    assert landing.status_code == 302
    dashboard = web.get(landing.headers["Location"])
    assert dashboard.status_code == 200
    _assert_baseline_headers(dashboard)


def test_error_pages_carry_the_security_headers(app: Flask, web: Web) -> None:
    owner, viewer = make_user(app), make_user(app)
    web.login(owner)
    slug, workspace_id = _team(app, web)
    with app.app_context(), workspace_scope(workspace_id):
        db.session.add(Membership(user_id=viewer.id, role="viewer"))
        db.session.commit()

    missing = web.get(f"/no-such-page-{uuid.uuid4().hex}")
    assert missing.status_code == 404
    assert "Not found." in _text(missing)
    _assert_baseline_headers(missing)

    csrf = web.post("/logout", csrf=False)
    assert csrf.status_code == 400
    _assert_baseline_headers(csrf)

    other = Web(app, remote_addr="10.252.3.3")
    other.login(viewer)
    forbidden = other.get(f"/w/{slug}/settings")
    assert forbidden.status_code == 403
    assert "You do not have permission to do that." in _text(forbidden)
    _assert_baseline_headers(forbidden)


def test_rate_limited_answer_carries_the_security_headers(app: Flask, web: Web) -> None:
    resp = None
    for _ in range(11):
        resp = web.post("/login", {"email": unique_email("rl"), "password": "wrong password!"})
    assert resp is not None and resp.status_code == 429
    assert int(resp.headers["Retry-After"]) > 0
    _assert_baseline_headers(resp)


# --- templates -----------------------------------------------------------------------------

TEMPLATES = sorted((ROOT / "templates").rglob("*.html"))
_SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
_EVENT_ATTR = re.compile(r"""[\s"'/]on[a-z]+\s*=""", re.IGNORECASE)
_HX_ON = re.compile(r"""\shx-on[:\-\w]*\s*=""", re.IGNORECASE)
_JS_URL = re.compile(r"""=\s*["']?\s*javascript:""", re.IGNORECASE)


def inline_problems(source: str) -> list[str]:
    problems = []
    for match in _SCRIPT_TAG.finditer(source):
        attrs = match.group(1)
        # A JSON data block is never run (the page's script strings travel in one).
        data = re.search(r"""\btype\s*=\s*["']application/json["']""", attrs, re.IGNORECASE)
        if not data and not re.search(r"\bsrc\s*=", attrs, re.IGNORECASE):
            problems.append(f"inline <script>: {match.group(0)}")
    # Only inside tags: text such as "Go on = ..." is not an attribute.
    for tag in re.findall(r"<[a-zA-Z][^<>]*>", source):
        if _EVENT_ATTR.search(tag):
            problems.append(f"event-handler attribute: {tag}")
        if _HX_ON.search(tag):
            problems.append(f"hx-on (evaluated script): {tag}")
        if _JS_URL.search(tag):
            problems.append(f"javascript: URL: {tag}")
    return problems


def test_template_scan_catches_inline_script() -> None:
    """The scanner itself must be able to fail."""
    assert inline_problems("<script>alert(1)</script>")
    assert inline_problems('<button onclick="x()">')
    assert inline_problems("<body onload='x()'>")
    assert inline_problems('<div hx-on:click="x()">')
    assert inline_problems('<a href="javascript:x()">')
    assert inline_problems('<script type="module">x()</script>')
    assert not inline_problems('<script src="/static/js/app.js" defer></script>')
    assert not inline_problems('<script type="application/json" id="s">{}</script>')
    assert not inline_problems('<p>Carry on = fine</p><input name="online">')


def test_templates_exist() -> None:
    assert len(TEMPLATES) >= 10
    assert ROOT / "templates" / "base.html" in TEMPLATES


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_template_has_no_inline_script(template: Path) -> None:
    assert inline_problems(template.read_text()) == []
