"""Tenancy matrix entries of exports (owned by the exports feature; see matrix.py)."""

from __future__ import annotations

WORKSPACE: dict[str, tuple[str, str]] = {
    "exports.download": ("GET", "/w/{slug}/transcripts/{transcript_id}/export/{fmt}"),
    "exports.export_selection": ("POST", "/w/{slug}/transcripts/export"),
}
API: dict[str, tuple[str, str]] = {
    "api_exports.list_export_formats": ("GET", "/api/v1/export-formats"),
    "api_exports.export_transcript": (
        "GET",
        "/api/v1/transcripts/{transcript_id}/export/{fmt}",
    ),
    "api_exports.export_selection": ("POST", "/api/v1/transcripts/export"),
}
