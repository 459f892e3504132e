"""A workspace's billing account, and the plan and seats it puts in force.

Features read `Workspace.plan` and `Workspace.seat_limit` (through entitlements); this
module is the only writer of both once billing is involved, so they always follow from
the account: an active (or trialing) subscription's plan and quantity; during a failed
payment's grace period still the paid plan; otherwise the free plan and its seats.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.billing import entitlements, notices, periods
from app.billing.models import BillingAccount
from app.db import as_utc, utcnow
from app.extensions import db
from app.settings import settings
from app.tenants.context import workspace_scope
from app.tenants.models import Workspace

PAID_STATUSES = frozenset({"active", "trialing"})
GRACE_STATUSES = frozenset({"past_due", "unpaid"})


def get(workspace_id: uuid.UUID, *, lock: bool = False) -> BillingAccount:
    """The workspace's account, made on first use (anchored on the workspace's creation).

    `lock`: held FOR UPDATE until the transaction ends; everything that spends or changes
    the workspace's minutes and plan takes this lock first, so they happen one at a time.
    """
    with workspace_scope(workspace_id):
        query = select(BillingAccount).where(BillingAccount.workspace_id == workspace_id)
        if lock:
            # Refresh a copy read earlier in this transaction: what the lock returns is
            # what the caller's changes must build on.
            query = query.with_for_update().execution_options(populate_existing=True)
        row = db.session.scalar(query)
        if row is not None:
            return row
        workspace = db.session.get(Workspace, workspace_id)
        if workspace is None:
            raise LookupError(f"no workspace {workspace_id}")
        values = {
            "id": uuid.uuid4(),
            "workspace_id": workspace_id,
            "plan": "free",
            "status": "none",
            "seats": 0,
            "period_anchor": as_utc(workspace.created_at),
            "cancel_at_period_end": False,
            "created_at": utcnow(),
            "updated_at": utcnow(),
        }
        # Two first uses at once: one insert wins, the other does nothing and reads it.
        dialect = db.session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        db.session.execute(
            insert(BillingAccount)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["workspace_id"])
        )
        row = db.session.scalar(query.execution_options(populate_existing=True))
        assert row is not None
        return row


def period(workspace_id: uuid.UUID, now: datetime | None = None) -> periods.Period:
    """The workspace's billing month now: minutes and AI tokens renew at its end."""
    return periods.current(get(workspace_id).period_anchor, now or utcnow())


def plan_in_force(account: BillingAccount, now: datetime | None = None) -> str:
    now = now or utcnow()
    if account.status in PAID_STATUSES:
        return account.plan
    grace = account.grace_until
    if account.status in GRACE_STATUSES and grace is not None and now < as_utc(grace):
        return account.plan
    return entitlements.DEFAULT_PLAN


def free_seats(workspace: Workspace) -> int:
    return 1 if workspace.personal else settings().default_seat_limit


def workspace_of(account: BillingAccount) -> Workspace:
    workspace = db.session.get(Workspace, account.workspace_id)
    assert workspace is not None
    return workspace


def apply(account: BillingAccount, now: datetime | None = None) -> Workspace:
    """Put the account's plan and seats in force on its workspace (caller commits)."""
    workspace = workspace_of(account)
    plan = plan_in_force(account, now)
    workspace.plan = plan
    if plan == entitlements.DEFAULT_PLAN:
        workspace.seat_limit = free_seats(workspace)
    else:
        workspace.seat_limit = 1 if workspace.personal else max(1, account.seats)
    return workspace


def start_grace(account: BillingAccount, now: datetime | None = None) -> None:
    """A payment failed: the paid plan holds for the grace period, once (a second failed
    attempt does not extend it), and the admins are told when it starts."""
    now = now or utcnow()
    if account.grace_until is None:
        account.grace_until = now + timedelta(days=settings().billing_grace_days)
        notices.payment_failed(account)


def end_grace(account: BillingAccount) -> None:
    account.grace_until = None
