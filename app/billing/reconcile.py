"""Catching up with the processors when webhooks were lost, and ending grace periods.

`reconcile` (daily) reads every subscription from Stripe and applies it as the state now,
and asks about every checkout still open after a while: a pack paid without its webhook is
granted (once: grants are unique per processor payment). It also checks each account's
minutes tallies against the usage records they sum. `end_grace_periods` (hourly)
puts the free plan's limits in force where a failed payment's grace period ran out.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from sqlalchemy import select

from app.billing import (
    accounts,
    metering,
    square_events,
    square_gateway,
    stripe_events,
    stripe_gateway,
)
from app.billing.models import BillingAccount, Checkout
from app.billing.stripe_gateway import ProcessorError
from app.billing.subscriptions import apply_state
from app.db import as_utc, utcnow
from app.extensions import db
from app.tenants.context import unscoped, workspace_scope

log = logging.getLogger("verbatim.billing")
# A checkout younger than this is still being paid; older than the longest a page stays
# open (Stripe: 24 h) and a few days of webhook retries, it is given up.
SETTLE_AFTER = timedelta(minutes=15)
GIVE_UP_AFTER = timedelta(days=4)


def reconcile() -> dict[str, int]:
    counts = {"subscriptions": 0, "changed": 0, "checkouts": 0, "granted": 0, "errors": 0}
    if stripe_gateway.enabled():
        _subscriptions(counts)
    _checkouts(counts)
    counts["tallies_corrected"] = len(check_tallies())
    counts["downgraded"] = end_grace_periods()
    return counts


def _subscriptions(counts: dict[str, int]) -> None:
    with unscoped("the billing reconcile visits every subscribed workspace"):
        rows = db.session.execute(
            select(BillingAccount.workspace_id, BillingAccount.stripe_subscription_id).where(
                BillingAccount.stripe_subscription_id.is_not(None)
            )
        ).all()
        db.session.commit()
    for ws, sub_id in rows:
        counts["subscriptions"] += 1
        try:
            sub = stripe_gateway.retrieve_subscription(sub_id)
        except ProcessorError:
            counts["errors"] += 1
            continue
        with workspace_scope(ws):
            account = accounts.get(ws, lock=True)
            if account.stripe_subscription_id != sub_id:
                db.session.rollback()
                continue
            before = (account.plan, account.status, account.seats)
            if sub is None:  # Stripe no longer has it: it ended
                state = stripe_gateway.SubscriptionState(
                    sub_id, "", "canceled", None, 0, None, None, False, None
                )
                apply_state(account, state, utcnow(), deleted=True)
            else:
                apply_state(account, stripe_gateway.read_subscription(sub), utcnow())
            if (account.plan, account.status, account.seats) != before:
                counts["changed"] += 1
                log.warning("billing reconcile corrected workspace %s: %s", ws, before)
            db.session.commit()


def _checkouts(counts: dict[str, int]) -> None:
    now = utcnow()
    with unscoped("the billing reconcile looks for checkouts paid without a webhook"):
        rows = db.session.execute(
            select(Checkout.id, Checkout.workspace_id).where(
                Checkout.status == "open",
                Checkout.external_id.is_not(None),
                Checkout.created_at < now - SETTLE_AFTER,
            )
        ).all()
        db.session.commit()
    for checkout_id, ws in rows:
        counts["checkouts"] += 1
        try:
            granted = _settle(checkout_id, ws)
        except ProcessorError:
            db.session.rollback()
            counts["errors"] += 1
            continue
        counts["granted"] += int(granted)


def _settle(checkout_id: uuid.UUID, ws: uuid.UUID) -> bool:
    with workspace_scope(ws):
        row = db.session.get(Checkout, checkout_id)
        assert row is not None and row.external_id
        if row.processor == "square":
            if not square_gateway.enabled():
                return False
            return _settle_square(row)
        if not stripe_gateway.enabled():
            return False
        session = stripe_gateway.retrieve_session(row.external_id)
        if session.get("payment_status") in stripe_events.PAID_SESSION:
            # Applied exactly as its lost checkout.session.completed would have been.
            _, outcome = stripe_events.settle_session(session, utcnow())
            db.session.commit()
            return outcome == "credits granted"
        if session.get("status") == "expired" or _too_old(row):
            row.status = "expired"
        db.session.commit()
        return False


def _settle_square(row: Checkout) -> bool:
    order = square_gateway.get_order(row.external_id or "")
    tenders = (order or {}).get("tenders") or []
    payment_id = next((t.get("payment_id") for t in tenders if t.get("payment_id")), None)
    payment = square_gateway.get_payment(payment_id) if payment_id else None
    if payment is not None and payment.get("status") == "COMPLETED":
        _, outcome = square_events.apply_payment(payment)
        db.session.commit()
        return outcome == "credits granted"
    if _too_old(row):
        row.status = "expired"
    db.session.commit()
    return False


def _too_old(row: Checkout) -> bool:
    return as_utc(row.created_at) < utcnow() - GIVE_UP_AFTER


def check_tallies() -> list[uuid.UUID]:
    """Recount every account's tallies from its usage records; a difference is a bug
    somewhere, so it is logged loudly, and corrected. Returns the workspaces corrected."""
    with unscoped("the tally check visits every account that keeps tallies"):
        rows = db.session.scalars(
            select(BillingAccount.workspace_id).where(
                BillingAccount.tally_period_start.is_not(None)
            )
        ).all()
        db.session.commit()
    corrected = []
    for ws in rows:
        with workspace_scope(ws):
            account = accounts.get(ws, lock=True)
            start = account.tally_period_start
            assert start is not None
            kept, true = metering.stored_tally(account), metering.recount(ws, as_utc(start))
            if not kept.close_to(true):
                log.error("billing tallies of workspace %s were %s, records say %s", ws, kept, true)
                metering.store_tally(account, as_utc(start), true)
                corrected.append(ws)
            db.session.commit()
    return corrected


def end_grace_periods() -> int:
    """Workspaces whose grace period ran out get the free plan's limits."""
    now = utcnow()
    with unscoped("the grace sweep visits every workspace with a failed payment"):
        rows = db.session.scalars(
            select(BillingAccount.workspace_id).where(
                BillingAccount.grace_until.is_not(None), BillingAccount.grace_until < now
            )
        ).all()
        db.session.commit()
    changed = 0
    for ws in rows:
        with workspace_scope(ws):
            account = accounts.get(ws, lock=True)
            before = accounts.workspace_of(account).plan
            if accounts.apply(account, now).plan != before:
                changed += 1
            db.session.commit()
    return changed
