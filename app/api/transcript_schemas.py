"""Marshmallow schemas of the transcript and upload API; the OpenAPI description comes from
them. Range and choice checks of job options stay in app.transcripts.engines.parse_options,
which knows what is installed; these schemas check only shapes and types."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from app.api.schemas import ErrorOut

SORTS = ("newest", "oldest", "title", "duration")
STATUSES = ("queued", "processing", "completed", "failed", "cancelled", "fetching", "active")


class ProblemOut(ErrorOut):
    field = fields.String(metadata={"description": "The input the refusal is about, if one"})


class OffsetProblemOut(ProblemOut):
    id = fields.UUID(metadata={"description": "The upload, to resume through /uploads"})
    offset = fields.Integer(metadata={"description": "Bytes the server has; resume from here"})


# --- engines -----------------------------------------------------------------------------------


class CapabilitiesOut(Schema):
    diarization = fields.Boolean(metadata={"description": "Can tell speakers apart"})
    alignment = fields.Boolean(metadata={"description": "Aligns words for precise timing"})
    batched = fields.Boolean()
    gpu = fields.Boolean()


class EngineOut(Schema):
    name = fields.String()
    title = fields.String()
    capabilities = fields.Nested(CapabilitiesOut)
    models = fields.List(fields.String(), metadata={"description": "Models installed here"})


class EnginesOut(Schema):
    engines = fields.List(fields.Nested(EngineOut))
    default_engine = fields.String(allow_none=True)
    default_model = fields.String(allow_none=True)


# --- transcripts -------------------------------------------------------------------------------


class TranscriptOut(Schema):
    id = fields.UUID()
    title = fields.String()
    status = fields.String(metadata={"enum": list(STATUSES[:-1])})
    source = fields.String(metadata={"description": "upload, recording or url"})
    engine = fields.String()
    model = fields.String()
    language_requested = fields.String(allow_none=True)
    language = fields.String(allow_none=True, metadata={"description": "Detected or forced"})
    diarize = fields.Boolean()
    min_speakers = fields.Integer(allow_none=True)
    max_speakers = fields.Integer(allow_none=True)
    duration_seconds = fields.Float()
    container = fields.String()
    speaker_count = fields.Integer()
    progress = fields.Float(metadata={"description": "0 to 1 while processing"})
    stage = fields.String()
    error = fields.String(allow_none=True)
    warnings = fields.List(fields.String())
    timings = fields.Dict(keys=fields.String(), values=fields.Float())
    compare_group = fields.UUID(
        allow_none=True, metadata={"description": "Shared by two transcripts comparing models"}
    )
    private = fields.Boolean(
        metadata={
            "description": "A Private Transcript: its text is encrypted for its owner, so "
            "the server has none to give (read the ciphertext from /transcripts/{id}/private)"
        }
    )
    queue_position = fields.Integer(
        allow_none=True, metadata={"description": "0: next to start; only while queued"}
    )
    eta_seconds = fields.Float(
        allow_none=True, metadata={"description": "Estimated seconds until done (a guess)"}
    )
    created_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)


class TranscriptsOut(Schema):
    transcripts = fields.List(
        fields.Nested(TranscriptOut), metadata={"description": "Two when comparing models"}
    )


class TranscriptListQuery(Schema):
    q = fields.String(load_default="", metadata={"description": "Search in titles"})
    sort = fields.String(load_default="newest", validate=validate.OneOf(SORTS))
    status = fields.String(load_default="", validate=validate.OneOf(("", *STATUSES)))


class JobOptionsIn(Schema):
    """What to run; left out: the server's defaults (see GET /engines)."""

    engine = fields.String(allow_none=True)
    model = fields.String(allow_none=True)
    language = fields.String(
        allow_none=True, metadata={"description": "A code such as en or pt-BR; empty: detect"}
    )
    diarize = fields.Boolean(load_default=False, metadata={"description": "Detect speakers"})
    min_speakers = fields.Integer(allow_none=True)
    max_speakers = fields.Integer(allow_none=True)
    compare_model = fields.String(
        allow_none=True, metadata={"description": "Also transcribe with this model, to compare"}
    )
    private = fields.Boolean(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "A Private Transcript: the finished text is sealed to the public "
            "key of the person who made this API key, and only their browser can open it. "
            "Needs Private Transcript turned on for them (else 422). Left out: their "
            "default."
        },
    )


class LinkIn(JobOptionsIn):
    url = fields.String(required=True, metadata={"description": "An https link to the media"})
    title = fields.String(allow_none=True)


class FileQuery(JobOptionsIn):
    filename = fields.String(load_default="upload", metadata={"description": "Shown only"})
    title = fields.String(allow_none=True)


class TitleIn(Schema):
    # A client may send back a whole transcript it read; only the title is changed.
    class Meta:
        unknown = EXCLUDE

    title = fields.String(required=True)


class WordOut(Schema):
    text = fields.String()
    start = fields.Float()
    end = fields.Float()
    probability = fields.Float(allow_none=True)


class SegmentOut(Schema):
    start = fields.Float()
    end = fields.Float()
    text = fields.String()
    speaker = fields.String(allow_none=True, metadata={"description": "The engine's label"})
    speaker_name = fields.String(allow_none=True, metadata={"description": "What people call them"})
    words = fields.List(fields.Nested(WordOut))


class SpeakerOut(Schema):
    label = fields.String()
    name = fields.String()


class ContentOut(Schema):
    language = fields.String(allow_none=True)
    segments = fields.List(fields.Nested(SegmentOut))
    speakers = fields.List(fields.Nested(SpeakerOut))


class SpeakerNameIn(Schema):
    class Meta:
        unknown = EXCLUDE

    name = fields.String(required=True)
    base_revision = fields.Integer(
        load_default=None,
        metadata={
            "description": "The revision the caller saw; 409 if this speaker was "
            "renamed since. Leave out to rename regardless."
        },
    )


# --- uploads -----------------------------------------------------------------------------------


class UploadIn(JobOptionsIn):
    filename = fields.String(required=True, metadata={"description": "Shown only"})
    size = fields.Integer(required=True, strict=True, metadata={"description": "Bytes in all"})
    source = fields.String(load_default="upload", validate=validate.OneOf(("upload", "recording")))
    title = fields.String(allow_none=True)


class UploadCreatedOut(Schema):
    id = fields.UUID()
    offset = fields.Integer(metadata={"description": "Bytes received so far"})
    size = fields.Integer()
    chunk_size = fields.Integer(metadata={"description": "Most bytes one PATCH may carry"})
    upload_url = fields.String(metadata={"description": "Path to PATCH the pieces to"})


class UploadOut(Schema):
    id = fields.UUID()
    offset = fields.Integer(metadata={"description": "Bytes received so far; resume from here"})
    size = fields.Integer()
    status = fields.String(metadata={"enum": ["open", "done", "failed"]})
    error = fields.String(allow_none=True)


class AppendOut(Schema):
    offset = fields.Integer()
    complete = fields.Boolean()
    transcripts = fields.List(
        fields.Nested(TranscriptOut), metadata={"description": "Queued when the last byte came"}
    )


# --- a Private Transcript's ciphertext ---------------------------------------------------------


class PrivateStoredOut(Schema):
    revision = fields.Integer(metadata={"description": "The revision now; the next If-Match"})


class StaleOut(ProblemOut):
    revision = fields.Integer(
        metadata={"description": "The revision stored now (when the edit was stale)"}
    )
