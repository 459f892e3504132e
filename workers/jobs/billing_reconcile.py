"""Job (daily): bring billing in line with Stripe and Square when webhooks were lost."""

from __future__ import annotations

from app.billing.reconcile import reconcile
from workers.runtime import job_context


def billing_reconcile() -> dict[str, int]:
    with job_context():
        return reconcile()
