"""Google sign-in: authlib's OIDC client, configured from the provider's metadata URL.

authlib keeps state and nonce in the session and checks both on the callback; the ID
token's signature, issuer, audience, expiry and nonce are verified against the provider's
JWKS before any account is touched.
"""

from __future__ import annotations

from typing import Any

from authlib.integrations.base_client.errors import OAuthError
from flask import Blueprint, Flask, abort, flash, redirect, url_for

from app.auth import services
from app.auth.routes import start_session
from app.errors import ServiceError
from app.extensions import limiter, oauth
from app.settings import settings

bp = Blueprint("google", __name__, url_prefix="/auth/google")


def register_google(app: Flask) -> None:
    cfg = app.extensions["verbatim.settings"]
    if not cfg.google_client_id:
        return
    oauth.register(
        "google",
        client_id=cfg.google_client_id,
        client_secret=cfg.google_client_secret,
        server_metadata_url=cfg.google_metadata_url,
        client_kwargs={"scope": "openid email profile"},
        overwrite=True,
    )


def _client() -> Any:
    if not settings().google_client_id:
        abort(404)
    return oauth.create_client("google")


@bp.get("/")
@limiter.limit(lambda: settings().ratelimit_login)
def start() -> Any:
    redirect_uri = settings().base_url.rstrip("/") + url_for("google.callback")
    return _client().authorize_redirect(redirect_uri)


@bp.get("/callback")
@limiter.limit(lambda: settings().ratelimit_login)
def callback() -> Any:
    client = _client()
    try:
        token = client.authorize_access_token()
    except OAuthError:
        flash("Google sign-in did not complete. Please try again.", "error")
        return redirect(url_for("auth.login"))
    claims = token.get("userinfo") or {}
    if not claims.get("sub"):
        flash("Google sign-in did not complete. Please try again.", "error")
        return redirect(url_for("auth.login"))
    try:
        user = services.sign_in_with_oidc(
            "google",
            str(claims["sub"]),
            str(claims.get("email", "")),
            bool(claims.get("email_verified")),
            str(claims.get("name", "")),
        )
    except ServiceError as e:
        flash(e.message, "error")
        return redirect(url_for("auth.login"))
    start_session(user)
    return redirect(url_for("web.index"))
