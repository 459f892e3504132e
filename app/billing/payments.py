"""Transaction records: amount, date, payment method type, receipt. Never a card number:
the processors keep those, and nothing here is given one to keep."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select

from app.billing.models import Payment
from app.extensions import db


def note(
    workspace_id: uuid.UUID,
    *,
    processor: str,
    reference: str,
    kind: str,
    description: str,
    amount_cents: int,
    currency: str,
    status: str,
    method_type: str,
    occurred_at: datetime,
    receipt_url: str = "",
) -> Payment:
    """Record a payment once per processor reference; a later state (a failed invoice
    paid on retry) updates the same record."""
    row = db.session.scalar(
        select(Payment).where(Payment.processor == processor, Payment.reference == reference)
    )
    if row is None:
        row = Payment(workspace_id=workspace_id, processor=processor, reference=reference)
        db.session.add(row)
    elif row.status == "paid" and status != "paid":
        return row  # a late "failed" about an invoice that was paid since
    row.kind = kind
    row.description = description[:200]
    row.amount_cents = int(amount_cents)
    row.currency = currency.lower()[:3]
    row.status = status
    row.method_type = method_type[:40] or row.method_type or ""
    row.occurred_at = occurred_at
    row.receipt_url = (receipt_url or "")[:500]
    return row
