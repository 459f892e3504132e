"""Every call Verbatim makes to Stripe, through the official SDK, and how it reads Stripe's
objects. Nothing here touches the database.

Plans map to Stripe prices by configuration (VERBATIM_STRIPE_PRICE_PRO/_BUSINESS), and
back: the subscription's price says its plan, so a change made in the Customer Portal is
read correctly. Credit packs are one-time prices built from app data (price_data).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import stripe
from flask_babel import gettext as _

from app.billing import entitlements
from app.errors import ServiceError
from app.settings import settings

log = logging.getLogger("verbatim.billing")


class ProcessorError(ServiceError):
    """The payment processor refused or could not be reached (502: try again)."""

    status = 502


def enabled() -> bool:
    return bool(settings().stripe_secret_key)


def client() -> stripe.StripeClient:
    cfg = settings()
    if not cfg.stripe_secret_key:
        raise ServiceError(_("Card payments through Stripe are not set up on this server."))
    bases: dict[str, str] = {"api": cfg.stripe_api_base} if cfg.stripe_api_base else {}
    return stripe.StripeClient(
        cfg.stripe_secret_key,
        base_addresses=bases,  # type: ignore[arg-type]
        max_network_retries=2,
    )


def page_origins() -> list[str]:
    """Where Checkout and the Customer Portal live: the billing page's forms redirect
    there, so its form-action must allow them (a test server's own origin when set)."""
    cfg = settings()
    if not enabled():
        return []
    origins = ["https://checkout.stripe.com", "https://billing.stripe.com"]
    if cfg.stripe_api_base:
        origins.append(_origin(cfg.stripe_api_base))
    return origins


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def price_for(plan: str) -> str | None:
    cfg = settings()
    return {"pro": cfg.stripe_price_pro, "business": cfg.stripe_price_business}.get(plan) or None


def plan_for_price(price_id: str | None) -> str | None:
    for name in entitlements.PLANS:
        if price_id and price_for(name) == price_id:
            return name
    return None


def _call(what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except stripe.StripeError as e:
        # The processor's own words go to the log; people get ours (they may quote keys).
        log.warning("stripe %s failed: %s %s", what, type(e).__name__, e.user_message or e)
        raise ProcessorError(
            _(
                "Stripe could not complete this just now; nothing was charged. Try again in a "
                "minute."
            )
        ) from None


def create_customer(workspace_id: str, name: str, email: str | None, key: str) -> str:
    params: dict[str, Any] = {"name": name, "metadata": {"workspace_id": workspace_id}}
    if email:
        params["email"] = email
    customer = _call("customer", client().v1.customers.create, params, {"idempotency_key": key})
    return str(customer.id)


@dataclass(frozen=True)
class Session:
    id: str
    url: str


def checkout(
    *,
    customer: str,
    workspace_id: str,
    checkout_id: str,
    success_url: str,
    cancel_url: str,
    key: str,
    plan: str | None = None,
    seats: int | None = None,
    pack: entitlements.CreditPack | None = None,
) -> Session:
    """A Checkout Session: a subscription of `plan` for `seats`, or one credit pack."""
    metadata = {"workspace_id": workspace_id, "checkout_id": checkout_id}
    params: dict[str, Any] = {
        "customer": customer,
        "client_reference_id": workspace_id,
        "success_url": success_url,
        "cancel_url": cancel_url,
        "metadata": metadata,
    }
    if pack is not None:
        params |= {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": settings().billing_currency,
                        "unit_amount": pack.price_cents,
                        "product_data": {"name": f"Verbatim credits: {pack.english}"},
                    },
                }
            ],
            "payment_intent_data": {"metadata": metadata | {"pack": pack.name}},
        }
    else:
        assert plan is not None and seats is not None
        params |= {
            "mode": "subscription",
            "line_items": [{"price": price_for(plan), "quantity": seats}],
            "subscription_data": {"metadata": {"workspace_id": workspace_id, "plan": plan}},
        }
    session = _call(
        "checkout", client().v1.checkout.sessions.create, params, {"idempotency_key": key}
    )
    return Session(id=str(session.id), url=str(session.url))


def retrieve_session(session_id: str) -> dict[str, Any]:
    return _call("session", client().v1.checkout.sessions.retrieve, session_id).to_dict()


def portal(customer: str, return_url: str) -> str:
    session = _call(
        "portal",
        client().v1.billing_portal.sessions.create,
        {"customer": customer, "return_url": return_url},
    )
    return str(session.url)


def update_subscription(
    subscription_id: str, item_id: str, *, seats: int, plan: str, key: str
) -> dict[str, Any]:
    """Change seats and/or plan now; Stripe prorates the difference on the next invoice."""
    sub = _call(
        "update",
        client().v1.subscriptions.update,
        subscription_id,
        {
            "items": [{"id": item_id, "quantity": seats, "price": price_for(plan)}],
            "proration_behavior": "create_prorations",
            "metadata": {"plan": plan},
        },
        {"idempotency_key": key},
    )
    return sub.to_dict()


def retrieve_subscription(subscription_id: str) -> dict[str, Any] | None:
    """The subscription as Stripe has it now; None when Stripe no longer knows it."""
    try:
        return client().v1.subscriptions.retrieve(subscription_id).to_dict()
    except stripe.InvalidRequestError as e:
        if e.code == "resource_missing":
            return None
        raise ProcessorError(_("Stripe refused to read the subscription.")) from None
    except stripe.StripeError:
        raise ProcessorError(_("Stripe could not be reached.")) from None


def cancel_subscription(subscription_id: str) -> dict[str, Any] | None:
    """End the subscription now, without a refund for the rest of the period (its
    workspace is being deleted); None when Stripe no longer knows it."""
    try:
        return client().v1.subscriptions.cancel(subscription_id).to_dict()
    except stripe.InvalidRequestError as e:
        if e.code == "resource_missing":
            return None
        raise ProcessorError(_("Stripe refused to cancel the subscription.")) from None
    except stripe.StripeError:
        raise ProcessorError(_("Stripe could not be reached.")) from None


@dataclass(frozen=True)
class PaymentDetails:
    """How a payment was made, for the transaction record: the method's type only
    ("card", "link", "sepa_debit"), never its number or brand; and the receipt."""

    method_type: str = ""
    receipt_url: str = ""


def _details_of_intent(intent_id: str) -> PaymentDetails:
    intent = client().v1.payment_intents.retrieve(intent_id, {"expand": ["latest_charge"]})
    charge = intent.to_dict().get("latest_charge")
    if not isinstance(charge, dict):
        return PaymentDetails()
    details = charge.get("payment_method_details") or {}
    return PaymentDetails(str(details.get("type") or ""), str(charge.get("receipt_url") or ""))


def payment_details(
    *, intent_id: str | None = None, invoice_id: str | None = None
) -> PaymentDetails:
    """Empty when Stripe cannot say: the record is still kept, it must not depend on
    this lookup."""
    try:
        if invoice_id and not intent_id:
            payments = client().v1.invoice_payments.list({"invoice": invoice_id}).to_dict()
            for item in payments.get("data") or []:
                payment = item.get("payment") or {}
                if payment.get("payment_intent"):
                    intent_id = str(payment["payment_intent"])
                    break
        return _details_of_intent(intent_id) if intent_id else PaymentDetails()
    except stripe.StripeError as e:
        log.warning("stripe payment details lookup failed: %s", type(e).__name__)
        return PaymentDetails()


@dataclass(frozen=True)
class SubscriptionState:
    """What Verbatim keeps of a Stripe subscription."""

    id: str
    customer: str
    status: str
    plan: str | None
    seats: int
    item_id: str | None
    period_start: datetime | None
    cancel_at_period_end: bool
    workspace_id: str | None


def _moment(epoch: Any) -> datetime | None:
    return datetime.fromtimestamp(int(epoch), UTC) if epoch else None


def read_subscription(sub: dict[str, Any]) -> SubscriptionState:
    items = (sub.get("items") or {}).get("data") or []
    item = items[0] if items else {}
    price = item.get("price") or {}
    metadata = sub.get("metadata") or {}
    # Since API 2025-03-31 the period lives on the item; older objects have it on top.
    start = item.get("current_period_start") or sub.get("current_period_start")
    return SubscriptionState(
        id=str(sub["id"]),
        customer=str(sub.get("customer") or ""),
        status=str(sub.get("status") or ""),
        plan=plan_for_price(price.get("id")) or metadata.get("plan"),
        seats=int(item.get("quantity") or 1),
        item_id=item.get("id"),
        period_start=_moment(start),
        cancel_at_period_end=bool(sub.get("cancel_at_period_end")),
        workspace_id=metadata.get("workspace_id"),
    )


def invoice_subscription(invoice: dict[str, Any]) -> str | None:
    """The subscription an invoice bills (API 2026: under parent.subscription_details)."""
    parent = invoice.get("parent") or {}
    details = parent.get("subscription_details") or {}
    return details.get("subscription") or invoice.get("subscription")


def event_moment(event: dict[str, Any]) -> datetime:
    moment = _moment(event.get("created"))
    assert moment is not None
    return moment


def verify(payload: bytes, signature: str | None) -> dict[str, Any]:
    """The event, if the signature over these exact bytes is Stripe's and fresh; raises
    stripe.SignatureVerificationError or ValueError otherwise."""
    cfg = settings()
    event = stripe.Webhook.construct_event(
        payload,
        signature or "",
        cfg.stripe_webhook_secret,
        tolerance=cfg.stripe_webhook_tolerance_seconds,
    )
    return event.to_dict()
