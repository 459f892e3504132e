"""Export pages: one transcript in a chosen format, or a selection as one zip.

Viewers export too: exporting reads. Refusals (ServiceError) are rendered by the app's
error handler with their own status: 404 for an unknown format or another workspace's
transcript, 409 for an unfinished one, 422 for an empty selection or a bad option.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, abort, request

from app.tenants.web import workspace_blueprint
from app.transcripts.exports import responses, service
from app.transcripts.exports.base import Exporter
from app.transcripts.exports.options import LABELS, NAMES, ExportOptions

bp: Blueprint = workspace_blueprint("exports", __name__, "/transcripts")


@bp.app_template_global("export_formats")
def export_formats() -> list[Exporter]:
    """For the export forms (transcripts/_export_menu.html, _export_selection.html)."""
    return service.formats()


@bp.app_template_global("export_options")
def export_options(formats: list[Exporter]) -> list[dict[str, Any]]:
    """Each option with its default and the formats that honour it, for the forms."""
    defaults = ExportOptions()
    return [
        {
            "name": name,
            "label": str(LABELS[name]),
            "checked": getattr(defaults, name),
            "formats": [f.label for f in formats if name in f.options],
        }
        for name in NAMES
    ]


@bp.get("/<uuid:transcript_id>/export/<fmt>")
def download(transcript_id: uuid.UUID, fmt: str) -> Any:
    """The transcript as a file; options in the query string (timestamps, speakers,
    paragraphs: on/off, 1/0, true/false)."""
    return responses.download(service.export_one(transcript_id, fmt, request.args))


@bp.post("/export")
def export_selection() -> Any:
    """The ticked transcripts (form field ids, repeated) in one format, as one zip."""
    ids = [_uuid_or_404(raw) for raw in request.form.getlist("ids")]
    fmt = request.form.get("format", "")
    return responses.zip_download(service.export_zip(ids, fmt, request.form))


def _uuid_or_404(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        abort(404)
