"""Managing a transcript's public links (inside the workspace)."""

from __future__ import annotations

from flask import Blueprint

from app.tenants.web import workspace_blueprint

bp: Blueprint = workspace_blueprint("shares", __name__, "/transcripts")
