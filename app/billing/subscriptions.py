"""A workspace's Stripe subscription: applying its state, and changing plan or seats.

Stripe may deliver events late, twice, or out of order. A state is applied only when it is
at least as new as the newest applied (`stripe_synced_at`, from the event's `created`),
and an ended subscription stays ended: no older "updated" event can bring it back.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from flask_babel import gettext as _

from app.audit.service import record
from app.billing import accounts, entitlements, stripe_gateway
from app.billing.checkouts import check_plan
from app.billing.models import BillingAccount
from app.billing.stripe_gateway import SubscriptionState
from app.db import as_utc, utcnow
from app.errors import Conflict, ServiceError
from app.extensions import db
from app.tenants.models import Workspace


def apply_state(
    account: BillingAccount, state: SubscriptionState, at: datetime, *, deleted: bool = False
) -> str:
    """Apply a subscription as Stripe described it at `at`; returns what happened."""
    if account.stripe_synced_at is not None and at < as_utc(account.stripe_synced_at):
        return "ignored: older than the state applied"
    if state.id == account.ended_subscription_id:
        return "ignored: that subscription has ended"
    current = account.stripe_subscription_id
    if current and state.id != current and (deleted or state.status not in ("active", "trialing")):
        return "ignored: not the workspace's subscription"
    account.stripe_synced_at = at
    if state.customer and not account.stripe_customer_id:
        account.stripe_customer_id = state.customer
    if deleted or state.status in ("canceled", "incomplete_expired"):
        account.ended_subscription_id = state.id
        account.stripe_subscription_id = None
        account.stripe_item_id = None
        account.status = "canceled"
        account.seats = 0
        account.cancel_at_period_end = False
        accounts.end_grace(account)
        # Back on the free plan: its allowance renews from today.
        account.period_anchor = at
        accounts.apply(account)
        return "ended"
    account.stripe_subscription_id = state.id
    account.stripe_item_id = state.item_id
    account.status = state.status
    account.plan = state.plan if state.plan in entitlements.PLANS else account.plan
    account.seats = state.seats
    account.cancel_at_period_end = state.cancel_at_period_end
    if state.period_start is not None:
        account.period_anchor = state.period_start
    if state.status in accounts.GRACE_STATUSES:
        accounts.start_grace(account, at)
    elif state.status in accounts.PAID_STATUSES:
        accounts.end_grace(account)
    accounts.apply(account)
    return f"applied: {state.status}"


def end_now(account: BillingAccount, now: datetime | None = None) -> bool:
    """Cancel the workspace's live subscription at Stripe now (its workspace is being
    deleted) and record it ended; True when there was one. Raises ProcessorError, with
    nothing changed, when Stripe cannot do it. Does not commit."""
    sub_id = account.stripe_subscription_id
    if not sub_id:
        return False
    answer = stripe_gateway.cancel_subscription(sub_id)
    state = (
        stripe_gateway.read_subscription(answer)
        if answer is not None
        else SubscriptionState(
            id=sub_id, customer="", status="canceled", plan=None, seats=0, item_id=None,
            period_start=None, cancel_at_period_end=False, workspace_id=None,
        )
    )  # fmt: skip
    at = now or utcnow()
    if account.stripe_synced_at is not None:  # Stripe's clock may run ahead of ours
        at = max(at, as_utc(account.stripe_synced_at))
    # Its later webhooks (the cancellation's own) find the subscription ended: ignored.
    apply_state(account, state, at, deleted=True)
    return True


def change(workspace: Workspace, plan: str, seats: int | None) -> BillingAccount:
    """Move an existing subscription to `plan` and `seats` now; Stripe prorates. Without
    one, the caller opens a checkout instead. Commits."""
    account = accounts.get(workspace.id, lock=True)
    if not account.stripe_subscription_id or not account.stripe_item_id:
        raise Conflict(_("This workspace has no subscription to change; choose a plan first."))
    if account.status not in accounts.PAID_STATUSES:
        raise Conflict(
            _(
                "The last payment failed; update the card in the billing portal before "
                "changing the plan."
            )
        )
    seats = check_plan(workspace, plan, seats)
    if (plan, seats) == (account.plan, account.seats):
        raise ServiceError(_("That is the plan and seats you have."), field="seats")
    before = {"plan": account.plan, "seats": account.seats}
    sub = stripe_gateway.update_subscription(
        account.stripe_subscription_id,
        account.stripe_item_id,
        seats=seats,
        plan=plan,
        key=f"verbatim-change-{account.id}-{plan}-{seats}-{uuid.uuid4()}",
    )
    # What Stripe answered is the state now; an event about an earlier state that
    # arrives later is older than this and changes nothing.
    apply_state(account, stripe_gateway.read_subscription(sub), utcnow())
    record(
        "billing.plan_changed",
        target=workspace,
        details={"before": before, "after": {"plan": account.plan, "seats": account.seats}},
    )
    db.session.commit()
    return account
