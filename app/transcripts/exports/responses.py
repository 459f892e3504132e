"""Downloads as HTTP responses, for pages, the API and public share pages alike."""

from __future__ import annotations

from flask import Response, stream_with_context

from app.transcripts.exports.filenames import content_disposition
from app.transcripts.exports.service import Exported, ZipExport


def _headers(response: Response, filename: str) -> Response:
    response.headers["Content-Disposition"] = content_disposition(filename)
    # A transcript is private: no shared cache may keep it.
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def download(exported: Exported) -> Response:
    response = Response(exported.body, content_type=exported.media_type)
    return _headers(response, exported.filename)


def zip_download(export: ZipExport) -> Response:
    # Streamed: each transcript is rendered as the previous one's bytes go out. The request
    # context stays open meanwhile, so the database session is still there.
    response = Response(stream_with_context(export.chunks), content_type=export.media_type)
    return _headers(response, export.filename)
