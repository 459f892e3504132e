"""Tenancy matrix entries of privacy_export (app/privacy/export_routes.py, app/api/privacy.py;
see matrix.py): a person's own data exports, reached without a workspace (the API key's
maker is "me"). Another person's export answers 404 (tests/privacy_export/)."""

from __future__ import annotations

_PAGE = "/account/privacy/exports"
_API = "/api/v1/me/exports"

PUBLIC: set[str] = set()
SIGNED_IN: dict[str, tuple[str, str]] = {
    "privacy_export.create": ("POST", _PAGE),
    "privacy_export.download": ("GET", f"{_PAGE}/{{export_id}}/download"),
}
WORKSPACE: dict[str, tuple[str, str]] = {}
API: dict[str, tuple[str, str]] = {
    "api_privacy.list_exports": ("GET", _API),
    "api_privacy.create_export": ("POST", _API),
    "api_privacy.get_export": ("GET", f"{_API}/{{export_id}}"),
    "api_privacy.download_export": ("GET", f"{_API}/{{export_id}}/download"),
}

# {export_id} is an export of nobody here (the world's people asked for none): with the
# own workspace's key these answer 404, not 200 (test_api_key_of_x_lists_nothing_of_y).
OWN_NOT_FOUND: set[str] = {"api_privacy.get_export", "api_privacy.download_export"}
