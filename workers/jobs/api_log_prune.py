"""Job (daily): delete API request metadata older than the retention period."""

from __future__ import annotations

from datetime import datetime

from app.privacy import api_log
from workers.runtime import job_context


def api_log_prune(now: datetime | None = None) -> str:
    with job_context():
        count = api_log.prune(now)
    return f"deleted {count} API request log row(s)"
