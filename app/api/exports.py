"""API: exports: a transcript in TXT, SRT, VTT, DOCX, JSON or PDF; several as a zip."""

from __future__ import annotations

from app.api.blueprint import api_blueprint

bp = api_blueprint(
    "api_exports",
    __name__,
    "Exports: a transcript in TXT, SRT, VTT, DOCX, JSON or PDF; several as a zip",
)
