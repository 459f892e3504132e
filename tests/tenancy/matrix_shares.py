"""Tenancy matrix entries of share links (owned by the sharing feature; see matrix.py)."""

from __future__ import annotations

PUBLIC: set[str] = set()
WORKSPACE: dict[str, tuple[str, str]] = {}
API: dict[str, tuple[str, str]] = {}
