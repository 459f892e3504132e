"""API: editing: segments, find and replace, revisions, review pass."""

from __future__ import annotations

from app.api.blueprint import api_blueprint

bp = api_blueprint(
    "api_editor", __name__, "Editing: segments, find and replace, revisions, review pass"
)
