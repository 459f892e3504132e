"""API: the workspace's billing (API keys act as admins): plan, seats, minutes, usage by
day and member, payments and credits; open a checkout, change the subscription, open the
customer portal. The same services as the Billing page decide."""

from __future__ import annotations

from typing import Any

from flask import g, request
from flask_babel import gettext as _
from marshmallow import EXCLUDE, Schema, fields, validate

from app.api.blueprint import api_blueprint
from app.api.transcript_schemas import ProblemOut
from app.api.transcripts import problem
from app.billing import accounts, checkouts, reports, stripe_gateway, subscriptions, urls
from app.billing.models import Checkout
from app.errors import ServiceError
from app.extensions import db

bp = api_blueprint("api_billing", __name__, "Billing: plan, seats, minutes, payments")


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 2)


class PeriodOut(Schema):
    start = fields.DateTime()
    end = fields.DateTime(metadata={"description": "When the allowance renews"})


class MinutesOut(Schema):
    included = fields.Float(allow_none=True, metadata={"description": "null: unlimited"})
    used = fields.Float(metadata={"description": "Of the allowance, running and finished"})
    left = fields.Float(allow_none=True, metadata={"description": "Allowance left + credits"})
    api_included = fields.Float(allow_none=True)
    api_used = fields.Float()
    credits = fields.Float(metadata={"description": "Bought minutes left; they do not expire"})
    max_file = fields.Float(metadata={"description": "Longest recording the plan takes"})


class BillingOut(Schema):
    plan = fields.String(metadata={"description": "The plan in force: free, pro, business"})
    subscribed_plan = fields.String()
    status = fields.String(
        metadata={"description": "none, active, trialing, past_due, unpaid, canceled"}
    )
    grace_until = fields.DateTime(allow_none=True)
    cancel_at_period_end = fields.Boolean()
    seats_used = fields.Integer(metadata={"description": "Members and pending invitations"})
    seats_total = fields.Integer()
    period = fields.Nested(PeriodOut)
    minutes = fields.Nested(MinutesOut)
    processors = fields.List(fields.String())


def billing_out(view: reports.Overview) -> dict[str, Any]:
    m = view.minutes
    return {
        "plan": view.plan.name,
        "subscribed_plan": view.account.plan,
        "status": view.account.status,
        "grace_until": view.account.grace_until,
        "cancel_at_period_end": view.account.cancel_at_period_end,
        "seats_used": view.seats_used,
        "seats_total": view.seats_total,
        "period": {"start": m.period.start, "end": m.period.end},
        "minutes": {
            "included": _minutes(m.included),
            "used": _minutes(m.used),
            "left": _minutes(m.left()),
            "api_included": _minutes(m.api_included),
            "api_used": _minutes(m.api_used),
            "credits": _minutes(m.credits),
            "max_file": _minutes(m.max_file),
        },
        "processors": [p for p, on in (("stripe", view.stripe), ("square", view.square)) if on],
    }


class DayOut(Schema):
    date = fields.Date()
    minutes = fields.Float()


class MemberUsageOut(Schema):
    user_id = fields.UUID(allow_none=True, metadata={"description": "null: a removed member"})
    name = fields.String()
    email = fields.String()
    minutes = fields.Float()
    api_minutes = fields.Float()


class BillingUsageOut(Schema):
    period = fields.Nested(PeriodOut)
    by_day = fields.List(fields.Nested(DayOut))
    by_member = fields.List(fields.Nested(MemberUsageOut))


class PaymentOut(Schema):
    id = fields.UUID()
    processor = fields.String()
    kind = fields.String(metadata={"enum": ["subscription", "credits"]})
    description = fields.String()
    amount_cents = fields.Integer()
    currency = fields.String()
    status = fields.String(metadata={"enum": ["paid", "failed"]})
    method_type = fields.String(metadata={"description": "card, link, wallet…; never numbers"})
    occurred_at = fields.DateTime()
    receipt_url = fields.String()


class CreditOut(Schema):
    id = fields.UUID()
    processor = fields.String()
    pack = fields.String()
    minutes = fields.Float()
    created_at = fields.DateTime()


class CheckoutIn(Schema):
    class Meta:
        unknown = EXCLUDE

    processor = fields.String(load_default="stripe", validate=validate.OneOf(["stripe", "square"]))
    plan = fields.String(load_default=None, allow_none=True)
    seats = fields.Integer(load_default=None, allow_none=True, strict=True)
    pack = fields.String(load_default=None, allow_none=True)


class CheckoutOut(Schema):
    id = fields.UUID()
    processor = fields.String()
    kind = fields.String()
    status = fields.String()
    url = fields.String(metadata={"description": "Send the payer here"})


class SubscriptionIn(Schema):
    class Meta:
        unknown = EXCLUDE

    plan = fields.String(required=True)
    seats = fields.Integer(load_default=None, allow_none=True, strict=True)


class PortalOut(Schema):
    url = fields.String()


@bp.get("/billing")
@bp.response(200, BillingOut)
def get_billing() -> Any:
    """The plan in force, seats used and bought, and this period's minutes."""
    return billing_out(reports.overview(g.workspace))


@bp.get("/billing/usage")
@bp.response(200, BillingUsageOut)
def get_usage() -> Any:
    """This period's minutes by day (UTC) and by member."""
    usage = reports.usage(accounts.period(g.workspace.id))
    return {
        "period": {"start": usage.period.start, "end": usage.period.end},
        "by_day": [{"date": d, "minutes": m} for d, m in usage.by_day],
        "by_member": usage.by_member,
    }


@bp.get("/billing/payments")
@bp.response(200, PaymentOut(many=True))
def list_payments() -> Any:
    """Transaction records, newest first: amount, date, payment method type."""
    return reports.payment_records()


@bp.get("/billing/credits")
@bp.response(200, CreditOut(many=True))
def list_credits() -> Any:
    """Credit packs bought, newest first."""
    return [
        {
            "id": c.id,
            "processor": c.processor,
            "pack": c.pack,
            "minutes": round(c.seconds / 60, 2),
            "created_at": c.created_at,
        }
        for c in reports.credit_grants()
    ]


def _checkout_out(row: Checkout) -> dict[str, Any]:
    return {
        "id": row.id,
        "processor": row.processor,
        "kind": row.kind,
        "status": row.status,
        "url": row.url,
    }


@bp.post("/billing/checkout")
@bp.arguments(CheckoutIn)
@bp.response(201, CheckoutOut)
@bp.alt_response(409, schema=ProblemOut, description="That key was used for another purchase")
@bp.alt_response(422, schema=ProblemOut, description="A plan, pack or seat count refused")
@bp.alt_response(502, schema=ProblemOut, description="The processor could not be reached")
def create_checkout(body: dict[str, Any]) -> Any:
    """Open a payment page for a plan (with seats) or a credit pack. Send an
    `Idempotency-Key` header: a retry with the same key answers the same page."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        return problem(ServiceError(_("Send an Idempotency-Key header."), field="Idempotency-Key"))
    want = checkouts.Request(body["processor"], body["plan"], body["seats"], body["pack"])
    try:
        row = checkouts.start(g.workspace, want, key, g.api_key.created_by_id)
    except ServiceError as e:
        return problem(e)
    return _checkout_out(row)


@bp.put("/billing/subscription")
@bp.arguments(SubscriptionIn)
@bp.response(200, BillingOut)
@bp.alt_response(409, schema=ProblemOut, description="No subscription, or a payment failed")
@bp.alt_response(422, schema=ProblemOut, description="A plan or seat count refused")
def change_subscription(body: dict[str, Any]) -> Any:
    """Change the plan and/or seats of the subscription now; Stripe prorates."""
    try:
        subscriptions.change(g.workspace, body["plan"], body["seats"])
    except ServiceError as e:
        return problem(e)
    return billing_out(reports.overview(g.workspace))


@bp.post("/billing/portal")
@bp.response(200, PortalOut)
@bp.alt_response(422, schema=ProblemOut, description="Stripe is not set up")
@bp.alt_response(502, schema=ProblemOut, description="Stripe could not be reached")
def open_portal() -> Any:
    """A Stripe Customer Portal link: card, plan, invoices and cancellation."""
    try:
        customer = checkouts.stripe_customer(g.workspace)
        url = stripe_gateway.portal(customer, urls.billing_page(g.workspace))
    except ServiceError as e:
        return problem(e)
    db.session.commit()
    return {"url": url}
