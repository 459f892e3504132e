"""Tenancy matrix entries of the AI API (see matrix.py). The pages are in matrix_ai_pages.py."""

from __future__ import annotations

_T = "/api/v1/transcripts/{transcript_id}"
_MESSAGE = "/api/v1/ai/messages/{message_id}"

WORKSPACE: dict[str, tuple[str, str]] = {}

API: dict[str, tuple[str, str]] = {
    "api_ai.get_ai": ("GET", "/api/v1/ai"),
    "api_ai.list_templates": ("GET", "/api/v1/ai/templates"),
    "api_ai.create_template": ("POST", "/api/v1/ai/templates"),
    "api_ai.update_template": ("PATCH", "/api/v1/ai/templates/{template_id}"),
    "api_ai.delete_template": ("DELETE", "/api/v1/ai/templates/{template_id}"),
    "api_ai.list_summaries": ("GET", f"{_T}/summaries"),
    "api_ai.request_summary": ("POST", f"{_T}/summaries"),
    "api_ai.get_summary": ("GET", f"{_T}/summaries/{{summary_id}}"),
    "api_ai.delete_summary": ("DELETE", f"{_T}/summaries/{{summary_id}}"),
    "api_ai.get_chat": ("GET", f"{_T}/chat"),
    "api_ai.ask_transcript": ("POST", f"{_T}/chat"),
    "api_ai.clear_chat": ("DELETE", f"{_T}/chat"),
    "api_ai.get_questions": ("GET", "/api/v1/ask"),
    "api_ai.ask_workspace": ("POST", "/api/v1/ask"),
    "api_ai.clear_questions": ("DELETE", "/api/v1/ask"),
    "api_ai.get_message": ("GET", _MESSAGE),
    "api_ai.stream_message": ("GET", f"{_MESSAGE}/stream"),
}
