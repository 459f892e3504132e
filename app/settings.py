"""Access to the running app's Settings."""

from __future__ import annotations

from flask import current_app

from app.config import Settings


def settings() -> Settings:
    return current_app.extensions["verbatim.settings"]
