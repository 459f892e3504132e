"""What the billing page and the API show: the plan, seats, this period's minutes by day
and by member, credits, payments. Read-only; the current workspace's rows only."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from app.auth.models import User
from app.billing import accounts, entitlements, metering, square_gateway, stripe_gateway
from app.billing.models import BillingAccount, CreditGrant, Payment, UsageRecord
from app.billing.periods import Period
from app.db import as_utc, utcnow
from app.extensions import db
from app.tenants import services as tenants
from app.tenants.models import Workspace


@dataclass(frozen=True)
class Overview:
    workspace: Workspace
    account: BillingAccount
    plan: entitlements.Plan  # in force
    subscribed: entitlements.Plan  # what the subscription is for (free: none)
    minutes: metering.Minutes
    seats_used: int
    seats_total: int
    stripe: bool
    square: bool

    @property
    def over_seats(self) -> bool:
        return self.seats_used > self.seats_total

    @property
    def has_subscription(self) -> bool:
        return bool(self.account.stripe_subscription_id)

    @property
    def in_grace(self) -> bool:
        return self.account.grace_until is not None and self.account.status in (
            accounts.GRACE_STATUSES
        )


def overview(workspace: Workspace) -> Overview:
    account = accounts.get(workspace.id)
    return Overview(
        workspace=workspace,
        account=account,
        plan=entitlements.plan_of(workspace),
        subscribed=entitlements.PLANS.get(account.plan, entitlements.PLANS["free"]),
        minutes=metering.minutes(workspace, account),
        seats_used=tenants.seats_used(),
        seats_total=workspace.seat_limit,
        stripe=stripe_gateway.enabled(),
        square=square_gateway.enabled(),
    )


def _records(period: Period) -> list[UsageRecord]:
    return list(
        db.session.scalars(
            select(UsageRecord).where(
                UsageRecord.period_start >= period.start,
                UsageRecord.state.in_(metering.COUNTED),
            )
        )
    )


@dataclass(frozen=True)
class Usage:
    """A period's minutes by day (UTC, every day present, zeros included) and by member
    (most first; removed people as "Former member")."""

    period: Period
    by_day: list[tuple[date, float]]
    by_member: list[dict[str, Any]]


def usage(period: Period) -> Usage:
    records = _records(period)  # one read for both views
    return Usage(period, _by_day(period, records), _by_member(records))


def _by_day(period: Period, records: list[UsageRecord]) -> list[tuple[date, float]]:
    totals: dict[date, float] = defaultdict(float)
    for r in records:
        moment = as_utc(r.charged_at or r.created_at)
        totals[moment.date()] += r.seconds / 60
    days, day = [], period.start.date()
    last = max(min(utcnow().date(), (period.end - timedelta(seconds=1)).date()), *totals, day)
    while day <= last:
        days.append((day, round(totals.get(day, 0.0), 2)))
        day += timedelta(days=1)
    return days


def _by_member(records: list[UsageRecord]) -> list[dict[str, Any]]:
    totals: dict[Any, float] = defaultdict(float)
    api: dict[Any, float] = defaultdict(float)
    for r in records:
        totals[r.user_id] += r.seconds / 60
        if r.via == "api":
            api[r.user_id] += r.seconds / 60
    users = {
        u.id: u
        for u in db.session.scalars(
            select(User).where(User.id.in_([k for k in totals if k is not None]))
        )
    }
    rows = []
    for user_id, mins in totals.items():
        user = users.get(user_id)
        rows.append(
            {
                "user_id": user_id,
                "name": user.display_name if user else _("Former member"),
                "email": user.email if user else "",
                "minutes": round(mins, 2),
                "api_minutes": round(api.get(user_id, 0.0), 2),
            }
        )
    return sorted(rows, key=lambda r: -r["minutes"])


def payment_records(limit: int = 100) -> list[Payment]:
    return list(
        db.session.scalars(select(Payment).order_by(Payment.occurred_at.desc()).limit(limit))
    )


def credit_grants(limit: int = 100) -> list[CreditGrant]:
    return list(
        db.session.scalars(select(CreditGrant).order_by(CreditGrant.created_at.desc()).limit(limit))
    )


def money(cents: int, currency: str) -> str:
    symbol = {"usd": "$", "eur": "€", "gbp": "£"}.get(currency.lower())
    amount = f"{cents / 100:,.2f}"
    return f"{symbol}{amount}" if symbol else f"{amount} {currency.upper()}"
