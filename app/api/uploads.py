"""API: resumable uploads of audio and video.

POST /uploads declares the file (name, size, options); PATCH sends pieces at increasing
offsets (Upload-Offset header, tus-like); GET says the offset to resume from after a dropped
connection. The piece that completes the file queues its transcripts.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, request, url_for
from flask_babel import gettext as _

from app.api import transcript_schemas
from app.api.blueprint import api_blueprint
from app.api.transcript_schemas import (
    AppendOut,
    OffsetProblemOut,
    ProblemOut,
    UploadCreatedOut,
    UploadOut,
)
from app.api.transcripts import (
    EndAtDisconnect,
    key_maker,
    plain_problem,
    problem,
    transcript_out,
)
from app.api.voice_lab_schemas import VoiceLabOptionIn
from app.errors import Conflict, NotFound, ServiceError, TooLarge
from app.ingest import uploads
from app.settings import settings
from app.transcripts import engines

bp = api_blueprint("api_uploads", __name__, "Resumable uploads of audio and video")

PIECE_TYPE = "application/offset+octet-stream"
OFFSET_HEADER = {
    "description": "Bytes the server has received; send the next piece from here",
    "schema": {"type": "integer", "minimum": 0},
}
PIECE_BODY = {
    "required": True,
    "description": f"The next piece of the file; Content-Type {PIECE_TYPE}, "
    "Content-Length required.",
    "content": {PIECE_TYPE: {"schema": {"type": "string", "format": "binary"}}},
}
OFFSET_PARAMETER = {
    "name": "Upload-Offset",
    "in": "header",
    "required": True,
    "description": "Where this piece starts in the file",
    "schema": {"type": "integer", "minimum": 0},
}


class UploadIn(transcript_schemas.UploadIn, VoiceLabOptionIn):
    """With Voice Lab's option; the same name, so the API description keeps its own."""


@bp.post("/uploads")
@bp.arguments(UploadIn)
@bp.response(201, UploadCreatedOut)
@bp.alt_response(413, schema=ProblemOut, description="The file is over the size limit")
@bp.alt_response(
    422, schema=ProblemOut, description="Refused: size or an option (private without a keyring)"
)
@bp.alt_response(409, schema=ProblemOut, description="Voice Lab asked for a Private Transcript")
def create_upload(body: dict[str, Any]) -> Any:
    """Declare a file; options are checked now, so a wrong choice fails before any byte.
    `private` seals the transcripts to the key maker's public key."""
    try:
        upload = uploads.create(
            filename=body["filename"],
            size=body["size"],
            options=engines.picked_options(body),
            title=body.get("title"),
            source=body["source"],
            user_id=key_maker(),  # a key acts for its maker: the uploader, a private one's owner
            private=body.get("private"),
            voice_lab=body.get("voice_lab"),
            voice_lab_consent=body.get("voice_lab_consent"),
        )
    except ServiceError as e:
        return problem(e)
    return {
        "id": upload.id,
        "offset": upload.received,
        "size": upload.size,
        "chunk_size": settings().upload_chunk_max_bytes,
        "upload_url": url_for("api_uploads.append_upload", upload_id=upload.id),
    }


@bp.get("/uploads/<uuid:upload_id>")
@bp.response(200, UploadOut, headers={"Upload-Offset": OFFSET_HEADER})
@bp.alt_response(404, schema=ProblemOut, description="No such upload")
def get_upload(upload_id: uuid.UUID) -> Any:
    """Where an upload stands: resume from `offset` (also in the Upload-Offset header)."""
    try:
        upload = uploads.get(upload_id)
    except ServiceError as e:
        return problem(e)
    body = {
        "id": upload.id,
        "offset": upload.received,
        "size": upload.size,
        "status": upload.status,
        "error": upload.error or None,
    }
    return body, 200, {"Upload-Offset": str(upload.received)}


def _offset_conflict(e: Conflict, upload_id: uuid.UUID) -> Response:
    try:
        received = uploads.get(upload_id).received
    except NotFound:
        return problem(e)
    resp = problem(e, offset=received)
    resp.headers["Upload-Offset"] = str(received)
    return resp


def _piece_refusal(chunk_max: int) -> Response | None:
    """Header checks of a piece, all before a byte of its body is read."""
    raw_offset = request.headers.get("Upload-Offset", "")
    if not raw_offset.isascii() or not raw_offset.isdigit():
        return plain_problem(
            400, "bad_request", _("Send the piece's start as an Upload-Offset header (bytes).")
        )
    if request.mimetype != PIECE_TYPE:
        return plain_problem(
            415,
            "unsupported_media_type",
            _("Send each piece with Content-Type %(type)s.", type=PIECE_TYPE),
        )
    length = request.content_length
    if length is None:
        return plain_problem(411, "length_required", _("Send a Content-Length header."))
    if length > chunk_max:
        return problem(TooLarge(_("Send at most %(max)s bytes per request.", max=f"{chunk_max:,}")))
    return None


@bp.patch("/uploads/<uuid:upload_id>")
@bp.doc(requestBody=PIECE_BODY, parameters=[OFFSET_PARAMETER])
@bp.response(200, AppendOut, headers={"Upload-Offset": OFFSET_HEADER})
@bp.alt_response(400, schema=ProblemOut, description="No or bad Upload-Offset")
@bp.alt_response(404, schema=ProblemOut, description="No such upload")
@bp.alt_response(
    409, schema=OffsetProblemOut, description="Wrong offset, or the upload is not open"
)
@bp.alt_response(411, schema=ProblemOut, description="No Content-Length")
@bp.alt_response(413, schema=ProblemOut, description="A piece over chunk_size or past the end")
@bp.alt_response(415, schema=ProblemOut, description=f"Content-Type is not {PIECE_TYPE}")
@bp.alt_response(422, schema=ProblemOut, description="The complete file is not audio")
def append_upload(upload_id: uuid.UUID) -> Any:
    """Send the next piece. The piece that completes the file queues its transcripts
    (returned here); a file that is not usable audio is refused and deleted."""
    chunk_max = settings().upload_chunk_max_bytes
    refusal = _piece_refusal(chunk_max)
    if refusal is not None:
        return refusal
    request.max_content_length = chunk_max
    offset = int(request.headers["Upload-Offset"])
    try:
        upload, created = uploads.append(
            upload_id, offset, EndAtDisconnect(request.stream), request.content_length
        )
    except Conflict as e:
        return _offset_conflict(e, upload_id)
    except ServiceError as e:
        return problem(e)
    body = {
        "offset": upload.received,
        "complete": upload.received >= upload.size,
        "transcripts": [transcript_out(t, fresh=True) for t in created],
    }
    return body, 200, {"Upload-Offset": str(upload.received)}


@bp.delete("/uploads/<uuid:upload_id>")
@bp.response(204)
@bp.alt_response(404, schema=ProblemOut, description="No such upload")
@bp.alt_response(409, schema=ProblemOut, description="Already finished")
def abort_upload(upload_id: uuid.UUID) -> Any:
    """Give up an unfinished upload; what arrived is deleted."""
    try:
        uploads.abort(upload_id)
    except ServiceError as e:
        return problem(e)
    return None
