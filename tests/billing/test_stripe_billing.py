"""Stripe billing end to end: the Billing page's forms, the webhook endpoint and the daily
reconcile, against the local Stripe server (tests/fakes/stripe_server.py) reached through
the official SDK, with events signed by the SDK's own signer. PostgreSQL throughout.

Subscriptions put their plan, seats and payment record in force; credit packs grant their
minutes once whatever arrives twice (a redelivery, the same event on two workers at once,
a double click, the reconcile and a late webhook); events out of order cannot roll state
back; a refused signature changes nothing; a failed payment keeps the plan for the grace
period, then the free plan's limits apply; seat changes go to Stripe prorated, never below
the seats in use; and no card number is ever stored."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from app.billing import metering, reconcile
from app.billing.models import BillingAccount, Checkout, CreditGrant, Payment, WebhookEvent
from app.db import as_utc, utcnow
from app.extensions import db
from app.tenants.models import Invitation, Workspace
from tests.billing.conftest import STRIPE_WEBHOOK_SECRET, Processors
from tests.billing.test_billing_page import member_web
from tests.fakes import stripe_server
from tests.integration.test_workspaces import add_member, database
from tests.transcripts import Team
from tests.web import Web, make_user

FREE_SEATS = 5  # settings().default_seat_limit in tests
FREE_MINUTES = 600
GRACE_DAYS = 7  # settings().billing_grace_days
SIGNATURE_REFUSED = "The signature does not match this body."
STALE_SIGNATURE = (
    "The signature's timestamp is outside the tolerance (replayed, or the clocks disagree)."
)
NOTHING_CHARGED = (
    "Stripe could not complete this just now; nothing was charged. Try again in a minute."
)
# What a card leaves behind if anything keeps it: Stripe's test Visa ends 4242, Square's
# sandbox Visa 1111 (bin 411111); their brand, and the names of the fields that carry them.
CARD_DIGITS = ("4242", "1111")
CARD_WORDS = frozenset({"visa", "last4", "fingerprint"})
CARD_FIELDS = ("last_4", "exp_month", "exp_year", "card_brand", "payment_method_details")
# Left out of the scan, as they may hold any four digits or letters by chance: our UUIDs
# and the forms' hex keys, the fakes' addresses (their ports), and random processor ids.
_OUR_IDS = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}", re.I
)
_ORIGINS = re.compile(r"https?://[^/\s\"']+")
_TOKENS = re.compile(r"[A-Za-z0-9]+")


# --- helpers (the Square and API tests use them too) -------------------------------------


def form_key(team: Team, suffix: str) -> str:
    """The request_key of a form on the Billing page: "<hex>-pro", "<hex>-pack_300-square"."""
    page = team.page("/billing/")
    found = re.search(rf'name="request_key" value="([0-9a-f]+-{re.escape(suffix)})"', page)
    assert found, f"no form with a {suffix} key on the Billing page"
    return found.group(1)


def post_checkout(team: Team, **fields: str) -> TestResponse:
    return team.web.post(team.url("/billing/checkout"), fields)


def text_of(resp: TestResponse) -> str:
    return resp.get_data(as_text=True)


def flash_error(message: str) -> str:
    return f'<div class="flash error" role="alert">{message}</div>'


def deliver_all(processors: Processors, events: list[dict[str, Any]]) -> list[str]:
    outcomes = []
    for event in events:
        resp = processors.deliver_stripe(event)
        assert resp.status_code == 200, (event["type"], resp.json)
        outcomes.append(resp.json["outcome"])
    return outcomes


def open_subscription(team: Team, seats: int = 3, plan: str = "pro") -> str:
    """Submits the plan's form; returns the Checkout Session id it redirects to."""
    key = form_key(team, plan)
    resp = post_checkout(team, processor="stripe", plan=plan, seats=str(seats), request_key=key)
    assert resp.status_code == 303, text_of(resp)[:800]
    return resp.headers["Location"].rsplit("/", 1)[-1]


def subscribe(
    processors: Processors, team: Team, seats: int = 3, *, created: int | None = None
) -> str:
    """A Pro subscription bought through the page and paid; returns its Stripe id."""
    session_id = open_subscription(team, seats)
    deliver_all(processors, processors.stripe.complete_checkout(session_id, created=created))
    sub_id = processors.stripe.get(session_id)["subscription"]
    assert sub_id
    return str(sub_id)


def open_pack(team: Team, processor: str = "stripe", pack: str = "pack_300") -> TestResponse:
    key = form_key(team, f"{pack}-{processor}")
    resp = post_checkout(team, processor=processor, pack=pack, request_key=key)
    assert resp.status_code == 303, text_of(resp)[:800]
    return resp


def paid_pack_events(processors: Processors, team: Team) -> list[dict[str, Any]]:
    """A pack bought with Stripe and paid: the events Stripe sends, not delivered yet."""
    session_id = open_pack(team).headers["Location"].rsplit("/", 1)[-1]
    return processors.stripe.complete_checkout(session_id)


def workspace_of(app: Flask, team: Team) -> Workspace:
    with database(app, team.workspace.id) as s:
        found = s.get(Workspace, team.workspace.id)
        assert found is not None
        return found


def account_of(app: Flask, team: Team) -> BillingAccount:
    with database(app, team.workspace.id) as s:
        found = s.scalar(select(BillingAccount))
        assert found is not None
        return found


def customer_of(app: Flask, team: Team) -> str | None:
    """The workspace's Stripe customer; None, with no billing account made at all too."""
    with database(app, team.workspace.id) as s:
        return s.scalar(select(BillingAccount.stripe_customer_id))


def rows(app: Flask, team: Team, model: type) -> list[Any]:
    with database(app, team.workspace.id) as s:
        return list(s.scalars(select(model).order_by(model.created_at)))


def minutes_of(app: Flask, team: Team) -> metering.Minutes:
    with database(app, team.workspace.id) as s:
        return metering.minutes(s.get(Workspace, team.workspace.id))


def event_rows(app: Flask, processor: str, event_id: str) -> list[WebhookEvent]:
    with database(app) as s:
        return list(
            s.scalars(
                select(WebhookEvent).where(
                    WebhookEvent.processor == processor, WebhookEvent.event_id == event_id
                )
            )
        )


def run_reconcile(app: Flask) -> dict[str, int]:
    with app.app_context():
        try:
            return reconcile.reconcile()
        finally:
            db.session.remove()


def end_grace_periods(app: Flask) -> int:
    with app.app_context():
        try:
            return reconcile.end_grace_periods()
        finally:
            db.session.remove()


def age_checkouts(app: Flask, team: Team, by: timedelta) -> None:
    """As if the payment pages had been opened `by` ago."""
    with database(app, team.workspace.id) as s:
        for row in s.scalars(select(Checkout)):
            row.created_at = as_utc(row.created_at) - by
        s.commit()


def stripe_calls(processors: Processors, method: str, path: str, team: Team) -> int:
    """Requests the fake received for this workspace's objects."""
    ws = str(team.workspace.id)
    return sum(
        1
        for r in processors.stripe.requests
        if (r.method, r.path) == (method, path)
        and (r.params.get("metadata") or {}).get("workspace_id") == ws
    )


def _card_traces_in(value: str) -> list[str]:
    text = _ORIGINS.sub(" ", _OUR_IDS.sub(" ", value))
    found = [f for f in CARD_FIELDS if f in text]
    for token in _TOKENS.findall(text):
        if len(token) >= 12 and not token.isdigit():
            continue  # a processor's random id: cs_test_..., pi_..., a Square payment id
        if token.lower() in CARD_WORDS or any(d in token for d in CARD_DIGITS):
            found.append(token)
    return found


def card_traces(app: Flask) -> list[str]:
    """Every text value in the billing tables (all workspaces) that looks like card
    details: card digits, brand or the field names that carry them."""
    found = []
    with database(app) as s:
        columns = s.execute(
            select(sa.column("table_name", sa.String), sa.column("column_name", sa.String))
            .select_from(sa.table("columns", schema="information_schema"))
            .where(
                sa.column("table_schema") == func.current_schema(),
                sa.or_(
                    sa.column("table_name").like("billing\\_%"),
                    sa.column("table_name") == "credit_grants",
                ),
                sa.column("data_type").in_(["text", "character varying", "json", "jsonb"]),
            )
        ).all()
        assert {t for t, _ in columns} >= {
            "billing_accounts",
            "billing_checkouts",
            "billing_payments",
            "billing_webhook_events",
            "credit_grants",
        }
        read = set()
        for table, column in columns:
            query = select(sa.cast(sa.column(column), sa.Text)).select_from(sa.table(table))
            for (value,) in s.execute(query):
                read.add(table)
                found += [f"{table}.{column}: {value}" for _ in _card_traces_in(value or "")]
        assert {"billing_payments", "billing_webhook_events"} <= read  # the scan saw rows
    return found


# --- subscriptions and packs ---------------------------------------------------------------


def test_a_subscription_checkout_puts_plan_seats_and_payment_in_force(
    app: Flask, team: Team, processors: Processors
) -> None:
    session_id = open_subscription(team, seats=3)
    [row] = rows(app, team, Checkout)
    assert (row.processor, row.kind, row.plan, row.seats, row.status) == (
        "stripe",
        "subscription",
        "pro",
        3,
        "open",
    )
    session = processors.stripe.get(session_id)
    ids = {"workspace_id": str(team.workspace.id), "checkout_id": str(row.id)}
    assert session["metadata"] == ids
    assert workspace_of(app, team).plan == "free"  # nothing until Stripe says it is paid

    outcomes = deliver_all(processors, processors.stripe.complete_checkout(session_id))

    assert outcomes == ["applied: active", "paid", "subscription applied: active"]
    sub_id = processors.stripe.get(session_id)["subscription"]
    ws = workspace_of(app, team)
    assert (ws.plan, ws.seat_limit) == ("pro", 3)
    account = account_of(app, team)
    assert (account.plan, account.status, account.seats) == ("pro", "active", 3)
    assert account.stripe_subscription_id == sub_id
    assert account.stripe_customer_id == session["customer"]
    assert account.grace_until is None
    [row] = rows(app, team, Checkout)
    assert row.status == "completed"
    [payment] = rows(app, team, Payment)
    assert (payment.processor, payment.kind, payment.status) == ("stripe", "subscription", "paid")
    assert (payment.amount_cents, payment.currency, payment.method_type) == (3600, "usd", "card")
    assert payment.description.startswith("Pro, 3 seats, invoice ")
    assert payment.receipt_url
    # Pro's allowance is per seat: 3 x 2,000 minutes.
    assert minutes_of(app, team).included == 3 * 2000 * 60
    page = team.page("/billing/")
    assert '<span class="badge plan-badge">Pro</span>' in page
    assert "Card payments through Stripe are not set up" not in page
    # The charge was a Visa ending 4242: none of it reached the database.
    assert card_traces(app) == []


def test_a_credit_pack_through_stripe_grants_its_minutes_once(
    app: Flask, team: Team, processors: Processors
) -> None:
    resp = open_pack(team)
    [row] = rows(app, team, Checkout)
    assert (row.kind, row.pack, row.status) == ("credits", "pack_300", "open")
    assert resp.headers["Location"] == row.url
    [completed] = processors.stripe.complete_checkout(row.external_id)

    assert deliver_all(processors, [completed]) == ["credits granted"]

    [grant] = rows(app, team, CreditGrant)
    assert (grant.processor, grant.reference, grant.pack) == ("stripe", row.external_id, "pack_300")
    assert grant.seconds == 300 * 60 and grant.user_id == team.user.id
    m = minutes_of(app, team)
    assert m.credits == 300 * 60
    assert m.left() == (FREE_MINUTES + 300) * 60
    [payment] = rows(app, team, Payment)
    assert (payment.kind, payment.amount_cents, payment.status) == ("credits", 500, "paid")
    assert (payment.method_type, payment.description) == ("card", "Credits: 300 minutes")
    assert payment.reference == completed["data"]["object"]["payment_intent"]
    assert rows(app, team, Checkout)[0].status == "completed"
    [event] = event_rows(app, "stripe", completed["id"])
    assert (event.workspace_id, event.outcome) == (team.workspace.id, "credits granted")
    assert card_traces(app) == []


def test_a_duplicate_event_answers_duplicate_and_grants_nothing_more(
    app: Flask, team: Team, processors: Processors
) -> None:
    [completed] = paid_pack_events(processors, team)
    assert deliver_all(processors, [completed]) == ["credits granted"]

    again = processors.deliver_stripe(completed)  # Stripe redelivers: new signature, same id

    assert again.status_code == 200
    assert again.json == {"received": True, "outcome": "duplicate"}
    assert len(rows(app, team, CreditGrant)) == 1
    assert len(rows(app, team, Payment)) == 1
    assert len(event_rows(app, "stripe", completed["id"])) == 1
    assert minutes_of(app, team).credits == 300 * 60


def test_the_same_event_twice_at_the_same_moment_grants_once(
    app: Flask, team: Team, processors: Processors
) -> None:
    [completed] = paid_pack_events(processors, team)
    body, header = stripe_server.signed(completed, STRIPE_WEBHOOK_SECRET)
    start = threading.Barrier(2)
    answers: list[TestResponse] = []
    errors: list[Exception] = []

    def post() -> None:
        try:
            start.wait(timeout=10)
            answers.append(processors.post_stripe(body, header))  # its own test client
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=post) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert errors == []
    assert [a.status_code for a in answers] == [200, 200]
    assert sorted(a.json["outcome"] for a in answers) == ["credits granted", "duplicate"]
    assert len(rows(app, team, CreditGrant)) == 1
    assert len(rows(app, team, Payment)) == 1
    assert len(event_rows(app, "stripe", completed["id"])) == 1
    assert minutes_of(app, team).credits == 300 * 60


def test_a_second_subscription_cannot_be_bought_while_one_is_active(
    app: Flask, team: Team, processors: Processors
) -> None:
    stale_key = form_key(team, "business")  # a second tab, opened before subscribing
    subscribe(processors, team, 3)

    resp = post_checkout(
        team, processor="stripe", plan="business", seats="3", request_key=stale_key
    )

    # Another subscription would bill the card twice; the plan is changed instead.
    assert resp.status_code == 409, (resp.status_code, resp.headers.get("Location"))
    assert '<div class="flash error" role="alert">' in text_of(resp)
    assert stripe_calls(processors, "POST", "/v1/checkout/sessions", team) == 1
    assert [r.plan for r in rows(app, team, Checkout)] == ["pro"]


def test_portal_changes_of_plan_and_cancellation_apply(
    app: Flask, team: Team, processors: Processors
) -> None:
    sub_id = subscribe(processors, team, 3)

    switched = processors.stripe.update_subscription(sub_id, price="price_verbatim_business")
    assert deliver_all(processors, [switched]) == ["applied: active"]
    ws = workspace_of(app, team)
    assert (ws.plan, ws.seat_limit) == ("business", 3)

    cancelling = processors.stripe.update_subscription(sub_id, cancel_at_period_end=True)
    deliver_all(processors, [cancelling])
    account = account_of(app, team)
    assert (account.plan, account.cancel_at_period_end) == ("business", True)
    assert workspace_of(app, team).plan == "business"  # paid until the period ends
    assert "The Business subscription is cancelled and ends on" in team.page("/billing/")

    assert deliver_all(processors, processors.stripe.renew(sub_id)) == ["ended"]
    ws = workspace_of(app, team)
    assert (ws.plan, ws.seat_limit) == ("free", FREE_SEATS)


# --- events out of order ---------------------------------------------------------------------


def test_a_deleted_subscription_stays_ended_when_an_older_update_arrives(
    app: Flask, team: Team, processors: Processors
) -> None:
    now = int(time.time())
    sub_id = subscribe(processors, team, 3, created=now - 1000)
    older = processors.stripe.update_subscription(sub_id, quantity=5, created=now - 500)
    deleted = processors.stripe.delete_subscription(sub_id, created=now - 100)

    assert deliver_all(processors, [deleted]) == ["ended"]
    [late] = deliver_all(processors, [older])  # made before the deletion, delivered after

    assert late == "ignored: older than the state applied"
    ws = workspace_of(app, team)
    assert (ws.plan, ws.seat_limit) == ("free", FREE_SEATS)
    account = account_of(app, team)
    assert (account.status, account.seats, account.stripe_subscription_id) == ("canceled", 0, None)
    assert account.ended_subscription_id == sub_id


def test_an_older_update_after_a_newer_one_is_ignored(
    app: Flask, team: Team, processors: Processors
) -> None:
    now = int(time.time())
    sub_id = subscribe(processors, team, 3, created=now - 1000)
    older = processors.stripe.update_subscription(sub_id, quantity=4, created=now - 500)
    newer = processors.stripe.update_subscription(sub_id, quantity=6, created=now - 100)

    assert deliver_all(processors, [newer]) == ["applied: active"]
    assert deliver_all(processors, [older]) == ["ignored: older than the state applied"]

    assert account_of(app, team).seats == 6
    assert workspace_of(app, team).seat_limit == 6
    [row] = event_rows(app, "stripe", older["id"])
    assert row.outcome == "ignored: older than the state applied"


# --- signatures ------------------------------------------------------------------------------


def test_refused_signatures_answer_400_and_change_nothing(
    app: Flask, team: Team, processors: Processors
) -> None:
    session_id = open_subscription(team, seats=3)
    events = processors.stripe.complete_checkout(session_id)
    now = int(time.time())

    for event in events:
        body = json.dumps(event)
        good = stripe_server.sign(body, STRIPE_WEBHOOK_SECRET)
        bad_digit = "0" if good[-1] != "0" else "1"
        refused = {
            "bad signature": good[:-1] + bad_digit,
            "missing signature": None,
            "empty signature": "",
            "wrong secret": stripe_server.sign(body, "whsec_someone_elses_endpoint"),
            "timestamp outside tolerance": stripe_server.sign(
                body, STRIPE_WEBHOOK_SECRET, now - 301
            ),
            "not a signature": "v1=deadbeef",
        }
        for case, header in refused.items():
            resp = processors.post_stripe(body, header)
            assert resp.status_code == 400, (case, resp.json)
            stale = case == "timestamp outside tolerance"
            expected = STALE_SIGNATURE if stale else SIGNATURE_REFUSED
            assert resp.json == {"error": expected}, case

    for event in events:
        assert event_rows(app, "stripe", event["id"]) == [], event["type"]
    ws = workspace_of(app, team)
    assert (ws.plan, ws.seat_limit) == ("free", FREE_SEATS)
    account = account_of(app, team)
    assert (account.status, account.stripe_subscription_id) == ("none", None)
    assert rows(app, team, Payment) == []
    assert rows(app, team, Checkout)[0].status == "open"

    # The same events, signed properly (one 290 s ago: inside the tolerance), apply.
    first = processors.deliver_stripe(events[0], timestamp=int(time.time()) - 290)
    assert first.status_code == 200, first.json
    deliver_all(processors, events[1:])
    assert workspace_of(app, team).plan == "pro"


def test_a_body_changed_by_one_byte_after_signing_is_refused(
    app: Flask, team: Team, processors: Processors
) -> None:
    [completed] = paid_pack_events(processors, team)
    body = json.dumps(completed)
    header = stripe_server.sign(body, STRIPE_WEBHOOK_SECRET)
    tampered = body.replace('"amount_total": 500,', '"amount_total": 900,', 1)
    assert len(tampered) == len(body)
    assert sum(a != b for a, b in zip(body, tampered, strict=True)) == 1

    resp = processors.post_stripe(tampered, header)

    assert resp.status_code == 400
    assert resp.json == {"error": SIGNATURE_REFUSED}
    assert rows(app, team, CreditGrant) == [] and rows(app, team, Payment) == []
    assert event_rows(app, "stripe", completed["id"]) == []
    # The body as signed is taken.
    assert processors.post_stripe(body, header).json["outcome"] == "credits granted"


def test_webhooks_without_stripe_set_up_are_refused(
    app: Flask, processors: Processors, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = {"id": f"evt_{uuid.uuid4().hex}", "type": "invoice.paid", "created": 1}
    monkeypatch.setattr(app.extensions["verbatim.settings"], "stripe_webhook_secret", "")

    resp = processors.deliver_stripe(event)

    assert resp.status_code == 404
    assert resp.json == {"error": "Stripe is not set up on this server."}
    assert event_rows(app, "stripe", event["id"]) == []


# --- failed payments -------------------------------------------------------------------------


def test_a_failed_payment_keeps_the_plan_for_the_grace_period_then_free_limits(
    app: Flask, team: Team, processors: Processors
) -> None:
    sub_id = subscribe(processors, team, 3)

    outcomes = deliver_all(processors, processors.stripe.fail_payment(sub_id))

    assert outcomes == ["payment failed: grace period", "applied: past_due"]
    account = account_of(app, team)
    assert account.status == "past_due"
    assert account.grace_until is not None
    expected = utcnow() + timedelta(days=GRACE_DAYS)
    assert abs(as_utc(account.grace_until) - expected) < timedelta(minutes=2)
    ws = workspace_of(app, team)
    assert (ws.plan, ws.seat_limit) == ("pro", 3)  # still Pro during the grace period
    failed = [p for p in rows(app, team, Payment) if p.status == "failed"]
    assert [(p.kind, p.amount_cents) for p in failed] == [("subscription", 3600)]
    assert "The last payment failed. Pro stays until" in team.page("/billing/")

    end_grace_periods(app)  # the hourly sweep, while the grace period runs
    assert workspace_of(app, team).plan == "pro"

    with database(app, team.workspace.id) as s:
        s.scalar(select(BillingAccount)).grace_until = utcnow() - timedelta(minutes=1)
        s.commit()
    end_grace_periods(app)

    ws = workspace_of(app, team)
    assert (ws.plan, ws.seat_limit) == ("free", FREE_SEATS)
    assert minutes_of(app, team).included == FREE_MINUTES * 60
    assert account_of(app, team).status == "past_due"  # Stripe still retries the card

    # The retry succeeds: Pro again, grace over.
    outcomes = deliver_all(processors, processors.stripe.pay_invoice(sub_id))

    assert outcomes == ["paid", "applied: active"]
    account = account_of(app, team)
    assert (account.status, account.grace_until) == ("active", None)
    ws = workspace_of(app, team)
    assert (ws.plan, ws.seat_limit) == ("pro", 3)
    invoice_payment = next(p for p in rows(app, team, Payment) if p.id == failed[0].id)
    assert invoice_payment.status == "paid"  # the same record, now paid
    assert len(rows(app, team, Payment)) == 2


# --- seats -----------------------------------------------------------------------------------


def test_changing_seats_updates_the_subscription_prorated(
    app: Flask, team: Team, processors: Processors
) -> None:
    sub_id = subscribe(processors, team, 3)
    account = account_of(app, team)

    resp = team.web.post(team.url("/billing/plan"), {"plan": "pro", "seats": "5"})

    assert resp.status_code == 303, text_of(resp)[:800]
    assert resp.headers["Location"] == team.url("/billing/")
    sub = processors.stripe.get(sub_id)
    [item] = sub["items"]["data"]
    assert (item["id"], item["quantity"]) == (account.stripe_item_id, 5)
    assert item["price"]["id"] == "price_verbatim_pro"
    assert [b for s, b in processors.stripe.proration_behaviors if s == sub_id] == [
        "create_prorations"
    ]
    assert account_of(app, team).seats == 5
    assert workspace_of(app, team).seat_limit == 5
    page = team.page("/billing/")
    assert "Now on Pro with 5 seats; Stripe prorates the difference on the next invoice." in page


def test_seats_cannot_go_below_members_and_pending_invitations(
    app: Flask, team: Team, processors: Processors
) -> None:
    sub_id = subscribe(processors, team, 5)
    for name in ("Second Seat", "Third Seat"):
        add_member(app, team.workspace.id, make_user(app, name=name), "member")
    invited = team.web.post(team.url("/invitations"), {"email": "fourth@example.test"})
    assert invited.status_code == 302, text_of(invited)[:800]  # 4 seats used now
    calls = len(processors.stripe.requests)

    resp = team.web.post(team.url("/billing/plan"), {"plan": "pro", "seats": "2"})

    assert resp.status_code == 422
    assert flash_error(
        "This workspace uses 4 seats (members and pending invitations); remove 2 before "
        "going down to 2."
    ) in text_of(resp)
    assert len(processors.stripe.requests) == calls  # nothing sent to Stripe
    assert processors.stripe.get(sub_id)["items"]["data"][0]["quantity"] == 5
    assert (account_of(app, team).seats, workspace_of(app, team).seat_limit) == (5, 5)
    # As many seats as are in use is fine.
    ok = team.web.post(team.url("/billing/plan"), {"plan": "pro", "seats": "4"})
    assert ok.status_code == 303, text_of(ok)[:800]
    assert processors.stripe.get(sub_id)["items"]["data"][0]["quantity"] == 4


def test_a_seat_removed_in_the_portal_while_members_exceed_it(
    app: Flask, team: Team, processors: Processors
) -> None:
    sub_id = subscribe(processors, team, 3)
    add_member(app, team.workspace.id, make_user(app, name="Second Seat"), "member")
    member = member_web(app, team, "member", "Third Seat")  # 3 members, 3 seats

    outcomes = deliver_all(processors, [processors.stripe.update_subscription(sub_id, quantity=1)])

    assert outcomes == ["applied: active"]
    assert account_of(app, team).seats == 1
    ws = workspace_of(app, team)
    assert (ws.plan, ws.seat_limit) == ("pro", 1)
    # Nobody loses access ...
    assert member.get(team.url("/transcripts/")).status_code == 200
    assert team.web.get(team.url("/transcripts/")).status_code == 200
    # ... but nobody new comes in until the seats are there.
    resp = team.web.post(team.url("/invitations"), {"email": "fourth@example.test"})
    assert resp.status_code == 422
    assert (
        "The one seat is taken (members and pending invitations). Remove someone or revoke "
        "an invitation first."
    ) in text_of(resp)
    assert rows(app, team, Invitation) == []
    assert "3 members and invitations, 1 seat: remove some" in team.page("/billing/")


# --- double clicks ---------------------------------------------------------------------------


def test_a_double_click_on_a_pack_opens_one_payment_page_and_grants_once(
    app: Flask, team: Team, processors: Processors
) -> None:
    key = form_key(team, "pack_300-stripe")
    form = {"processor": "stripe", "pack": "pack_300", "request_key": key}

    first = post_checkout(team, **form)
    second = post_checkout(team, **form)

    assert (first.status_code, second.status_code) == (303, 303)
    assert first.headers["Location"] == second.headers["Location"]
    [row] = rows(app, team, Checkout)
    assert row.url == first.headers["Location"]
    assert stripe_calls(processors, "POST", "/v1/checkout/sessions", team) == 1
    events = processors.stripe.complete_checkout(row.external_id)
    assert deliver_all(processors, events) == ["credits granted"]
    assert len(rows(app, team, CreditGrant)) == 1

    other_pack = post_checkout(team, **form | {"pack": "pack_1000"})
    assert other_pack.status_code == 409
    assert flash_error(
        "This form was already used for another purchase; reload the page."
    ) in text_of(other_pack)
    again = post_checkout(team, **form)  # the old page, once more, after paying
    assert again.status_code == 409
    assert flash_error("This purchase is already completed.") in text_of(again)
    assert len(rows(app, team, Checkout)) == 1
    assert len(rows(app, team, CreditGrant)) == 1


def test_a_double_click_at_the_same_moment_opens_one_payment_page(
    app: Flask, team: Team, processors: Processors
) -> None:
    key = form_key(team, "pack_1000-stripe")
    second_tab = Web(app, remote_addr=f"10.201.{uuid.uuid4().int % 250}.7")
    second_tab.login(team.user)
    clicks = []
    for web in (team.web, second_tab):
        form = {"processor": "stripe", "pack": "pack_1000", "request_key": key}
        clicks.append((web, form | {"csrf_token": web.csrf()}))
    start = threading.Barrier(2)
    answers: list[TestResponse] = []
    errors: list[Exception] = []

    def click(web: Web, form: dict[str, str]) -> None:
        try:
            start.wait(timeout=10)
            answers.append(web.post(team.url("/billing/checkout"), form, csrf=False))
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=click, args=c) for c in clicks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert errors == []
    assert [a.status_code for a in answers] == [303, 303], [text_of(a)[:500] for a in answers]
    assert answers[0].headers["Location"] == answers[1].headers["Location"]
    [row] = rows(app, team, Checkout)
    ws = str(team.workspace.id)
    sessions = [
        s
        for s in processors.stripe.of_type("checkout.session")
        if s["metadata"].get("workspace_id") == ws
    ]
    assert [s["id"] for s in sessions] == [row.external_id]
    customers = [
        c for c in processors.stripe.of_type("customer") if c["metadata"].get("workspace_id") == ws
    ]
    assert [c["id"] for c in customers] == [account_of(app, team).stripe_customer_id]


# --- the daily reconcile ---------------------------------------------------------------------


def test_reconcile_grants_a_pack_whose_webhook_was_lost_exactly_once(
    app: Flask, team: Team, processors: Processors
) -> None:
    [late] = paid_pack_events(processors, team)  # paid; the webhook does not come

    run_reconcile(app)  # too soon: the buyer may still be on the payment page
    assert rows(app, team, CreditGrant) == []
    assert rows(app, team, Checkout)[0].status == "open"

    age_checkouts(app, team, timedelta(minutes=20))
    run_reconcile(app)

    [grant] = rows(app, team, CreditGrant)
    assert (grant.processor, grant.pack, grant.seconds) == ("stripe", "pack_300", 300 * 60)
    assert rows(app, team, Checkout)[0].status == "completed"
    [payment] = rows(app, team, Payment)
    assert (payment.amount_cents, payment.method_type, payment.status) == (500, "card", "paid")

    run_reconcile(app)  # the next day
    resp = processors.deliver_stripe(late)  # Stripe's retry arrives after all
    assert resp.status_code == 200
    assert resp.json["outcome"] == "credits: already granted"

    assert len(rows(app, team, CreditGrant)) == 1
    assert len(rows(app, team, Payment)) == 1
    assert minutes_of(app, team).credits == 300 * 60


def test_reconcile_corrects_a_subscription_whose_update_events_were_lost(
    app: Flask, team: Team, processors: Processors
) -> None:
    sub_id = subscribe(processors, team, 3)
    lost = processors.stripe.update_subscription(sub_id, quantity=2)
    processors.stripe.update_subscription(sub_id, quantity=4)  # lost too: the state now

    run_reconcile(app)

    assert account_of(app, team).seats == 4
    assert workspace_of(app, team).seat_limit == 4
    # The first lost event turns up late: older than what the reconcile read, ignored.
    assert deliver_all(processors, [lost]) == ["ignored: older than the state applied"]
    assert account_of(app, team).seats == 4

    processors.stripe.delete_subscription(sub_id)  # cancelled; that event is lost as well
    run_reconcile(app)

    account = account_of(app, team)
    assert (account.status, account.stripe_subscription_id) == ("canceled", None)
    ws = workspace_of(app, team)
    assert (ws.plan, ws.seat_limit) == ("free", FREE_SEATS)


def test_reconcile_applies_a_subscription_whose_checkout_events_were_all_lost(
    app: Flask, team: Team, processors: Processors
) -> None:
    session_id = open_subscription(team, seats=3)
    processors.stripe.complete_checkout(session_id)  # paid; none of the events arrives
    sub_id = processors.stripe.get(session_id)["subscription"]
    age_checkouts(app, team, timedelta(minutes=20))

    run_reconcile(app)

    # Paid at Stripe, so in force here: the reconcile is what catches lost webhooks.
    account = account_of(app, team)
    assert (account.stripe_subscription_id, account.status, account.seats) == (
        sub_id,
        "active",
        3,
    )
    ws = workspace_of(app, team)
    assert (ws.plan, ws.seat_limit) == ("pro", 3)


# --- the portal, and Stripe missing or failing ---------------------------------------------


def test_the_portal_button_sends_the_admin_to_stripe(
    app: Flask, team: Team, processors: Processors
) -> None:
    resp = team.web.post(team.url("/billing/portal"))

    assert resp.status_code == 303, text_of(resp)[:800]
    location = resp.headers["Location"]
    assert location.startswith(f"{processors.stripe.url}/billing_portal/bps_")
    portal = processors.stripe.get(location.rsplit("/", 1)[-1])
    customer = account_of(app, team).stripe_customer_id  # made for it, and kept
    assert customer and portal["customer"] == customer
    assert portal["return_url"] == f"http://localhost/w/{team.slug}/billing"
    # The button is on the page once there is a customer; a second visit reuses it.
    assert "/billing/portal" in team.page("/billing/")
    again = team.web.post(team.url("/billing/portal"))
    assert processors.stripe.get(again.headers["Location"].rsplit("/", 1)[-1])["customer"] == (
        customer
    )


def test_without_stripe_the_checkout_form_is_refused_and_nothing_is_made(
    app: Flask, team: Team, processors: Processors, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.extensions["verbatim.settings"], "stripe_secret_key", "")
    calls = len(processors.stripe.requests)

    for form in (
        {"processor": "stripe", "plan": "pro", "seats": "2"},
        {"processor": "stripe", "pack": "pack_300"},
    ):
        resp = post_checkout(team, **form, request_key=f"{uuid.uuid4().hex}-x")
        assert resp.status_code == 422
        assert flash_error("Payments through Stripe are not set up on this server.") in (
            text_of(resp)
        )

    assert rows(app, team, Checkout) == []
    assert len(processors.stripe.requests) == calls
    assert customer_of(app, team) is None


def test_a_stripe_error_answers_502_nothing_was_charged(
    app: Flask, team: Team, processors: Processors, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = form_key(team, "pack_300-stripe")
    cfg = app.extensions["verbatim.settings"]
    monkeypatch.setattr(cfg, "stripe_secret_key", "sk_test_not_this_accounts_key")

    resp = post_checkout(team, processor="stripe", pack="pack_300", request_key=key)

    assert resp.status_code == 502
    assert flash_error(NOTHING_CHARGED) in text_of(resp)
    refused = processors.stripe.requests[-1]
    assert (refused.method, refused.path) == ("POST", "/v1/customers")
    assert stripe_calls(processors, "POST", "/v1/checkout/sessions", team) == 0
    [unopened] = rows(app, team, Checkout)  # kept for the retry, with no payment page
    assert (unopened.url, unopened.external_id, unopened.status) == ("", None, "open")
    assert customer_of(app, team) is None
    assert rows(app, team, CreditGrant) == []

    # Once Stripe answers again, the same form goes through: one page, no leftovers.
    monkeypatch.setattr(cfg, "stripe_secret_key", processors.stripe.api_key)
    retried = post_checkout(team, processor="stripe", pack="pack_300", request_key=key)
    assert retried.status_code == 303, text_of(retried)[:800]
    [row] = rows(app, team, Checkout)
    assert (row.id, row.url) == (unopened.id, retried.headers["Location"])
    assert stripe_calls(processors, "POST", "/v1/checkout/sessions", team) == 1
