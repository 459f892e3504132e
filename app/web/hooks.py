"""Request plumbing: who is signed in, error pages, and cleaning up after each request."""

from __future__ import annotations

from typing import Any

from flask import (
    Flask,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError

from app.errors import ServiceError
from app.extensions import db, login_manager
from app.tenants.context import reset_context

# Lazy: each reads in the language of the request that shows it.
_MESSAGES = {
    400: _l("The request could not be understood."),
    401: _l("Sign in to continue."),
    403: _l("You do not have permission to do that."),
    404: _l("Not found."),
    405: _l("That method is not allowed here."),
    413: _l("That is too large."),
    429: _l("Too many attempts. Wait a little and try again."),
    500: _l("Something went wrong on our side. It has been logged."),
}


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def install(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def _load_user(session_id: str) -> Any:
        from app.auth.services import load_session_user, session_ended

        # A signed-out session's cookie stays valid-looking; its id says it ended.
        if session_ended(session.get("sid")):
            return None
        return load_session_user(session_id)

    @login_manager.unauthorized_handler
    def _unauthorized() -> Any:
        if _wants_json():
            return jsonify(error="unauthorized", message=str(_MESSAGES[401])), 401
        target = url_for("auth.login", next=request.full_path.rstrip("?"))
        if request.headers.get("HX-Request") == "true":
            return "", 401, {"HX-Redirect": target}
        return redirect(target)

    @app.before_request
    def _fresh_context() -> None:
        reset_context()

    @app.teardown_request
    def _cleanup(_exc: BaseException | None) -> None:
        db.session.remove()
        reset_context()

    @app.context_processor
    def _layout_context() -> dict[str, Any]:
        return {"workspace": g.get("workspace"), "role": g.get("role")}

    def _error(status: int, message: str | None = None) -> Any:
        message = message or str(_MESSAGES.get(status) or _("Error."))
        if _wants_json():
            return jsonify(error=str(status), message=message), status
        if request.headers.get("HX-Request") == "true":
            # An htmx action that is refused shows its message in the page's flash area
            # instead of swapping a whole error page into the part it meant to update.
            body = render_template("errors/_inline.html", message=message)
            return body, status, {"HX-Retarget": "#flash-area", "HX-Reswap": "innerHTML"}
        return render_template("errors/error.html", status=status, message=message), status

    for status in _MESSAGES:
        app.register_error_handler(status, lambda e, s=status: _error(s))

    @app.errorhandler(CSRFError)
    def _csrf(_e: CSRFError) -> Any:
        return _error(
            400, _("This form expired or came from another site. Reload the page and try again.")
        )

    @app.errorhandler(ServiceError)
    def _service_error(e: ServiceError) -> Any:
        db.session.rollback()
        return _error(e.status, e.message)
