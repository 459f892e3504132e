"""Every route, attacked across workspaces: another workspace's object answers exactly like a
missing one (404), anonymous callers are sent to sign in (401 on the API), and an API key
of one workspace cannot reach another's."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import select

from app.auth.models import User
from app.extensions import db
from tests.tenancy.conftest import Side, World
from tests.tenancy.matrix import API, CHILD_PLACEHOLDERS, PUBLIC, SIGNED_IN, WORKSPACE
from tests.tenancy.matrix_privacy_export import OWN_NOT_FOUND as EXPORTS_NOT_FOUND
from tests.tenancy.matrix_private_transcripts import OWN_NOT_FOUND as PRIVATE_NOT_FOUND
from tests.web import Web

OWN_NOT_FOUND = PRIVATE_NOT_FOUND | EXPORTS_NOT_FOUND

# Route argument names -> the matrix's placeholder for the same kind of object.
_ALIASES = {"key_id": "api_key_id", "name": "plugin"}
_VOLATILE = re.compile(r'(name="csrf_token" value=|"X-CSRFToken": )"[^"]+"')


def _normalise(body: str) -> str:
    return _VOLATILE.sub(r'\1"…"', body)


def fill(template: str, side: Side | None, *, slug: str | None = None) -> str:
    values = {
        "slug": slug or (side.slug if side else f"missing-{uuid.uuid4().hex[:8]}"),
        "membership_id": side.membership_id if side else uuid.uuid4(),
        "invitation_id": side.invitation_id if side else uuid.uuid4(),
        "api_key_id": side.api_key_id if side else uuid.uuid4(),
        "plugin": "webhooks",
        "token": side.invitation_token if side else "no-such-token",
        "transcript_id": side.transcript_id if side else uuid.uuid4(),
        "upload_id": side.upload_id if side else uuid.uuid4(),
        "group_id": side.group_id if side else uuid.uuid4(),
        "label": "SPEAKER_00",
        "segment_id": side.segment_id if side else uuid.uuid4(),
        "share_id": side.share_id if side else uuid.uuid4(),
        "folder_id": side.folder_id if side else uuid.uuid4(),
        "number": 1,
        "fmt": "txt",
        "summary_id": side.summary_id if side else uuid.uuid4(),
        "message_id": side.message_id if side else uuid.uuid4(),
        "template_id": side.template_id if side else uuid.uuid4(),
        "export_id": uuid.uuid4(),  # nobody in the world asked for a data export
    }
    return template.format(**values)


def request(web: Web, method: str, url: str, *, htmx: bool = False):
    if method == "GET":
        return web.get(url, headers={"HX-Request": "true"} if htmx else {})
    if method != "POST":
        headers = {"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
        return web.send(method, url, htmx=htmx, headers=headers, data=b"x")
    return web.post(
        url,
        {
            "email": "someone@example.test",
            "role": "member",
            "name": "n",
            "slug": "whatever-slug",
            "confirm": "x",
        },
        htmx=htmx,
    )


def test_every_route_has_an_entry(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    covered = PUBLIC | set(SIGNED_IN) | set(WORKSPACE) | set(API)
    assert sorted(endpoints - covered) == [], "routes without a tenancy matrix entry"
    assert sorted(covered - endpoints) == [], "matrix entries for routes that do not exist"


def test_entries_match_the_url_map(app):
    """The templates above are the routes' real paths and methods."""
    rules = {rule.endpoint: rule for rule in app.url_map.iter_rules()}
    for table in (SIGNED_IN, WORKSPACE, API):
        for endpoint, (method, template) in table.items():
            rule = rules[endpoint]
            assert method in rule.methods, endpoint
            path = re.sub(
                r"<(?:[a-z]+:)?([a-z_]+)>",
                lambda m: "{" + _ALIASES.get(m.group(1), m.group(1)) + "}",
                rule.rule,
            )
            assert path == template, endpoint


@pytest.fixture(scope="module")
def owner_x(app, world: World) -> Web:
    web = Web(app, remote_addr="10.66.0.1")
    web.login(world.x.owner)
    return web


@pytest.mark.parametrize("endpoint", sorted(WORKSPACE))
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_other_workspace_answers_like_a_missing_one(owner_x, world, endpoint, htmx):
    method, template = WORKSPACE[endpoint]
    other = request(owner_x, method, fill(template, world.y), htmx=htmx)
    missing = request(owner_x, method, fill(template, None), htmx=htmx)
    assert other.status_code == 404, other.get_data(as_text=True)[:300]
    assert missing.status_code == 404
    assert _normalise(other.get_data(as_text=True)) == _normalise(missing.get_data(as_text=True))


@pytest.mark.parametrize(
    "endpoint",
    sorted(e for e, (_, t) in WORKSPACE.items() if any(p in t for p in CHILD_PLACEHOLDERS)),
)
def test_child_of_another_workspace_answers_like_a_missing_one(owner_x, world, endpoint):
    """Own workspace in the URL, another workspace's object id in it."""
    method, template = WORKSPACE[endpoint]
    foreign = request(owner_x, method, fill(template, world.y, slug=world.x.slug))
    missing = request(owner_x, method, fill(template, None, slug=world.x.slug))
    assert foreign.status_code == 404, foreign.get_data(as_text=True)[:300]
    assert missing.status_code == 404
    assert _normalise(foreign.get_data(as_text=True)) == _normalise(missing.get_data(as_text=True))


def test_nothing_changed_in_the_other_workspace(app, owner_x, world):
    """After every cross-workspace request above (run again here), Y is intact."""
    for method, template in WORKSPACE.values():
        request(owner_x, method, fill(template, world.y))
    y_owner = Web(app, remote_addr="10.66.0.2")
    y_owner.login(world.y.owner)
    page = y_owner.get(f"/w/{world.y.slug}/members").get_data(as_text=True)
    assert world.y.member_email in page
    keys = y_owner.get(f"/w/{world.y.slug}/api-keys/").get_data(as_text=True)
    assert "revoked" not in keys


@pytest.mark.parametrize("endpoint", sorted(WORKSPACE) + sorted(SIGNED_IN))
def test_anonymous_is_sent_to_sign_in(app, world, endpoint):
    method, template = (WORKSPACE | SIGNED_IN)[endpoint]
    web = Web(app, remote_addr="10.66.0.3")
    resp = request(web, method, fill(template, world.x))  # with an anonymous CSRF token
    assert resp.status_code == 302, resp.status_code
    assert resp.headers["Location"].startswith("/login")


@pytest.mark.parametrize("endpoint", sorted(WORKSPACE))
def test_anonymous_htmx_gets_401_with_redirect(app, world, endpoint):
    method, template = WORKSPACE[endpoint]
    web = Web(app, remote_addr="10.66.0.4")
    resp = request(web, method, fill(template, world.x), htmx=True)
    assert resp.status_code == 401
    assert resp.headers["HX-Redirect"].startswith("/login")


def test_member_of_x_gets_404_not_403_on_y_admin_pages(app, world):
    member = Web(app, remote_addr="10.66.0.5")
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == world.x.member_email))
        db.session.expunge(user)
    member.login(user)
    assert member.get(f"/w/{world.x.slug}/audit/").status_code == 403
    assert member.get(f"/w/{world.y.slug}/audit/").status_code == 404


def test_invitation_of_another_workspace_does_not_let_you_in(owner_x, world):
    token_page = owner_x.get(f"/invitations/{world.y.invitation_token}")
    assert token_page.status_code == 200
    assert "Sign in with that address" in token_page.get_data(as_text=True)
    resp = owner_x.post(f"/invitations/{world.y.invitation_token}/accept")
    assert resp.status_code == 403
    assert owner_x.get(f"/w/{world.y.slug}/").status_code == 404


def api(app, key: str | None, method: str, url: str):
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if method == "PATCH" and "/uploads/" in url:
        headers |= {"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
        return client.open(url, method=method, headers=headers, data=b"x")
    body = {
        "email": f"api-{uuid.uuid4().hex[:6]}@example.test",
        "role": "member",
        "title": "t",
        "name": "n",
        # Enough for the editing and organising endpoints to reach their lookups.
        "text": "t",
        "base_revision": 1,
        "tags": ["t"],
        "folder_id": None,
        "workspace": "nowhere",
    }
    with_body = method in ("POST", "PATCH", "PUT")
    return client.open(url, method=method, headers=headers, json=body if with_body else None)


@pytest.mark.parametrize("endpoint", sorted(API))
def test_api_without_a_key_is_401(app, world, endpoint):
    method, template = API[endpoint]
    resp = api(app, None, method, fill(template, world.x))
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("endpoint", sorted(API))
def test_api_with_a_revoked_or_forged_key_is_401(app, world, endpoint):
    method, template = API[endpoint]
    forged = world.x.api_key[:-4] + "AAAA"
    assert api(app, forged, method, fill(template, world.x)).status_code == 401


@pytest.mark.parametrize(
    "endpoint", sorted(e for e, (_, t) in API.items() if any(p in t for p in CHILD_PLACEHOLDERS))
)
def test_api_key_of_x_cannot_reach_y_objects(app, world, endpoint):
    method, template = API[endpoint]
    foreign = api(app, world.x.api_key, method, fill(template, world.y))
    missing = api(app, world.x.api_key, method, fill(template, None))
    assert foreign.status_code == 404
    assert missing.status_code == 404
    assert foreign.get_json() == missing.get_json()


@pytest.mark.parametrize("endpoint", sorted(e for e, (m, t) in API.items() if m == "GET"))
def test_api_key_of_x_lists_nothing_of_y(app, world, endpoint):
    method, template = API[endpoint]
    resp = api(app, world.x.api_key, method, fill(template, world.x))
    # The world's transcript is not private: its ciphertext route answers 404 there.
    assert resp.status_code == (404 if endpoint in OWN_NOT_FOUND else 200)
    body = resp.get_data(as_text=True)
    for secret in (
        str(world.y.workspace_id),
        world.y.slug,
        world.y.member_email,
        str(world.y.api_key_id),
        str(world.y.invitation_id),
    ):
        assert secret not in body
