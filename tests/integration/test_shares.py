"""Public share links, end to end on real PostgreSQL and Redis: making them (web and API),
what the plan allows, the public page in a fresh browser, passwords and their rate limit,
downloads, revocation, expiry, deletion, roles and other workspaces."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
from flask import Flask
from limits import parse as parse_limit
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.billing import entitlements
from app.db import as_utc, utcnow
from app.tenants.models import Workspace
from app.transcripts.models import ShareLink, Status
from tests.integration.test_workspaces import add_member, database
from tests.transcripts import Team, api_caller, make_team, make_transcript
from tests.web import Web, make_user

_NEW_LINK = re.compile(r'id="new-share-link">https?://[^<\s]+/s/([A-Za-z0-9_-]+)</pre>')
PUBLIC_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
}
PASSWORD = "open sesame 42"


# --- helpers ---------------------------------------------------------------------------------


def transcript(app: Flask, team: Team, title: str = "Board meeting", **fields) -> uuid.UUID:  # type: ignore[no-untyped-def]
    return make_transcript(
        app,
        team.workspace.id,
        title,
        segments=[
            (0.0, 2.0, "Welcome everyone to the meeting.", "SPEAKER_00"),
            (2.5, 5.0, "Thanks, glad to be here.", "SPEAKER_01"),
        ],
        speakers={"SPEAKER_00": "Ada", "SPEAKER_01": "Grace"},
        **fields,
    )


def today() -> date:
    return datetime.now(UTC).date()  # the server's calendar is UTC


def set_plan(app: Flask, team: Team, plan: str) -> None:
    # Billing fills this in later; the tests set it the way billing will, in the database.
    with database(app) as s:
        ws = s.get(Workspace, team.workspace.id)
        assert ws is not None
        ws.plan = plan
        s.commit()


def shares_url(team: Team, tid: uuid.UUID) -> str:
    return team.url(f"/transcripts/{tid}/shares")


def create_web(team: Team, tid: uuid.UUID, **form: str) -> str:
    """Make a link through the panel (htmx, as the page does); the raw token."""
    resp = team.web.post(shares_url(team, tid), form, htmx=True)
    assert resp.status_code == 201, resp.get_data(as_text=True)[:800]
    match = _NEW_LINK.search(resp.get_data(as_text=True))
    assert match, "the new link is not in the response that made it"
    return match.group(1)


def links_of(app: Flask, team: Team, tid: uuid.UUID) -> list[ShareLink]:
    with database(app, team.workspace.id) as s:
        return list(
            s.scalars(
                select(ShareLink)
                .where(ShareLink.transcript_id == tid)
                .order_by(ShareLink.created_at)
            )
        )


def link_by_token(app: Flask, team: Team, token: str) -> ShareLink:
    digest = hashlib.sha256(token.encode()).hexdigest()
    with database(app, team.workspace.id) as s:
        link = s.scalar(select(ShareLink).where(ShareLink.token_hash == digest))
        assert link is not None
        return link


def visitor(app: Flask) -> Web:
    """A fresh browser: no session, no account, its own address."""
    return Web(app, remote_addr=f"10.77.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}")


def unlock(web: Web, token: str, password: str):  # type: ignore[no-untyped-def]
    # A page sent with no-referrer makes the browser post without a Referer: so do we.
    return web.post(f"/s/{token}", {"password": password}, headers={"Referer": ""})


def assert_public_headers(resp) -> None:  # type: ignore[no-untyped-def]
    for name, value in PUBLIC_HEADERS.items():
        assert resp.headers.get(name) == value, name


@pytest.fixture
def other(app: Flask, web2: Web) -> Team:
    return make_team(app, web2, "Other Team")


# --- the plan hook ---------------------------------------------------------------------------


def test_plans_are_data_and_unknown_names_get_the_free_rights():
    free, pro, odd = (SimpleNamespace(plan=name) for name in ("free", "pro", "legacy-gold"))
    assert not entitlements.allows(free, "share_password")
    assert entitlements.allows(pro, "share_password")
    assert entitlements.limit(free, "share_link_max_days") == 30
    assert entitlements.limit(pro, "share_link_max_days") is None
    # A plan name billing does not know never opens paid features.
    assert not entitlements.allows(odd, "share_permanent")
    assert entitlements.plan_title(odd) == "the Free plan"
    with pytest.raises(KeyError):
        entitlements.allows(pro, "share_pasword")  # a typo fails loudly
    with pytest.raises(KeyError):
        entitlements.limit(pro, "share_days")


# --- making links ----------------------------------------------------------------------------


def test_create_on_the_free_plan_defaults_to_30_days_and_keeps_only_the_hash(app, team):
    tid = transcript(app, team)
    before = utcnow()
    token = create_web(team, tid)

    [link] = links_of(app, team, tid)
    assert len(token) >= 43  # 32 random bytes, URL-safe base64
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(vars(link))
    assert link.password_hash is None and link.allow_download is False
    assert link.created_by_id == team.user.id
    assert link.expires_at is not None
    lifetime = as_utc(link.expires_at) - before
    assert timedelta(days=30) - timedelta(minutes=1) < lifetime <= timedelta(days=30, minutes=1)

    # The listing never shows it again.
    listing = team.page(f"/transcripts/{tid}/shares", headers={"HX-Request": "true"})
    assert token not in listing
    assert "Paula Pages" in listing
    assert as_utc(link.expires_at).strftime("%Y-%m-%d %H:%M") in listing
    with database(app, team.workspace.id) as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "share.created")).all()
    assert len(events) == 1 and token not in str(events[0].details)


def test_the_transcript_page_loads_the_panel_with_htmx(app, team):
    tid = transcript(app, team)
    page = team.page(f"/transcripts/{tid}")
    assert f'hx-get="{shares_url(team, tid)}"' in page
    full = team.page(f"/transcripts/{tid}/shares")  # without scripts: a whole page
    assert "<h1>Public links</h1>" in full and 'name="expiry"' in full


def test_create_with_days_date_and_downloads(app, team):
    tid = transcript(app, team)
    create_web(team, tid, expiry="days", days="7", allow_download="on")
    on = (today() + timedelta(days=10)).isoformat()
    create_web(team, tid, expiry="date", date=on)
    week, dated = links_of(app, team, tid)
    assert week.allow_download is True
    assert abs(as_utc(week.expires_at) - utcnow() - timedelta(days=7)) < timedelta(minutes=1)
    assert as_utc(dated.expires_at) == datetime.fromisoformat(on).replace(tzinfo=UTC)
    assert dated.allow_download is False


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"password": PASSWORD}, "Passwords on links need the Pro or Business plan"),
        ({"expiry": "never"}, "Links that never expire need the Pro or Business plan"),
        ({"expiry": "days", "days": "31"}, "On the Free plan a link lasts at most 30 days"),
        (
            {"expiry": "date", "date": (today() + timedelta(days=40)).isoformat()},
            "On the Free plan a link lasts at most 30 days",
        ),
    ],
    ids=["password", "permanent", "31-days", "date-too-far"],
)
def test_the_free_plan_refuses_paid_options_and_says_which_plan(app, team, form, message):
    tid = transcript(app, team)
    resp = team.web.post(shares_url(team, tid), form, htmx=True)
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert message in body and "the Free plan" in body
    assert links_of(app, team, tid) == []


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"expiry": "days", "days": "soon"}, "whole number"),
        ({"expiry": "days", "days": "0"}, "at least 1 day"),
        ({"expiry": "date", "date": "2020-13-40"}, "YYYY-MM-DD"),
        ({"expiry": "date", "date": "2001-01-01"}, "in the future"),
        ({"expiry": "tomorrow-ish"}, "Choose when the link expires"),
    ],
)
def test_bad_expiry_is_refused_and_nothing_is_made(app, team, form, message):
    tid = transcript(app, team)
    resp = team.web.post(shares_url(team, tid), form, htmx=True)
    assert resp.status_code == 422
    assert message in resp.get_data(as_text=True)
    assert links_of(app, team, tid) == []


@pytest.mark.parametrize("plan", ["pro", "business"])
def test_a_paid_plan_allows_passwords_and_permanent_links(app, team, plan):
    set_plan(app, team, plan)
    tid = transcript(app, team)
    create_web(team, tid, expiry="never", password=PASSWORD, allow_download="on")
    create_web(team, tid, expiry="days", days="400")
    permanent, long = links_of(app, team, tid)
    assert permanent.expires_at is None
    assert permanent.password_hash and permanent.password_hash.startswith("$argon2")
    assert PASSWORD not in permanent.password_hash
    assert as_utc(long.expires_at) - utcnow() > timedelta(days=399)
    short = team.web.post(shares_url(team, tid), {"password": "short"}, htmx=True)
    assert short.status_code == 422 and "at least 8 characters" in short.get_data(as_text=True)
    assert len(links_of(app, team, tid)) == 2


def test_an_unfinished_transcript_cannot_be_shared(app, team):
    tid = transcript(app, team, status=Status.PROCESSING)
    resp = team.web.post(shares_url(team, tid), {}, htmx=True)
    assert resp.status_code == 409
    assert "Only a completed transcript can be shared" in resp.get_data(as_text=True)
    assert links_of(app, team, tid) == []


# --- the API ---------------------------------------------------------------------------------


def test_api_create_list_revoke(app, team):
    call = api_caller(team)
    tid = transcript(app, team)
    made = call("POST", f"/transcripts/{tid}/shares", json={"allow_download": True})
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    token = body["url"].rsplit("/s/", 1)[1]
    assert body["state"] == "active" and body["has_password"] is False
    assert body["allow_download"] is True and body["expires_at"] is not None
    assert body["created_by_id"] is None  # made by the workspace's key

    listed = call("GET", f"/transcripts/{tid}/shares")
    assert listed.status_code == 200
    [item] = listed.get_json()
    assert item["id"] == body["id"] and "url" not in item
    assert token not in listed.get_data(as_text=True)

    fresh = visitor(app)
    assert fresh.get(f"/s/{token}").status_code == 200
    assert call("DELETE", f"/transcripts/{tid}/shares/{body['id']}").status_code == 204
    assert fresh.get(f"/s/{token}").status_code == 404
    again = call("DELETE", f"/transcripts/{tid}/shares/{body['id']}")
    assert again.status_code == 409 and "already revoked" in again.get_json()["message"]
    assert call("GET", f"/transcripts/{tid}/shares").get_json()[0]["state"] == "revoked"


def test_api_plan_gating_and_bad_input(app, team):
    call = api_caller(team)
    tid = transcript(app, team)
    url = f"/transcripts/{tid}/shares"
    refused = call("POST", url, json={"password": PASSWORD})
    assert refused.status_code == 422
    assert refused.get_json()["field"] == "password"
    assert "the Free plan" in refused.get_json()["message"]
    forever = call("POST", url, json={"permanent": True})
    assert forever.status_code == 422 and "the Free plan" in forever.get_json()["message"]
    both = call("POST", url, json={"expires_in_days": 3, "permanent": True})
    assert both.status_code == 422 and "Choose one expiry" in both.get_json()["message"]
    typed = call("POST", url, json={"expires_in_days": "three"})
    assert typed.status_code == 422
    assert call("GET", url).get_json() == []

    set_plan(app, team, "pro")
    at = (utcnow() + timedelta(days=90)).replace(microsecond=0)
    dated = call("POST", url, json={"expires_at": at.isoformat(), "password": PASSWORD})
    assert dated.status_code == 201, dated.get_json()
    assert dated.get_json()["has_password"] is True
    assert datetime.fromisoformat(dated.get_json()["expires_at"]) == at
    forever = call("POST", url, json={"permanent": True})
    assert forever.status_code == 201 and forever.get_json()["expires_at"] is None


# --- the public page -------------------------------------------------------------------------


def test_the_public_page_in_a_fresh_browser(app, team):
    tid = transcript(app, team)
    token = create_web(team, tid)
    fresh = visitor(app)
    resp = fresh.get(f"/s/{token}")
    assert resp.status_code == 200
    assert_public_headers(resp)
    page = resp.get_data(as_text=True)
    assert '<meta name="robots" content="noindex">' in page
    for shown in ("Board meeting", "Welcome everyone to the meeting.", "Ada", "Grace", "[00:02]"):
        assert shown in page
    # Read-only, no workspace around it, no way into an account.
    for absent in (team.slug, "/login", "Sign out", "<form", "<script", "Download"):
        assert absent not in page

    [link] = links_of(app, team, tid)
    assert link.opened_count == 1 and link.last_opened_at is not None
    fresh.get(f"/s/{token}")
    assert links_of(app, team, tid)[0].opened_count == 2
    listing = team.page(f"/transcripts/{tid}/shares", headers={"HX-Request": "true"})
    assert "2 times" in listing


def test_revoked_expired_unknown_and_malformed_links_answer_the_same_404(app, team):
    tid = transcript(app, team)
    revoked, expired, live = (create_web(team, tid) for _ in range(3))
    link = link_by_token(app, team, revoked)
    resp = team.web.post(team.url(f"/transcripts/{tid}/shares/{link.id}/revoke"), {}, htmx=True)
    assert resp.status_code == 200 and "revoked" in resp.get_data(as_text=True)
    with database(app, team.workspace.id) as s:
        row = s.get(ShareLink, link_by_token(app, team, expired).id)
        row.expires_at = utcnow() - timedelta(seconds=1)
        s.commit()

    fresh = visitor(app)
    answers = {
        name: fresh.get(f"/s/{token}")
        for name, token in {
            "revoked": revoked,
            "expired": expired,
            "unknown": live[:-4] + ("AAAA" if not live.endswith("AAAA") else "BBBB"),
            "malformed": "not-a-token",
        }.items()
    }
    bodies = set()
    for name, resp in answers.items():
        assert resp.status_code == 404, name
        assert_public_headers(resp)
        bodies.add(resp.get_data(as_text=True))
    assert len(bodies) == 1
    assert "This link does not work" in bodies.pop()
    assert fresh.get(f"/s/{live}").status_code == 200
    # Downloads and the password form of a dead link are the same 404.
    assert fresh.get(f"/s/{revoked}/export/txt").status_code == 404
    assert unlock(fresh, expired, PASSWORD).status_code == 404


def test_revoking_twice_says_so_and_changes_nothing(app, team):
    tid = transcript(app, team)
    token = create_web(team, tid)
    link = link_by_token(app, team, token)
    url = team.url(f"/transcripts/{tid}/shares/{link.id}/revoke")
    assert team.web.post(url, {}, htmx=True).status_code == 200
    first = links_of(app, team, tid)[0].revoked_at
    again = team.web.post(url, {}, htmx=True)
    assert again.status_code == 409 and "already revoked" in again.get_data(as_text=True)
    assert links_of(app, team, tid)[0].revoked_at == first


def test_markup_in_the_title_and_names_is_escaped(app, team):
    evil = '<script>alert("t")</script><img src=x onerror=alert(1)>'
    tid = make_transcript(
        app,
        team.workspace.id,
        evil,
        segments=[(0.0, 1.0, "<b>bold</b> words", "SPEAKER_00")],
        speakers={"SPEAKER_00": "<i>Eve</i>"},
    )
    token = create_web(team, tid)
    page = visitor(app).get(f"/s/{token}").get_data(as_text=True)
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page and "&lt;i&gt;Eve&lt;/i&gt;" in page


def test_deleting_the_transcript_makes_its_links_404_at_once(app, team):
    tid = transcript(app, team)
    tokens = [create_web(team, tid) for _ in range(2)]
    fresh = visitor(app)
    assert fresh.get(f"/s/{tokens[0]}").status_code == 200
    gone = fresh.get(f"/s/{'x' * 43}")
    resp = team.web.post(team.url(f"/transcripts/{tid}/delete"), {})
    assert resp.status_code == 302
    for token in tokens:
        after = fresh.get(f"/s/{token}")
        assert after.status_code == 404
        assert after.get_data(as_text=True) == gone.get_data(as_text=True)
    assert links_of(app, team, tid) == []


# --- passwords -------------------------------------------------------------------------------


def test_a_password_link_asks_then_opens(app, team):
    set_plan(app, team, "pro")
    tid = transcript(app, team)
    token = create_web(team, tid, password=PASSWORD)
    fresh = visitor(app)

    form = fresh.get(f"/s/{token}")
    assert form.status_code == 200
    assert_public_headers(form)
    page = form.get_data(as_text=True)
    assert 'type="password"' in page and "Welcome everyone" not in page
    assert "Board meeting" not in page  # not even the title before the password
    assert links_of(app, team, tid)[0].opened_count == 0

    wrong = unlock(fresh, token, "not the password")
    assert wrong.status_code == 401
    assert "That password is not right" in wrong.get_data(as_text=True)
    assert 'type="password"' in wrong.get_data(as_text=True)
    assert_public_headers(wrong)

    right = unlock(fresh, token, PASSWORD)
    assert right.status_code == 303
    assert right.headers["Location"].endswith(f"/s/{token}")
    opened = fresh.get(f"/s/{token}")
    assert "Welcome everyone" in opened.get_data(as_text=True)
    assert links_of(app, team, tid)[0].opened_count == 1
    # Another browser has to know the password itself.
    assert "Welcome everyone" not in visitor(app).get(f"/s/{token}").get_data(as_text=True)


def test_the_form_without_its_csrf_token_is_refused(app, team):
    set_plan(app, team, "pro")
    token = create_web(team, transcript(app, team), password=PASSWORD)
    fresh = visitor(app)
    resp = fresh.post(f"/s/{token}", {"password": PASSWORD}, csrf=False)
    assert resp.status_code == 400 and "This form expired" in resp.get_data(as_text=True)
    assert "Welcome everyone" not in fresh.get(f"/s/{token}").get_data(as_text=True)


def test_unlocking_one_link_does_not_unlock_another(app, team):
    set_plan(app, team, "pro")
    tid = transcript(app, team)
    first = create_web(team, tid, password=PASSWORD)
    second = create_web(team, tid, password=PASSWORD)
    fresh = visitor(app)
    assert unlock(fresh, first, PASSWORD).status_code == 303
    assert "Welcome everyone" in fresh.get(f"/s/{first}").get_data(as_text=True)
    still = fresh.get(f"/s/{second}").get_data(as_text=True)
    assert "Welcome everyone" not in still and 'type="password"' in still


def test_wrong_passwords_are_rate_limited_per_link_and_address(app, team):
    set_plan(app, team, "pro")
    tid = transcript(app, team)
    token = create_web(team, tid, password=PASSWORD)
    other_link = create_web(team, tid, password=PASSWORD)
    allowed = parse_limit(app.extensions["verbatim.settings"].ratelimit_share_password).amount
    assert allowed < 20
    guesser = visitor(app)

    statuses = [unlock(guesser, token, f"guess number {i}").status_code for i in range(20)]
    assert statuses == [401] * allowed + [429] * (20 - allowed)
    limited = unlock(guesser, token, PASSWORD)  # right, but too late
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    assert "Too many wrong passwords" in limited.get_data(as_text=True)
    assert_public_headers(limited)
    assert 'type="password"' in guesser.get(f"/s/{token}").get_data(as_text=True)

    # The limit is this link from this address: other links and other people still work.
    assert unlock(guesser, other_link, PASSWORD).status_code == 303
    assert unlock(visitor(app), token, PASSWORD).status_code == 303


# --- downloads -------------------------------------------------------------------------------


def test_downloads_only_when_the_link_allows_them(app, team):
    tid = transcript(app, team)
    allowed = create_web(team, tid, allow_download="on")
    forbidden = create_web(team, tid)
    fresh = visitor(app)

    page = fresh.get(f"/s/{allowed}").get_data(as_text=True)
    assert f"/s/{allowed}/export/txt" in page
    resp = fresh.get(f"/s/{allowed}/export/txt")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert "attachment" in resp.headers["Content-Disposition"]
    assert "Welcome everyone to the meeting." in resp.get_data(as_text=True)
    assert_public_headers(resp)
    offered = set(re.findall(rf"/s/{allowed}/export/([a-z0-9_-]+)", page))
    assert {"txt", "srt", "vtt", "docx", "pdf", "json"} <= offered
    for fmt in sorted(offered):
        each = fresh.get(f"/s/{allowed}/export/{fmt}")
        assert each.status_code == 200, fmt
        assert each.headers["Content-Disposition"].startswith("attachment"), fmt
    unknown = fresh.get(f"/s/{allowed}/export/nope")
    assert unknown.status_code == 404 and "no export format" in unknown.get_data(as_text=True)

    # 403, not 404: the holder of the link sees the page already; only the file is refused.
    refused = fresh.get(f"/s/{forbidden}/export/txt")
    assert refused.status_code == 403
    assert "Downloads are turned off for this link" in refused.get_data(as_text=True)
    assert "/export/" not in fresh.get(f"/s/{forbidden}").get_data(as_text=True)


def test_a_locked_link_downloads_only_after_the_password(app, team):
    set_plan(app, team, "pro")
    token = create_web(team, transcript(app, team), password=PASSWORD, allow_download="on")
    fresh = visitor(app)
    before = fresh.get(f"/s/{token}/export/txt")
    assert before.status_code == 303 and before.headers["Location"].endswith(f"/s/{token}")
    unlock(fresh, token, PASSWORD)
    assert fresh.get(f"/s/{token}/export/txt").status_code == 200


# --- who may ---------------------------------------------------------------------------------


def test_viewers_see_the_links_but_cannot_make_or_revoke_them(app, team, web2):
    tid = transcript(app, team)
    token = create_web(team, tid)
    link = link_by_token(app, team, token)
    viewer = make_user(app, name="Vera Viewer")
    add_member(app, team.workspace.id, viewer, "viewer")
    web2.login(viewer)

    listing = web2.get(shares_url(team, tid), headers={"HX-Request": "true"})
    assert listing.status_code == 200
    body = listing.get_data(as_text=True)
    assert f'id="share-{link.id}"' in body
    assert "Create link" not in body and "Revoke" not in body

    assert web2.post(shares_url(team, tid), {}, htmx=True).status_code == 403
    revoke = team.url(f"/transcripts/{tid}/shares/{link.id}/revoke")
    assert web2.post(revoke, {}).status_code == 403
    [after] = links_of(app, team, tid)
    assert after.revoked_at is None
    assert visitor(app).get(f"/s/{token}").status_code == 200


def test_another_workspaces_transcript_or_link_is_404(app, team, other):
    ours = transcript(app, team)
    theirs = transcript(app, other, "Their meeting")
    their_token = create_web(other, theirs)
    their_link = link_by_token(app, other, their_token)
    our_link = link_by_token(app, team, create_web(team, ours))

    assert team.web.get(shares_url(team, theirs)).status_code == 404
    assert team.web.post(shares_url(team, theirs), {}).status_code == 404
    # Their link id under our transcript, and our link id under another of our transcripts.
    for tid, share_id in ((ours, their_link.id), (transcript(app, team), our_link.id)):
        resp = team.web.post(team.url(f"/transcripts/{tid}/shares/{share_id}/revoke"), {})
        assert resp.status_code == 404
    call = api_caller(team)
    assert call("GET", f"/transcripts/{theirs}/shares").status_code == 404
    assert call("DELETE", f"/transcripts/{theirs}/shares/{their_link.id}").status_code == 404
    assert call("DELETE", f"/transcripts/{ours}/shares/{their_link.id}").status_code == 404
    assert links_of(app, other, theirs)[0].revoked_at is None
    assert links_of(app, team, ours)[0].revoked_at is None
