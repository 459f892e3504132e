"""Credit packs through Square, end to end: the Billing page's form, Square's payment link
(reached through the official squareup SDK at the local server, tests/fakes/
square_server.py), the webhook endpoint with Square's signature over the configured
notification URL and the raw body, and the daily reconcile for a webhook that never came.
A pack is granted once, whatever arrives twice; a body or URL that does not match its
signature changes nothing; only the payment method's type is kept."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from app.billing.models import Checkout, CreditGrant, Payment
from tests.billing.conftest import SQUARE_NOTIFICATION_URL, SQUARE_SIGNATURE_KEY, Processors
from tests.billing.test_stripe_billing import (
    FREE_MINUTES,
    SIGNATURE_REFUSED,
    age_checkouts,
    card_traces,
    event_rows,
    flash_error,
    minutes_of,
    open_pack,
    post_checkout,
    rows,
    run_reconcile,
    text_of,
)
from tests.fakes import square_server
from tests.transcripts import Team


def square_checkout(app: Flask, team: Team, pack: str = "pack_300") -> Checkout:
    resp = open_pack(team, "square", pack)
    [row] = [r for r in rows(app, team, Checkout) if r.pack == pack]
    assert resp.headers["Location"] == row.url
    return row


def both_notices(processors: Processors, order_id: str, source: str = "CARD") -> list[dict]:
    """The buyer pays: [payment.created (APPROVED), payment.updated (COMPLETED)], the
    bodies Square posts, not delivered yet."""
    updated = processors.square.pay(order_id, source)
    created = processors.square.webhooks[-2]
    assert (created["type"], updated["type"]) == ("payment.created", "payment.updated")
    assert created["data"]["id"] == updated["data"]["id"]
    return [created, updated]


def deliver(processors: Processors, event: dict[str, Any]) -> str:
    resp = processors.deliver_square(event)
    assert resp.status_code == 200, resp.json
    return str(resp.json["outcome"])


def test_a_pack_through_square_grants_its_minutes_once(
    app: Flask, team: Team, processors: Processors
) -> None:
    row = square_checkout(app, team)

    assert (row.processor, row.kind, row.status) == ("square", "credits", "open")
    order = processors.square.orders[row.external_id]
    assert order["reference_id"] == str(row.id)  # the order names our checkout
    assert order["location_id"] == "LOC1"
    assert order["metadata"] == {"workspace_id": str(team.workspace.id), "pack": "pack_300"}
    [line] = order["line_items"]
    assert line["base_price_money"] == {"amount": 500, "currency": "USD"}
    link = next(k for k in processors.square.links.values() if k["order_id"] == row.external_id)
    assert link["url"] == row.url
    assert (
        link["checkout_options"]["redirect_url"] == f"http://localhost/w/{team.slug}/billing?paid=1"
    )

    created, updated = both_notices(processors, row.external_id)
    assert deliver(processors, created) == "waiting: payment approved"
    assert rows(app, team, CreditGrant) == []
    assert deliver(processors, updated) == "credits granted"

    [grant] = rows(app, team, CreditGrant)
    assert (grant.processor, grant.reference, grant.pack) == ("square", row.external_id, "pack_300")
    assert grant.seconds == 300 * 60 and grant.user_id == team.user.id
    m = minutes_of(app, team)
    assert m.credits == 300 * 60 and m.left() == (FREE_MINUTES + 300) * 60
    assert rows(app, team, Checkout)[0].status == "completed"
    [payment] = rows(app, team, Payment)
    payment_id = updated["data"]["id"]
    assert (payment.processor, payment.reference, payment.kind) == ("square", payment_id, "credits")
    assert (payment.amount_cents, payment.currency, payment.status) == (500, "usd", "paid")
    assert (payment.method_type, payment.description) == ("card", "Credits: 300 minutes")
    assert payment.receipt_url == processors.square.payments[payment_id]["receipt_url"]
    [event] = event_rows(app, "square", updated["event_id"])
    assert (event.workspace_id, event.outcome) == (team.workspace.id, "credits granted")
    # The card was a Visa ending 1111 (bin 411111): none of it was kept.
    assert card_traces(app) == []
    page = team.page("/billing/")
    assert "5 h 00 min <small>(Square)</small>" in page


def test_a_duplicate_event_id_is_duplicate_and_a_second_notice_grants_nothing(
    app: Flask, team: Team, processors: Processors
) -> None:
    row = square_checkout(app, team)
    _, updated = both_notices(processors, row.external_id)
    assert deliver(processors, updated) == "credits granted"

    assert deliver(processors, updated) == "duplicate"  # Square retries the same event
    # Another notice about the same payment (Square sends payment.updated more than once).
    assert deliver(processors, updated | {"event_id": str(uuid.uuid4())}) == (
        "credits: already granted"
    )

    assert len(rows(app, team, CreditGrant)) == 1
    assert len(rows(app, team, Payment)) == 1
    assert len(event_rows(app, "square", updated["event_id"])) == 1
    assert minutes_of(app, team).credits == 300 * 60


def test_one_byte_changed_in_the_body_is_refused_and_changes_nothing(
    app: Flask, team: Team, processors: Processors
) -> None:
    row = square_checkout(app, team)
    _, updated = both_notices(processors, row.external_id)
    body = json.dumps(updated)
    signature = square_server.sign(body, SQUARE_SIGNATURE_KEY, SQUARE_NOTIFICATION_URL)
    tampered = body.replace('"amount": 500,', '"amount": 900,', 1)  # another amount
    assert sum(a != b for a, b in zip(body, tampered, strict=True)) == 1

    resp = processors.post_square(tampered, signature)

    assert resp.status_code == 400
    assert resp.json == {"error": SIGNATURE_REFUSED}
    assert rows(app, team, CreditGrant) == [] and rows(app, team, Payment) == []
    assert event_rows(app, "square", updated["event_id"]) == []
    assert rows(app, team, Checkout)[0].status == "open"
    # The body as signed is taken.
    assert processors.post_square(body, signature).json["outcome"] == "credits granted"


def test_signatures_for_another_url_or_key_or_none_are_refused(
    app: Flask, team: Team, processors: Processors
) -> None:
    row = square_checkout(app, team)
    _, updated = both_notices(processors, row.external_id)
    body = json.dumps(updated)
    refused = {
        # What the request itself says it was posted to: never what the server checks.
        "the request's own URL": square_server.sign(
            body, SQUARE_SIGNATURE_KEY, "http://localhost/billing/webhooks/square"
        ),
        "https on the request's host": square_server.sign(
            body, SQUARE_SIGNATURE_KEY, "https://localhost/billing/webhooks/square"
        ),
        "another signature key": square_server.sign(
            body, "someone-elses-key", SQUARE_NOTIFICATION_URL
        ),
        "missing signature": None,
        "empty signature": "",
    }

    for case, signature in refused.items():
        resp = processors.post_square(body, signature)
        assert resp.status_code == 400, (case, resp.json)
        assert resp.json == {"error": SIGNATURE_REFUSED}, case

    assert event_rows(app, "square", updated["event_id"]) == []
    assert rows(app, team, CreditGrant) == [] and rows(app, team, Payment) == []
    assert deliver(processors, updated) == "credits granted"  # signed for the configured URL


def test_a_wallet_payment_is_kept_as_wallet(app: Flask, team: Team, processors: Processors) -> None:
    row = square_checkout(app, team, "pack_1000")
    _, updated = both_notices(processors, row.external_id, "WALLET")

    assert deliver(processors, updated) == "credits granted"

    [payment] = rows(app, team, Payment)
    assert (payment.method_type, payment.amount_cents) == ("wallet", 1500)
    assert payment.description == "Credits: 1,000 minutes"
    assert minutes_of(app, team).credits == 1000 * 60
    assert card_traces(app) == []


def test_reconcile_grants_a_square_pack_whose_webhook_was_lost(
    app: Flask, team: Team, processors: Processors
) -> None:
    row = square_checkout(app, team)
    created, updated = both_notices(processors, row.external_id)  # paid; no webhook comes

    run_reconcile(app)  # too soon: the buyer may still be paying
    assert rows(app, team, CreditGrant) == []

    age_checkouts(app, team, timedelta(minutes=20))
    run_reconcile(app)

    [grant] = rows(app, team, CreditGrant)
    assert (grant.processor, grant.reference, grant.seconds) == (
        "square",
        row.external_id,
        300 * 60,
    )
    assert rows(app, team, Checkout)[0].status == "completed"
    [payment] = rows(app, team, Payment)
    assert (payment.reference, payment.method_type) == (updated["data"]["id"], "card")
    assert payment.amount_cents == 500
    # Square's notices arrive late after all: nothing more.
    assert deliver(processors, created) == "waiting: payment approved"
    assert deliver(processors, updated) == "credits: already granted"
    run_reconcile(app)
    assert len(rows(app, team, CreditGrant)) == 1
    assert len(rows(app, team, Payment)) == 1
    assert card_traces(app) == []


def test_reconcile_leaves_an_unpaid_square_checkout_open(
    app: Flask, team: Team, processors: Processors
) -> None:
    square_checkout(app, team)
    age_checkouts(app, team, timedelta(minutes=20))

    run_reconcile(app)

    assert rows(app, team, Checkout)[0].status == "open"  # still payable; nothing granted
    assert rows(app, team, CreditGrant) == []
    age_checkouts(app, team, timedelta(days=4))
    run_reconcile(app)
    assert rows(app, team, Checkout)[0].status == "expired"


def test_square_only_sells_packs_and_answers_clearly_when_missing_or_failing(
    app: Flask, team: Team, processors: Processors, monkeypatch: pytest.MonkeyPatch
) -> None:
    subscription = post_checkout(
        team, processor="square", plan="pro", seats="2", request_key=f"{uuid.uuid4().hex}-sq"
    )
    assert subscription.status_code == 422
    assert flash_error("Subscriptions are paid through Stripe.") in text_of(subscription)

    cfg = app.extensions["verbatim.settings"]
    monkeypatch.setattr(cfg, "square_access_token", "EAAAl-not-this-merchants-token")
    failing = post_checkout(
        team, processor="square", pack="pack_300", request_key=f"{uuid.uuid4().hex}-sq"
    )
    assert failing.status_code == 502
    assert flash_error(
        "Square could not open a payment page just now; nothing was charged. Try again in a minute."
    ) in text_of(failing)

    monkeypatch.setattr(cfg, "square_access_token", "")
    missing = post_checkout(
        team, processor="square", pack="pack_300", request_key=f"{uuid.uuid4().hex}-sq"
    )
    assert missing.status_code == 422
    assert flash_error("Payments through Square are not set up on this server.") in (
        text_of(missing)
    )
    event = {"event_id": str(uuid.uuid4()), "type": "payment.updated", "data": {}}
    webhook = processors.deliver_square(event)
    assert webhook.status_code == 404
    assert webhook.json == {"error": "Square is not set up on this server."}
    assert event_rows(app, "square", event["event_id"]) == []
    # The failed attempt left its row unopened (a retry of that form opens it); no other.
    assert [(r.url, r.external_id) for r in rows(app, team, Checkout)] == [("", None)]
    assert rows(app, team, CreditGrant) == []
