"""API blueprints are set up once, where they are defined: an app built later in the same
process (a forked work horse, a second test app) registers them again without re-decorating."""

from __future__ import annotations

from flask_smorest import Blueprint

from app.api import auth
from app.extensions import csrf, limiter
from app.privacy import api_log
from app.settings import settings


def api_blueprint(name: str, import_name: str, description: str) -> Blueprint:
    bp = Blueprint(name, import_name, url_prefix="/api/v1", description=description)
    bp.before_request(api_log.start_clock)
    bp.before_request(auth.authenticate_request)
    bp.before_request(api_log.note_key)
    # Request metadata (time, URL rule, status), kept 90 days: app/privacy/api_log.py.
    bp.after_request(api_log.record_response)
    # Cookies are never accepted here, so there is nothing for CSRF to protect.
    csrf.exempt(bp)
    limiter.limit(lambda: settings().ratelimit_api, key_func=auth.rate_limit_key)(bp)
    return bp
