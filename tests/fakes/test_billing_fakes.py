"""The Stripe and Square fakes, driven only through the official SDKs (stripe, squareup),
so what they accept and answer is what the SDKs send and parse."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import square
import stripe
from square.core.api_error import ApiError
from square.utils.webhooks_helper import verify_signature

from tests.fakes.square_server import SquareServer
from tests.fakes.square_server import sign as square_sign
from tests.fakes.stripe_server import API_VERSION, StripeServer, decode_params, sign, signed

PRO = "price_verbatim_pro"
BUSINESS = "price_verbatim_business"
WHSEC = "whsec_test_verbatim"
NOTIFY = "https://verbatim.test/billing/webhooks/square"
SQ_KEY = "square-signature-key"


@pytest.fixture
def fake() -> Iterator[StripeServer]:
    with StripeServer() as server:
        yield server


@pytest.fixture
def client(fake: StripeServer) -> stripe.StripeClient:
    return stripe.StripeClient(fake.api_key, base_addresses={"api": fake.url})


@pytest.fixture
def sq() -> Iterator[SquareServer]:
    with SquareServer() as server:
        yield server


@pytest.fixture
def sq_client(sq: SquareServer) -> square.Square:
    return square.Square(token=sq.access_token, base_url=sq.url)


def _subscribe(
    client: stripe.StripeClient, fake: StripeServer, quantity: int = 2, **extra: object
) -> tuple[stripe.checkout.Session, list[dict]]:
    customer = client.v1.customers.create(params={"name": "Org", "email": "o@example.com"})
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "customer": customer.id,
            "client_reference_id": "org-7",
            "success_url": "https://app.test/billing/done?session={CHECKOUT_SESSION_ID}",
            "cancel_url": "https://app.test/billing",
            "metadata": {"org_id": "7"},
            "subscription_data": {"metadata": {"org_id": "7", "plan": "pro"}},
            "line_items": [{"price": PRO, "quantity": quantity}],
            **extra,
        }
    )
    return session, fake.complete_checkout(session.id)


def _sub_id(events: list[dict]) -> str:
    return next(e for e in events if e["type"] == "customer.subscription.created")["data"][
        "object"
    ]["id"]


# --- Wire format ---------------------------------------------------------------------------


def test_bracket_notation_decodes_to_nested_params() -> None:
    pairs = [
        ("line_items[0][price_data][product_data][name]", "Pro"),
        ("line_items[0][quantity]", "2"),
        ("line_items[1][price]", "price_x"),
        ("expand[]", "latest_charge"),
        ("expand[]", "customer"),
        ("metadata[0]", "kept as a key"),
        ("metadata[gone]", ""),
    ]
    assert decode_params(pairs) == {
        "line_items": [
            {"price_data": {"product_data": {"name": "Pro"}}, "quantity": "2"},
            {"price": "price_x"},
        ],
        "expand": ["latest_charge", "customer"],
        "metadata": {"0": "kept as a key", "gone": ""},
    }


def test_customer_create_records_the_form_encoded_request(
    client: stripe.StripeClient, fake: StripeServer
) -> None:
    customer = client.v1.customers.create(
        params={"name": "Ada", "email": "ada@example.com", "metadata": {"org_id": "1"}},
        options={"idempotency_key": "cust-1"},
    )
    assert customer.id.startswith("cus_")
    assert (customer.name, customer.email, customer.metadata.to_dict()) == (
        "Ada",
        "ada@example.com",
        {"org_id": "1"},
    )
    method, path, params, key = fake.requests[-1]
    assert (method, path, key) == ("POST", "/v1/customers", "cust-1")
    assert params == {"name": "Ada", "email": "ada@example.com", "metadata": {"org_id": "1"}}
    assert fake.events[-1]["type"] == "customer.created"
    assert client.v1.customers.retrieve(customer.id).email == "ada@example.com"


def test_every_post_carries_an_idempotency_key_from_the_sdk(
    client: stripe.StripeClient, fake: StripeServer
) -> None:
    client.v1.customers.create(params={"name": "Ada"})
    assert fake.requests[-1].idempotency_key  # the SDK makes one up for every POST


def test_missing_or_wrong_key_is_401(fake: StripeServer) -> None:
    wrong = stripe.StripeClient("sk_test_wrongwrongwrong9876", base_addresses={"api": fake.url})
    with pytest.raises(stripe.AuthenticationError) as caught:
        wrong.v1.customers.create(params={"name": "Ada"})
    assert caught.value.http_status == 401
    assert "9876" in str(caught.value.user_message)
    assert "wrongwrong" not in str(caught.value.user_message)  # masked, as Stripe does
    empty = stripe.StripeClient("", base_addresses={"api": fake.url})
    with pytest.raises(stripe.AuthenticationError):
        empty.v1.customers.create(params={"name": "Ada"})
    assert fake.of_type("customer") == []


@pytest.mark.parametrize(
    ("kind", "call"),
    [
        ("checkout.session", lambda c: c.v1.checkout.sessions.retrieve("cs_test_nope")),
        ("subscription", lambda c: c.v1.subscriptions.retrieve("sub_nope")),
        ("payment_intent", lambda c: c.v1.payment_intents.retrieve("pi_nope")),
        ("invoice", lambda c: c.v1.invoices.retrieve("in_nope")),
        ("customer", lambda c: c.v1.customers.retrieve("cus_nope")),
    ],
)
def test_unknown_ids_are_404_resource_missing(
    client: stripe.StripeClient, kind: str, call: object
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        call(client)  # type: ignore[operator]
    err = caught.value
    assert (err.http_status, err.code) == (404, "resource_missing")
    assert err.user_message is not None and err.user_message.startswith(f"No such {kind}:")
    assert err.json_body is not None
    assert set(err.json_body["error"]) >= {"type", "message", "param", "code"}
    assert err.json_body["error"]["type"] == "invalid_request_error"


# --- Idempotency -----------------------------------------------------------------------------


def test_idempotent_replay_answers_the_first_response(
    client: stripe.StripeClient, fake: StripeServer
) -> None:
    params = {"mode": "payment", "line_items": [{"price_data": _one_time(500), "quantity": 1}]}
    first = client.v1.checkout.sessions.create(params=params, options={"idempotency_key": "k1"})
    again = client.v1.checkout.sessions.create(params=params, options={"idempotency_key": "k1"})
    assert again.id == first.id
    assert again.to_dict() == first.to_dict()
    assert again.last_response is not None
    assert again.last_response.headers.get("Idempotent-Replayed") == "true"
    assert len(fake.of_type("checkout.session")) == 1


def test_idempotency_key_with_other_params_or_endpoint_is_refused(
    client: stripe.StripeClient,
) -> None:
    client.v1.customers.create(params={"name": "Ada"}, options={"idempotency_key": "k2"})
    with pytest.raises(stripe.IdempotencyError) as caught:
        client.v1.customers.create(params={"name": "Bob"}, options={"idempotency_key": "k2"})
    assert caught.value.http_status == 400
    assert caught.value.json_body["error"]["type"] == "idempotency_error"
    with pytest.raises(stripe.IdempotencyError):
        client.v1.checkout.sessions.create(
            params={"mode": "payment"}, options={"idempotency_key": "k2"}
        )


def test_a_refused_request_does_not_burn_its_key(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.create(
            params={"mode": "subscription"}, options={"idempotency_key": "k3"}
        )
    session = client.v1.checkout.sessions.create(
        params={"mode": "subscription", "line_items": [{"price": PRO, "quantity": 1}]},
        options={"idempotency_key": "k3"},
    )
    assert session.status == "open"


# --- Checkout --------------------------------------------------------------------------------


def _one_time(amount: int, name: str = "Hours") -> dict:
    return {"currency": "usd", "unit_amount": amount, "product_data": {"name": name}}


def test_subscription_checkout_session(client: stripe.StripeClient, fake: StripeServer) -> None:
    customer = client.v1.customers.create(params={"email": "o@example.com"})
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "customer": customer.id,
            "client_reference_id": "org-7",
            "success_url": "https://app.test/ok",
            "cancel_url": "https://app.test/no",
            "metadata": {"org_id": "7"},
            "subscription_data": {"metadata": {"org_id": "7"}},
            "line_items": [{"price": PRO, "quantity": 3}],
        }
    )
    assert session.id.startswith("cs_test_")
    assert session.object == "checkout.session"
    assert session.url == f"{fake.url}/pay/{session.id}"
    assert (session.status, session.payment_status, session.mode) == (
        "open",
        "unpaid",
        "subscription",
    )
    assert (session.customer, session.client_reference_id) == (customer.id, "org-7")
    assert session.metadata.to_dict() == {"org_id": "7"}
    assert (session.amount_total, session.currency) == (3 * 1200, "usd")
    assert session.subscription is None and session.payment_intent is None
    assert session.expires_at > session.created
    params = fake.requests[-1].params
    assert params["line_items"] == [{"price": PRO, "quantity": "3"}]
    assert params["subscription_data"] == {"metadata": {"org_id": "7"}}
    retrieved = client.v1.checkout.sessions.retrieve(session.id)
    assert retrieved.to_dict() == session.to_dict()


def test_payment_checkout_with_price_data(client: stripe.StripeClient, fake: StripeServer) -> None:
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "line_items": [{"price_data": _one_time(750, "10 hours"), "quantity": 2}],
            "payment_intent_data": {"metadata": {"org_id": "9", "pack": "10h"}},
            "success_url": "https://app.test/ok",
        }
    )
    assert (session.amount_total, session.mode, session.customer) == (1500, "payment", None)
    assert fake.requests[-1].params["line_items"][0]["price_data"] == {
        "currency": "usd",
        "unit_amount": "750",
        "product_data": {"name": "10 hours"},
    }
    [event] = fake.complete_checkout(session.id)
    assert event["type"] == "checkout.session.completed"
    done = event["data"]["object"]
    assert (done["status"], done["payment_status"]) == ("complete", "paid")
    intent = client.v1.payment_intents.retrieve(
        done["payment_intent"], params={"expand": ["latest_charge"]}
    )
    assert intent.metadata.to_dict() == {"org_id": "9", "pack": "10h"}
    assert (intent.amount, intent.status) == (1500, "succeeded")
    charge = intent.latest_charge
    assert isinstance(charge, stripe.Charge)
    assert charge.payment_method_details.type == "card"
    card = charge.payment_method_details.card
    assert (card.brand, card.last4) == ("visa", "4242")
    assert card.exp_month == 12 and card.exp_year > 2000
    assert charge.receipt_url
    plain = client.v1.payment_intents.retrieve(done["payment_intent"])
    assert plain.latest_charge == charge.id  # not expanded: the id
    assert fake.requests[-2].params == {"expand": ["latest_charge"]}


@pytest.mark.parametrize(
    ("params", "code", "param", "words"),
    [
        ({"line_items": [{"price": PRO, "quantity": 1}]}, "parameter_missing", "mode", "mode"),
        ({"mode": "subscription"}, "parameter_missing", "line_items", "line_items"),
        (
            {"mode": "subscription", "line_items": [{"price": "price_nope", "quantity": 1}]},
            "resource_missing",
            "line_items[0][price]",
            "No such price: 'price_nope'",
        ),
        (
            {"mode": "subscription", "line_items": [{"price": PRO}]},
            "parameter_missing",
            "line_items[0][quantity]",
            "quantity",
        ),
        (
            {"mode": "subscription", "line_items": [{"price_data": _one_time(5), "quantity": 1}]},
            None,
            "line_items",
            "recurring price",
        ),
        (
            {"mode": "payment", "line_items": [{"price": PRO, "quantity": 1}]},
            None,
            "line_items[0][price]",
            "recurring price",
        ),
        (
            {"mode": "payment", "line_items": [{"price": PRO, "quantity": 0}]},
            "parameter_invalid_integer",
            "line_items[0][quantity]",
            "greater than or equal to 1",
        ),
        (
            {"mode": "payment", "customer": "cus_nope", "line_items": []},
            "resource_missing",
            "customer",
            "No such customer",
        ),
        (
            {"mode": "payment", "colour": "red"},
            "parameter_unknown",
            "colour",
            "Received unknown parameter: colour",
        ),
    ],
)
def test_checkout_is_validated_as_stripe_does(
    client: stripe.StripeClient,
    params: dict,
    code: str | None,
    param: str,
    words: str,
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.checkout.sessions.create(params=params)
    err = caught.value
    assert err.http_status == 400
    assert (err.code, err.param) == (code, param)
    assert words in str(err.user_message)


def test_configured_prices(fake: StripeServer, client: stripe.StripeClient) -> None:
    fake.prices["price_team"] = {"unit_amount": 999, "currency": "eur", "product_name": "Team"}
    session = client.v1.checkout.sessions.create(
        params={"mode": "subscription", "line_items": [{"price": "price_team", "quantity": 2}]}
    )
    assert (session.amount_total, session.currency) == (1998, "eur")
    price = client.v1.prices.retrieve("price_team")
    assert (price.type, price.recurring.interval) == ("recurring", "month")


def test_expire_checkout(client: stripe.StripeClient, fake: StripeServer) -> None:
    session = client.v1.checkout.sessions.create(
        params={"mode": "subscription", "line_items": [{"price": PRO, "quantity": 1}]}
    )
    event = fake.expire_checkout(session.id, created=1_800_000_000)
    assert (event["type"], event["created"]) == ("checkout.session.expired", 1_800_000_000)
    assert client.v1.checkout.sessions.retrieve(session.id).status == "expired"
    with pytest.raises(ValueError, match="expired"):
        fake.complete_checkout(session.id)
    other = client.v1.checkout.sessions.create(
        params={"mode": "subscription", "line_items": [{"price": PRO, "quantity": 1}]}
    )
    assert client.v1.checkout.sessions.expire(other.id).status == "expired"
    assert fake.events[-1]["type"] == "checkout.session.expired"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.expire(other.id)


# --- Completing a subscription checkout, and webhooks ----------------------------------------


def test_complete_subscription_checkout(client: stripe.StripeClient, fake: StripeServer) -> None:
    session, events = _subscribe(client, fake, quantity=2)
    assert [e["type"] for e in events] == [
        "customer.subscription.created",
        "invoice.paid",
        "checkout.session.completed",
    ]
    for event in events:
        assert event["id"].startswith("evt_")
        assert (event["object"], event["api_version"]) == ("event", API_VERSION)
        assert (event["livemode"], event["pending_webhooks"]) == (False, 1)
        assert isinstance(event["created"], int)
    sub_id = _sub_id(events)
    done = events[2]["data"]["object"]
    assert (done["status"], done["payment_status"], done["subscription"]) == (
        "complete",
        "paid",
        sub_id,
    )

    sub = client.v1.subscriptions.retrieve(sub_id)
    assert (sub.status, sub.customer, sub.cancel_at_period_end) == (
        "active",
        session.customer,
        False,
    )
    assert sub.metadata.to_dict() == {"org_id": "7", "plan": "pro"}
    [item] = sub["items"].data  # `sub.items` is the API field too; [] reads plainly
    assert item.id.startswith("si_")
    assert (item.price.id, item.price.unit_amount, item.quantity) == (PRO, 1200, 2)
    assert item.price.recurring.interval == "month"
    start = datetime.fromtimestamp(item.current_period_start, UTC)
    end = datetime.fromtimestamp(item.current_period_end, UTC)
    assert (end.month - start.month) % 12 == 1
    assert sub.billing_cycle_anchor == item.current_period_start

    invoice = client.v1.invoices.retrieve(events[1]["data"]["object"]["id"])
    assert (invoice.status, invoice.amount_paid, invoice.currency) == ("paid", 2400, "usd")
    assert invoice.customer == session.customer
    assert invoice.number and invoice.hosted_invoice_url
    assert invoice.parent.type == "subscription_details"
    assert invoice.parent.subscription_details.subscription == sub_id
    assert invoice.parent.subscription_details.metadata.to_dict() == {"org_id": "7", "plan": "pro"}
    [line] = invoice.lines.data
    assert line.parent.subscription_item_details.subscription_item == item.id
    assert line.pricing.price_details.price == PRO

    payments = client.v1.invoice_payments.list(params={"invoice": invoice.id})
    [payment] = payments.data
    assert payment.id.startswith("inpay_")
    assert (payment.invoice, payment.is_default, payment.status) == (invoice.id, True, "paid")
    assert (payment.amount_paid, payment.currency) == (2400, "usd")
    assert payment.payment.type == "payment_intent"
    intent = client.v1.payment_intents.retrieve(
        payment.payment.payment_intent, params={"expand": ["latest_charge"]}
    )
    assert intent.latest_charge.payment_method_details.card.last4 == "4242"
    expanded = client.v1.invoice_payments.list(
        params={"invoice": invoice.id, "expand": ["data.payment.payment_intent"]}
    )
    assert expanded.data[0].payment.payment_intent.id == intent.id


def test_checkout_without_customer_creates_one(
    client: stripe.StripeClient, fake: StripeServer
) -> None:
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "customer_email": "new@example.com",
            "line_items": [{"price": BUSINESS, "quantity": 1}],
        }
    )
    events = fake.complete_checkout(session.id)
    customer_id = events[2]["data"]["object"]["customer"]
    assert client.v1.customers.retrieve(customer_id).email == "new@example.com"


def test_webhook_signatures_verify_with_the_sdk(
    client: stripe.StripeClient, fake: StripeServer
) -> None:
    _, events = _subscribe(client, fake)
    payload = json.dumps(events[0])
    header = sign(payload, WHSEC)
    event = stripe.Webhook.construct_event(payload, header, WHSEC)
    assert event.type == "customer.subscription.created"
    assert event.data.object.id == _sub_id(events)
    body, header = signed(events[2], WHSEC)
    assert stripe.Webhook.construct_event(body, header, WHSEC).type == (
        "checkout.session.completed"
    )
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, header, WHSEC)  # another body's header
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, sign(payload, "whsec_other"), WHSEC)
    old = sign(payload, WHSEC, timestamp=int(time.time()) - 3600)
    with pytest.raises(stripe.SignatureVerificationError, match="tolerance"):
        stripe.Webhook.construct_event(payload, old, WHSEC)


# --- Subscriptions: API updates ---------------------------------------------------------------


def test_update_quantity_records_proration_behavior(
    client: stripe.StripeClient, fake: StripeServer
) -> None:
    _, events = _subscribe(client, fake, quantity=2)
    sub_id = _sub_id(events)
    item_id = client.v1.subscriptions.retrieve(sub_id)["items"].data[0].id
    updated = client.v1.subscriptions.update(
        sub_id,
        params={"items": [{"id": item_id, "quantity": 5}], "proration_behavior": "none"},
    )
    assert updated["items"].data[0].quantity == 5
    assert fake.proration_behaviors == [(sub_id, "none")]
    event = fake.events[-1]
    assert event["type"] == "customer.subscription.updated"
    assert event["data"]["previous_attributes"]["items"]["data"][0]["quantity"] == 2
    assert event["request"]["idempotency_key"] == fake.requests[-1].idempotency_key
    client.v1.subscriptions.update(
        sub_id, params={"items": [{"id": item_id, "price": BUSINESS, "quantity": 5}]}
    )
    assert fake.proration_behaviors[-1] == (sub_id, None)


def test_always_invoice_bills_the_proration_now(
    client: stripe.StripeClient, fake: StripeServer
) -> None:
    _, events = _subscribe(client, fake, quantity=1)
    sub_id = _sub_id(events)
    item_id = client.v1.subscriptions.retrieve(sub_id)["items"].data[0].id
    sub = client.v1.subscriptions.update(
        sub_id,
        params={
            "items": [{"id": item_id, "price": BUSINESS}],
            "proration_behavior": "always_invoice",
        },
    )
    assert fake.events[-1]["type"] == "invoice.paid"
    invoice = client.v1.invoices.retrieve(sub.latest_invoice)
    assert invoice.billing_reason == "subscription_update"
    assert 0 < invoice.amount_paid <= 2400 - 1200
    assert all(line.parent.subscription_item_details.proration for line in invoice.lines.data)


def test_create_prorations_wait_for_the_renewal(
    client: stripe.StripeClient, fake: StripeServer
) -> None:
    _, events = _subscribe(client, fake, quantity=1)
    sub_id = _sub_id(events)
    item_id = client.v1.subscriptions.retrieve(sub_id)["items"].data[0].id
    client.v1.subscriptions.update(
        sub_id,
        params={
            "items": [{"id": item_id, "quantity": 3}],
            "proration_behavior": "create_prorations",
        },
    )
    renewal = fake.renew(sub_id)[1]["data"]["object"]
    assert renewal["amount_paid"] > 3 * 1200  # the new period plus the proration
    assert (
        sum(
            line["parent"]["subscription_item_details"]["proration"]
            for line in renewal["lines"]["data"]
        )
        == 2
    )


def test_cancel_at_period_end_and_metadata(client: stripe.StripeClient, fake: StripeServer) -> None:
    _, events = _subscribe(client, fake)
    sub_id = _sub_id(events)
    sub = client.v1.subscriptions.update(
        sub_id, params={"cancel_at_period_end": True, "metadata": {"plan": "", "note": "x"}}
    )
    assert sub.cancel_at_period_end is True
    assert sub.cancel_at == sub["items"].data[0].current_period_end
    assert sub.metadata.to_dict() == {"org_id": "7", "note": "x"}
    assert fake.requests[-1].params["cancel_at_period_end"] == "true"
    previous = fake.events[-1]["data"]["previous_attributes"]
    assert previous["cancel_at_period_end"] is False
    [ended] = fake.renew(sub_id)
    assert ended["type"] == "customer.subscription.deleted"
    assert ended["data"]["object"]["status"] == "canceled"


def test_subscription_update_validation(client: stripe.StripeClient, fake: StripeServer) -> None:
    _, events = _subscribe(client, fake)
    sub_id = _sub_id(events)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.subscriptions.update(sub_id, params={"proration_behavior": "sometimes"})
    assert caught.value.param == "proration_behavior"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.subscriptions.update(sub_id, params={"items": [{"id": "si_nope", "quantity": 1}]})
    assert (caught.value.code, caught.value.param) == ("resource_missing", "items[0][id]")
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.subscriptions.update("sub_nope", params={"metadata": {"a": "b"}})
    assert caught.value.http_status == 404


def test_cancel_through_the_api(client: stripe.StripeClient, fake: StripeServer) -> None:
    _, events = _subscribe(client, fake)
    sub = client.v1.subscriptions.cancel(_sub_id(events))
    assert (sub.status, sub.ended_at is not None) == ("canceled", True)
    assert fake.events[-1]["type"] == "customer.subscription.deleted"


# --- Subscriptions: what happens at Stripe's end -------------------------------------------


def test_update_subscription_helper(client: stripe.StripeClient, fake: StripeServer) -> None:
    _, events = _subscribe(client, fake, quantity=2)
    sub_id = _sub_id(events)
    event = fake.update_subscription(sub_id, quantity=4, price=BUSINESS, created=1_800_000_000)
    assert (event["type"], event["created"]) == ("customer.subscription.updated", 1_800_000_000)
    item = event["data"]["object"]["items"]["data"][0]
    assert (item["quantity"], item["price"]["id"]) == (4, BUSINESS)
    old = event["data"]["previous_attributes"]["items"]["data"][0]
    assert (old["quantity"], old["price"]["id"]) == (2, PRO)
    event = fake.update_subscription(sub_id, status="unpaid")
    assert event["data"]["previous_attributes"] == {"status": "active"}
    assert client.v1.subscriptions.retrieve(sub_id).status == "unpaid"


def test_delete_subscription_helper(client: stripe.StripeClient, fake: StripeServer) -> None:
    _, events = _subscribe(client, fake)
    sub_id = _sub_id(events)
    event = fake.delete_subscription(sub_id, created=1_800_000_000)
    assert event["type"] == "customer.subscription.deleted"
    assert (event["data"]["object"]["status"], event["data"]["object"]["ended_at"]) == (
        "canceled",
        1_800_000_000,
    )
    assert "previous_attributes" not in event["data"]
    assert client.v1.subscriptions.retrieve(sub_id).status == "canceled"


def test_failed_payment_then_paid(client: stripe.StripeClient, fake: StripeServer) -> None:
    _, events = _subscribe(client, fake, quantity=3)
    sub_id = _sub_id(events)
    failed, updated = fake.fail_payment(sub_id)
    assert (failed["type"], updated["type"]) == (
        "invoice.payment_failed",
        "customer.subscription.updated",
    )
    invoice = failed["data"]["object"]
    assert (invoice["status"], invoice["attempt_count"], invoice["amount_due"]) == (
        "open",
        1,
        3600,
    )
    assert updated["data"]["object"]["status"] == "past_due"
    assert updated["data"]["previous_attributes"]["status"] == "active"
    [retry] = fake.fail_payment(sub_id)
    assert retry["data"]["object"]["attempt_count"] == 2
    open_payment = client.v1.invoice_payments.list(params={"invoice": invoice["id"]}).data[0]
    assert open_payment.status == "open"
    intent = client.v1.payment_intents.retrieve(
        open_payment.payment.payment_intent, params={"expand": ["latest_charge"]}
    )
    assert intent.status == "requires_payment_method"
    assert intent.latest_charge.status == "failed"

    paid, back = fake.pay_invoice(sub_id)
    assert (paid["type"], paid["data"]["object"]["id"]) == ("invoice.paid", invoice["id"])
    assert paid["data"]["object"]["amount_paid"] == 3600
    assert back["data"]["object"]["status"] == "active"
    assert back["data"]["previous_attributes"] == {"status": "past_due"}
    assert client.v1.invoice_payments.list(params={"invoice": invoice["id"]}).data[0].status == (
        "paid"
    )
    with pytest.raises(ValueError, match="no open invoice"):
        fake.pay_invoice(sub_id)


def test_renew_advances_the_period(client: stripe.StripeClient, fake: StripeServer) -> None:
    _, events = _subscribe(client, fake)
    sub_id = _sub_id(events)
    before = client.v1.subscriptions.retrieve(sub_id)["items"].data[0]
    updated, paid = fake.renew(sub_id)
    assert (updated["type"], paid["type"]) == ("customer.subscription.updated", "invoice.paid")
    after = client.v1.subscriptions.retrieve(sub_id)["items"].data[0]
    assert after.current_period_start == before.current_period_end
    assert after.current_period_end > after.current_period_start
    assert paid["data"]["object"]["billing_reason"] == "subscription_cycle"
    assert paid["data"]["object"]["amount_paid"] == 2 * 1200


def test_billing_portal(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(params={"name": "Org"})
    portal = client.v1.billing_portal.sessions.create(
        params={"customer": customer.id, "return_url": "https://app.test/billing"}
    )
    assert portal.id.startswith("bps_")
    assert (portal.object, portal.customer, portal.return_url) == (
        "billing_portal.session",
        customer.id,
        "https://app.test/billing",
    )
    assert portal.url
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.billing_portal.sessions.create(params={"return_url": "https://app.test"})
    assert (caught.value.code, caught.value.param) == ("parameter_missing", "customer")
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.billing_portal.sessions.create(params={"customer": "cus_nope"})
    assert (caught.value.code, caught.value.param) == ("resource_missing", "customer")


# --- Square -----------------------------------------------------------------------------------


def _link(client: square.Square, key: str = "link-1", location: str = "LOC1", amount: int = 1200):
    return client.checkout.payment_links.create(
        idempotency_key=key,
        order={
            "location_id": location,
            "reference_id": "org-7",
            "metadata": {"org_id": "7", "pack": "pro"},
            "line_items": [
                {
                    "name": "Verbatim Pro, one month",
                    "quantity": "1",
                    "base_price_money": {"amount": amount, "currency": "USD"},
                }
            ],
        },
        checkout_options={"redirect_url": "https://app.test/billing/square/done"},
        payment_note="Verbatim org 7",
    )


def test_square_payment_link(sq_client: square.Square, sq: SquareServer) -> None:
    created = _link(sq_client)
    link = created.payment_link
    assert link is not None and link.id and link.url and link.long_url and link.created_at
    assert link.version == 1
    [order] = created.related_resources.orders
    assert order.id == link.order_id
    assert (order.state, order.reference_id, order.metadata) == (
        "DRAFT",
        "org-7",
        {"org_id": "7", "pack": "pro"},
    )
    assert order.total_money.amount == 1200 and order.total_money.currency == "USD"
    assert order.line_items[0].total_money.amount == 1200
    request = sq.requests[-1]
    assert (request.method, request.path) == ("POST", "/v2/online-checkout/payment-links")
    assert request.body["idempotency_key"] == "link-1"
    assert request.square_version  # the SDK pins one
    fetched = sq_client.orders.get(order_id=order.id).order
    assert (fetched.state, fetched.tenders) == ("DRAFT", None)


def test_square_pay_completes_the_payment(sq_client: square.Square, sq: SquareServer) -> None:
    order_id = _link(sq_client).payment_link.order_id
    body = sq.pay(order_id)
    assert (body["type"], body["merchant_id"], body["data"]["type"]) == (
        "payment.updated",
        sq.merchant_id,
        "payment",
    )
    assert body["event_id"] and body["created_at"]
    sent = body["data"]["object"]["payment"]
    assert (sent["status"], sent["order_id"], sent["id"]) == (
        "COMPLETED",
        order_id,
        body["data"]["id"],
    )
    assert [w["type"] for w in sq.webhooks] == ["payment.created", "payment.updated"]
    assert sq.webhooks[0]["data"]["object"]["payment"]["status"] == "APPROVED"

    payment = sq_client.payments.get(payment_id=body["data"]["id"]).payment
    assert (payment.status, payment.source_type, payment.location_id) == (
        "COMPLETED",
        "CARD",
        "LOC1",
    )
    assert payment.amount_money.amount == 1200 and payment.total_money.amount == 1200
    assert (payment.card_details.card.card_brand, payment.card_details.card.last4) == (
        "VISA",
        "1111",
    )
    assert payment.receipt_url and payment.note == "Verbatim org 7"
    order = sq_client.orders.get(order_id=order_id).order
    assert order.state == "OPEN"
    [tender] = order.tenders
    assert (tender.type, tender.payment_id, tender.amount_money.amount) == (
        "CARD",
        payment.id,
        1200,
    )
    assert tender.card_details.card.last4 == "1111"
    with pytest.raises(ValueError, match="already paid"):
        sq.pay(order_id)


def test_square_cash_app_payment(sq_client: square.Square, sq: SquareServer) -> None:
    order_id = _link(sq_client).payment_link.order_id
    body = sq.pay(order_id, "CASH_APP")
    payment = sq_client.payments.get(payment_id=body["data"]["id"]).payment
    assert (payment.source_type, payment.wallet_details.brand) == ("WALLET", "CASH_APP")
    assert payment.card_details is None


def test_square_signature_verifies_with_the_sdk(sq_client: square.Square, sq: SquareServer) -> None:
    body = json.dumps(sq.pay(_link(sq_client).payment_link.order_id))
    header = square_sign(body, SQ_KEY, NOTIFY)
    assert verify_signature(
        request_body=body, signature_header=header, signature_key=SQ_KEY, notification_url=NOTIFY
    )
    assert not verify_signature(
        request_body=body + " ",
        signature_header=header,
        signature_key=SQ_KEY,
        notification_url=NOTIFY,
    )
    assert not verify_signature(
        request_body=body,
        signature_header=header,
        signature_key=SQ_KEY,
        notification_url=NOTIFY + "/other",
    )


def test_square_idempotency(sq_client: square.Square, sq: SquareServer) -> None:
    first = _link(sq_client, key="same")
    again = _link(sq_client, key="same")
    assert again.payment_link.id == first.payment_link.id
    assert len(sq.orders) == 1
    with pytest.raises(ApiError) as caught:
        _link(sq_client, key="same", amount=999)
    assert caught.value.status_code == 400
    assert caught.value.errors[0].code == "IDEMPOTENCY_KEY_REUSED"


@pytest.mark.parametrize(
    ("kwargs", "status", "code", "field"),
    [
        ({"idempotency_key": "x"}, 400, "MISSING_REQUIRED_PARAMETER", "order"),
        (
            {"idempotency_key": "x", "order": {"location_id": "LOC_OTHER", "line_items": []}},
            400,
            "INVALID_VALUE",
            "order.location_id",
        ),
        (
            {
                "idempotency_key": "x",
                "order": {
                    "location_id": "LOC1",
                    "line_items": [
                        {
                            "name": "Pro",
                            "quantity": "0",
                            "base_price_money": {"amount": 5, "currency": "USD"},
                        }
                    ],
                },
            },
            400,
            "INVALID_VALUE",
            "order.line_items[0].quantity",
        ),
    ],
)
def test_square_validation(
    sq_client: square.Square, kwargs: dict, status: int, code: str, field: str
) -> None:
    with pytest.raises(ApiError) as caught:
        sq_client.checkout.payment_links.create(**kwargs)
    assert caught.value.status_code == status
    [error] = caught.value.errors
    assert (error.category, error.code, error.field) == ("INVALID_REQUEST_ERROR", code, field)
    assert error.detail


def test_square_auth_and_unknown_ids(sq: SquareServer, sq_client: square.Square) -> None:
    wrong = square.Square(token="not-the-token", base_url=sq.url)
    with pytest.raises(ApiError) as caught:
        wrong.orders.get(order_id="anything")
    assert caught.value.status_code == 401
    assert (caught.value.errors[0].category, caught.value.errors[0].code) == (
        "AUTHENTICATION_ERROR",
        "UNAUTHORIZED",
    )
    for call in (
        lambda: sq_client.orders.get(order_id="nope"),
        lambda: sq_client.payments.get(payment_id="nope"),
    ):
        with pytest.raises(ApiError) as caught:
            call()
        assert (caught.value.status_code, caught.value.errors[0].code) == (404, "NOT_FOUND")


def test_square_quick_pay(sq_client: square.Square) -> None:
    created = sq_client.checkout.payment_links.create(
        idempotency_key="quick",
        quick_pay={
            "name": "10 hours",
            "price_money": {"amount": 900, "currency": "USD"},
            "location_id": "LOC1",
        },
    )
    assert created.related_resources.orders[0].total_money.amount == 900
