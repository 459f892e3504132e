"""Receiving the processors' webhooks: verify, apply once, answer.

Each event is verified over the raw body with the processor SDK's own helper (Square's
notification URL comes from configuration, never from the request). Its id is then
inserted into billing_webhook_events in the same transaction as its effects: a
redelivery finds it at once, and the same event arriving twice at the same moment waits
on the key and then changes nothing. Lookups at the processor (a payment's method type)
happen before that transaction, so it stays short.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import stripe
from sqlalchemy.exc import IntegrityError

from app.billing import square_events, square_gateway, stripe_events, stripe_gateway
from app.billing.models import WebhookEvent
from app.errors import BadRequest, NotFound
from app.extensions import db
from app.settings import settings

log = logging.getLogger("verbatim.billing")


class SignatureRejected(BadRequest):
    """Not signed by the processor with our secret, or signed too long ago."""


@dataclass(frozen=True)
class Handling:
    """How one event is applied: `prepare` may call the processor (outside the
    transaction); `apply` makes the changes and returns (workspace id, outcome)."""

    prepare: Callable[[], Any]
    apply: Callable[[Any], tuple[uuid.UUID | None, str]]


def receive_stripe(body: bytes, signature: str | None) -> str:
    if not stripe_gateway.enabled() or not settings().stripe_webhook_secret:
        raise NotFound("Stripe is not set up on this server.")
    try:
        event = stripe_gateway.verify(body, signature)
    except (stripe.SignatureVerificationError, ValueError) as e:
        log.warning("stripe webhook refused: %s", type(e).__name__)
        if "tolerance" in str(e):  # a replay, or this server's clock is off
            raise SignatureRejected(
                "The signature's timestamp is outside the tolerance (replayed, or the "
                "clocks disagree)."
            ) from None
        raise SignatureRejected("The signature does not match this body.") from None
    return process("stripe", str(event["id"]), str(event["type"]), stripe_events.handling(event))


def receive_square(body: bytes, signature: str | None) -> str:
    if not square_gateway.enabled():
        raise NotFound("Square is not set up on this server.")
    try:
        event = square_gateway.verify(body, signature)
    except ValueError as e:
        log.warning("square webhook refused: %s", e)
        raise SignatureRejected("The signature does not match this body.") from None
    event_id = str(event.get("event_id") or "")
    if not event_id:
        raise BadRequest("The event has no event_id.")
    return process("square", event_id, str(event.get("type") or ""), square_events.handling(event))


def _seen(processor: str, event_id: str) -> bool:
    return db.session.get(WebhookEvent, (processor, event_id)) is not None


def process(processor: str, event_id: str, event_type: str, how: Handling) -> str:
    """Apply the event once; returns the outcome ("duplicate" for a second delivery)."""
    if _seen(processor, event_id):
        db.session.rollback()
        return "duplicate"
    prepared = how.prepare()
    try:
        row = WebhookEvent(processor=processor, event_id=event_id, type=event_type[:80])
        db.session.add(row)
        db.session.flush()  # takes the key now: a twin in flight waits here
        workspace_id, outcome = how.apply(prepared)
        row.workspace_id, row.outcome = workspace_id, outcome[:80]
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return "duplicate"
    except Exception:
        db.session.rollback()
        raise
    log.info("%s event %s (%s): %s", processor, event_id, event_type, outcome)
    return outcome
