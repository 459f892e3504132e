"""Tenancy matrix entries of share links (owned by the sharing feature; see matrix.py)."""

from __future__ import annotations

# The page behind a link: no sign-in; the token alone finds the link (tests/integration/
# test_shares.py checks that unknown, revoked and expired tokens answer alike).
PUBLIC: set[str] = {"public_share.show", "public_share.unlock", "public_share.download"}

WORKSPACE: dict[str, tuple[str, str]] = {
    "shares.index": ("GET", "/w/{slug}/transcripts/{transcript_id}/shares"),
    "shares.create": ("POST", "/w/{slug}/transcripts/{transcript_id}/shares"),
    "shares.revoke": ("POST", "/w/{slug}/transcripts/{transcript_id}/shares/{share_id}/revoke"),
}

API: dict[str, tuple[str, str]] = {
    "api_shares.list_shares": ("GET", "/api/v1/transcripts/{transcript_id}/shares"),
    "api_shares.create_share": ("POST", "/api/v1/transcripts/{transcript_id}/shares"),
    "api_shares.revoke_share": (
        "DELETE",
        "/api/v1/transcripts/{transcript_id}/shares/{share_id}",
    ),
}
