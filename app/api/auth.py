"""Bearer API keys: resolve the key, set its workspace as the context."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import g, jsonify, request
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address

from app.auth.api_keys import authenticate_api_key, key_prefix
from app.db import as_utc, utcnow
from app.extensions import db
from app.tenants.context import enter_workspace
from app.tenants.models import Role, Workspace


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def rate_limit_key() -> str:
    # Per key (by its public prefix), before any database work; anonymous calls per address.
    prefix = key_prefix(_bearer())
    return f"api:{prefix}" if prefix else f"api-ip:{get_remote_address()}"


def unauthorized() -> Any:
    resp = jsonify(
        error="unauthorized",
        message=_("Send a valid API key as 'Authorization: Bearer <key>'."),
    )
    resp.status_code = 401
    resp.headers["WWW-Authenticate"] = 'Bearer realm="verbatim"'
    return resp


def authenticate_request() -> Any:
    key = authenticate_api_key(_bearer())
    if key is None:
        return unauthorized()
    enter_workspace(key.workspace_id)
    g.api_key = key
    g.workspace = db.session.get(Workspace, key.workspace_id)
    g.role = Role.ADMIN  # keys are made by admins and act for the workspace
    last = key.last_used_at
    if last is None or utcnow() - as_utc(last) > timedelta(minutes=1):
        key.last_used_at = utcnow()  # coarse, so a busy key does not write on every call
        db.session.commit()
    return None
