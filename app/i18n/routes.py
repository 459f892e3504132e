"""The language switcher: POST /language (form: language, and optionally next)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, redirect, request
from flask_login import current_user

from app.auth.routes import safe_next
from app.i18n import services, set_language_cookie

bp = Blueprint("language", __name__)


def _back() -> str:
    """Where to go after switching: `next`, else the page the form was on (the Referer,
    same host only); safe_next refuses anything that would leave the site.

    The pages carry no `next` of their own: a path in every page's body would make another
    workspace's refusal read differently from a missing page's (tests/tenancy)."""
    target = request.form.get("next")
    if not target and request.referrer:
        parts = urlsplit(request.referrer)
        if parts.netloc == request.host:
            target = parts.path + (f"?{parts.query}" if parts.query else "")
    return safe_next(target)


@bp.post("/language")
def switch() -> Any:
    code = services.check_language(request.form.get("language"))
    if current_user.is_authenticated:
        services.set_user_language(current_user, code)
    response = redirect(_back())
    set_language_cookie(response, code)
    return response
