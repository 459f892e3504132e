"""Sign-up, sign-in, sign-out, password reset and email verification pages."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from app.auth import services
from app.errors import ServiceError
from app.extensions import limiter
from app.forms import field
from app.privacy import analytics
from app.settings import settings

bp = Blueprint("auth", __name__)


def safe_next(target: str | None) -> str:
    """Only same-site paths: '/x' yes; '//evil', 'https://evil', '/\\evil' no.

    Backslashes, spaces and control characters are refused too: browsers read '/\\evil'
    and '/<tab>/evil' as '//evil'.
    """
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and all(ch.isprintable() and not ch.isspace() for ch in target)
    ):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("web.index")


def _session_lifetime() -> int:
    return int(current_app.permanent_session_lifetime.total_seconds())


def start_session(user: Any) -> None:
    # A fresh session at sign-in: nothing from before (fixation) carries over, and the
    # cookie it replaces stops working.
    services.end_session(session.get("sid"), _session_lifetime())
    session.clear()
    session["sid"] = services.new_session_id()
    login_user(user)


def end_session() -> None:
    services.end_session(session.get("sid"), _session_lifetime())
    logout_user()
    session.clear()


def _login_limit() -> str:
    return settings().ratelimit_login


def _email_key() -> str:
    # Per account as well as per address: spreading attempts over many IPs does not help.
    # Hashed: the counter lives in Redis, where an address must not be kept.
    email = (request.form.get("email") or "").strip().lower()
    return "email:" + hashlib.sha256(email.encode()).hexdigest()[:32]


def _google_enabled() -> bool:
    return bool(settings().google_client_id)


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def signup() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("web.index"))
    if request.method == "POST":
        try:
            services.check_age_confirmed(request.form.get("age_13") == "on")
            user = services.sign_up(
                field("email"), request.form.get("password", ""), field("name"), age_confirmed=True
            )
            if request.form.get("analytics") == "on":
                analytics.set_consent(user, True)
        except ServiceError as e:
            return render_template(
                "auth/signup.html", error=e, form=request.form, google=_google_enabled()
            ), 422
        next_url = safe_next(request.args.get("next"))  # e.g. back to an invitation
        start_session(user)
        flash(_("Welcome to Verbatim. We sent you a link to confirm your email."), "success")
        return redirect(next_url)
    return render_template("auth/signup.html", form={}, google=_google_enabled())


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@limiter.limit(_login_limit, methods=["POST"], key_func=_email_key)
def login() -> Any:
    if request.method == "POST":
        user = services.authenticate(field("email"), request.form.get("password", ""))
        if user is None:
            error = ServiceError(_("That email and password do not match an account."))
            return render_template(
                "auth/login.html", error=error, form=request.form, google=_google_enabled()
            ), 401
        next_url = safe_next(request.args.get("next"))
        start_session(user)
        return redirect(next_url)
    if current_user.is_authenticated:
        return redirect(url_for("web.index"))
    return render_template("auth/login.html", form={}, google=_google_enabled())


@bp.post("/logout")
@login_required
def logout() -> Any:
    end_session()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/forgot", methods=["GET", "POST"])
@limiter.limit(lambda: settings().ratelimit_reset, methods=["POST"])
@limiter.limit(lambda: settings().ratelimit_reset, methods=["POST"], key_func=_email_key)
def forgot() -> Any:
    if request.method == "POST":
        try:
            email = services.normalize_email(field("email"))
        except ServiceError as e:
            return render_template("auth/forgot.html", error=e, form=request.form), 422
        services.request_password_reset(email)
        return render_template("auth/forgot.html", sent=True, form={})
    return render_template("auth/forgot.html", form={})


@bp.route("/reset/<token>", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def reset_password(token: str) -> Any:
    if request.method == "POST":
        try:
            user = services.reset_password(token, request.form.get("password", ""))
        except ServiceError as e:
            if e.field == "password":  # the link is still good: let them try again
                return render_template("auth/reset.html", error=e, token=token), 422
            return render_template("auth/reset.html", error=e, token=None), 410
        start_session(user)
        flash(_("Your password is changed; other sessions were signed out."), "success")
        return redirect(url_for("web.index"))
    try:
        services.check_reset_token(token)
    except ServiceError as e:
        return render_template("auth/reset.html", error=e, token=None), 410
    return render_template("auth/reset.html", token=token)


@bp.get("/verify/<token>")
def verify_email(token: str) -> Any:
    try:
        services.verify_email(token)
    except ServiceError as e:
        return render_template("errors/error.html", status=410, message=e.message), 410
    flash(_("Your email address is confirmed."), "success")
    return redirect(url_for("web.index"))
