"""Export all of my data, on the privacy page: ask for one (POST), download it when ready.

The form lives in templates/privacy/_export.html (included by the privacy page); asking
redirects back there with a message. Downloads are the signed-in person's own exports
only: anyone else's id answers 404, an expired one 410.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf.csrf import CSRFError

from app.errors import ServiceError
from app.extensions import db, limiter
from app.privacy import exports
from app.transcripts.exports.filenames import content_disposition

bp = Blueprint("privacy_export", __name__, url_prefix="/account/privacy/exports")


def _back() -> Any:
    return redirect(url_for("privacy.page") + "#privacy-export")


def _person_key() -> str:
    return f"privacy-export:{current_user.get_id()}"


def _error_page(status: int, message: str) -> Any:
    return render_template("errors/error.html", status=status, message=message), status


@bp.errorhandler(CSRFError)
def _csrf(_e: CSRFError) -> Any:
    flash(_("This page expired or came from another site. Reload it and try again."), "error")
    return _back()


# Flask-Limiter adds Retry-After to this response.
bp.register_error_handler(
    429, lambda _e: _error_page(429, _("Too many export requests. Wait a while and try again."))
)


@bp.post("")
@login_required
@limiter.limit("10 per hour", key_func=_person_key)
def create() -> Any:
    """Ask for an export; JSON is always in, the checked formats are added."""
    try:
        exports.request_export(current_user, request.form.getlist("formats"))
    except ServiceError as e:
        db.session.rollback()
        flash(e.message, "error")
        return _back()
    flash(
        _("Your export is being prepared. We will email you when it is ready to download."),
        "success",
    )
    return _back()


@bp.get("/<uuid:export_id>/download")
@login_required
def download(export_id: uuid.UUID) -> Any:
    try:
        found = exports.open_download(current_user.id, export_id)
    except ServiceError as e:
        db.session.rollback()
        return _error_page(e.status, e.message)
    return zip_response(found)


def zip_response(found: exports.Download) -> Response:
    """The decrypted zip, streamed as it is read (pages and the API)."""
    response = Response(found.chunks, content_type="application/zip")
    response.headers["Content-Disposition"] = content_disposition(found.filename)
    response.headers["Content-Length"] = str(found.size)
    # Personal data: no shared cache may keep it.
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
