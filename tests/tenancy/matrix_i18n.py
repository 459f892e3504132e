"""Tenancy matrix entries of i18n (issue 9; see matrix.py).

The language switcher needs no sign-in: a visitor chooses a language too (a cookie); a
signed-in person's choice is also saved on their own account, never on a workspace."""

from __future__ import annotations

PUBLIC: set[str] = {"language.switch"}
SIGNED_IN: dict[str, tuple[str, str]] = {}
WORKSPACE: dict[str, tuple[str, str]] = {}
API: dict[str, tuple[str, str]] = {}
