"""API request metadata: one row per authenticated /api/v1 call (time, URL rule, method,
status, duration, key), in the key's workspace; deleted after
settings().api_log_retention_days. No body, no query string, no IP address."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

from flask import Response, g, request
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from app.db import rowcount, utcnow
from app.extensions import db
from app.privacy.models import ApiRequestLog
from app.settings import settings
from app.tenants.context import unscoped, workspace_scope

log = logging.getLogger("verbatim.api_log")


def start_clock() -> None:
    """Before authentication, so the time includes it."""
    g.api_log_started = time.perf_counter()


def note_key() -> None:
    """After authentication: keep the key's ids, which stay readable whatever the view
    does to the session (a rollback expires the key object)."""
    key = g.get("api_key")
    if key is not None:
        g.api_log_key = (key.id, key.workspace_id)


def record_response(response: Response) -> Response:
    """Write the request's row in its own short transaction. Never raises.

    Calls refused before a key was accepted (401, 429) have no workspace to be filed
    under and are not written."""
    try:
        ids = g.get("api_log_key")
        if ids is not None:
            started = g.get("api_log_started")
            rule = request.url_rule.rule if request.url_rule is not None else request.path
            write(
                workspace_id=ids[1],
                api_key_id=ids[0],
                method=request.method,
                endpoint=rule,
                status=response.status_code,
                duration_ms=int((time.perf_counter() - started) * 1000) if started else 0,
            )
    except Exception:
        log.warning("API request metadata not recorded", exc_info=True)
    return response


def write(
    *,
    workspace_id: uuid.UUID,
    api_key_id: uuid.UUID | None,
    method: str,
    endpoint: str,
    status: int,
    duration_ms: int,
    at: datetime | None = None,
) -> None:
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "workspace_id": workspace_id,
        "at": at or utcnow(),
        "api_key_id": api_key_id,
        "method": method[:8],
        "endpoint": endpoint[:200],
        "status": status,
        "duration_ms": duration_ms,
    }
    # Its own session: the request's may hold uncommitted work or be broken by an error.
    with workspace_scope(workspace_id), Session(db.engine) as session:
        session.execute(insert(ApiRequestLog).values(**values))
        session.commit()


def recent(workspace_id: uuid.UUID, limit: int = 50) -> list[ApiRequestLog]:
    """The workspace's latest requests, newest first (for its admins)."""
    with workspace_scope(workspace_id):
        return list(
            db.session.scalars(select(ApiRequestLog).order_by(ApiRequestLog.at.desc()).limit(limit))
        )


def prune(now: datetime | None = None) -> int:
    """Delete rows older than the retention period, in every workspace; commits.
    Idempotent."""
    now = now or utcnow()
    cutoff = now - timedelta(days=settings().api_log_retention_days)
    with unscoped("API request metadata expires in every workspace at once"):
        result = db.session.execute(
            delete(ApiRequestLog)
            .where(ApiRequestLog.at < cutoff)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    count = rowcount(result)
    if count:
        log.info("API request metadata: %d row(s) deleted", count)
    return count
