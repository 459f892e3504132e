"""A private transcript's page and ciphertext, for its owner's browser.

GET gives the envelope as stored; PUT replaces it with the browser's re-encrypted edit,
conditional on the revision it was based on (If-Match), so two tabs cannot overwrite
each other unseen.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, Response, g, jsonify, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from app.errors import BadRequest, Forbidden, ServiceError, refusal_status
from app.extensions import db
from app.private import contents
from app.private.models import PrivateContent
from app.settings import settings
from app.tenants.models import Role
from app.tenants.web import workspace_blueprint
from app.transcripts import services
from app.transcripts.models import ACTIVE, Transcript

bp: Blueprint = workspace_blueprint("private_transcripts", __name__, "/transcripts")
KINDS = {1: "content", 2: "sealed"}


def page(t: Transcript) -> Any:
    """The page of a private transcript (app/transcripts/routes.show sends them here): the
    text is decrypted and drawn by the owner's browser; anyone else is told why not."""
    owner = contents.is_owner(t, current_user.id)
    return render_template(
        "private/transcript.html",
        t=t,
        transcript=t,
        content=contents.record(t.id),
        is_owner=owner,
        info=services.queue_info(t) if t.status in ACTIVE else None,
    ), (200 if owner else 409)


@bp.get("/<uuid:transcript_id>/private")
def content(transcript_id: uuid.UUID) -> Any:
    try:
        stored = contents.read(services.get(transcript_id), current_user.id)
    except ServiceError as e:
        return _refused(e)
    return envelope_response(stored)


def envelope_response(stored: PrivateContent) -> Response:
    """The stored envelope as it goes to its owner (here and in the API)."""
    return Response(
        stored.envelope,
        mimetype="application/octet-stream",
        headers={
            "Cache-Control": "no-store",
            "X-Verbatim-Revision": str(stored.revision),
            "X-Verbatim-Envelope": KINDS.get(stored.kind or 0, "unknown"),
        },
    )


@bp.put("/<uuid:transcript_id>/private")
def store(transcript_id: uuid.UUID) -> Any:
    request.max_content_length = settings().private_max_bytes
    try:
        if not g.role.at_least(Role.MEMBER):
            raise Forbidden(_("Viewers cannot edit transcripts."))
        t = services.get(transcript_id)
        revision = contents.store(t, current_user.id, request.get_data(), if_match())
    except contents.StaleEnvelope as e:
        return jsonify(error=e.message, revision=e.revision), 409
    except ServiceError as e:
        return _refused(e)
    return jsonify(revision=revision)


def if_match() -> int:
    """The revision an edit was based on, from If-Match ("12", W/"12" or 12)."""
    raw = (request.headers.get("If-Match") or "").strip().removeprefix("W/").strip('"')
    if not raw.isdigit():
        raise BadRequest('Say which revision this edit is based on: If-Match: "<revision>".')
    return int(raw)


def _refused(e: ServiceError) -> Any:
    db.session.rollback()
    return jsonify(error=e.message), refusal_status(e)
