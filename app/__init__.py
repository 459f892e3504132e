"""The application factory."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from flask import Flask

from app.config import Settings, load_settings
from app.db import make_engine
from app.extensions import csrf, limiter, login_manager

ROOT = Path(__file__).resolve().parent.parent


def create_app(cfg: Settings | None = None) -> Flask:
    cfg = cfg or load_settings()
    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder="static")
    _configure(app, cfg)
    app.extensions["verbatim.engine"] = make_engine(cfg.database_url, cfg.db_pool_size)

    # Registers the ORM listeners (tenancy, after-commit hooks); import order matters not.
    from app import models, queue  # noqa: F401
    from app.search import indexer, outbox  # noqa: F401
    from app.tenants import scoping  # noqa: F401

    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)

    from app.security import headers

    headers.install(app, cfg.hsts_seconds)

    from app.web import hooks

    hooks.install(app)

    from app.i18n import init_i18n

    init_i18n(app)

    from app.privacy import analytics

    analytics.install(app)

    from app.plugins.manager import init_plugins

    init_plugins(app)

    _register_blueprints(app)

    from app.cli import register_cli

    register_cli(app)

    if cfg.inline_worker:
        from workers import inline

        inline.start(app)
    return app


def _configure(app: Flask, cfg: Settings) -> None:
    if not cfg.secret_key:
        if cfg.env == "production":
            raise RuntimeError("VERBATIM_SECRET_KEY must be set in production")
        cfg.secret_key = secrets.token_hex(32)
        logging.getLogger("verbatim").warning("no VERBATIM_SECRET_KEY; using a random one")
    app.extensions["verbatim.settings"] = cfg
    app.config.update(
        SECRET_KEY=cfg.secret_key,
        SESSION_COOKIE_SECURE=cfg.secure_cookies,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="verbatim_session",
        REMEMBER_COOKIE_SECURE=cfg.secure_cookies,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=1 * 1024 * 1024,  # forms only; uploads get their own limit
        WTF_CSRF_TIME_LIMIT=None,  # tied to the session instead of a clock
        RATELIMIT_STORAGE_URI=cfg.redis_url or "memory://",
        RATELIMIT_HEADERS_ENABLED=True,
        RATELIMIT_KEY_PREFIX="verbatim-rl",
        TESTING=cfg.env == "test",
        API_TITLE="Verbatim API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
    )


def _register_blueprints(app: Flask) -> None:
    from app.account.routes import bp as account_bp
    from app.ai.routes import bp as ai_bp
    from app.api import init_api
    from app.audit.routes import bp as audit_bp
    from app.auth.api_key_routes import bp as api_keys_bp
    from app.auth.google import bp as google_bp
    from app.auth.google import register_google
    from app.auth.routes import bp as auth_bp
    from app.billing.routes import bp as billing_bp
    from app.billing.webhook_routes import bp as billing_webhooks_bp
    from app.i18n.routes import bp as language_bp
    from app.ingest.routes import bp as uploads_bp
    from app.plugins.routes import bp as plugins_bp
    from app.privacy.analytics_routes import bp as privacy_analytics_bp
    from app.privacy.export_routes import bp as privacy_export_bp
    from app.privacy.operator_routes import bp as operator_bp
    from app.privacy.routes import bp as privacy_bp
    from app.privacy.voice_lab_routes import bp as voice_lab_bp
    from app.private.account_routes import bp as private_account_bp
    from app.private.transcript_routes import bp as private_transcripts_bp
    from app.search.routes import bp as search_bp
    from app.tenants.invitation_routes import bp as invitations_bp
    from app.tenants.routes import bp as workspace_bp
    from app.transcripts.editor_routes import bp as editor_bp
    from app.transcripts.export_routes import bp as exports_bp
    from app.transcripts.organize_routes import bp as organize_bp
    from app.transcripts.public_routes import bp as public_share_bp
    from app.transcripts.routes import bp as transcripts_bp
    from app.transcripts.share_routes import bp as shares_bp
    from app.web.routes import bp as web_bp

    register_google(app)
    for bp in (
        web_bp,
        auth_bp,
        google_bp,
        account_bp,
        invitations_bp,
        workspace_bp,
        api_keys_bp,
        audit_bp,
        plugins_bp,
        transcripts_bp,
        editor_bp,
        exports_bp,
        shares_bp,
        public_share_bp,
        organize_bp,
        search_bp,
        ai_bp,
        private_account_bp,
        private_transcripts_bp,
        uploads_bp,
        billing_bp,
        billing_webhooks_bp,
        language_bp,
        privacy_bp,
        privacy_export_bp,
        privacy_analytics_bp,
        voice_lab_bp,
        operator_bp,
    ):
        app.register_blueprint(bp)
    init_api(app)
