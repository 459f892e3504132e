"""Editing a transcript: segments, speakers, find and replace, history, review pass."""

from __future__ import annotations

from flask import Blueprint

from app.tenants.web import workspace_blueprint

bp: Blueprint = workspace_blueprint("editor", __name__, "/transcripts")
