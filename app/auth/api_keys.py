"""Workspace API keys: random, shown once, stored as a keyed hash behind a visible prefix."""

from __future__ import annotations

import secrets
import uuid

from flask_babel import gettext as _
from sqlalchemy import select

from app.audit.service import record
from app.auth.models import ApiKey
from app.db import utcnow
from app.errors import NotFound, ServiceError
from app.extensions import db
from app.security.tokens import keyed_hash, same
from app.settings import settings
from app.tenants.context import unscoped

KEY_PREFIX = "vb_"
PREFIX_HEX_CHARS = 8
_HEX = frozenset("0123456789abcdef")


def _pepper() -> str:
    cfg = settings()
    return cfg.api_key_pepper or cfg.secret_key


def create_api_key(name: str, created_by_id: uuid.UUID | None) -> tuple[ApiKey, str]:
    name = (name or "").strip()
    if not 1 <= len(name) <= 80:
        raise ServiceError(
            _("Name the key (1 to 80 characters) so you know where it is used."), field="name"
        )
    prefix = KEY_PREFIX + secrets.token_hex(PREFIX_HEX_CHARS // 2)
    raw = f"{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        name=name, prefix=prefix, key_hash=keyed_hash(_pepper(), raw), created_by_id=created_by_id
    )
    db.session.add(key)
    db.session.flush()
    record("api_key.created", target=key, details={"name": name, "prefix": prefix})
    db.session.commit()
    return key, raw


def list_api_keys() -> list[ApiKey]:
    return list(db.session.scalars(select(ApiKey).order_by(ApiKey.created_at.desc())))


def revoke_api_key(key_id: uuid.UUID) -> ApiKey:
    key = db.session.get(ApiKey, key_id)
    if key is None or key.revoked_at is not None:
        raise NotFound()
    key.revoked_at = utcnow()
    record("api_key.revoked", target=key, details={"prefix": key.prefix})
    db.session.commit()
    return key


def key_prefix(raw: str) -> str | None:
    """The public prefix of a raw key ("vb_<8 hex>"), or None when it is not shaped like one.

    Split after the fixed prefix, not at the last "_": the secret part is URL-safe base64
    and often contains "_" itself.
    """
    raw = raw or ""
    if not raw.startswith(KEY_PREFIX):
        return None
    ident, sep, secret = raw[len(KEY_PREFIX) :].partition("_")
    if not sep or not secret or len(ident) != PREFIX_HEX_CHARS or set(ident) - _HEX:
        return None
    return KEY_PREFIX + ident


def authenticate_api_key(raw: str) -> ApiKey | None:
    """The live key behind `raw`, whatever its workspace (the key is the secret)."""
    prefix = key_prefix(raw)
    if prefix is None:
        return None
    with unscoped("API key looked up by its own prefix, then checked by hash"):
        key = db.session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if key is None or key.revoked_at is not None:
        return None
    if not same(key.key_hash, keyed_hash(_pepper(), raw)):
        return None
    return key
