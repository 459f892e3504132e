"""Job (periodic): finish deletion requests not done yet (filed by an operator, or
interrupted half-way), and raise an alert for any past its 30-day deadline."""

from __future__ import annotations

from app.privacy import deletion
from workers.runtime import job_context


def privacy_deletions() -> str:
    with job_context():
        result = deletion.finish_pending()
    return f"finished {result['finished']}, overdue {result['overdue']}"
