"""The billing API (/api/v1/billing...) with a workspace's key, against the local Stripe
server: the summary, usage, payments and credits; opening a checkout (one per
Idempotency-Key), changing seats, the portal link. And the walls: members and viewers have
no Billing page, and one workspace never sees another's payments or credits."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask

from app.billing.models import Checkout, Payment
from app.db import utcnow
from tests.billing.conftest import Processors
from tests.billing.test_billing_page import member_web
from tests.billing.test_billing_page import spend as spend_seconds
from tests.billing.test_stripe_billing import (
    FREE_MINUTES,
    FREE_SEATS,
    customer_of,
    deliver_all,
    open_pack,
    rows,
    stripe_calls,
)
from tests.transcripts import ApiCaller, Team, api_caller, make_team
from tests.web import Web


def open_checkout(api: ApiCaller, key: str | None, **body: Any) -> Any:
    headers = {} if key is None else {"Idempotency-Key": key}
    return api("POST", "/billing/checkout", json=body, headers=headers)


def buy_pack_by_api(processors: Processors, api: ApiCaller, pack: str = "pack_300") -> str:
    """A pack bought through the API and paid; returns the Checkout Session id."""
    resp = open_checkout(api, uuid.uuid4().hex, processor="stripe", pack=pack)
    assert resp.status_code == 201, resp.json
    session_id = resp.json["url"].rsplit("/", 1)[-1]
    assert deliver_all(processors, processors.stripe.complete_checkout(session_id)) == [
        "credits granted"
    ]
    return session_id


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def test_summary_usage_payments_and_credits(app: Flask, team: Team, processors: Processors) -> None:
    api = api_caller(team)

    summary = api("GET", "/billing")

    assert summary.status_code == 200, summary.json
    body = summary.json
    assert {k: body[k] for k in ("plan", "subscribed_plan", "status", "grace_until")} == {
        "plan": "free",
        "subscribed_plan": "free",
        "status": "none",
        "grace_until": None,
    }
    assert body["cancel_at_period_end"] is False
    assert (body["seats_used"], body["seats_total"]) == (1, FREE_SEATS)
    assert body["minutes"] == {
        "included": FREE_MINUTES,
        "used": 0,
        "left": FREE_MINUTES,
        "api_included": 100,
        "api_used": 0,
        "credits": 0,
        "max_file": 120,
    }
    assert sorted(body["processors"]) == ["square", "stripe"]
    start, end = moment(body["period"]["start"]), moment(body["period"]["end"])
    assert start <= utcnow() < end

    spend_seconds(app, team, 150.0)  # 2.5 minutes through the web
    buy_pack_by_api(processors, api)

    minutes = api("GET", "/billing").json["minutes"]
    assert (minutes["used"], minutes["credits"]) == (2.5, 300)
    assert minutes["left"] == FREE_MINUTES - 2.5 + 300

    usage = api("GET", "/billing/usage")
    assert usage.status_code == 200
    assert moment(usage.json["period"]["start"]) == start
    today = utcnow().date().isoformat()
    assert {"date": today, "minutes": 2.5} in usage.json["by_day"]
    assert usage.json["by_member"] == [
        {
            "user_id": str(team.user.id),
            "name": "Paula Pages",
            "email": team.user.email,
            "minutes": 2.5,
            "api_minutes": 0,
        }
    ]

    payments = api("GET", "/billing/payments")
    assert payments.status_code == 200
    [payment] = payments.json
    assert {k: v for k, v in payment.items() if k not in ("id", "occurred_at", "receipt_url")} == {
        "processor": "stripe",
        "kind": "credits",
        "description": "Credits: 300 minutes",
        "amount_cents": 500,
        "currency": "usd",
        "status": "paid",
        "method_type": "card",
    }
    [stored] = rows(app, team, Payment)
    assert payment["id"] == str(stored.id)
    assert moment(payment["occurred_at"]) == stored.occurred_at

    credits = api("GET", "/billing/credits")
    assert credits.status_code == 200
    [credit] = credits.json
    assert (credit["processor"], credit["pack"], credit["minutes"]) == ("stripe", "pack_300", 300)


def test_checkout_needs_an_idempotency_key_and_a_retry_answers_the_same_page(
    app: Flask, team: Team, processors: Processors
) -> None:
    api = api_caller(team)
    calls = len(processors.stripe.requests)

    for key in (None, "   "):
        refused = open_checkout(api, key, processor="stripe", pack="pack_300")
        assert refused.status_code == 422
        assert refused.json == {
            "error": "serviceerror",
            "message": "Send an Idempotency-Key header.",
            "field": "Idempotency-Key",
        }
    assert rows(app, team, Checkout) == []
    assert len(processors.stripe.requests) == calls

    key = f"retry-{uuid.uuid4().hex}"
    first = open_checkout(api, key, processor="stripe", pack="pack_300")
    second = open_checkout(api, key, processor="stripe", pack="pack_300")

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json == second.json
    assert (first.json["processor"], first.json["kind"], first.json["status"]) == (
        "stripe",
        "credits",
        "open",
    )
    assert first.json["url"].startswith(f"{processors.stripe.url}/pay/cs_")
    [row] = rows(app, team, Checkout)
    assert (str(row.id), row.request_key, row.url) == (first.json["id"], key, first.json["url"])
    assert stripe_calls(processors, "POST", "/v1/checkout/sessions", team) == 1

    other = open_checkout(api, key, processor="stripe", pack="pack_1000")
    assert other.status_code == 409
    assert other.json["message"] == (
        "This form was already used for another purchase; reload the page."
    )
    bad = open_checkout(api, uuid.uuid4().hex, processor="stripe", pack="pack_9")
    assert bad.status_code == 422
    assert bad.json["message"] == "There is no such credit pack."
    assert len(rows(app, team, Checkout)) == 1


def test_seats_change_by_api_and_the_portal_link(
    app: Flask, team: Team, processors: Processors
) -> None:
    api = api_caller(team)
    none_yet = api("PUT", "/billing/subscription", json={"plan": "pro", "seats": 3})
    assert none_yet.status_code == 409
    assert none_yet.json["message"] == (
        "This workspace has no subscription to change; choose a plan first."
    )

    opened = open_checkout(api, uuid.uuid4().hex, processor="stripe", plan="pro", seats=2)
    assert opened.status_code == 201, opened.json
    session_id = opened.json["url"].rsplit("/", 1)[-1]
    deliver_all(processors, processors.stripe.complete_checkout(session_id))
    sub_id = processors.stripe.get(session_id)["subscription"]
    body = api("GET", "/billing").json
    assert (body["plan"], body["status"], body["seats_total"]) == ("pro", "active", 2)

    changed = api("PUT", "/billing/subscription", json={"plan": "pro", "seats": 3})

    assert changed.status_code == 200, changed.json
    assert (changed.json["plan"], changed.json["seats_total"]) == ("pro", 3)
    assert changed.json["minutes"]["included"] == 3 * 2000
    assert processors.stripe.get(sub_id)["items"]["data"][0]["quantity"] == 3
    assert [b for s, b in processors.stripe.proration_behaviors if s == sub_id] == [
        "create_prorations"
    ]
    for seats, message in (
        (3, "That is the plan and seats you have."),
        (0, "Pro takes between 1 and 10 seats."),
        (11, "Pro takes between 1 and 10 seats."),
    ):
        refused = api("PUT", "/billing/subscription", json={"plan": "pro", "seats": seats})
        assert refused.status_code == 422, refused.json
        assert refused.json["message"] == message
    free = api("PUT", "/billing/subscription", json={"plan": "free", "seats": 1})
    assert (free.status_code, free.json["message"]) == (422, "Choose Pro or Business.")
    # None of the refusals reached Stripe.
    assert len([s for s, _ in processors.stripe.proration_behaviors if s == sub_id]) == 1
    assert processors.stripe.get(sub_id)["items"]["data"][0]["quantity"] == 3

    portal = api("POST", "/billing/portal")
    assert portal.status_code == 200, portal.json
    assert portal.json["url"].startswith(f"{processors.stripe.url}/billing_portal/bps_")
    opened_portal = processors.stripe.get(portal.json["url"].rsplit("/", 1)[-1])
    assert opened_portal["customer"] == customer_of(app, team)


def test_members_and_viewers_cannot_reach_billing_on_the_web(
    app: Flask, team: Team, processors: Processors
) -> None:
    calls = len(processors.stripe.requests)
    for role in ("member", "viewer"):
        web = member_web(app, team, role, f"Morgan {role}")
        assert web.get(team.url("/billing/")).status_code == 403
        for path, form in (
            ("/billing/checkout", {"processor": "stripe", "pack": "pack_300", "request_key": "k"}),
            ("/billing/plan", {"plan": "pro", "seats": "9"}),
            ("/billing/portal", {}),
        ):
            assert web.post(team.url(path), form).status_code == 403, (role, path)
    assert rows(app, team, Checkout) == []
    assert customer_of(app, team) is None
    assert len(processors.stripe.requests) == calls


def test_one_workspace_never_sees_anothers_payments_or_credits(
    app: Flask, team: Team, web2: Web, processors: Processors
) -> None:
    other = make_team(app, web2, "Other Team")
    ours_session = buy_pack_by_api(processors, api_caller(team), "pack_300")
    theirs = open_pack(other, "stripe", "pack_1000")  # bought on their Billing page
    deliver_all(
        processors,
        processors.stripe.complete_checkout(theirs.headers["Location"].rsplit("/", 1)[-1]),
    )

    ours = api_caller(team)
    payments = ours("GET", "/billing/payments").json
    credits = ours("GET", "/billing/credits").json
    assert [p["amount_cents"] for p in payments] == [500]
    assert [p["description"] for p in payments] == ["Credits: 300 minutes"]
    assert [c["pack"] for c in credits] == ["pack_300"]
    assert ours("GET", "/billing").json["minutes"]["credits"] == 300
    theirs_api = api_caller(other)
    assert [p["amount_cents"] for p in theirs_api("GET", "/billing/payments").json] == [1500]
    assert [c["pack"] for c in theirs_api("GET", "/billing/credits").json] == ["pack_1000"]
    assert theirs_api("GET", "/billing").json["minutes"]["credits"] == 1000
    # Their page does not show ours either.
    page = other.page("/billing/")
    assert "Credits: 1,000 minutes" in page and "Credits: 300 minutes" not in page
    assert ours_session not in page
