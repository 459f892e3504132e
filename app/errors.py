"""Errors services raise; routes turn them into a flash message or a JSON problem."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l


class ServiceError(Exception):
    """A refused action with a message fit to show to the person who asked."""

    status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        # str(): a lazily translated message becomes text in the asker's language here.
        message = str(message)
        super().__init__(message)
        self.message = message
        self.field = field


def refusal_status(e: ServiceError, plain: int = 422) -> int:
    """The HTTP status a refusal answers with: a plain ServiceError becomes `plain` (422:
    understood but refused; 410 for a spent link), the subclasses keep their own."""
    return plain if type(e) is ServiceError else e.status


class NotFound(ServiceError):
    status = 404

    def __init__(self, message: str | None = None) -> None:
        # Lazy, so the default reads in the asker's language (ServiceError str()s it).
        message = message if message is not None else _l("Not found.")
        super().__init__(message)


class Forbidden(ServiceError):
    status = 403

    def __init__(self, message: str | None = None) -> None:
        if message is None:
            message = _l("You do not have permission to do that.")
        super().__init__(message)


class Conflict(ServiceError):
    status = 409


class TooLarge(ServiceError):
    status = 413


class BadRequest(ServiceError):
    """Malformed input (a query parameter out of range), as opposed to a refused action."""

    status = 400


class Unavailable(ServiceError):
    """A service we depend on (the search server) cannot answer right now."""

    status = 503
