"""Folders, tags, and moving a transcript to another workspace."""

from __future__ import annotations

from flask import Blueprint

from app.tenants.web import workspace_blueprint

bp: Blueprint = workspace_blueprint("organize", __name__)
