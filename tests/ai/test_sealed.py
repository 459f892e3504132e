"""Workspace API keys are sealed at rest and open only with the same secret and purpose."""

from __future__ import annotations

from app.security import sealed


def test_sealed_round_trip_and_refusals() -> None:
    blob = sealed.seal("secret-1", "ai-api-key", "sk-live-123")
    assert b"sk-live-123" not in blob
    assert sealed.unseal("secret-1", "ai-api-key", blob) == "sk-live-123"
    assert sealed.unseal("secret-2", "ai-api-key", blob) is None  # rotated secret
    assert sealed.unseal("secret-1", "other", blob) is None  # another purpose
    flipped = blob[:-1] + bytes([blob[-1] ^ 1])
    assert sealed.unseal("secret-1", "ai-api-key", flipped) is None
    assert sealed.seal("secret-1", "ai-api-key", "x") != sealed.seal("secret-1", "ai-api-key", "x")
