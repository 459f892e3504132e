"""Tenancy matrix entries of private transcripts' ciphertext (app/private/transcript_routes.py
and the API; see matrix.py)."""

from __future__ import annotations

_CONTENT = "/w/{slug}/transcripts/{transcript_id}/private"

WORKSPACE: dict[str, tuple[str, str]] = {
    "private_transcripts.content": ("GET", _CONTENT),
    "private_transcripts.store": ("PUT", _CONTENT),
}
_API_CONTENT = "/api/v1/transcripts/{transcript_id}/private"
API: dict[str, tuple[str, str]] = {
    "api_transcripts.get_private": ("GET", _API_CONTENT),
    "api_transcripts.store_private": ("PUT", _API_CONTENT),
}

# The world's transcripts are ordinary ones: a transcript that is not private has no
# ciphertext, so its own workspace's key gets 404 here too (tests/tenancy/test_routes.py
# test_api_key_of_x_lists_nothing_of_y expects these, not 200).
OWN_NOT_FOUND: set[str] = {"api_transcripts.get_private"}
