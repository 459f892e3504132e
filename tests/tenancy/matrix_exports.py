"""Tenancy matrix entries of exports (owned by the exports feature; see matrix.py)."""

from __future__ import annotations

WORKSPACE: dict[str, tuple[str, str]] = {}
API: dict[str, tuple[str, str]] = {}
