"""Resumable uploads from the browser under /w/<slug>/uploads/ (app/static/js/upload.js).

POST   /              open an upload (JSON: filename, size, source, job options, private) -> 201
PATCH  /<upload_id>   one piece: Upload-Offset header, body = the bytes -> new offset
HEAD   /<upload_id>   where to resume: Upload-Offset and Upload-Length headers -> 204
DELETE /<upload_id>   give up; the bytes received so far are deleted -> 204

Answers are JSON; refusals are {error, message, field}. CSRF comes in the X-CSRFToken
header. Another workspace's upload answers 404 exactly like a missing one.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.errors import Conflict, ServiceError, TooLarge, refusal_status
from app.extensions import db
from app.ingest import uploads
from app.settings import settings
from app.tenants.models import Role
from app.tenants.web import require_role, workspace_blueprint
from app.transcripts import engines

bp: Blueprint = workspace_blueprint("uploads", __name__, "/uploads")

PIECE = "application/offset+octet-stream"
CHUNK_SIZE = 8 * 1024 * 1024  # what the browser is asked to send per request


@bp.url_value_preprocessor
def _piece_limit(endpoint: str | None, _values: dict[str, Any] | None) -> None:
    """Size check for pieces, before any hook opens the body.

    URL value preprocessors run before every before_request hook, CSRF's included: its
    look at request.form opens the body stream under the app-wide 1 MiB form limit,
    which a piece is allowed to exceed; an oversized piece is refused unread.
    """
    if endpoint != "uploads.append":
        return
    limit = settings().upload_chunk_max_bytes
    if (request.content_length or 0) > limit:
        abort(_problem(TooLarge(_("Send at most %(size)s per request.", size=_mib(limit)))))
    request.max_content_length = limit


@bp.post("/")
@require_role(Role.MEMBER)
def create() -> Any:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _problem(ServiceError(_("Send the upload's details as a JSON object.")))
    size = body.get("size")
    if not isinstance(size, int) or isinstance(size, bool):
        return _problem(ServiceError(_("Give the file's size in bytes."), field="size"))
    try:
        upload = uploads.create(
            filename=_text(body.get("filename")),
            size=size,
            options=engines.picked_options(body),
            title=_text(body.get("title")) or None,
            source=_text(body.get("source")) or "upload",
            user_id=current_user.id,
            private=body.get("private"),
            voice_lab=body.get("voice_lab"),
            voice_lab_consent=body.get("voice_lab_consent"),
        )
    except ServiceError as e:
        return _problem(e)
    target = url_for("uploads.append", upload_id=upload.id)
    resp = jsonify(
        id=upload.id,
        offset=0,
        chunk_size=min(CHUNK_SIZE, settings().upload_chunk_max_bytes),
        upload_url=target,
    )
    resp.status_code = 201
    resp.headers["Location"] = target
    return resp


@bp.patch("/<uuid:upload_id>")
@require_role(Role.MEMBER)
def append(upload_id: uuid.UUID) -> Any:
    if request.mimetype != PIECE:
        return _problem(ServiceError(_("Send the bytes as %(type)s.", type=PIECE)), 415)
    length = request.content_length
    if length is None:
        return _problem(ServiceError(_("Send a Content-Length header with each piece.")), 411)
    raw_offset = request.headers.get("Upload-Offset", "")
    if not (raw_offset.isascii() and raw_offset.isdigit()):
        return _problem(
            ServiceError(_("Send the piece's position in the Upload-Offset header.")), 400
        )
    try:
        upload, created = uploads.append(upload_id, int(raw_offset), request.stream, length)
    except Conflict as e:
        db.session.rollback()
        # The offset to resume from, and whether resuming makes sense at all.
        current = uploads.get(upload_id)
        return _problem(e, offset=current.received, upload_status=current.status)
    except ServiceError as e:
        return _problem(e)
    return jsonify(
        offset=upload.received,
        complete=upload.status == "done",
        transcripts=[
            {"id": t.id, "url": url_for("transcripts.show", transcript_id=t.id)} for t in created
        ],
        # Private ones open on their own pages: the compare page would need their text.
        compare_url=url_for("transcripts.compare", group_id=created[0].compare_group)
        if created and created[0].compare_group and not created[0].encrypted
        else None,
    )


@bp.route("/<uuid:upload_id>", methods=["HEAD"])
@require_role(Role.MEMBER)
def offset(upload_id: uuid.UUID) -> Any:
    upload = uploads.get(upload_id)
    resp = Response(status=204)
    resp.headers["Upload-Offset"] = str(upload.received)
    resp.headers["Upload-Length"] = str(upload.size)
    resp.headers["Upload-Status"] = upload.status
    resp.headers["Cache-Control"] = "no-store"
    return resp


# Endpoint "uploads.abort"; the function is named so it does not hide flask.abort.
@bp.delete("/<uuid:upload_id>", endpoint="abort")
@require_role(Role.MEMBER)
def abort_upload(upload_id: uuid.UUID) -> Any:
    try:
        uploads.abort(upload_id)
    except ServiceError as e:
        return _problem(e)
    return Response(status=204)


def _problem(e: ServiceError, status: int | None = None, **extra: Any) -> Response:
    db.session.rollback()  # a refusal leaves nothing half-done behind
    resp = jsonify(error=type(e).__name__.lower(), message=e.message, field=e.field, **extra)
    resp.status_code = status or refusal_status(e)
    return resp


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MiB"
