"""Where Stripe and Square post their events. No session, no CSRF token: the processor's
signature over the raw body is the authentication (app/billing/webhooks.py)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from app.billing import webhooks
from app.errors import ServiceError
from app.extensions import csrf

bp = Blueprint("billing_webhooks", __name__, url_prefix="/billing/webhooks")
MAX_BODY = 1024 * 1024  # events are a few KB; refuse before reading anything bigger


def _answer(receive: Any, signature_header: str) -> Any:
    if (request.content_length or 0) > MAX_BODY:
        return jsonify(error="The body is too large."), 413
    body = request.get_data(cache=False)[: MAX_BODY + 1]
    if len(body) > MAX_BODY:
        return jsonify(error="The body is too large."), 413
    try:
        outcome = receive(body, request.headers.get(signature_header))
    except ServiceError as e:
        return jsonify(error=e.message), e.status
    return jsonify(received=True, outcome=outcome)


@bp.post("/stripe")
@csrf.exempt
def stripe_events() -> Any:
    return _answer(webhooks.receive_stripe, "Stripe-Signature")


@bp.post("/square")
@csrf.exempt
def square_events() -> Any:
    return _answer(webhooks.receive_square, "X-Square-HmacSha256-Signature")
