"""Google sign-in: authlib's OIDC client, configured from the provider's metadata URL.

authlib keeps state, nonce and the PKCE verifier in the session and checks them on the
callback; the ID token's signature, issuer, audience, expiry and nonce are verified against
the provider's JWKS before any account is touched. Any failure on the way ends at the
sign-in page with a message, and no session.
"""

from __future__ import annotations

import time
from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import OAuth
from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from joserfc.errors import JoseError

from app.auth import services
from app.auth.models import User
from app.auth.routes import start_session
from app.errors import ServiceError
from app.extensions import limiter
from app.privacy import analytics
from app.settings import settings

bp = Blueprint("google", __name__, url_prefix="/auth/google")

_CLIENT = "verbatim.google"
UNREACHABLE = _l("Google could not be reached. Please try again in a moment.")
NOT_COMPLETED = _l("Google sign-in did not complete. Please try again.")
CANCELLED = _l("Google sign-in was cancelled.")
EXPIRED = _l("That took too long; sign in with Google again.")

# A first Google sign-in waits here (the verified claims, in the signed session cookie)
# while the person confirms their age; after PENDING_SECONDS they start again.
PENDING = "google_pending"
PENDING_SECONDS = 600

# What a bad, forged, replayed or unanswered callback raises: authlib's own errors (state,
# the provider's error answers), joserfc's (signature and claims of the ID token), requests'
# (provider down or answering garbage) and ValueError (a token answer that is not JSON).
_NETWORK_ERRORS = (requests.RequestException,)
_PROTOCOL_ERRORS = (AuthlibBaseError, JoseError, ValueError)


def register_google(app: Flask) -> None:
    cfg = app.extensions["verbatim.settings"]
    if not cfg.google_client_id:
        return
    # One registry per app: authlib's registry caches the first client it builds, so a
    # shared one would keep the first app's provider for every later app in the process.
    registry = OAuth(app)
    app.extensions[_CLIENT] = registry.register(
        "google",
        client_id=cfg.google_client_id,
        client_secret=cfg.google_client_secret,
        server_metadata_url=cfg.google_metadata_url,
        client_kwargs={
            "scope": "openid email profile",
            "code_challenge_method": "S256",  # PKCE on top of the client secret
            "default_timeout": cfg.outbound_timeout_seconds,
        },
        overwrite=True,  # these settings win over any GOOGLE_* keys in app.config
    )


def _client() -> Any:
    client = current_app.extensions.get(_CLIENT)
    if client is None:
        abort(404)
    return client


def _fail(message: str | LazyString, error: Exception | None = None) -> Any:
    if error is not None:
        current_app.logger.warning("google sign-in failed: %s: %s", type(error).__name__, error)
    flash(str(message), "error")  # in the asker's language
    return redirect(url_for("auth.login"))


@bp.get("/")
@limiter.limit(lambda: settings().ratelimit_login)
def start() -> Any:
    client = _client()
    # authlib adds an entry per start to the cookie session and prunes them only after an
    # hour: abandoned starts would grow the cookie past what browsers keep. Only the newest
    # attempt counts.
    for key in [k for k in session if k.startswith("_state_google_")]:
        session.pop(key)
    redirect_uri = settings().base_url.rstrip("/") + url_for("google.callback")
    try:
        return client.authorize_redirect(redirect_uri)
    except _NETWORK_ERRORS as e:  # the discovery document could not be fetched
        return _fail(UNREACHABLE, e)


@bp.get("/callback")
@limiter.limit(lambda: settings().ratelimit_login)
def callback() -> Any:
    client = _client()
    try:
        token = client.authorize_access_token()
    except _NETWORK_ERRORS as e:
        return _fail(UNREACHABLE, e)
    except _PROTOCOL_ERRORS as e:
        cancelled = getattr(e, "error", None) == "access_denied"
        return _fail(CANCELLED if cancelled else NOT_COMPLETED, e)
    # Only claims from a verified ID token count; a token answer without one is refused.
    claims = token.get("userinfo") or {}
    if not claims.get("sub"):
        return _fail(NOT_COMPLETED)
    identity = {
        "sub": str(claims["sub"]),
        "email": str(claims.get("email", "")),
        # A real boolean (or the string some providers send); bool("false") is True.
        "verified": claims.get("email_verified") in (True, "true"),
        "name": str(claims.get("name", "")),
    }
    try:
        user = _sign_in(identity, age_confirmed=False)
    except ServiceError as e:
        return _fail(e.message)
    if user is None:  # a new account: it asks what the sign-up form asks first
        session[PENDING] = {**identity, "at": int(time.time())}
        return redirect(url_for("google.welcome"))
    start_session(user)
    return redirect(url_for("web.index"))


def _sign_in(identity: dict[str, Any], *, age_confirmed: bool) -> User | None:
    """The account of the identity; None while a new one waits for the age confirmation."""
    return services.sign_in_with_oidc(
        "google",
        identity["sub"],
        identity["email"],
        bool(identity["verified"]),
        identity["name"],
        age_confirmed=age_confirmed,
    )


def _pending() -> dict[str, Any] | None:
    pending = session.get(PENDING)
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        session.pop(PENDING, None)
        return None
    return pending


@bp.get("/welcome")
def welcome() -> Any:
    pending = _pending()
    if pending is None:
        return _fail(EXPIRED)
    return render_template("auth/google_welcome.html", email=pending["email"], form={})


@bp.post("/welcome")
@limiter.limit(lambda: settings().ratelimit_login)
def create_account() -> Any:
    pending = _pending()
    if pending is None:
        return _fail(EXPIRED)
    try:
        services.check_age_confirmed(request.form.get("age_13") == "on")
    except ServiceError as error:
        return render_template(
            "auth/google_welcome.html", email=pending["email"], form=request.form, error=error
        ), 422
    try:
        user = _sign_in(pending, age_confirmed=True)
    except ServiceError as e:
        session.pop(PENDING, None)
        return _fail(e.message)
    assert user is not None
    if request.form.get("analytics") == "on":
        analytics.set_consent(user, True)
    start_session(user)  # clears the session, the pending claims with it
    return redirect(url_for("web.index"))
