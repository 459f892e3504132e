"""The public, read-only page behind a share link: /s/<token>.

No sign-in and no workspace in the URL: the token finds the link (sharing.resolve), and the
rest of the request runs in the link's workspace. Unknown, revoked and expired links all
answer the same 404. Every response here carries no-referrer (the token is in the URL),
no-store and noindex.

A password-protected link shows a form; the right password unlocks that one link in this
browser's session for UNLOCK_SECONDS. Wrong passwords are rate limited per link and client
address; only wrong ones count, so a visitor who gets it right is not slowed down.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import validate_csrf
from werkzeug.exceptions import HTTPException
from wtforms import ValidationError

from app.errors import Forbidden, ServiceError
from app.extensions import csrf, db, limiter
from app.security.tokens import hash_token
from app.settings import settings
from app.tenants.context import enter_workspace
from app.transcripts import services, sharing
from app.transcripts.exports.responses import download as file_response
from app.transcripts.exports.service import export_one, formats
from app.transcripts.models import ShareLink
from app.transcripts.render import stamp
from app.transcripts.routes import hms
from app.transcripts.sharing import Resolved, WrongPassword

bp = Blueprint("public_share", __name__, url_prefix="/s")

UNLOCK_SECONDS = 12 * 3600
MAX_UNLOCKS = 20  # links remembered per session; the cookie stays small
_UNLOCKS = "share_unlocks"
HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
}


@bp.after_request
def _private_headers(resp: Response) -> Response:
    # Set before the app-wide headers, which only fill in what is missing.
    resp.headers.update(HEADERS)
    return resp


def _message(status: int, heading: str, message: str) -> Any:
    return render_template("shares/message.html", heading=heading, message=message), status


@bp.errorhandler(404)
def _gone(_e: HTTPException) -> Any:
    return _message(404, _("Not available"), str(sharing.GONE))


@bp.errorhandler(ServiceError)
def _refused(e: ServiceError) -> Any:
    db.session.rollback()
    heading = {403: _("Not allowed"), 404: _("Not available")}.get(e.status) or _(
        "That did not work"
    )
    return _message(e.status, heading, e.message)


@bp.errorhandler(429)
def _limited(_e: HTTPException) -> Any:
    # Flask-Limiter adds Retry-After to this response.
    return _message(
        429,
        _("Too many attempts"),
        _(
            "Too many wrong passwords for this link from your address. Wait a few minutes "
            "(at most 15) and try again."
        ),
    )


def _attempt_key() -> str:
    token = (request.view_args or {}).get("token", "")
    return f"share-pw:{hash_token(token)[:32]}:{get_remote_address()}"


def _open(token: str) -> Resolved:
    found = sharing.resolve(token)
    enter_workspace(found.link.workspace_id)  # for the rest of this request
    return found


# --- Unlocking ---------------------------------------------------------------------------------


def _unlocked(link: ShareLink) -> bool:
    if link.password_hash is None:
        return True
    until = (session.get(_UNLOCKS) or {}).get(str(link.id))
    return isinstance(until, int | float) and until > time.time()


def _remember_unlock(link: ShareLink) -> None:
    now = time.time()
    kept = {
        key: until
        for key, until in (session.get(_UNLOCKS) or {}).items()
        if isinstance(until, int | float) and until > now
    }
    kept[str(link.id)] = now + UNLOCK_SECONDS
    newest = sorted(kept.items(), key=lambda item: item[1])[-MAX_UNLOCKS:]
    session[_UNLOCKS] = dict(newest)


def _locked(token: str, status: int = 200, error: ServiceError | None = None) -> Any:
    # Not even the title shows before the password is given.
    return render_template("shares/locked.html", token=token, error=error), status


# --- Pages -------------------------------------------------------------------------------------


@bp.get("/<token>")
def show(token: str) -> Any:
    found = _open(token)
    if not _unlocked(found.link):
        return _locked(token)
    sharing.record_open(found.link)
    t = found.transcript
    speakers = services.speakers(t)
    return render_template(
        "shares/public.html",
        token=token,
        t=t,
        segments=services.segments(t),
        speakers=speakers,
        names={label: s.name for label, s in speakers.items()},
        downloads=formats() if found.link.allow_download else (),
        hms=hms,
        stamp=stamp,
    )


@bp.post("/<token>")
@csrf.exempt  # checked below without the Referer rule: no-referrer pages send none
@limiter.limit(
    lambda: settings().ratelimit_share_password,  # wrong passwords, per link and address
    key_func=_attempt_key,
    deduct_when=lambda resp: resp.status_code == WrongPassword.status,
)
def unlock(token: str) -> Any:
    found = _open(token)
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        error = ServiceError(_("This form expired. Reload the page and try again."))
        return _locked(token, 400, error)
    if found.link.password_hash is not None:
        try:
            sharing.unlock(found.link, request.form.get("password") or "")
        except WrongPassword as e:
            return _locked(token, e.status, e)
        _remember_unlock(found.link)
    return redirect(url_for(".show", token=token), 303)


@bp.get("/<token>/export/<fmt>")
def download(token: str, fmt: str) -> Any:
    """A file of the transcript, when the link allows downloads.

    Downloads turned off answer 403, not 404: whoever holds the link already sees the page
    (and that it offers no downloads), so saying so hides nothing and explains the refusal.
    """
    found = _open(token)
    if not _unlocked(found.link):
        return redirect(url_for(".show", token=token), 303)
    if not found.link.allow_download:
        raise Forbidden(_("Downloads are turned off for this link."))
    # Default options: the file as the page shows it (times and speaker names).
    return file_response(export_one(found.transcript.id, fmt, None))
