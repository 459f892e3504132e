"""Job (daily): take people out of usage analytics older than the retention period."""

from __future__ import annotations

from datetime import datetime

from app.privacy import analytics
from workers.runtime import job_context


def analytics_anonymise(now: datetime | None = None) -> str:
    with job_context():
        count = analytics.anonymise(now)
    return f"anonymised {count} analytics event(s)"
