"""The language switcher: POST /language (form: language, next)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, redirect, request
from flask_login import current_user

from app.auth.routes import safe_next
from app.i18n import services, set_language_cookie

bp = Blueprint("language", __name__)


@bp.post("/language")
def switch() -> Any:
    code = services.check_language(request.form.get("language"))
    if current_user.is_authenticated:
        services.set_user_language(current_user, code)
    response = redirect(safe_next(request.form.get("next") or _referring_path()))
    set_language_cookie(response, code)
    return response


def _referring_path() -> str | None:
    """Back to the page the switcher was on. Pages do not carry their own address in the
    form (a 404 page must not differ by the address asked for); Referrer-Policy
    same-origin sends it on our own forms."""
    if not request.referrer:
        return None
    ref = urlsplit(request.referrer)
    if ref.netloc != request.host:
        return None
    return ref.path + (f"?{ref.query}" if ref.query else "")
