"""What each Stripe event changes. Handled: checkout.session.completed (and
async_payment_succeeded / expired), customer.subscription.created / updated / deleted,
invoice.paid and invoice.payment_failed; any other type is recorded and ignored.

An event finds its workspace by the Stripe customer (the account that holds it) or, for
the first events of a new customer, by the workspace id we put in the metadata.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from app.billing import accounts, checkouts, entitlements, payments, stripe_gateway
from app.billing.models import BillingAccount, Checkout
from app.billing.subscriptions import apply_state
from app.db import as_utc
from app.extensions import db
from app.tenants.context import unscoped, workspace_scope
from app.tenants.models import Workspace

if TYPE_CHECKING:
    from app.billing.webhooks import Handling

Outcome = tuple[uuid.UUID | None, str]
PAID_SESSION = ("paid", "no_payment_required")


def handling(event: dict[str, Any]) -> Handling:
    from app.billing.webhooks import Handling

    kind = str(event.get("type") or "")
    obj = (event.get("data") or {}).get("object") or {}
    at = stripe_gateway.event_moment(event)
    if kind.startswith("customer.subscription."):
        deleted = kind == "customer.subscription.deleted"
        return Handling(_nothing, lambda _: _subscription(obj, at, deleted))
    if kind in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        return Handling(lambda: _session_lookups(obj), lambda found: _session(obj, at, found))

    if kind == "checkout.session.expired":
        return Handling(_nothing, lambda _: _expired(obj))
    if kind in ("invoice.paid", "invoice.payment_failed"):
        paid = kind == "invoice.paid"
        return Handling(
            lambda: (
                stripe_gateway.payment_details(invoice_id=obj.get("id"))
                if paid
                else stripe_gateway.PaymentDetails()
            ),
            lambda found: _invoice(obj, at, paid, found),
        )
    return Handling(_nothing, lambda _: (None, "ignored: not handled"))


def _nothing() -> None:
    return None


def _parse_uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _workspace_of(customer: Any, workspace_id: Any) -> uuid.UUID | None:
    with unscoped("a Stripe event names its workspace by customer or metadata"):
        if customer:
            owner = db.session.scalar(
                select(BillingAccount.workspace_id).where(
                    BillingAccount.stripe_customer_id == str(customer)
                )
            )
            if owner is not None:
                return owner
        candidate = _parse_uuid(workspace_id)
        if candidate is not None and db.session.get(Workspace, candidate) is not None:
            return candidate
    return None


def _in_workspace(
    customer: Any, workspace_id: Any, change: Callable[[BillingAccount], str]
) -> Outcome:
    ws = _workspace_of(customer, workspace_id)
    if ws is None:
        return None, "ignored: no workspace for this customer"
    with workspace_scope(ws):
        account = accounts.get(ws, lock=True)
        outcome = change(account)
        db.session.flush()
    return ws, outcome


def _subscription(obj: dict[str, Any], at: datetime, deleted: bool) -> Outcome:
    state = stripe_gateway.read_subscription(obj)
    return _in_workspace(
        state.customer,
        state.workspace_id,
        lambda account: apply_state(account, state, at, deleted=deleted),
    )


def _session_lookups(obj: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if obj.get("mode") == "payment" and obj.get("payment_intent"):
        found["payment"] = stripe_gateway.payment_details(intent_id=str(obj["payment_intent"]))
    if obj.get("mode") == "subscription" and obj.get("subscription"):
        # Stripe does not promise to deliver subscription.created before this event: read
        # the subscription, so the plan is in force whichever comes first.
        found["subscription"] = stripe_gateway.retrieve_subscription(str(obj["subscription"]))
    return found


def settle_session(obj: dict[str, Any], at: datetime) -> Outcome:
    """A Checkout Session as Stripe has it now, applied as its completion event would be
    (the reconcile, for a purchase whose events were all lost)."""
    return _session(obj, at, _session_lookups(obj))


def _session(obj: dict[str, Any], at: datetime, found: dict[str, Any]) -> Outcome:
    metadata = obj.get("metadata") or {}
    workspace_hint = metadata.get("workspace_id") or obj.get("client_reference_id")

    def change(account: BillingAccount) -> str:
        row = _checkout(metadata.get("checkout_id"), obj.get("id"))
        if row is None:
            return "ignored: no such checkout"
        if obj.get("customer") and not account.stripe_customer_id:
            account.stripe_customer_id = str(obj["customer"])
        if obj.get("payment_status") not in PAID_SESSION:
            return "waiting: not paid yet"
        if row.kind == "credits":
            granted = checkouts.fulfil(row, processor="stripe", reference=str(obj["id"]))
            _note_pack(row, obj, at, found.get("payment") or stripe_gateway.PaymentDetails())
            return "credits granted" if granted else "credits: already granted"
        checkouts.fulfil(row, processor="stripe", reference=str(obj["id"]))
        sub = found.get("subscription")
        if sub is None:
            return "subscription: waiting for its event"
        return "subscription " + apply_state(account, stripe_gateway.read_subscription(sub), at)

    return _in_workspace(obj.get("customer"), workspace_hint, change)


def _checkout(checkout_id: Any, session_id: Any) -> Checkout | None:
    row_id = _parse_uuid(checkout_id)
    query = select(Checkout).where(Checkout.processor == "stripe")
    if row_id is not None:
        return db.session.scalar(query.where(Checkout.id == row_id))
    return db.session.scalar(query.where(Checkout.external_id == str(session_id)))


def _note_pack(
    row: Checkout, obj: dict[str, Any], at: datetime, paid: stripe_gateway.PaymentDetails
) -> None:
    pack = entitlements.CREDIT_PACKS[row.pack or ""]
    payments.note(
        row.workspace_id,
        processor="stripe",
        reference=str(obj.get("payment_intent") or obj["id"]),
        kind="credits",
        description=f"Credits: {pack.english}",
        amount_cents=int(obj.get("amount_total") or pack.price_cents),
        currency=str(obj.get("currency") or "usd"),
        status="paid",
        method_type=paid.method_type,
        occurred_at=at,
        receipt_url=paid.receipt_url,
    )


def _expired(obj: dict[str, Any]) -> Outcome:
    metadata = obj.get("metadata") or {}

    def change(_: BillingAccount) -> str:
        row = _checkout(metadata.get("checkout_id"), obj.get("id"))
        if row is None or row.status != "open":
            return "ignored: nothing open"
        row.status = "expired"
        return "checkout expired"

    return _in_workspace(obj.get("customer"), metadata.get("workspace_id"), change)


def _invoice(
    obj: dict[str, Any], at: datetime, paid: bool, found: stripe_gateway.PaymentDetails
) -> Outcome:
    subscription = stripe_gateway.invoice_subscription(obj)
    details = ((obj.get("parent") or {}).get("subscription_details") or {}).get("metadata") or {}

    def change(account: BillingAccount) -> str:
        amount = obj.get("amount_paid") if paid else obj.get("amount_due")
        title = entitlements.PLANS.get(account.plan, entitlements.PLANS["free"]).english
        seats = f", {account.seats} seats" if account.seats > 1 else ""
        payments.note(
            account.workspace_id,
            processor="stripe",
            reference=str(obj.get("id")),
            kind="subscription",
            description=f"{title}{seats}, invoice {obj.get('number') or obj.get('id')}",
            amount_cents=int(amount or 0),
            currency=str(obj.get("currency") or "usd"),
            status="paid" if paid else "failed",
            method_type=found.method_type,
            occurred_at=at,
            receipt_url=str(obj.get("hosted_invoice_url") or found.receipt_url),
        )
        if subscription is None or subscription != account.stripe_subscription_id:
            return "recorded"
        if account.stripe_synced_at is not None and at < as_utc(account.stripe_synced_at):
            return "recorded: older than the state applied"
        if paid:
            accounts.end_grace(account)
            if account.status in accounts.GRACE_STATUSES:
                account.status = "active"
                account.stripe_synced_at = at
            accounts.apply(account)
            return "paid"
        accounts.start_grace(account, at)
        if account.status in accounts.PAID_STATUSES:
            account.status = "past_due"
            account.stripe_synced_at = at
        accounts.apply(account)
        return "payment failed: grace period"

    return _in_workspace(obj.get("customer"), details.get("workspace_id"), change)
