"""Tenancy matrix entries of the editor (owned by the editor feature; see matrix.py)."""

from __future__ import annotations

WORKSPACE: dict[str, tuple[str, str]] = {}
API: dict[str, tuple[str, str]] = {}
