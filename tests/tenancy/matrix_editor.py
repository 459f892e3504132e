"""Tenancy matrix entries of the editor (owned by the editor feature; see matrix.py)."""

from __future__ import annotations

_T = "/w/{slug}/transcripts/{transcript_id}"
_SEG = f"{_T}/segments/{{segment_id}}"
_API_T = "/api/v1/transcripts/{transcript_id}"
_API_SEG = f"{_API_T}/segments/{{segment_id}}"

WORKSPACE: dict[str, tuple[str, str]] = {
    "editor.segment": ("GET", _SEG),
    "editor.edit_text": ("POST", _SEG),
    "editor.set_times": ("POST", f"{_SEG}/times"),
    "editor.split": ("POST", f"{_SEG}/split"),
    "editor.merge": ("POST", f"{_SEG}/merge"),
    "editor.set_speaker": ("POST", f"{_SEG}/speaker"),
    "editor.replace": ("POST", f"{_T}/replace"),
    "editor.history": ("GET", f"{_T}/history"),
    "editor.revision": ("GET", f"{_T}/history/{{number}}"),
    "editor.restore": ("POST", f"{_T}/history/{{number}}/restore"),
    "editor.review_page": ("GET", f"{_T}/review"),
    "editor.review_action": ("POST", f"{_T}/review"),
}
API: dict[str, tuple[str, str]] = {
    "api_editor.update_segment": ("PATCH", _API_SEG),
    "api_editor.split_segment": ("POST", f"{_API_SEG}/split"),
    "api_editor.merge_segment": ("POST", f"{_API_SEG}/merge"),
    "api_editor.replace": ("POST", f"{_API_T}/replace"),
    "api_editor.list_revisions": ("GET", f"{_API_T}/revisions"),
    "api_editor.get_revision": ("GET", f"{_API_T}/revisions/{{number}}"),
    "api_editor.restore_revision": ("POST", f"{_API_T}/revisions/{{number}}/restore"),
    "api_editor.list_review": ("GET", f"{_API_T}/review"),
    "api_editor.review_word": ("POST", f"{_API_T}/review"),
}
