"""API: folders, tags, moving transcripts between workspaces."""

from __future__ import annotations

from app.api.blueprint import api_blueprint

bp = api_blueprint("api_organize", __name__, "Folders, tags, moving transcripts between workspaces")
