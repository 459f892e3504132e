"""Usage analytics, only for signed-in people who opted in.

One row per page view (the route's endpoint, never the URL), written after the response
is built in its own short transaction, so recording can neither slow a page much nor
break it. After settings().analytics_retention_days the person is taken out of their
rows (user id, IP address, browser cleared). Opting out stops recording at once and
deletes the rows still tied to the person.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, Response, g, request
from flask_login import current_user
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app.auth.models import User
from app.db import rowcount, utcnow
from app.extensions import db
from app.privacy.models import AnalyticsEvent
from app.settings import settings

log = logging.getLogger("verbatim.analytics")

# Not pages a person uses: files, the load balancer's probe, and the API (its own log).
_SKIP_ENDPOINTS = frozenset({"static", "web.healthz"})
_SKIP_BLUEPRINTS = frozenset({"api-docs"})

# Most specific first: Edge and Opera also say "Chrome", Chrome also says "Safari".
_BROWSERS = (
    ("Edge", re.compile(r"\bEdgA?/(\d+)")),
    ("Opera", re.compile(r"\bOPR/(\d+)")),
    ("Samsung Internet", re.compile(r"\bSamsungBrowser/(\d+)")),
    ("Firefox", re.compile(r"\b(?:Firefox|FxiOS)/(\d+)")),
    ("Chrome", re.compile(r"\b(?:Chrome|CriOS|Chromium)/(\d+)")),
    ("Safari", re.compile(r"\bVersion/(\d+)[\d.]* (?:Mobile/\S+ )?Safari/")),
)


def browser_family(user_agent: str | None) -> str:
    """'Firefox 132' from a User-Agent: family and major version only, never the full
    string (it narrows a person down far more than the browser's name)."""
    ua = user_agent or ""
    for name, pattern in _BROWSERS:
        match = pattern.search(ua)
        if match:
            return f"{name} {match.group(1)}"
    return "Other"


def install(app: Flask) -> None:
    """Time each request and record it after the response is built (create_app)."""

    @app.before_request
    def _analytics_clock() -> None:
        g.analytics_started = time.perf_counter()

    @app.after_request
    def _analytics_record(response: Response) -> Response:
        record_request(response)
        return response


def _tracked() -> bool:
    endpoint = request.endpoint
    if endpoint is None or endpoint in _SKIP_ENDPOINTS:
        return False
    return request.blueprint not in _SKIP_BLUEPRINTS and not request.path.startswith("/api/")


def record_request(response: Response) -> None:
    """Record this request for a signed-in person who opted in. Never raises."""
    try:
        if not _tracked() or not current_user.is_authenticated:
            return
        if not current_user.analytics_consent:
            return
        started = g.get("analytics_started")
        elapsed = int((time.perf_counter() - started) * 1000) if started else 0
        endpoint = request.endpoint or ""
        values: dict[str, Any] = {
            "id": uuid.uuid4(),
            "at": utcnow(),
            "user_id": current_user.id,
            "page": endpoint[:120],
            "feature": (request.blueprint or endpoint.partition(".")[0])[:64],
            "method": request.method[:8],
            "status": response.status_code,
            "duration_ms": elapsed,
            "browser": browser_family(request.headers.get("User-Agent"))[:64],
            "ip": (request.remote_addr or "")[:45] or None,
        }
        # Its own session and transaction: never the request's (which may hold work the
        # view chose not to commit, or be broken by an error).
        with Session(db.engine) as session:
            session.execute(insert(AnalyticsEvent).values(**values))
            session.commit()
    except Exception:
        log.warning("usage analytics: event not recorded", exc_info=True)


def set_consent(user: User, on: bool, now: datetime | None = None) -> None:
    """Record the person's choice (and when it was made); commits.

    Opting out deletes the events still tied to them: those not yet anonymised."""
    now = now or utcnow()
    db.session.execute(
        update(User)
        .where(User.id == user.id)
        .values(analytics_consent=on, analytics_consent_at=now)
        .execution_options(synchronize_session=False)
    )
    if not on:
        db.session.execute(
            delete(AnalyticsEvent)
            .where(AnalyticsEvent.user_id == user.id)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    # The object in hand (often current_user) says the same at once, without a query:
    # this request's own after_request hook must already see an opt-out.
    set_committed_value(user, "analytics_consent", on)
    set_committed_value(user, "analytics_consent_at", now)


def forget_user(user_id: uuid.UUID) -> int:
    """Delete every event tied to the person (account deletion). Runs in the caller's
    transaction: the caller commits."""
    result = db.session.execute(delete(AnalyticsEvent).where(AnalyticsEvent.user_id == user_id))
    return rowcount(result)


def events_of(user_id: uuid.UUID) -> int:
    return int(
        db.session.scalar(
            select(func.count(AnalyticsEvent.id)).where(AnalyticsEvent.user_id == user_id)
        )
        or 0
    )


def page_context(user: User) -> dict[str, Any]:
    """What the privacy page's analytics section shows."""
    return {
        "consent": bool(user.analytics_consent),
        "consent_at": user.analytics_consent_at,
        "events": events_of(user.id),
        "retention_days": settings().analytics_retention_days,
    }


def anonymise(now: datetime | None = None) -> int:
    """Take the person out of every event older than the retention period; commits.

    Idempotent: rows already anonymised are left alone."""
    now = now or utcnow()
    cutoff = now - timedelta(days=settings().analytics_retention_days)
    result = db.session.execute(
        update(AnalyticsEvent)
        .where(AnalyticsEvent.anonymised_at.is_(None), AnalyticsEvent.at < cutoff)
        .values(user_id=None, ip=None, browser=None, anonymised_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    count = rowcount(result)
    if count:
        log.info("usage analytics: %d event(s) anonymised", count)
    return count
