"""What each Square event changes: a completed payment of a credit pack's order grants
the pack (payment.created and payment.updated both carry it; whichever comes first does,
the other finds it granted). Any other type is recorded and ignored."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from app.billing import checkouts, entitlements, payments
from app.billing.models import Checkout
from app.db import utcnow
from app.extensions import db
from app.tenants.context import unscoped, workspace_scope

if TYPE_CHECKING:
    from app.billing.webhooks import Handling

Outcome = tuple[uuid.UUID | None, str]
PAYMENT_EVENTS = ("payment.created", "payment.updated")


def handling(event: dict[str, Any]) -> Handling:
    from app.billing.webhooks import Handling

    kind = str(event.get("type") or "")
    if kind not in PAYMENT_EVENTS:
        return Handling(lambda: None, lambda _: (None, "ignored: not handled"))
    data = (event.get("data") or {}).get("object") or {}
    payment = data.get("payment") or {}
    return Handling(lambda: None, lambda _: apply_payment(payment))


def _moment(text: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return utcnow()


def apply_payment(payment: dict[str, Any]) -> Outcome:
    """Grant the pack of a completed payment's order (webhooks and the reconcile)."""
    if payment.get("status") != "COMPLETED":
        return None, f"waiting: payment {str(payment.get('status')).lower()}"
    order_id = str(payment.get("order_id") or "")
    with unscoped("a Square payment names its checkout by order id"):
        row = db.session.scalar(
            select(Checkout).where(Checkout.processor == "square", Checkout.external_id == order_id)
        )
    if row is None or not row.pack:
        return None, "ignored: no such checkout"
    pack = entitlements.CREDIT_PACKS[row.pack]
    money = payment.get("total_money") or payment.get("amount_money") or {}
    with workspace_scope(row.workspace_id):
        granted = checkouts.fulfil(row, processor="square", reference=order_id)
        payments.note(
            row.workspace_id,
            processor="square",
            reference=str(payment.get("id")),
            kind="credits",
            description=f"Credits: {pack.english}",
            amount_cents=int(money.get("amount") or pack.price_cents),
            currency=str(money.get("currency") or "usd"),
            status="paid",
            # "card", "wallet", "cash_app": the type only, never the card's details.
            method_type=str(payment.get("source_type") or "").lower(),
            occurred_at=_moment(payment.get("updated_at") or payment.get("created_at")),
            receipt_url=str(payment.get("receipt_url") or ""),
        )
        db.session.flush()
    return row.workspace_id, "credits granted" if granted else "credits: already granted"
