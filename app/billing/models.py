"""Billing state: each workspace's account with its processors, the minutes it used, the
credits it bought, the payments it made, and the webhook events already applied.

Card numbers never reach these tables (or this server): Stripe and Square hold them; a
payment keeps its amount, date and the payment method's type only.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, TimestampMixin, WorkspaceScoped, utcnow


class UsageState:
    RESERVED = "reserved"  # held by a queued or running transcript
    CHARGED = "charged"  # the transcript finished: counted for good
    RELEASED = "released"  # it failed or was cancelled: given back


class UsageRecord(WorkspaceScoped, IdMixin, TimestampMixin, Base):
    """A transcript's minutes: reserved when it is queued (so two uploads cannot both spend
    the last minutes), charged when it completes, released when it fails. The unique
    transcript id is what makes "counted once" hold under retries and duplicate job
    deliveries; the row outlives the transcript."""

    __tablename__ = "usage_records"
    __table_args__ = (
        Index("ix_usage_records_workspace_period", "workspace_id", "period_start"),
        # Credits used are summed over all time, but only rows that used any are read.
        Index("ix_usage_records_workspace_credit", "workspace_id", "credit_seconds"),
    )

    transcript_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("transcripts.id", ondelete="SET NULL"), unique=True
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32), default="transcription")
    via: Mapped[str] = mapped_column(String(8), default="web")  # web | api
    state: Mapped[str] = mapped_column(String(12), default=UsageState.RESERVED)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    # How the seconds were paid: from the period's allowance, the rest from credits.
    allowance_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    credit_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    period_start: Mapped[datetime] = mapped_column(default=utcnow)
    charged_at: Mapped[datetime | None]
    model: Mapped[str] = mapped_column(String(128), default="")


class BillingAccount(WorkspaceScoped, IdMixin, TimestampMixin, Base):
    """One per workspace, made on first use. `Workspace.plan` and `Workspace.seat_limit`
    are what features read (the plan in force); this row is why they hold those values."""

    __tablename__ = "billing_accounts"
    __table_args__ = (UniqueConstraint("workspace_id", name="uq_billing_accounts_workspace"),)

    plan: Mapped[str] = mapped_column(String(40), default="free")  # subscribed plan
    # none | active | trialing | past_due | unpaid | canceled | incomplete
    status: Mapped[str] = mapped_column(String(20), default="none")
    seats: Mapped[int] = mapped_column(default=0)  # subscription quantity
    # Allowances renew each month on this moment's day and time (the billing date).
    period_anchor: Mapped[datetime] = mapped_column(default=utcnow)
    grace_until: Mapped[datetime | None]
    cancel_at_period_end: Mapped[bool] = mapped_column(default=False)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    stripe_item_id: Mapped[str | None] = mapped_column(String(64))
    # `created` of the newest subscription event applied: an older one cannot roll back.
    stripe_synced_at: Mapped[datetime | None]
    ended_subscription_id: Mapped[str | None] = mapped_column(String(64))
    # Running tallies of usage_records, so the minutes check on every upload reads this
    # one row instead of summing the month's records. They count the billing period that
    # starts at tally_period_start (None: not counted yet); they are changed only under
    # this row's lock, and recounted from usage_records whenever a new period starts.
    tally_period_start: Mapped[datetime | None]
    tally_allowance_used: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    tally_api_used: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    tally_credits_left: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CreditGrant(WorkspaceScoped, IdMixin, TimestampMixin, Base):
    """Minutes bought in a pack; unique per processor payment, so a redelivered or
    reconciled payment grants once."""

    __tablename__ = "credit_grants"
    __table_args__ = (UniqueConstraint("processor", "reference", name="uq_credit_grants_ref"),)

    processor: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str] = mapped_column(String(128))
    pack: Mapped[str] = mapped_column(String(40))
    seconds: Mapped[float] = mapped_column(Float)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Checkout(WorkspaceScoped, IdMixin, TimestampMixin, Base):
    """A payment page we opened. `request_key` (the form's one-time key, or the API's
    Idempotency-Key) makes a double click open one page, not two."""

    __tablename__ = "billing_checkouts"
    __table_args__ = (
        UniqueConstraint("workspace_id", "request_key", name="uq_billing_checkouts_request"),
    )

    request_key: Mapped[str] = mapped_column(String(64))
    processor: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))  # subscription | credits
    plan: Mapped[str | None] = mapped_column(String(40))
    seats: Mapped[int | None]
    pack: Mapped[str | None] = mapped_column(String(40))
    external_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    url: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="open")  # open|completed|expired
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    completed_at: Mapped[datetime | None]


class Payment(WorkspaceScoped, IdMixin, TimestampMixin, Base):
    """A transaction record: amount, date, payment method type. Never a card number."""

    __tablename__ = "billing_payments"
    __table_args__ = (UniqueConstraint("processor", "reference", name="uq_billing_payments_ref"),)

    processor: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))  # subscription | credits
    description: Mapped[str] = mapped_column(String(200), default="")
    amount_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))  # paid | failed
    method_type: Mapped[str] = mapped_column(String(40), default="")
    occurred_at: Mapped[datetime]
    receipt_url: Mapped[str] = mapped_column(String(500), default="")


class WebhookEvent(Base):
    """A processor's event id, stored in the transaction that applies it: a second delivery
    (or the same one racing on another worker) finds the key taken and changes nothing.

    Not workspace-scoped: an event names its workspace only once it is read."""

    __tablename__ = "billing_webhook_events"

    processor: Mapped[str] = mapped_column(String(16), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    type: Mapped[str] = mapped_column(String(80))
    workspace_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("workspaces.id", ondelete="SET NULL")
    )
    outcome: Mapped[str] = mapped_column(String(80), default="")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
