"""Small helpers for reading form fields in routes."""

from __future__ import annotations

import uuid

from flask import abort, request


def field(name: str, default: str = "") -> str:
    return (request.form.get(name) or default).strip()


def parse_id(value: str) -> uuid.UUID:
    """A path id; malformed ids answer like missing ones."""
    try:
        return uuid.UUID(value)
    except ValueError:
        abort(404)
