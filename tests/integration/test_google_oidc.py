"""Google sign-in end to end, against a real OpenID provider on 127.0.0.1.

Each flow is the browser's: GET /auth/google/ on the app, follow its redirect to the
provider's authorization endpoint over HTTP, and bring the provider's redirect (code and
state) back to the app's callback. The app then talks to the provider itself: token
endpoint, JWKS, ID token checks.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from flask import Flask
from markupsafe import escape
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from app import create_app
from app.auth.api_keys import create_api_key
from app.auth.google import CANCELLED, NOT_COMPLETED, UNREACHABLE
from app.auth.models import OAuthIdentity, User
from app.config import load_settings
from app.extensions import db
from app.plugins.models import PluginSetting
from app.tenants.context import workspace_scope
from app.tenants.models import Role
from app.tenants.services import create_workspace, user_workspaces
from tests.fakes.oidc_provider import Fault, Identity, OIDCProvider
from tests.web import PASSWORD, Web, make_user, unique_email

CALLBACK = "http://localhost/auth/google/callback"
UNVERIFIED_GOOGLE = "Your Google account's email address is not verified."
_ME = re.compile(r'<a href="/account">([^<]+)</a>')


@pytest.fixture
def oidc(services: SimpleNamespace) -> Iterator[OIDCProvider]:
    provider: OIDCProvider = services.oidc
    provider.reset()
    yield provider
    provider.reset()


def google_identity(email: str | None = None, **kw: object) -> Identity:
    return Identity(
        sub=str(uuid.uuid4().int)[:21],  # Google subjects are long decimal strings
        email=email or unique_email("g"),
        name=str(kw.pop("name", "Grace Hopper")),
        **kw,  # type: ignore[arg-type]
    )


def begin(web: Web) -> str:
    """The app's redirect to the provider's authorization endpoint."""
    resp = web.get("/auth/google/")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return resp.headers["Location"]


def at_provider(authorize_url: str) -> str:
    """The browser at the provider: returns the app-relative callback URL it is sent to."""
    resp = requests.get(authorize_url, allow_redirects=False, timeout=10)
    assert resp.status_code == 302, resp.text
    location = resp.headers["Location"]
    assert location.startswith(CALLBACK + "?"), location
    parts = urlsplit(location)
    return f"{parts.path}?{parts.query}"


WELCOME = "/auth/google/welcome"


def google_flow(
    web: Web, oidc: OIDCProvider, identity: Identity | None, *, confirm_age: bool = True
) -> TestResponse:
    """Sign in at the provider and come back; a first sign-in then confirms the age (13+)
    on the welcome page, as a person must, unless `confirm_age` is False."""
    oidc.sign_in_as(identity)
    resp = web.get(at_provider(begin(web)))
    if confirm_age and resp.status_code == 302 and resp.headers["Location"].endswith(WELCOME):
        assert web.get(WELCOME).status_code == 200
        resp = web.post(WELCOME, {"age_13": "on"})
    return resp


def signed_in_as(web: Web) -> str | None:
    """The email of the account this browser is signed in as, from the account page."""
    resp = web.get("/account")
    if resp.status_code != 200:
        assert resp.status_code == 302 and "/login" in resp.headers["Location"]
        return None
    match = _ME.search(resp.get_data(as_text=True))
    assert match, "no signed-in user in the page header"
    return match.group(1)


def refused(web: Web, resp: TestResponse, message: str) -> None:
    """The callback ended on the sign-in page with `message`, and no one is signed in."""
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert urlsplit(resp.headers["Location"]).path == "/login"
    page = web.get("/login").get_data(as_text=True)
    assert str(escape(message)) in page, page
    assert signed_in_as(web) is None


def user_count(app: Flask, email: str) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).where(User.email == email.lower())) or 0


def identities_of(app: Flask, subject: str) -> list[OAuthIdentity]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(OAuthIdentity).where(
                    OAuthIdentity.provider == "google", OAuthIdentity.subject == subject
                )
            )
        )
        for row in rows:
            db.session.expunge(row)
        return rows


def load_user(app: Flask, email: str) -> User:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email.lower()))
        assert user is not None
        db.session.expunge(user)
        return user


# -- the entry point -------------------------------------------------------------------


def test_login_and_signup_pages_offer_google(web: Web) -> None:
    for path, label in (("/login", "Sign in with Google"), ("/signup", "Sign up with Google")):
        page = web.get(path).get_data(as_text=True)
        assert label in page
        assert 'href="/auth/google/"' in page


def test_start_sends_state_nonce_and_pkce_to_the_provider(web: Web, oidc: OIDCProvider) -> None:
    url = begin(web)
    assert url.startswith(oidc.authorization_endpoint + "?")
    q = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert q["client_id"] == oidc.client_id
    assert q["redirect_uri"] == CALLBACK
    assert q["response_type"] == "code"
    assert {"openid", "email", "profile"} <= set(q["scope"].split())
    assert len(q["state"]) >= 20 and len(q["nonce"]) >= 20
    assert q["code_challenge_method"] == "S256" and q["code_challenge"]
    # A second start gets fresh values: nothing is predictable or shared.
    again = {k: v[0] for k, v in parse_qs(urlsplit(begin(web)).query).items()}
    assert again["state"] != q["state"] and again["nonce"] != q["nonce"]


def test_abandoned_starts_do_not_grow_the_session_cookie(
    app: Flask, web: Web, oidc: OIDCProvider
) -> None:
    def cookie_size() -> int:
        cookie = web.client.get_cookie(app.config["SESSION_COOKIE_NAME"])
        assert cookie is not None
        return len(cookie.value)

    abandoned = begin(web)
    first = cookie_size()
    for _ in range(4):
        begin(web)
    assert cookie_size() <= first + 40  # one pending attempt, not five
    identity = google_identity()
    oidc.sign_in_as(identity)
    # Only the newest attempt counts; an abandoned one comes back refused.
    refused(web, web.get(at_provider(abandoned)), NOT_COMPLETED)
    assert google_flow(web, oidc, identity).status_code == 302
    assert signed_in_as(web) == identity.email


# -- accounts ---------------------------------------------------------------------------


def test_new_google_user_gets_verified_account_and_personal_workspace(
    app: Flask, web: Web, oidc: OIDCProvider
) -> None:
    identity = google_identity(name="Ada Lovelace")
    resp = google_flow(web, oidc, identity)

    assert resp.status_code == 302 and urlsplit(resp.headers["Location"]).path == "/"
    assert signed_in_as(web) == identity.email
    user = load_user(app, identity.email)
    assert user.email_verified_at is not None
    assert user.password_hash is None
    assert user.name == "Ada Lovelace"
    [link] = identities_of(app, identity.sub)
    assert link.user_id == user.id and link.email == identity.email
    with app.app_context():
        entries = user_workspaces(user.id)
    assert [(e.workspace.personal, e.role) for e in entries] == [(True, Role.OWNER)]
    # The app authenticated itself and proved PKCE at the token endpoint.
    [token_request] = oidc.token_requests
    assert token_request["auth_method"] == "client_secret_basic"
    assert token_request["code_verifier"]


def test_a_first_google_sign_in_asks_for_age_before_any_account_exists(
    app: Flask, web: Web, oidc: OIDCProvider
) -> None:
    identity = google_identity(name="Young Person")
    resp = google_flow(web, oidc, identity, confirm_age=False)
    assert resp.status_code == 302 and resp.headers["Location"].endswith(WELCOME)
    assert user_count(app, identity.email) == 0 and signed_in_as(web) is None
    page = web.get(WELCOME).get_data(as_text=True)
    assert identity.email in page and "I am 13 or older." in page

    # Without the box ticked: refused with the reason, still no account, still no session.
    resp = web.post(WELCOME, {"analytics": "on"})
    assert resp.status_code == 422
    assert "Confirm that you are 13 or older." in resp.get_data(as_text=True)
    assert user_count(app, identity.email) == 0 and signed_in_as(web) is None
    assert identities_of(app, identity.sub) == []

    resp = web.post(WELCOME, {"age_13": "on", "analytics": "on"})
    assert resp.status_code == 302 and urlsplit(resp.headers["Location"]).path == "/"
    assert signed_in_as(web) == identity.email
    user = load_user(app, identity.email)
    assert user.age_confirmed_at is not None and user.analytics_consent is True
    # The pending claims left the session with the sign-in.
    from app.auth import google

    with web.client.session_transaction() as session:
        assert google.PENDING not in session
    assert user_count(app, identity.email) == 1


def test_the_age_question_waits_ten_minutes_then_google_must_be_asked_again(
    app: Flask, web: Web, oidc: OIDCProvider
) -> None:
    from app.auth import google

    identity = google_identity()
    google_flow(web, oidc, identity, confirm_age=False)
    with web.client.session_transaction() as session:
        pending = dict(session[google.PENDING])
        pending["at"] -= google.PENDING_SECONDS + 1
        session[google.PENDING] = pending
    resp = web.post(WELCOME, {"age_13": "on"})
    refused(web, resp, "That took too long; sign in with Google again.")
    assert user_count(app, identity.email) == 0
    # Nor can the page be opened without a Google sign-in before it.
    refused(web, web.get(WELCOME), "That took too long; sign in with Google again.")


def test_linking_google_to_an_existing_account_asks_nothing(
    app: Flask, web: Web, oidc: OIDCProvider
) -> None:
    user = make_user(app)
    identity = google_identity(email=user.email)
    resp = google_flow(web, oidc, identity, confirm_age=False)
    assert resp.status_code == 302 and urlsplit(resp.headers["Location"]).path == "/"
    assert signed_in_as(web) == user.email
    assert [i.user_id for i in identities_of(app, identity.sub)] == [user.id]


def test_returning_google_user_gets_the_same_account(
    app: Flask, web: Web, web2: Web, oidc: OIDCProvider
) -> None:
    identity = google_identity()
    google_flow(web, oidc, identity)
    first = load_user(app, identity.email)

    # Same Google subject, even after the address changed at Google: same account.
    later = Identity(sub=identity.sub, email=unique_email("renamed"), name=identity.name)
    resp = google_flow(web2, oidc, later)

    assert resp.status_code == 302
    assert signed_in_as(web2) == identity.email
    assert user_count(app, identity.email) == 1
    assert user_count(app, later.email) == 0
    assert [i.user_id for i in identities_of(app, identity.sub)] == [first.id]
    with app.app_context():
        assert len(user_workspaces(first.id)) == 1


def test_verified_password_account_is_linked_not_duplicated(
    app: Flask, web: Web, web2: Web, oidc: OIDCProvider, mailbox, run_jobs, own_mail_only
) -> None:
    email = unique_email("linked")
    assert web2.signup(email).status_code == 302
    run_jobs("email")
    verify = urlsplit(mailbox.last(email, "Confirm").link())
    assert web2.get(verify.path).status_code == 302
    user = load_user(app, email)
    assert user.email_verified_at is not None

    identity = google_identity(email=email.upper())  # providers may differ in case
    resp = google_flow(web, oidc, identity)

    assert resp.status_code == 302
    assert signed_in_as(web) == email
    assert user_count(app, email) == 1
    assert [i.user_id for i in identities_of(app, identity.sub)] == [user.id]
    # The password the owner verified keeps working, and their other session too.
    assert signed_in_as(web2) == email
    fresh = Web(app, remote_addr="10.250.0.1")
    fresh.login(user)
    assert signed_in_as(fresh) == email
    with app.app_context():
        assert len(user_workspaces(user.id)) == 1


def test_unverified_password_account_is_taken_over_by_verified_google_email(
    app: Flask, web: Web, web2: Web, oidc: OIDCProvider
) -> None:
    # Pre-account hijacking: someone signed up with this address but never proved it.
    squatter = make_user(app, unique_email("victim"))
    web2.login(squatter)
    assert signed_in_as(web2) == squatter.email

    identity = google_identity(email=squatter.email)
    resp = google_flow(web, oidc, identity)

    assert resp.status_code == 302
    assert signed_in_as(web) == squatter.email
    assert user_count(app, squatter.email) == 1
    user = load_user(app, squatter.email)
    assert user.id == squatter.id
    assert user.email_verified_at is not None and user.password_hash is None
    assert [i.user_id for i in identities_of(app, identity.sub)] == [user.id]
    # The squatter's session is over and their password no longer opens the account.
    assert signed_in_as(web2) is None
    web2.user = None  # signed out: its CSRF token now comes from the sign-in page
    attempt = web2.post("/login", {"email": squatter.email, "password": PASSWORD})
    assert attempt.status_code == 401
    assert signed_in_as(web2) is None


def test_takeover_revokes_what_the_unproven_account_set_up(
    app: Flask, web: Web, oidc: OIDCProvider
) -> None:
    """API keys and integrations made by the squatter stop working when the owner arrives."""
    squatter = make_user(app, unique_email("victim"))
    with app.app_context():
        team = create_workspace(squatter.id, "Squat", f"squat-{uuid.uuid4().hex[:8]}")
        with workspace_scope(team.id):
            _key, raw = create_api_key("exfiltrate", squatter.id)
            db.session.add(PluginSetting(plugin="webhooks", enabled=True, config={}))
            db.session.commit()
    client = app.test_client()
    bearer = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/v1/workspace", headers=bearer).status_code == 200

    resp = google_flow(web, oidc, google_identity(email=squatter.email))

    assert resp.status_code == 302
    assert client.get("/api/v1/workspace", headers=bearer).status_code == 401
    with app.app_context(), workspace_scope(team.id):
        assert db.session.scalar(select(PluginSetting.enabled)) is False


@pytest.mark.parametrize("verified", [False, "false"])  # some providers send strings
def test_unverified_google_email_is_refused(
    app: Flask, web: Web, oidc: OIDCProvider, verified: bool | str
) -> None:
    identity = google_identity(email_verified=verified)
    resp = google_flow(web, oidc, identity)

    refused(web, resp, UNVERIFIED_GOOGLE)
    assert user_count(app, identity.email) == 0
    assert identities_of(app, identity.sub) == []


def test_unverified_google_email_cannot_claim_an_existing_account(
    app: Flask, web: Web, oidc: OIDCProvider
) -> None:
    owner = make_user(app, unique_email("owner"))
    identity = google_identity(email=owner.email, email_verified=False)
    resp = google_flow(web, oidc, identity)

    refused(web, resp, UNVERIFIED_GOOGLE)
    assert identities_of(app, identity.sub) == []
    after = load_user(app, owner.email)
    assert after.password_hash == owner.password_hash
    assert after.session_version == owner.session_version
    fresh = Web(app, remote_addr="10.250.0.2")
    fresh.login(owner)


# -- forged, replayed and broken callbacks --------------------------------------------------


def test_wrong_state_is_refused_before_the_code_is_spent(
    app: Flask, web: Web, oidc: OIDCProvider
) -> None:
    identity = google_identity()
    oidc.sign_in_as(identity)
    callback = urlsplit(at_provider(begin(web)))
    params = {k: v[0] for k, v in parse_qs(callback.query).items()}
    params["state"] = "forged-" + params["state"]

    resp = web.get(f"{callback.path}?{urlencode(params)}")

    refused(web, resp, NOT_COMPLETED)
    assert oidc.token_requests == []  # the code was never even exchanged
    assert user_count(app, identity.email) == 0


def test_callback_from_another_browser_is_refused(
    app: Flask, web: Web, web2: Web, oidc: OIDCProvider
) -> None:
    # Login CSRF: an attacker's own code and state, planted in the victim's browser.
    identity = google_identity()
    oidc.sign_in_as(identity)
    attackers_callback = at_provider(begin(web2))

    resp = web.get(attackers_callback)

    refused(web, resp, NOT_COMPLETED)
    assert oidc.token_requests == []
    assert user_count(app, identity.email) == 0


def test_replayed_callback_gives_no_session(
    app: Flask, web: Web, web2: Web, oidc: OIDCProvider
) -> None:
    identity = google_identity()
    oidc.sign_in_as(identity)
    started = begin(web)
    # A copy of the browser's cookie as it is mid-flow (state, nonce, verifier inside).
    cookie = web.client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    callback = at_provider(started)
    assert web.get(callback).headers["Location"].endswith(WELCOME)
    assert web.post(WELCOME, {"age_13": "on"}).status_code == 302
    assert signed_in_as(web) == identity.email

    # Replayed in a browser without the state: refused before reaching the provider.
    refused(web2, web2.get(callback), NOT_COMPLETED)
    assert len(oidc.token_requests) == 1

    # Replayed with the stolen mid-flow cookie: the provider refuses the spent code.
    thief = Web(app, remote_addr="10.250.0.3")
    thief.client.set_cookie(
        cookie.key, cookie.value, domain=cookie.domain, path=cookie.path, secure=cookie.secure
    )
    refused(thief, thief.get(callback), NOT_COMPLETED)
    assert len(oidc.token_requests) == 2
    assert user_count(app, identity.email) == 1


@pytest.mark.parametrize(
    "fault",
    [
        Fault.WRONG_NONCE,
        Fault.WRONG_AUDIENCE,
        Fault.WRONG_ISSUER,
        Fault.EXPIRED,
        Fault.BAD_SIGNATURE,
        Fault.UNSIGNED,
        Fault.NO_ID_TOKEN,
    ],
)
def test_bad_id_token_is_refused(app: Flask, web: Web, oidc: OIDCProvider, fault: Fault) -> None:
    identity = google_identity()
    oidc.misbehave(fault)

    resp = google_flow(web, oidc, identity)

    refused(web, resp, NOT_COMPLETED)
    assert len(oidc.token_requests) == 1  # refused after the exchange, on the ID token
    assert user_count(app, identity.email) == 0
    assert identities_of(app, identity.sub) == []


def test_bad_id_token_does_not_touch_an_existing_account(
    app: Flask, web: Web, oidc: OIDCProvider
) -> None:
    squatted = make_user(app, unique_email("kept"))
    oidc.misbehave(Fault.BAD_SIGNATURE)

    refused(web, google_flow(web, oidc, google_identity(email=squatted.email)), NOT_COMPLETED)

    after = load_user(app, squatted.email)
    assert after.password_hash == squatted.password_hash
    assert after.email_verified_at is None
    assert after.session_version == squatted.session_version


def test_user_cancelling_at_the_provider(app: Flask, web: Web, oidc: OIDCProvider) -> None:
    refused(web, google_flow(web, oidc, None), CANCELLED)
    assert oidc.token_requests == []


@pytest.mark.parametrize("fault", [Fault.TOKEN_HANGUP, Fault.TOKEN_UNAVAILABLE])
def test_provider_failing_at_the_token_endpoint(
    app: Flask, web: Web, oidc: OIDCProvider, fault: Fault
) -> None:
    identity = google_identity()
    oidc.misbehave(fault)

    refused(web, google_flow(web, oidc, identity), UNREACHABLE)
    assert user_count(app, identity.email) == 0


def test_provider_unreachable_at_start(app_env: dict[str, str], app: Flask) -> None:
    # Another app in the same process, whose provider is down; the session app's own Google
    # client must be untouched by it (one authlib registry per app).
    dead = OIDCProvider()
    dead_url = dead.metadata_url
    dead.stop()  # bound, never served: connections are refused
    other = create_app(load_settings(google_metadata_url=dead_url))
    try:
        web = Web(other, remote_addr="10.250.0.4")
        resp = web.get("/auth/google/")
        refused(web, resp, UNREACHABLE)
    finally:
        other.extensions["verbatim.engine"].dispose()
    assert app.extensions["verbatim.google"] is not other.extensions["verbatim.google"]


def test_session_app_still_signs_in_after_another_app_was_built(
    app: Flask, web: Web, oidc: OIDCProvider
) -> None:
    other = create_app(
        load_settings(google_client_id="another-client", google_metadata_url="http://x.invalid")
    )
    other.extensions["verbatim.engine"].dispose()
    identity = google_identity()
    assert google_flow(web, oidc, identity).status_code == 302
    assert signed_in_as(web) == identity.email
