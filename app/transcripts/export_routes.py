"""Export pages: one transcript in a chosen format, or a selection as one zip."""

from __future__ import annotations

from flask import Blueprint

from app.tenants.web import workspace_blueprint

bp: Blueprint = workspace_blueprint("exports", __name__, "/transcripts")
