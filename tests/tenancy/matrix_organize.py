"""Tenancy matrix entries of folders, tags and moves (see matrix.py)."""

from __future__ import annotations

WORKSPACE: dict[str, tuple[str, str]] = {}
API: dict[str, tuple[str, str]] = {}
