"""Every call Verbatim makes to Square, through the official SDK. Nothing here touches the
database.

Square sells credit packs only: a payment link (Checkout API) for an order that names our
checkout in `reference_id`. Subscriptions stay with Stripe: Square's subscriptions bill a
catalog plan per customer with no per-seat quantity, so seat changes and proration could
not be expressed cleanly (README, Billing).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import square
from flask_babel import gettext as _
from square.core.api_error import ApiError
from square.utils.webhooks_helper import verify_signature

from app.billing import entitlements
from app.billing.stripe_gateway import ProcessorError
from app.errors import ServiceError
from app.settings import settings

log = logging.getLogger("verbatim.billing")


def enabled() -> bool:
    cfg = settings()
    return bool(cfg.square_access_token and cfg.square_location_id)


def client() -> square.Square:
    cfg = settings()
    if not enabled():
        raise ServiceError(_("Payments through Square are not set up on this server."))
    return square.Square(token=cfg.square_access_token, base_url=cfg.square_base_url)


def page_origins() -> list[str]:
    """Where Square's payment links send the payer (production and sandbox hosts; a test
    server's own origin when one is configured)."""
    cfg = settings()
    if not enabled():
        return []
    origins = ["https://square.link", "https://checkout.square.site"]
    if "sandbox" in cfg.square_base_url:
        origins = ["https://sandbox.square.link", "https://sandbox.checkout.square.site"]
    elif not cfg.square_base_url.startswith("https://connect.squareup.com"):
        parts = urlsplit(cfg.square_base_url)
        origins.append(f"{parts.scheme}://{parts.netloc}")
    return origins


def notification_url() -> str:
    """The URL Square signs with: configured, never taken from the request."""
    cfg = settings()
    return cfg.square_notification_url or cfg.base_url.rstrip("/") + "/billing/webhooks/square"


@dataclass(frozen=True)
class Link:
    id: str
    url: str
    order_id: str


def payment_link(
    *,
    pack: entitlements.CreditPack,
    workspace_id: str,
    checkout_id: str,
    redirect_url: str,
    key: str,
) -> Link:
    cfg = settings()
    try:
        answer = client().checkout.payment_links.create(
            idempotency_key=key,
            order={
                "location_id": cfg.square_location_id,
                "reference_id": checkout_id,
                "metadata": {"workspace_id": workspace_id, "pack": pack.name},
                "line_items": [
                    {
                        "name": f"Verbatim credits: {pack.english}",
                        "quantity": "1",
                        "base_price_money": {
                            "amount": pack.price_cents,
                            "currency": cfg.billing_currency.upper(),
                        },
                    }
                ],
            },
            checkout_options={"redirect_url": redirect_url},
            payment_note=f"Verbatim credits ({pack.english})",
        )
    except ApiError as e:
        log.warning("square payment link failed: %s %s", e.status_code, e.body)
        raise ProcessorError(
            _(
                "Square could not open a payment page just now; nothing was charged. Try "
                "again in a minute."
            )
        ) from None
    link = answer.payment_link
    assert link is not None and link.id and link.url and link.order_id
    return Link(id=link.id, url=link.url, order_id=link.order_id)


def get_order(order_id: str) -> dict[str, Any] | None:
    try:
        answer = client().orders.get(order_id)
    except ApiError as e:
        if e.status_code == 404:
            return None
        raise ProcessorError(_("Square could not be reached.")) from None
    return answer.order.model_dump(mode="json") if answer.order else None


def get_payment(payment_id: str) -> dict[str, Any] | None:
    try:
        answer = client().payments.get(payment_id)
    except ApiError as e:
        if e.status_code == 404:
            return None
        raise ProcessorError(_("Square could not be reached.")) from None
    return answer.payment.model_dump(mode="json") if answer.payment else None


def verify(body: bytes, signature: str | None) -> dict[str, Any]:
    """The event, if Square signed these exact bytes for our notification URL; raises
    ValueError otherwise."""
    cfg = settings()
    if not cfg.square_webhook_signature_key:
        raise ValueError("no signature key configured")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("body is not UTF-8") from None
    if not signature or not verify_signature(
        request_body=text,
        signature_header=signature,
        signature_key=cfg.square_webhook_signature_key,
        notification_url=notification_url(),
    ):
        raise ValueError("signature does not match")
    event = json.loads(text)
    if not isinstance(event, dict):
        raise ValueError("event is not an object")
    return event
