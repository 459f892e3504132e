"""The people who run this installation (VERBATIM_OPERATOR_EMAILS): they answer for
data-rights requests and cut Voice Lab's releases. Everyone else gets a 404 from their
pages, as if they did not exist."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort
from flask_login import current_user, login_required

from app.settings import settings

F = TypeVar("F", bound=Callable[..., Any])


def is_operator(user: Any) -> bool:
    email = getattr(user, "email", None)
    return bool(
        getattr(user, "is_authenticated", False)
        and email
        and getattr(user, "email_verified_at", None) is not None
        and email.lower() in settings().operator_email_list
    )


def operator_required(view: F) -> F:
    """Signed in, with a verified email on the operators' list; otherwise 404."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not is_operator(current_user):
            abort(404)
        return view(*args, **kwargs)

    return login_required(wrapped)  # type: ignore[return-value]
