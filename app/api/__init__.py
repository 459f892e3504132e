"""/api/v1: API-key authenticated, one workspace per key, OpenAPI generated from the code."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from app.extensions import csrf, limiter
from app.settings import settings


def init_api(app: Flask) -> Api:
    from app.api import auth
    from app.api.workspace import bp as workspace_bp

    api = Api(
        app,
        spec_kwargs={
            "info": {
                "description": "Verbatim REST API. Authenticate with "
                "`Authorization: Bearer <API key>`; a key belongs to one "
                "workspace and sees only its data."
            },
        },
    )
    api.spec.components.security_scheme("ApiKey", {"type": "http", "scheme": "bearer"})
    api.spec.options["security"] = [{"ApiKey": []}]
    for bp in (workspace_bp,):
        bp.before_request(auth.authenticate_request)
        # Cookies are never accepted here, so there is nothing for CSRF to protect.
        csrf.exempt(bp)
        limiter.limit(lambda: settings().ratelimit_api, key_func=auth.rate_limit_key)(bp)
        api.register_blueprint(bp)
    app.extensions["verbatim.api"] = api
    return api
