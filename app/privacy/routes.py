"""The person's privacy page (/account/privacy): what is stored about them, and the
sections each part of privacy adds (analytics consent, language, Voice Lab, export); and
deleting the account."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user

from app.errors import ServiceError
from app.extensions import limiter
from app.privacy import analytics, deletion, exports, inventory, voice_lab
from app.settings import settings

bp = Blueprint("privacy", __name__)


def _page(status: int = 200, error: ServiceError | None = None) -> Any:
    user = current_user._get_current_object()
    return render_template(
        "privacy/index.html",
        stored=inventory.of(user),
        owned=deletion.blockers(user.id),
        analytics=analytics.page_context(user),
        export=exports.page_context(user),
        voice_lab=voice_lab.page_context(user),
        languages=settings().language_list,
        error=error,
    ), status


@bp.get("/account/privacy")
@login_required
def page() -> Any:
    return _page()


@bp.post("/account/privacy/delete")
@login_required
# The password is checked here: as guessable as the sign-in form.
@limiter.limit(lambda: settings().ratelimit_login)
def delete_account() -> Any:
    try:
        deletion.request_deletion(
            current_user._get_current_object(),
            password=request.form.get("password", ""),
            confirm=request.form.get("confirm", ""),
        )
    except ServiceError as e:
        return _page(e.status, e)
    logout_user()
    flash(_("Your account and everything in it were deleted. Goodbye."), "success")
    return redirect(url_for("web.index"))
