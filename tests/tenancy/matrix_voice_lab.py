"""Tenancy matrix entries of Voice Lab (app/privacy/voice_lab_routes.py, app/api/voice_lab.py;
see matrix.py).

A person's contributions are reached without a workspace (which one is named in the form
body, checked against the signed-in person); the operators' pages answer 404 to everyone
not on VERBATIM_OPERATOR_EMAILS (tests/voice_lab/ prove both). On the API a key sees only
its maker's contributions from its own workspace."""

from __future__ import annotations

PUBLIC: set[str] = set()
SIGNED_IN: dict[str, tuple[str, str]] = {
    "voice_lab.page": ("GET", "/account/voice-lab"),
    "voice_lab.withdraw": ("POST", "/account/voice-lab/withdraw"),
    "voice_lab.operator_page": ("GET", "/operator/voice-lab"),
    "voice_lab.cut_release": ("POST", "/operator/voice-lab/releases"),
    "voice_lab.download_release": ("GET", "/operator/voice-lab/releases/{number}.zip"),
}
WORKSPACE: dict[str, tuple[str, str]] = {}
API: dict[str, tuple[str, str]] = {
    "api_voice_lab.get_consent": ("GET", "/api/v1/voice-lab/consent"),
    "api_voice_lab.list_contributions": ("GET", "/api/v1/voice-lab/contributions"),
    "api_voice_lab.withdraw": ("POST", "/api/v1/voice-lab/withdrawals"),
}
