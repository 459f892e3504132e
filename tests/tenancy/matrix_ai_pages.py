"""Tenancy matrix entries of the AI pages (app/ai/routes.py; see matrix.py). The API's are
in matrix_ai.py."""

from __future__ import annotations

_PANEL = "/w/{slug}/transcripts/{transcript_id}/ai"
_SUMMARY = f"{_PANEL}/summaries/{{summary_id}}"
_TEMPLATE = "/w/{slug}/settings/ai/templates/{template_id}"

WORKSPACE: dict[str, tuple[str, str]] = {
    "ai.panel": ("GET", _PANEL),
    "ai.generate": ("POST", f"{_PANEL}/summaries"),
    "ai.summary": ("GET", _SUMMARY),
    "ai.download": ("GET", f"{_SUMMARY}.{{fmt}}"),
    "ai.delete_summary": ("POST", f"{_SUMMARY}/delete"),
    "ai.chat": ("POST", f"{_PANEL}/chat"),
    "ai.clear_chat": ("POST", f"{_PANEL}/chat/clear"),
    "ai.ask_page": ("GET", "/w/{slug}/ask"),
    "ai.ask": ("POST", "/w/{slug}/ask"),
    "ai.clear_ask": ("POST", "/w/{slug}/ask/clear"),
    "ai.stream": ("GET", "/w/{slug}/ai/messages/{message_id}/stream"),
    "ai.settings": ("GET", "/w/{slug}/settings/ai"),
    "ai.save_settings": ("POST", "/w/{slug}/settings/ai"),
    "ai.create_template": ("POST", "/w/{slug}/settings/ai/templates"),
    "ai.update_template": ("POST", _TEMPLATE),
    "ai.delete_template": ("POST", f"{_TEMPLATE}/delete"),
}
API: dict[str, tuple[str, str]] = {}
