"""API keys (web page) and the /api/v1 API: bearer auth, isolation, limits, OpenAPI."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from flask import Flask
from openapi_spec_validator import validate
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.auth.api_keys import create_api_key
from app.auth.models import ApiKey, User
from app.security.tokens import keyed_hash
from app.tenants.models import Invitation
from tests.conftest import SECRET
from tests.integration.test_workspaces import (
    add_member,
    audit_events,
    create_team,
    database,
    ip_of,
)
from tests.web import Web, make_user, unique_email

_RAW_KEY = re.compile(r'id="new-api-key">([^<]+)</pre>')


@pytest.fixture
def owner(app: Flask, web: Web) -> User:
    user = make_user(app, name="Kim Keymaker")
    web.login(user)
    return user


def new_key(web: Web, slug: str, name: str = "CI uploads") -> str:
    resp = web.post(f"/w/{slug}/api-keys/", {"name": name})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.headers["Cache-Control"] == "no-store"  # the one page with the raw key
    match = _RAW_KEY.search(resp.get_data(as_text=True))
    assert match, "the new key is not on the creation page"
    return match.group(1)


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def api(web: Web, method: str, path: str, raw: str | None, **kw):  # type: ignore[no-untyped-def]
    headers = dict(kw.pop("headers", {}))
    if raw is not None:
        headers.update(bearer(raw))
    return web.client.open(f"/api/v1{path}", method=method, headers=headers, **kw)


def key_row(app: Flask, workspace_id: uuid.UUID, prefix: str) -> ApiKey:
    with database(app, workspace_id) as s:
        key = s.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
        assert key is not None
        return key


def prefix_of(raw: str) -> str:
    return raw[: len("vb_") + 8]


# --- the API keys page ----------------------------------------------------------------------


def test_api_keys_page_is_for_admins(app, web, web2, owner):
    team = create_team(web)
    for role in ("member", "viewer"):
        person = make_user(app)
        add_member(app, team.id, person, role)
        client = Web(app, remote_addr=ip_of(web2))
        client.login(person)
        assert client.get(f"/w/{team.slug}/api-keys/").status_code == 403
        assert client.post(f"/w/{team.slug}/api-keys/", {"name": "sneaky"}).status_code == 403
    with database(app, team.id) as s:
        assert s.scalar(select(func.count(ApiKey.id))) == 0
    admin = make_user(app)
    add_member(app, team.id, admin, "admin")
    web2.login(admin)
    assert web2.get(f"/w/{team.slug}/api-keys/").status_code == 200


def test_key_is_shown_once_and_stored_as_prefix_and_keyed_hash(app, web, owner):
    team = create_team(web)
    raw = new_key(web, team.slug, "Nightly export")
    assert re.fullmatch(r"vb_[0-9a-f]{8}_[A-Za-z0-9_-]{40,}", raw)

    page = web.get(f"/w/{team.slug}/api-keys/").get_data(as_text=True)
    assert raw not in page
    assert "Nightly export" in page
    assert f"{prefix_of(raw)}…" in page  # the visible prefix identifies it

    key = key_row(app, team.id, prefix_of(raw))
    assert key.key_hash == keyed_hash(SECRET, raw)
    assert key.created_by_id == owner.id
    for column in ApiKey.__table__.columns:
        assert raw not in str(getattr(key, column.key))
    [event] = audit_events(app, team.id, "api_key.created")
    assert event.details == {"name": "Nightly export", "prefix": key.prefix}
    assert event.actor_user_id == owner.id
    assert event.ip == ip_of(web)
    # The raw key is not in the audit log either.
    assert raw not in json.dumps(event.details)


def test_key_needs_a_name(app, web, owner):
    team = create_team(web)
    resp = web.post(f"/w/{team.slug}/api-keys/", {"name": "   "})
    assert resp.status_code == 422
    assert "Name the key" in resp.get_data(as_text=True)
    with database(app, team.id) as s:
        assert s.scalar(select(func.count(ApiKey.id))) == 0


# --- authentication ---------------------------------------------------------------------------


def test_key_reads_its_own_workspace(app, web, owner):
    team = create_team(web, "API Team")
    raw = new_key(web, team.slug)
    resp = api(web, "GET", "/workspace", raw)
    assert resp.status_code == 200
    assert resp.json == {
        "id": str(team.id),
        "slug": team.slug,
        "name": "API Team",
        "plan": "free",
        "seat_limit": team.seat_limit,
        "seats_used": 1,
        "personal": False,
    }
    assert key_row(app, team.id, prefix_of(raw)).last_used_at is not None


def test_every_key_works_whatever_its_secret_looks_like(app, web, owner):
    """The secret part is URL-safe base64 and may contain "_" (the prefix separator)."""
    team = create_team(web)
    with database(app, team.id):
        keys = [create_api_key(f"key {i}", owner.id)[1] for i in range(40)]
    tricky = [raw for raw in keys if "_" in raw[len("vb_12345678_") :]]
    assert tricky, "no key with '_' in its secret among 40 (odds 1 in 2**40)"
    for raw in [*tricky[:3], *keys[:3]]:
        resp = api(web, "GET", "/workspace", raw)
        assert resp.status_code == 200, raw
        assert resp.json["slug"] == team.slug


def test_revoked_key_stops_at_once(app, web, owner):
    team = create_team(web)
    raw = new_key(web, team.slug)
    assert api(web, "GET", "/workspace", raw).status_code == 200
    key = key_row(app, team.id, prefix_of(raw))
    resp = web.post(f"/w/{team.slug}/api-keys/{key.id}/revoke")
    assert resp.status_code == 302
    page = web.get(resp.headers["Location"]).get_data(as_text=True)
    assert f"Key {key.prefix}… revoked" in page

    resp = api(web, "GET", "/workspace", raw)
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert key_row(app, team.id, key.prefix).revoked_at is not None
    [event] = audit_events(app, team.id, "api_key.revoked")
    assert event.actor_user_id == owner.id
    # Revoking twice: nothing live to revoke.
    assert web.post(f"/w/{team.slug}/api-keys/{key.id}/revoke").status_code == 404


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Token {raw}",
        "Bearer {raw}x",
        "Bearer vb_zzzzzzzz_{secret}",
        "Bearer {prefix}_wrong-secret",
        "Bearer {secret}",
    ],
)
def test_missing_or_malformed_key_is_401_json(app, web, owner, header):
    team = create_team(web)
    raw = new_key(web, team.slug)
    headers = {}
    if header is not None:
        headers["Authorization"] = header.format(
            raw=raw, prefix=prefix_of(raw), secret=raw[len("vb_12345678_") :]
        )
    resp = api(web, "GET", "/members", None, headers=headers)
    assert resp.status_code == 401
    assert resp.is_json
    assert resp.json["error"] == "unauthorized"
    assert "Authorization: Bearer" in resp.json["message"]
    assert resp.headers["WWW-Authenticate"] == 'Bearer realm="verbatim"'


def test_session_cookie_does_not_open_the_api(app, web, owner):
    """A signed-in browser has no API access without a key (so no CSRF surface there)."""
    create_team(web)
    resp = web.get("/api/v1/workspace")
    assert resp.status_code == 401
    assert resp.is_json


def test_key_of_a_deleted_workspace_is_dead(app, web, owner):
    team = create_team(web)
    raw = new_key(web, team.slug)
    assert web.post(f"/w/{team.slug}/delete", {"confirm": team.slug}).status_code == 302
    assert api(web, "GET", "/workspace", raw).status_code == 401


# --- isolation ---------------------------------------------------------------------------------


def test_key_of_one_workspace_never_sees_another(app, web, web2, owner):
    team_x = create_team(web, "Team X")
    raw_x = new_key(web, team_x.slug)
    x_member = make_user(app)
    add_member(app, team_x.id, x_member, "viewer")

    other = make_user(app)
    web2.login(other)
    team_y = create_team(web2, "Team Y")
    y_member = make_user(app)
    add_member(app, team_y.id, y_member, "member")
    y_email = unique_email("y-invitee")
    assert web2.post(f"/w/{team_y.slug}/invitations", {"email": y_email}).status_code == 302
    with database(app, team_y.id) as s:
        y_invitation = s.scalar(select(Invitation).where(Invitation.email == y_email))
        y_key, raw_y = create_api_key("y key", other.id)

    resp = api(web, "GET", "/members", raw_x)
    assert resp.status_code == 200
    emails = {m["email"] for m in resp.json}
    assert emails == {owner.email, x_member.email}
    roles = {m["email"]: m["role"] for m in resp.json}
    assert roles == {owner.email: "owner", x_member.email: "viewer"}

    assert api(web, "GET", "/invitations", raw_x).json == []
    assert [k["prefix"] for k in api(web, "GET", "/api-keys", raw_x).json] == [prefix_of(raw_x)]
    x_events = api(web, "GET", "/audit-events", raw_x).json
    assert x_events and all(e["target_id"] != str(y_invitation.id) for e in x_events)

    # Y's invitation answers exactly like an id that does not exist.
    foreign = api(web, "DELETE", f"/invitations/{y_invitation.id}", raw_x)
    missing = api(web, "DELETE", f"/invitations/{uuid.uuid4()}", raw_x)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json == missing.json
    assert foreign.json["message"]
    foreign_key = api(web, "DELETE", f"/api-keys/{y_key.id}", raw_x)
    assert foreign_key.status_code == 404
    with database(app, team_y.id) as s:
        assert s.get(Invitation, y_invitation.id).revoked_at is None
        assert s.get(ApiKey, y_key.id).revoked_at is None
    # Y's own key still works and sees Y.
    assert api(web2, "GET", "/workspace", raw_y).json["slug"] == team_y.slug


# --- invitations through the API --------------------------------------------------------------


def test_api_invitation_lifecycle(app, web, owner, mailbox, run_jobs, own_mail_only):
    team = create_team(web, "API Invites")
    raw = new_key(web, team.slug)
    email = unique_email("api-invitee")
    resp = api(web, "POST", "/invitations", raw, json={"email": email.upper(), "role": "viewer"})
    assert resp.status_code == 201
    assert resp.json["email"] == email
    assert resp.json["role"] == "viewer"
    assert "token" not in json.dumps(resp.json)
    run_jobs("email")
    assert "API Invites" in mailbox.last(email, "You are invited").subject

    [event] = audit_events(app, team.id, "invitation.created")
    assert event.actor_label == f"API key {prefix_of(raw)}"
    assert event.actor_user_id is None
    assert event.actor_api_key_id == key_row(app, team.id, prefix_of(raw)).id
    assert event.ip == ip_of(web)

    listed = api(web, "GET", "/invitations", raw).json
    assert [i["email"] for i in listed] == [email]
    invitation_id = listed[0]["id"]
    assert api(web, "DELETE", f"/invitations/{invitation_id}", raw).status_code == 204
    assert api(web, "GET", "/invitations", raw).json == []
    again = api(web, "DELETE", f"/invitations/{invitation_id}", raw)
    assert again.status_code == 404
    assert again.is_json


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"email": "not-an-email"}, "email: Not a valid email address."),
        ({"email": "a@b"}, "email: Not a valid email address."),
        ({"role": "member"}, "email: Missing data for required field."),
        ({"email": "{email}", "role": "owner"}, "role: Must be one of: admin, member, viewer."),
        ({"email": "{email}", "role": "superuser"}, "role: Must be one of"),
        ({"email": "{email}", "extra": 1}, "extra: Unknown field."),
    ],
)
def test_api_invitation_bad_input_is_422_and_creates_nothing(app, web, owner, body, message):
    team = create_team(web)
    raw = new_key(web, team.slug)
    email = unique_email("bad")
    body = {k: (v.format(email=email) if isinstance(v, str) else v) for k, v in body.items()}
    resp = api(web, "POST", "/invitations", raw, json=body)
    assert resp.status_code == 422
    assert resp.is_json
    assert resp.json["error"] == "invalid"
    assert message in resp.json["message"]
    with database(app, team.id) as s:
        assert s.scalar(select(func.count(Invitation.id))) == 0
    assert audit_events(app, team.id, "invitation.created") == []


def test_api_invitation_refusals_from_the_service(app, web, owner):
    team = create_team(web)
    raw = new_key(web, team.slug)
    member = make_user(app)
    add_member(app, team.id, member, "member")

    resp = api(web, "POST", "/invitations", raw, json={"email": member.email})
    assert resp.status_code == 422
    assert resp.json["message"] == f"{member.email} is already a member."

    with database(app) as s:
        from app.tenants.models import Workspace

        s.get(Workspace, team.id).seat_limit = 2
        s.commit()
    resp = api(web, "POST", "/invitations", raw, json={"email": unique_email("full")})
    assert resp.status_code == 422
    assert "All 2 seats are taken" in resp.json["message"]
    with database(app, team.id) as s:
        assert s.scalar(select(func.count(Invitation.id))) == 0


def test_api_cannot_invite_into_a_personal_workspace(app, web, owner):
    with database(app) as s:
        from app.tenants.models import Membership, Workspace

        personal = s.scalar(
            select(Workspace)
            .join(Membership, Membership.workspace_id == Workspace.id)
            .where(Membership.user_id == owner.id)
        )
    raw = new_key(web, personal.slug)
    resp = api(web, "POST", "/invitations", raw, json={"email": unique_email()})
    assert resp.status_code == 422
    assert "personal workspace" in resp.json["message"]
    with database(app, personal.id) as s:
        assert s.scalar(select(func.count(Invitation.id))) == 0


# --- audit log through the API ------------------------------------------------------------------


def test_audit_events_paginate(app, web, owner):
    team = create_team(web)
    raw = new_key(web, team.slug)
    for i in range(4):
        web.post(f"/w/{team.slug}/settings", {"name": f"Name {i}", "slug": team.slug})
    with database(app, team.id) as s:
        total = s.scalar(select(func.count(AuditEvent.id)))
    assert total == 6  # created, api key, 4 renames

    first = api(web, "GET", "/audit-events?page=1&page_size=4", raw)
    assert first.status_code == 200
    assert len(first.json) == 4
    pagination = json.loads(first.headers["X-Pagination"])
    assert pagination["total"] == 6
    assert pagination["total_pages"] == 2
    assert pagination["next_page"] == 2
    second = api(web, "GET", "/audit-events?page=2&page_size=4", raw)
    assert len(second.json) == 2
    ids = [e["id"] for e in first.json + second.json]
    assert len(set(ids)) == 6

    newest = first.json[0]
    assert newest["action"] == "workspace.updated"
    assert newest["actor"] == owner.email
    assert newest["ip"] == ip_of(web)
    assert newest["details"] == {"name": "Name 3"}
    assert first.json[0]["created_at"] >= first.json[1]["created_at"]

    bad = api(web, "GET", "/audit-events?page_size=0", raw)
    assert bad.status_code == 422
    assert bad.json["error"] == "invalid"
    assert "page_size" in bad.json["message"]


# --- rate limit ---------------------------------------------------------------------------------


def test_rate_limit_per_key_gives_429_with_retry_after(app, web, owner):
    team = create_team(web)
    raw, other = new_key(web, team.slug, "busy"), new_key(web, team.slug, "quiet")
    cfg = app.extensions["verbatim.settings"]
    saved = cfg.ratelimit_api
    cfg.ratelimit_api = "3 per minute"
    try:
        for _ in range(3):
            assert api(web, "GET", "/workspace", raw).status_code == 200
        resp = api(web, "GET", "/workspace", raw)
        assert resp.status_code == 429
        assert int(resp.headers["Retry-After"]) > 0
        assert resp.is_json
        assert resp.json["message"]
        # The limit is per key: another key of the same workspace, same address, still works.
        assert api(web, "GET", "/workspace", other).status_code == 200
    finally:
        cfg.ratelimit_api = saved
    assert api(web, "GET", "/workspace", other).status_code == 200


# --- OpenAPI ----------------------------------------------------------------------------------


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def test_openapi_is_public_valid_and_complete(app, web):
    resp = web.get("/api/v1/openapi.json")
    assert resp.status_code == 200
    spec = resp.json
    assert spec["openapi"].startswith("3.1")
    validate(spec)

    assert spec["components"]["securitySchemes"]["ApiKey"]["type"] == "http"
    assert spec["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    assert spec["security"] == [{"ApiKey": []}]

    routes = [
        r
        for r in app.url_map.iter_rules()
        if r.rule.startswith("/api/v1/") and r.endpoint != "api-docs.openapi_json"
    ]
    assert len(routes) >= 7
    for rule in routes:
        path = _openapi_path(rule.rule)
        assert path in spec["paths"], f"{rule.rule} is not in the OpenAPI description"
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operation = spec["paths"][path].get(method.lower())
            assert operation is not None, f"{method} {rule.rule} is not documented"
            assert operation["responses"]

    create = spec["paths"]["/api/v1/invitations"]["post"]
    assert "requestBody" in create
    assert "422" in create["responses"]
    assert "201" in create["responses"]
    audit = spec["paths"]["/api/v1/audit-events"]["get"]
    assert {p["name"] for p in audit["parameters"]} >= {"page", "page_size"}
