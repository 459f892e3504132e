"""API: exports: a transcript in TXT, SRT, VTT, DOCX, JSON or PDF; several as a zip.

The JSON format's structure is described in app/transcripts/exports/json_format.py and in
the description of GET /transcripts/{id}/export/{fmt} below.
"""

from __future__ import annotations

import uuid
from typing import Any

from marshmallow import Schema, fields, validate

from app.api.blueprint import api_blueprint
from app.api.transcript_schemas import ProblemOut
from app.api.transcripts import problem
from app.errors import ServiceError
from app.transcripts.exports import responses, service
from app.transcripts.exports.options import LABELS, NAMES, ExportOptions

bp = api_blueprint(
    "api_exports",
    __name__,
    "Exports: a transcript in TXT, SRT, VTT, DOCX, JSON or PDF; several as a zip",
)

_DEFAULTS = ExportOptions()
_BINARY = {"schema": {"type": "string", "format": "binary"}}
JSON_STRUCTURE = """The JSON format (`verbatim.transcript`, version 1):
`{"format", "version", "transcript": {"id", "title", "language", "duration_seconds",
"created_at", "engine", "model", "revision"}, "speakers": [{"label", "name"}],
"segments": [{"start", "end", "speaker", "speaker_name", "text",
"words": [{"text", "start", "end", "probability"}]}]}`; times in seconds. With
`summaries=true`, also `"summaries": [{"template", "title", "text", "provider", "model",
"revision", "stale", "finished_at"}]` (text in markdown; added within version 1). The
version changes only when a field changes meaning or goes away."""


def _flag(name: str, help_text: str) -> fields.Boolean:
    return fields.Boolean(
        load_default=getattr(_DEFAULTS, name),
        metadata={"description": f"{help_text} (default {getattr(_DEFAULTS, name)})"},
    )


class ExportOptionsIn(Schema):
    timestamps = _flag("timestamps", "A time at each segment or paragraph")
    speakers = _flag("speakers", "Speaker names")
    paragraphs = _flag("paragraphs", "Merge one speaker's consecutive segments into paragraphs")
    summaries = _flag(
        "summaries",
        "The newest completed AI summary of each template, before the transcript "
        "(TXT, DOCX, PDF; a `summaries` list in JSON)",
    )


class SelectionIn(Schema):
    ids = fields.List(
        fields.UUID(),
        required=True,
        validate=validate.Length(max=service.MAX_SELECTION),
        metadata={"description": "Transcripts to export, one file each"},
    )
    format = fields.String(required=True, metadata={"description": "A format's name, e.g. srt"})
    options = fields.Nested(ExportOptionsIn, load_default=dict)


class FormatOut(Schema):
    name = fields.String(metadata={"description": "Used in export URLs, e.g. srt"})
    title = fields.String()
    extension = fields.String()
    media_type = fields.String()
    options = fields.List(fields.String(), metadata={"description": "Options it honours"})
    description = fields.String()


class OptionOut(Schema):
    name = fields.String()
    label = fields.String()
    default = fields.Boolean()


class FormatsOut(Schema):
    formats = fields.List(fields.Nested(FormatOut))
    options = fields.List(fields.Nested(OptionOut))


@bp.get("/export-formats")
@bp.response(200, FormatsOut)
def list_export_formats() -> Any:
    """The formats this workspace can export to, and the options each honours."""
    return {
        "formats": [
            {
                "name": f.name,
                "title": f.title,
                "extension": f.ext,
                "media_type": f.media_type,
                "options": sorted(f.options),
                "description": f.description,
            }
            for f in service.formats()
        ],
        "options": [
            {"name": n, "label": str(LABELS[n]), "default": getattr(_DEFAULTS, n)} for n in NAMES
        ],
    }


def _file_response(description: str, *media_types: str) -> dict[str, Any]:
    """A 200 whose body is a file, documented by hand: no schema describes the bytes."""
    return {"description": description, "content": {m: _BINARY for m in media_types}}


@bp.get("/transcripts/<uuid:transcript_id>/export/<fmt>")
@bp.arguments(ExportOptionsIn, location="query")
@bp.doc(
    description="One transcript as a file: txt, srt, vtt, docx, json, pdf, or a format a "
    "plugin adds (see /export-formats).\n\n" + JSON_STRUCTURE,
    responses={
        "200": _file_response(
            "The file, as an attachment (Content-Disposition gives its name)",
            "text/plain",
            "application/x-subrip",
            "text/vtt",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/json",
            "application/pdf",
        )
    },
)
@bp.alt_response(404, schema=ProblemOut, description="No such transcript, or no such format")
@bp.alt_response(409, schema=ProblemOut, description="The transcript is not completed")
@bp.alt_response(422, schema=ProblemOut, description="A bad option value")
@bp.alt_response(503, schema=ProblemOut, description="A font the text needs is not installed")
def export_transcript(args: dict[str, Any], transcript_id: uuid.UUID, fmt: str) -> Any:
    try:
        exported = service.export_one(transcript_id, fmt, ExportOptions(**args))
    except ServiceError as e:
        return problem(e)
    return responses.download(exported)


@bp.post("/transcripts/export")
@bp.arguments(SelectionIn)
@bp.doc(responses={"200": _file_response("A zip with one file per transcript", "application/zip")})
@bp.alt_response(
    404, schema=ProblemOut, description="An id is not a transcript here, or no such format"
)
@bp.alt_response(409, schema=ProblemOut, description="A transcript is not completed")
@bp.alt_response(422, schema=ProblemOut, description="An empty selection or a bad option")
def export_selection(body: dict[str, Any]) -> Any:
    """Several transcripts in one format, as one zip (sent while it is made)."""
    try:
        export = service.export_zip(body["ids"], body["format"], ExportOptions(**body["options"]))
    except ServiceError as e:
        return problem(e)
    return responses.zip_download(export)
