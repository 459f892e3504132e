"""Opting in to and out of usage analytics (a section of /account/privacy)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.privacy import analytics

bp = Blueprint("privacy_analytics", __name__)


@bp.post("/account/privacy/analytics")
@login_required
def update() -> Any:
    on = request.form.get("consent") == "on"
    analytics.set_consent(current_user._get_current_object(), on)
    if on:
        flash(_("Usage analytics are on. Thank you."), "success")
    else:
        flash(_("Usage analytics are off, and the events kept about you were deleted."), "success")
    return redirect(url_for("privacy.page") + "#privacy-analytics")
