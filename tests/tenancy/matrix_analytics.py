"""Tenancy matrix entries of usage analytics (issue 9; see matrix.py): a person's own
consent, reached without a workspace."""

from __future__ import annotations

PUBLIC: set[str] = set()
SIGNED_IN: dict[str, tuple[str, str]] = {
    "privacy_analytics.update": ("POST", "/account/privacy/analytics"),
}
WORKSPACE: dict[str, tuple[str, str]] = {}
API: dict[str, tuple[str, str]] = {}
