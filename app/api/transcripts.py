"""API: engines, and transcripts: start them (a link, or a whole file in one request), watch,
read, change, cancel, retry, delete; a Private Transcript's ciphertext (GET/PUT .../private).

Resumable uploads of large files are in app/api/uploads.py; the single-request file
endpoint here goes through the same service, so the bytes take the same encrypted path.
"""

from __future__ import annotations

import uuid
from typing import Any, BinaryIO

from flask import Response, g, jsonify, request
from flask_babel import gettext as _
from flask_smorest.pagination import PaginationParameters
from werkzeug.exceptions import ClientDisconnected

from app.api.blueprint import api_blueprint
from app.api.transcript_schemas import (
    ContentOut,
    EnginesOut,
    FileQuery,
    LinkIn,
    OffsetProblemOut,
    PrivateStoredOut,
    ProblemOut,
    SpeakerNameIn,
    SpeakerOut,
    StaleOut,
    TitleIn,
    TranscriptListQuery,
    TranscriptOut,
    TranscriptsOut,
)
from app.api.voice_lab_schemas import VoiceLabOptionIn
from app.errors import Conflict, ServiceError, refusal_status
from app.extensions import db
from app.ingest import uploads
from app.private import contents
from app.private import transcript_routes as private_routes
from app.settings import settings
from app.transcripts import engines, services
from app.transcripts.models import Status, Transcript, status_name

bp = api_blueprint("api_transcripts", __name__, "Transcripts: start, watch, read, change")

# Media types a raw body may have. Multipart is refused on purpose: werkzeug spools
# multipart file parts to temporary files in plaintext, which the audio promise forbids.
RAW_TYPES = ("application/octet-stream", "audio/", "video/")
_BINARY = {"schema": {"type": "string", "format": "binary"}}
RAW_MEDIA_BODY = {
    "required": True,
    "description": "The file's bytes, as they are. Content-Length is required.",
    "content": {
        "application/octet-stream": _BINARY,
        "audio/*": _BINARY,
        "video/*": _BINARY,
    },
}


# --- helpers shared with app/api/uploads.py --------------------------------------------------


def problem(e: ServiceError, **extra: Any) -> Response:
    """A refusal as JSON {error, message, field?}: a Response, so @bp.response does not
    dump it through the success schema."""
    db.session.rollback()
    body: dict[str, Any] = {"error": type(e).__name__.lower(), "message": e.message}
    if e.field:
        body["field"] = e.field
    body.update(extra)
    resp = jsonify(body)
    resp.status_code = refusal_status(e)
    return resp


def plain_problem(status: int, error: str, message: str) -> Response:
    resp = jsonify(error=error, message=message)
    resp.status_code = status
    return resp


def key_maker() -> uuid.UUID | None:
    """The person an API key acts for (who made it): the uploader of what it starts, and
    so the owner of a Private Transcript it starts."""
    key = g.get("api_key")
    return key.created_by_id if key is not None else None


def transcript_out(t: Transcript, *, fresh: bool = False) -> dict[str, Any]:
    """as_dict with the queue position and ETA. `fresh` reloads the row first: the job id
    (which the queue position needs) is written after the creating transaction commits."""
    if fresh:
        db.session.refresh(t)
    info = services.queue_info(t) if t.status in (Status.QUEUED, Status.PROCESSING) else None
    return services.as_dict(t, info)


class EndAtDisconnect:
    """A request body that reads as ended where the client hung up, instead of raising.

    The upload service keeps the bytes that arrived; the reply then gives the offset to
    resume from.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        try:
            return self._stream.read(size)
        except ClientDisconnected:
            return b""


# --- engines --------------------------------------------------------------------------------


@bp.get("/engines")
@bp.response(200, EnginesOut)
def list_engines() -> Any:
    """Engines installed here, what each can do, its models, and the defaults."""
    choices = engines.available()
    try:
        default_engine, default_model = engines.defaults(choices)
    except ServiceError:  # nothing installed: an empty list says it
        default_engine = default_model = None
    return {"engines": choices, "default_engine": default_engine, "default_model": default_model}


# --- transcripts ----------------------------------------------------------------------------


@bp.get("/transcripts")
@bp.arguments(TranscriptListQuery, location="query")
@bp.response(200, TranscriptOut(many=True))
@bp.paginate(page_size=50, max_page_size=200)
def list_transcripts(args: dict[str, Any], pagination_parameters: PaginationParameters) -> Any:
    """Search titles, filter by status ("active": not finished yet), sort; the
    X-Pagination header carries the totals."""
    found = services.listing(
        q=args["q"],
        sort=args["sort"],
        status=args["status"],
        offset=pagination_parameters.first_item,
        limit=pagination_parameters.page_size,
    )
    pagination_parameters.item_count = found.total
    return [transcript_out(t) for t in found.items]


@bp.post("/transcripts")
@bp.arguments(LinkIn)
@bp.response(202, TranscriptsOut)
@bp.alt_response(422, schema=ProblemOut, description="Refused: the link or an option")
def create_from_link(body: dict[str, Any]) -> Any:
    """Transcribe the media behind a link: it is downloaded, then queued. Two transcripts
    when `compare_model` is given."""
    try:
        options = engines.parse_options(engines.picked_options(body))
        created = services.start_from_url(
            body["url"],
            options,
            title=body.get("title"),
            uploader_id=key_maker(),
            private=body.get("private"),
        )
    except ServiceError as e:
        return problem(e)
    return {"transcripts": [transcript_out(t, fresh=True) for t in created]}


def raw_media_refusal() -> Response | None:
    """Why this request's body cannot be taken as raw media, if it cannot."""
    mimetype = request.mimetype
    if not any(mimetype == t or (t.endswith("/") and mimetype.startswith(t)) for t in RAW_TYPES):
        return plain_problem(
            415,
            "unsupported_media_type",
            _(
                "Send the file's bytes as the body with Content-Type application/octet-stream, "
                "audio/* or video/* (not a multipart form)."
            ),
        )
    if request.content_length is None:
        return plain_problem(411, "length_required", _("Send a Content-Length header."))
    return None


class FileWithVoiceLabQuery(FileQuery, VoiceLabOptionIn):
    pass


@bp.post("/transcripts/file")
@bp.arguments(FileWithVoiceLabQuery, location="query")
@bp.doc(requestBody=RAW_MEDIA_BODY)
@bp.response(202, TranscriptsOut)
@bp.alt_response(
    400, schema=OffsetProblemOut, description="The body ended early; resume via /uploads/{id}"
)
@bp.alt_response(411, schema=ProblemOut, description="No Content-Length")
@bp.alt_response(413, schema=ProblemOut, description="The file is over the size limit")
@bp.alt_response(415, schema=ProblemOut, description="Not a raw body (multipart is refused)")
@bp.alt_response(422, schema=ProblemOut, description="Not audio, or a refused option")
@bp.alt_response(409, schema=ProblemOut, description="Voice Lab asked for a Private Transcript")
def create_from_file(args: dict[str, Any]) -> Any:
    """Upload a whole file in one request (for scripts) and queue its transcription.

    Options are query parameters; the body is the file. For large files or flaky
    connections use the resumable /uploads instead.
    """
    refusal = raw_media_refusal()
    if refusal is not None:
        return refusal
    length = request.content_length
    assert length is not None
    try:
        # Refuses an oversized Content-Length before a byte of the body is read.
        upload = uploads.create(
            filename=args["filename"],
            size=length,
            options=engines.picked_options(args),
            title=args.get("title"),
            user_id=key_maker(),
            private=args.get("private"),
            voice_lab=args.get("voice_lab"),
            voice_lab_consent=args.get("voice_lab_consent"),
        )
    except ServiceError as e:
        return problem(e)
    request.max_content_length = settings().upload_max_bytes
    try:
        # No per-piece length: the chunk limit of resumable uploads does not apply here.
        upload, created = uploads.append(upload.id, 0, EndAtDisconnect(request.stream), None)
    except ServiceError as e:
        return problem(e)
    if not created:
        resp = jsonify(
            error="incomplete",
            message=_(
                "The body ended after %(received)d of %(size)d bytes; send the rest with "
                "PATCH /api/v1/uploads/%(id)s from offset %(received)d.",
                received=upload.received,
                size=upload.size,
                id=upload.id,
            ),
            id=str(upload.id),
            offset=upload.received,
        )
        resp.status_code = 400
        return resp
    return {"transcripts": [transcript_out(t, fresh=True) for t in created]}


@bp.get("/transcripts/<uuid:transcript_id>")
@bp.response(200, TranscriptOut)
@bp.alt_response(404, schema=ProblemOut, description="No such transcript")
def get_transcript(transcript_id: uuid.UUID) -> Any:
    """Its metadata. A Private Transcript says `private: true` and has no text here; another
    member's answers 409 (not shared with the team)."""
    try:
        t = services.get(transcript_id)
        contents.require_access(t)
        return transcript_out(t)
    except ServiceError as e:
        return problem(e)


@bp.patch("/transcripts/<uuid:transcript_id>")
@bp.arguments(TitleIn)
@bp.response(200, TranscriptOut)
@bp.alt_response(404, schema=ProblemOut, description="No such transcript")
@bp.alt_response(422, schema=ProblemOut, description="Refused title")
def update_transcript(body: dict[str, Any], transcript_id: uuid.UUID) -> Any:
    try:
        return transcript_out(services.rename(transcript_id, body["title"]))
    except ServiceError as e:
        return problem(e)


@bp.delete("/transcripts/<uuid:transcript_id>")
@bp.response(204)
@bp.alt_response(404, schema=ProblemOut, description="No such transcript")
def delete_transcript(transcript_id: uuid.UUID) -> Any:
    """Delete for good; an unfinished transcript is cancelled first and its audio deleted."""
    try:
        services.delete([transcript_id])
    except ServiceError as e:
        return problem(e)
    return None


def _not_ready(t: Transcript) -> Conflict:
    if t.status == Status.FAILED:
        return Conflict(_("This transcript failed; it has no text."))
    if t.status == Status.CANCELLED:
        return Conflict(_("This transcript was cancelled; it has no text."))
    return Conflict(
        _(
            "This transcript is %(status)s; its text is ready once it is completed.",
            status=status_name(t.status),
        )
    )


def _word(raw: Any) -> dict[str, Any]:
    # Stored compactly as [text, start, end, probability].
    return {
        "text": raw[0],
        "start": raw[1],
        "end": raw[2],
        "probability": raw[3] if len(raw) > 3 else None,
    }


@bp.get("/transcripts/<uuid:transcript_id>/content")
@bp.response(200, ContentOut)
@bp.alt_response(404, schema=ProblemOut, description="No such transcript")
@bp.alt_response(409, schema=ProblemOut, description="Not completed yet")
def get_content(transcript_id: uuid.UUID) -> Any:
    """The text: segments with times, speakers and word timings. A Private Transcript has
    none the server can read: 409 (its ciphertext is at /transcripts/{id}/private)."""
    try:
        t = services.get(transcript_id)
        contents.refuse(t, _("Reading the text through the API"))
        if t.status != Status.COMPLETED:
            raise _not_ready(t)
    except ServiceError as e:
        return problem(e)
    names = services.speakers(t)
    return {
        "language": t.language,
        "segments": [
            {
                "start": s.start,
                "end": s.end,
                "text": s.text,
                "speaker": s.speaker,
                "speaker_name": names[s.speaker].name if s.speaker in names else None,
                "words": [_word(w) for w in s.words or []],
            }
            for s in services.segments(t)
        ],
        "speakers": [{"label": s.label, "name": s.name} for s in names.values()],
    }


@bp.post("/transcripts/<uuid:transcript_id>/cancel")
@bp.response(200, TranscriptOut)
@bp.alt_response(404, schema=ProblemOut, description="No such transcript")
@bp.alt_response(422, schema=ProblemOut, description="Already finished")
def cancel_transcript(transcript_id: uuid.UUID) -> Any:
    """Stop a transcript that has not finished; its audio is deleted."""
    try:
        return transcript_out(services.cancel(transcript_id))
    except ServiceError as e:
        return problem(e)


@bp.post("/transcripts/<uuid:transcript_id>/retry")
@bp.response(200, TranscriptOut)
@bp.alt_response(404, schema=ProblemOut, description="No such transcript")
@bp.alt_response(422, schema=ProblemOut, description="Not retryable (e.g. audio deleted)")
def retry_transcript(transcript_id: uuid.UUID) -> Any:
    """Queue a failed or cancelled transcript again, if its audio is still here."""
    try:
        t = services.retry(transcript_id)
    except ServiceError as e:
        return problem(e)
    return transcript_out(t, fresh=True)


@bp.patch("/transcripts/<uuid:transcript_id>/speakers/<label>")
@bp.arguments(SpeakerNameIn)
@bp.response(200, SpeakerOut)
@bp.alt_response(404, schema=ProblemOut, description="No such transcript or speaker")
@bp.alt_response(422, schema=ProblemOut, description="Refused name")
def rename_speaker(body: dict[str, Any], transcript_id: uuid.UUID, label: str) -> Any:
    """Rename a speaker everywhere at once; it is a revision of the transcript (X-Revision
    says which). An optional `base_revision` in the body makes the rename fail with 409
    when someone renamed this speaker after that revision."""
    from app.api.editor import author, refused  # the editor's API builds on this module

    try:
        speaker = services.rename_speaker(
            transcript_id,
            label,
            body["name"],
            base_revision=body.get("base_revision"),
            author_id=author(),
        )
        revision = services.get(transcript_id).revision
    except ServiceError as e:
        return refused(e)
    return {"label": speaker.label, "name": speaker.name}, 200, {"X-Revision": str(revision)}


# --- a Private Transcript's ciphertext --------------------------------------------------------

_ENVELOPE = {"schema": {"type": "string", "format": "binary"}}
_REVISION_HEADER = {
    "description": "The revision this ciphertext was written at; send it back as If-Match",
    "schema": {"type": "integer"},
}
_KIND_HEADER = {
    "description": "sealed (by the worker, opened with the private key) or content (by the "
    "owner's browser, opened with the data key)",
    "schema": {"type": "string", "enum": ["sealed", "content"]},
}


@bp.get("/transcripts/<uuid:transcript_id>/private")
@bp.doc(
    responses={
        "200": {
            "description": "The envelope as stored (format: app/private/crypto.py, version 1)",
            "content": {"application/octet-stream": _ENVELOPE},
            "headers": {
                "X-Verbatim-Revision": _REVISION_HEADER,
                "X-Verbatim-Envelope": _KIND_HEADER,
            },
        }
    }
)
@bp.alt_response(404, schema=ProblemOut, description="No such transcript, or it is not private")
@bp.alt_response(409, schema=ProblemOut, description="Not the key maker's, or not completed yet")
def get_private(transcript_id: uuid.UUID) -> Any:
    """A Private Transcript's ciphertext, for its owner: the person who made this key. The
    server cannot open it; their keys (passphrase or recovery key) do."""
    try:
        stored = contents.read(services.get(transcript_id), key_maker())
    except ServiceError as e:
        return problem(e)
    return private_routes.envelope_response(stored)


@bp.put("/transcripts/<uuid:transcript_id>/private")
@bp.doc(
    requestBody={
        "required": True,
        "description": "A CONTENT envelope the owner's client encrypted with their data key",
        "content": {"application/octet-stream": _ENVELOPE},
    },
    parameters=[
        {
            "name": "If-Match",
            "in": "header",
            "required": True,
            "description": 'The revision the edit is based on: "<X-Verbatim-Revision>"',
            "schema": {"type": "string"},
        }
    ],
)
@bp.response(200, PrivateStoredOut)
@bp.alt_response(400, schema=ProblemOut, description="No If-Match, or not a CONTENT envelope")
@bp.alt_response(404, schema=ProblemOut, description="No such transcript, or it is not private")
@bp.alt_response(
    409, schema=StaleOut, description="Stale If-Match (revision: the current one), or not theirs"
)
@bp.alt_response(413, schema=ProblemOut, description="Larger than the server accepts")
def store_private(transcript_id: uuid.UUID) -> Any:
    """Replace a Private Transcript's ciphertext with the owner's edit, if it is based on
    the revision stored (If-Match); a stale one changes nothing."""
    request.max_content_length = settings().private_max_bytes
    try:
        t = services.get(transcript_id)
        base = private_routes.if_match()
        revision = contents.store(t, key_maker(), request.get_data(), base)
    except contents.StaleEnvelope as e:
        return problem(e, revision=e.revision)
    except ServiceError as e:
        return problem(e)
    return {"revision": revision}
