"""Voice Lab pages: a person's contributions (/account/voice-lab) and the operators'
releases (/operator/voice-lab; 404 for everyone else). The service is
app/privacy/voice_lab.py; giving a recording is an option of the upload page."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.errors import ServiceError
from app.extensions import db
from app.privacy import voice_lab
from app.privacy.operators import operator_required
from app.transcripts.exports.filenames import content_disposition

bp = Blueprint("voice_lab", __name__)

# The upload page (templates/transcripts/new.html) shows the wording in force.
bp.add_app_template_global(voice_lab.consent, "voice_lab_consent")


def _back() -> str:
    """Back to the page the form was on: one of the account's own pages, never elsewhere."""
    target = request.form.get("next", "")
    if target.startswith("/account/") and "//" not in target and "\\" not in target:
        return target
    return url_for("voice_lab.page")


@bp.get("/account/voice-lab")
@login_required
def page() -> Any:
    return render_template("voice_lab/page.html", voice_lab=voice_lab.page_context(current_user))


@bp.post("/account/voice-lab/withdraw")
@login_required
def withdraw() -> Any:
    try:
        c = voice_lab.withdraw(current_user.id, request.form.get("contribution_id", ""))
    except ServiceError as e:
        db.session.rollback()
        flash(e.message, "error")
        return redirect(_back())
    flash(
        _(
            "Withdrawn. It will be listed as withdrawn in the next release; copies already "
            "published cannot be recalled."
        )
        if c.status == "withdrawn"
        else _("Withdrawn. The recording, its key and its text are deleted."),
        "success",
    )
    return redirect(_back())


@bp.get("/operator/voice-lab")
@operator_required
def operator_page() -> Any:
    return render_template("voice_lab/operator.html", overview=voice_lab.overview())


@bp.post("/operator/voice-lab/releases")
@operator_required
def cut_release() -> Any:
    try:
        release = voice_lab.cut_release(current_user.id)
    except ServiceError as e:
        db.session.rollback()
        flash(e.message, "error")
        return redirect(url_for("voice_lab.operator_page"))
    flash(
        _(
            "Release %(number)d cut: %(count)d recording(s).",
            number=release.number,
            count=release.contributions,
        ),
        "success",
    )
    return redirect(url_for("voice_lab.operator_page"))


@bp.get("/operator/voice-lab/releases/<int:number>.zip")
@operator_required
def download_release(number: int) -> Any:
    try:
        release = voice_lab.release_zip(number)
    except ServiceError:
        db.session.rollback()
        abort(404)
    # Streamed: each clip is decrypted as the previous one's bytes go out.
    response = Response(stream_with_context(release.chunks), content_type=release.media_type)
    response.headers["Content-Disposition"] = content_disposition(release.filename)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
