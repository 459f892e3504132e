"""Private Transcript on the person's account: /account/private.

The page (templates/private/account.html, static/js/private/account.js) does the
cryptography in the browser; these routes store what it sends. The JSON endpoints answer
JSON errors ({"error": message}); the default toggle and reset also work as plain forms
that redirect back to the page with a message.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf.csrf import CSRFError

from app.errors import BadRequest, ServiceError
from app.extensions import db, limiter
from app.private import keyrings
from app.private.models import PrivateKeyring
from app.settings import settings

bp = Blueprint("private_account", __name__, url_prefix="/account/private")

_JSON_ENDPOINTS = frozenset(
    {"private_account.keyring", "private_account.create", "private_account.update_keys"}
)


def _current_keyring() -> PrivateKeyring | None:
    """For templates (the account page's summary): the signed-in person's keyring."""
    if not current_user.is_authenticated:
        return None
    return keyrings.get(current_user.id)


bp.add_app_template_global(_current_keyring, "private_keyring")


def _wants_json() -> bool:
    return (
        request.endpoint in _JSON_ENDPOINTS
        or request.is_json
        or request.accept_mimetypes.best == "application/json"
    )


def _refusal(status: int, message: str) -> Any:
    if _wants_json():
        return jsonify(error=message), status
    flash(message, "error")
    return redirect(url_for("private_account.page"))


@bp.errorhandler(ServiceError)
def _service_error(e: ServiceError) -> Any:
    db.session.rollback()
    return _refusal(e.status, e.message)


@bp.errorhandler(CSRFError)
def _csrf(_e: CSRFError) -> Any:
    return _refusal(400, _("This page expired or came from another site. Reload it and try again."))


def _limit(status: int, message: str) -> Any:
    if _wants_json():
        return jsonify(error=message), status
    return render_template("errors/error.html", status=status, message=message), status


# Flask-Limiter adds Retry-After to this response.
bp.register_error_handler(
    429, lambda _e: _limit(429, _("Too many attempts. Wait a minute and try again."))
)
bp.register_error_handler(413, lambda _e: _limit(413, _("That is too large for a keyring.")))


def _payload() -> Any:
    """The JSON body, or None when it is not JSON (the service then says what it wants)."""
    return request.get_json(silent=True)


def _user_key() -> str:
    return f"private-keys:{current_user.id}"


@bp.get("")
@login_required
def page() -> Any:
    keyring = keyrings.get(current_user.id)
    return render_template(
        "private/account.html",
        keyring=keyring,
        owned=keyrings.owned_count(current_user.id) if keyring else 0,
        iterations=settings().private_kdf_iterations,
    )


@bp.get("/keyring")
@login_required
def keyring() -> Any:
    found = keyrings.get(current_user.id)
    if found is None:
        return jsonify(
            error=_("Private Transcript is not turned on for your account."),
            iterations=settings().private_kdf_iterations,
        ), 404
    return jsonify(keyrings.to_json(found))


@bp.post("/keyring")
@login_required
def create() -> Any:
    created = keyrings.create(current_user.id, _payload())
    return jsonify(keyrings.to_json(created)), 201


# Only wrong proofs count, per person and per address: the proof is 256 bits and cannot be
# guessed, but an endpoint that checks a secret is throttled like the sign-in form anyway.
@bp.post("/keys")
@login_required
@limiter.limit(lambda: settings().ratelimit_login, deduct_when=lambda r: r.status_code == 403)
@limiter.limit(
    lambda: settings().ratelimit_login,
    key_func=_user_key,
    deduct_when=lambda r: r.status_code == 403,
)
def update_keys() -> Any:
    updated = keyrings.update_keys(current_user.id, _payload())
    return jsonify(keyrings.to_json(updated))


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value or "").strip().lower()
    if text in ("1", "true", "on", "yes"):
        return True
    if text in ("", "0", "false", "off", "no"):
        return False
    raise BadRequest("private_by_default must be true or false.")


@bp.post("/default")
@login_required
def set_default() -> Any:
    if request.is_json:
        body = _payload()
        if not isinstance(body, dict) or "private_by_default" not in body:
            raise BadRequest("Send private_by_default: true or false.")
        value = body["private_by_default"]
        if not isinstance(value, bool):
            raise BadRequest("private_by_default must be true or false.")
    else:
        # An unchecked checkbox sends nothing: absent means off.
        value = _flag(request.form.get("private_by_default"))
    updated = keyrings.set_default(current_user.id, value)
    if request.is_json:
        return jsonify(private_by_default=updated.private_by_default)
    flash(
        _("New transcripts are private unless you choose otherwise.")
        if updated.private_by_default
        else _("New transcripts are not private unless you choose so when uploading."),
        "success",
    )
    return redirect(url_for("private_account.page"))


@bp.post("/reset")
@login_required
def reset() -> Any:
    if request.is_json:
        body = _payload()
        confirm = body.get("confirm", "") if isinstance(body, dict) else ""
    else:
        confirm = request.form.get("confirm", "")
    keyrings.reset(current_user.id, str(confirm).strip())
    message = _(
        "Private Transcript was reset. Transcripts made private before cannot be opened again."
    )
    if request.is_json:
        return jsonify(reset=True, message=message)
    flash(message, "success")
    return redirect(url_for("private_account.page"))
