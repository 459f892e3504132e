"""Tenancy matrix entries of the privacy page and account deletion (app/privacy/routes.py)
and the operators' requests page (app/privacy/operator_routes.py; operators only, 404 for
everyone else: tests/privacy/)."""

from __future__ import annotations

PUBLIC: set[str] = set()
SIGNED_IN: dict[str, tuple[str, str]] = {
    "privacy.page": ("GET", "/account/privacy"),
    "privacy.delete_account": ("POST", "/account/privacy/delete"),
    "operator.requests": ("GET", "/operator/requests"),
    "operator.file_deletion": ("POST", "/operator/requests"),
}
WORKSPACE: dict[str, tuple[str, str]] = {}
API: dict[str, tuple[str, str]] = {}
