"""Interface languages (being built: issue 9)."""

from __future__ import annotations

from flask import Flask


def init_i18n(app: Flask) -> None:
    """Set up translations for `app`."""
