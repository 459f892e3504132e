"""/api/v1: API-key authenticated, one workspace per key, OpenAPI generated from the code."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request
from flask_babel import gettext as _
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from app.api.schemas import ErrorOut


def _field_messages(errors: dict[str, Any]) -> list[str]:
    # {"json": {"email": ["Not a valid email address."]}} -> ["email: Not a valid ..."]
    out: list[str] = []
    for fields in errors.values():
        for name, messages in (fields or {}).items():
            items = messages if isinstance(messages, list) else [messages]
            out += [f"{name}: {m}" for m in items]
    return out


class VerbatimApi(Api):
    """Every API error has one shape (ErrorOut), and the generated description says so."""

    ERROR_SCHEMA = ErrorOut

    def handle_http_exception(self, error: HTTPException) -> Any:
        # Registered app-wide by flask-smorest; pages outside the API keep HTML errors.
        if not request.path.startswith("/api/"):
            return error
        data = getattr(error, "data", None) or {}
        errors = data.get("messages") or data.get("errors") or {}
        if errors:
            payload: dict[str, Any] = {
                "error": "invalid",
                "message": " ".join(_field_messages(errors)) or _("The request is not valid."),
                "errors": errors,
            }
        else:
            payload = {
                "error": (error.name or "error").lower().replace(" ", "_"),
                "message": data.get("message") or error.description,
            }
        resp = jsonify(payload)
        resp.status_code = error.code or 500
        for name, value in (data.get("headers") or {}).items():
            resp.headers[name] = value
        return resp


def init_api(app: Flask) -> Api:
    from app.api.ai import bp as ai_bp
    from app.api.billing import bp as billing_bp
    from app.api.editor import bp as editor_bp
    from app.api.exports import bp as exports_bp
    from app.api.organize import bp as organize_bp
    from app.api.privacy import bp as privacy_bp
    from app.api.search import bp as search_bp
    from app.api.shares import bp as shares_bp
    from app.api.transcripts import bp as transcripts_bp
    from app.api.uploads import bp as uploads_bp
    from app.api.voice_lab import bp as voice_lab_bp
    from app.api.workspace import bp as workspace_bp

    api = VerbatimApi(
        app,
        spec_kwargs={
            "info": {
                "description": "Verbatim REST API. Authenticate with "
                "`Authorization: Bearer <API key>`; a key belongs to one "
                "workspace and sees only its data. Errors are JSON "
                '`{"error", "message"}`; over the rate limit a call gets 429 with '
                "Retry-After."
            },
        },
    )
    api.spec.components.security_scheme(
        "ApiKey", {"type": "http", "scheme": "bearer", "description": "A workspace API key"}
    )
    api.spec.options["security"] = [{"ApiKey": []}]
    for bp in (
        workspace_bp,
        transcripts_bp,
        uploads_bp,
        editor_bp,
        exports_bp,
        shares_bp,
        organize_bp,
        search_bp,
        ai_bp,
        billing_bp,
        privacy_bp,
        voice_lab_bp,
    ):
        api.register_blueprint(bp)
    app.extensions["verbatim.api"] = api
    return api
