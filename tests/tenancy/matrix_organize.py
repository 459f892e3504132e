"""Tenancy matrix entries of folders, tags and moves (see matrix.py)."""

from __future__ import annotations

WORKSPACE: dict[str, tuple[str, str]] = {
    "organize.folders": ("GET", "/w/{slug}/folders"),
    "organize.create_folder": ("POST", "/w/{slug}/folders"),
    "organize.rename_folder": ("POST", "/w/{slug}/folders/{folder_id}/rename"),
    "organize.delete_folder": ("POST", "/w/{slug}/folders/{folder_id}/delete"),
    "organize.bulk": ("POST", "/w/{slug}/transcripts/organize"),
    "organize.set_folder": ("POST", "/w/{slug}/transcripts/{transcript_id}/folder"),
    "organize.set_tags": ("POST", "/w/{slug}/transcripts/{transcript_id}/tags"),
    "organize.move": ("POST", "/w/{slug}/transcripts/{transcript_id}/move"),
}
API: dict[str, tuple[str, str]] = {
    "api_organize.list_folders": ("GET", "/api/v1/folders"),
    "api_organize.create_folder": ("POST", "/api/v1/folders"),
    "api_organize.update_folder": ("PATCH", "/api/v1/folders/{folder_id}"),
    "api_organize.delete_folder": ("DELETE", "/api/v1/folders/{folder_id}"),
    "api_organize.set_folder": ("PUT", "/api/v1/transcripts/{transcript_id}/folder"),
    "api_organize.set_tags": ("PUT", "/api/v1/transcripts/{transcript_id}/tags"),
    "api_organize.move_transcript": ("POST", "/api/v1/transcripts/{transcript_id}/move"),
}
