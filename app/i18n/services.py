"""Choosing the interface language."""

from __future__ import annotations

from typing import Any

from app.errors import ServiceError
from app.extensions import db
from app.i18n import native_name, offered


def check_language(code: str | None) -> str:
    """`code` if it is an offered language; refused otherwise, nothing changed."""
    code = (code or "").strip()
    languages = offered()
    if code not in languages:
        names = ", ".join(f"{native_name(c)} ({c})" for c in languages)
        raise ServiceError(f"That language is not offered here. Choose one of: {names}.")
    return code


def set_user_language(user: Any, code: str) -> None:
    """Save `code` on the signed-in `user` (the loaded object, so this request sees it)."""
    code = check_language(code)
    if user.locale != code:
        user.locale = code
        db.session.commit()
