"""Tenancy matrix entries of Private Transcript's account pages (app/private/account_routes.py;
see matrix.py): a person's keyring, reached without a workspace."""

from __future__ import annotations

_BASE = "/account/private"

SIGNED_IN: dict[str, tuple[str, str]] = {
    "private_account.page": ("GET", _BASE),
    "private_account.keyring": ("GET", f"{_BASE}/keyring"),
    "private_account.create": ("POST", f"{_BASE}/keyring"),
    "private_account.update_keys": ("POST", f"{_BASE}/keys"),
    "private_account.set_default": ("POST", f"{_BASE}/default"),
    "private_account.reset": ("POST", f"{_BASE}/reset"),
}
WORKSPACE: dict[str, tuple[str, str]] = {}
API: dict[str, tuple[str, str]] = {}
