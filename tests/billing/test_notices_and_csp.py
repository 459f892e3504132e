"""A failed payment tells the admins once; the Billing page lets its forms reach exactly
the payment pages of the processors that are set up (CSP form-action)."""

from __future__ import annotations

import re

from redis import Redis
from rq import Queue
from sqlalchemy import select

from app.mail.models import OutboundEmail
from tests.integration.test_workspaces import database

CHECKOUT = re.compile(r'name="request_key" value="([0-9a-f]+-pro)"')


def csp_form_action(resp) -> str:
    policy = resp.headers["Content-Security-Policy"]
    return next(d for d in policy.split(";") if d.strip().startswith("form-action")).strip()


def test_the_billing_page_allows_only_configured_payment_pages(team, app, monkeypatch):
    plain = team.web.get(team.url("/billing/"))
    assert csp_form_action(plain) == "form-action 'self'"
    cfg = app.extensions["verbatim.settings"]
    monkeypatch.setattr(cfg, "stripe_secret_key", "sk_test_x")
    only_stripe = csp_form_action(team.web.get(team.url("/billing/")))
    assert "https://checkout.stripe.com" in only_stripe
    assert "https://billing.stripe.com" in only_stripe
    assert "square" not in only_stripe
    # Every other page keeps the strict policy.
    assert csp_form_action(team.web.get(team.url("/members"))) == "form-action 'self'"


def test_a_failed_payment_mails_the_admins_once(team, app, processors, redis_conn: Redis):
    page = team.page("/billing/")
    key = CHECKOUT.search(page).group(1)
    resp = team.web.post(
        team.url("/billing/checkout"),
        {"processor": "stripe", "plan": "pro", "seats": "2", "request_key": key},
    )
    assert resp.status_code == 303
    session_id = resp.headers["Location"].rsplit("/", 1)[-1]
    assert "form-action 'self' https://checkout.stripe.com" in csp_form_action(
        team.web.get(team.url("/billing/"))
    )
    for event in processors.stripe.complete_checkout(session_id):
        assert processors.deliver_stripe(event).status_code == 200
    Queue("email", connection=redis_conn).empty()
    sub_id = processors.stripe.of_type("subscription")[-1]["id"]
    for event in processors.stripe.fail_payment(sub_id):
        assert processors.deliver_stripe(event).status_code == 200
    # A second failed attempt (Stripe retries the card) does not mail again.
    for event in processors.stripe.fail_payment(sub_id):
        assert processors.deliver_stripe(event).status_code == 200
    with database(app) as s:
        mails = s.scalars(select(OutboundEmail).where(OutboundEmail.to == team.user.email)).all()
        failed = [m for m in mails if m.subject == f"Payment failed for {team.workspace.name}"]
    assert len(failed) == 1
    assert "Pro stays in force until" in failed[0].body
    assert f"/w/{team.slug}/billing" in failed[0].body
