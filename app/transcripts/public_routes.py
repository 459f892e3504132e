"""The public, read-only page behind a share link: /s/<token>."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("public_share", __name__, url_prefix="/s")
