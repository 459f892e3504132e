"""Tenancy matrix entries of privacy_export (issue 9; see matrix.py)."""

from __future__ import annotations

PUBLIC: set[str] = set()
SIGNED_IN: dict[str, tuple[str, str]] = {}
WORKSPACE: dict[str, tuple[str, str]] = {}
API: dict[str, tuple[str, str]] = {}
