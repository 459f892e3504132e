"""Absolute links for mail, built without a request (services, jobs, CLI)."""

from __future__ import annotations

from typing import Any

from flask import current_app

from app.settings import settings


def external_url(endpoint: str, **values: Any) -> str:
    adapter = current_app.url_map.bind("localhost", url_scheme="https")
    return settings().base_url.rstrip("/") + adapter.build(endpoint, values)
