"""Job (hourly): a failed payment's grace period that ran out puts the free plan's limits
in force."""

from __future__ import annotations

from app.billing.reconcile import end_grace_periods
from workers.runtime import job_context


def billing_grace() -> int:
    with job_context():
        return end_grace_periods()
