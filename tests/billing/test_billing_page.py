"""The Billing page and "minutes left" on the upload page, through the test client: real
PostgreSQL, minutes counted by app.billing.metering on real transcripts (one of them a
real API upload). Stripe and Square are not set up here (their tests are elsewhere): the
page must say so and offer nothing to buy."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from app.billing import accounts, checkouts, entitlements, metering
from app.billing.models import Payment, UsageRecord
from app.db import utcnow
from app.transcripts.models import Transcript
from tests.integration.test_api_transcripts import tone
from tests.integration.test_security_baseline import inline_problems
from tests.integration.test_workspaces import add_member, database
from tests.transcripts import Team, api_caller, make_transcript
from tests.web import Web, make_user


def billing(team: Team, web: Web | None = None, query: str = "") -> str:
    resp = (web or team.web).get(team.url(f"/billing/{query}"))
    assert resp.status_code == 200, resp.get_data(as_text=True)[:800]
    return resp.get_data(as_text=True)


def spend(app: Flask, team: Team, seconds: float, title: str = "Board meeting") -> uuid.UUID:
    """A finished transcript of `seconds`, its minutes reserved and charged by metering."""
    tid = make_transcript(app, team.workspace.id, title, duration=seconds, uploader_id=team.user.id)
    with database(app, team.workspace.id) as s:
        t = s.get(Transcript, tid)
        assert t is not None
        if seconds <= metering.max_file_seconds(team.workspace):
            metering.reserve([t], seconds, team.user.id)
        metering.charge(t)  # work never reserved (too long to) is charged all the same
        s.commit()
    return tid


def member_web(app: Flask, team: Team, role: str, name: str) -> Web:
    user = make_user(app, name=name)
    add_member(app, team.workspace.id, user, role)
    web = Web(app, remote_addr=f"10.200.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}")
    web.login(user)
    return web


def part(page: str, marker: str, end: str) -> str:
    """From `marker` to the next `end`."""
    start = page.index(marker)
    return page[start : page.index(end, start)]


def section(page: str, heading_id: str) -> str:
    """The <section> labelled by `heading_id`."""
    return part(page, f'aria-labelledby="{heading_id}"', "</section>")


# --- the page ---------------------------------------------------------------------------


def test_owner_sees_plan_minutes_chart_and_members(app: Flask, team: Team, tmp_path: Path) -> None:
    spend(app, team, 150.0)  # 2.5 min through the web
    api = api_caller(team)
    resp = api(
        "POST",
        "/transcripts/file",
        query_string={"filename": "call.mp3"},
        data=tone(tmp_path, 30),
        headers={"Content-Type": "audio/mpeg"},
    )
    assert resp.status_code == 202, resp.json  # queued: its 0.5 min are reserved, by API
    with database(app, team.workspace.id) as s:
        [api_record] = s.scalars(select(UsageRecord).where(UsageRecord.via == "api"))
        api_seconds = api_record.seconds
    assert abs(api_seconds - 30) < 0.5

    page = billing(team)

    # Plan in force and the free plan's state.
    assert '<span class="badge plan-badge">Free</span>' in page
    assert "No subscription" in page
    # Minutes: 600 min included, 3 used, the rest left; the API's 100-minute cap.
    minutes = section(page, "minutes-h")
    assert re.search(r'<meter id="minutes-meter"[^>]* max="36000.0"', minutes)
    used = 150.0 + api_seconds
    assert f"{metering.human(36000 - used)} left" in minutes  # about 597 min
    assert f"{metering.human(used)} of 10 h 00 min used" in minutes
    assert f"API: {metering.human(api_seconds)} of 1 h 40 min used" in minutes
    assert "Renews on" in minutes and "Longest file" in minutes and "2 h 00 min" in minutes
    # The chart: inline SVG with a title and description, one bar for today, and the
    # same data in a table for screen readers.
    usage = section(page, "usage-h")
    assert '<svg class="usage-chart"' in usage and 'role="img"' in usage
    assert '<title id="usage-title">' in usage and '<desc id="usage-desc">' in usage
    assert usage.count('<rect class="bar"') == 1
    assert '<table class="visually-hidden">' in usage
    assert f'<th scope="row">{utcnow().date().isoformat()}</th><td>3.0</td>' in usage
    # By member: 3.0 minutes, 0.5 of them through the API key.
    row = re.search(
        r"<tr><td>Paula Pages</td><td>([^<]+)</td>"
        r'<td class="num">([^<]+)</td><td class="num">([^<]+)</td></tr>',
        usage,
    )
    assert row is not None, usage
    assert row.group(1) == team.user.email
    assert (row.group(2), row.group(3)) == ("3.0", "0.5")
    # Plans: a card each, Free is current; nothing can be bought without Stripe/Square.
    plans = section(page, "plans-h")
    for title in ("Free", "Pro", "Business"):
        assert f">{title} " in plans
    assert re.search(r'<h3 id="plan-free">Free <span class="badge ok">Current</span>', plans)
    assert "$12.00</strong> per seat / month" in plans
    assert "2,000 minutes a month per seat" in plans
    assert "Card payments through Stripe are not set up on this server" in plans
    credits = section(page, "credits-h")
    assert "Payments through Stripe and Square are not set up on this server" in credits
    assert "never expire" in credits and "300 minutes" in credits and "$5.00" in credits
    assert "/billing/checkout" not in page and "/billing/portal" not in page
    assert "No payments yet." in page and "No credits bought yet." in page
    # Its own script and style, loaded the CSP's way: nothing inline that runs, no style
    # attributes.
    assert '<script src="/static/js/billing.js" defer></script>' in page
    assert 'href="/static/css/billing.css"' in page
    assert inline_problems(page) == []
    assert " style=" not in page
    # The Billing tab, marked as the current page.
    assert f'<a href="/w/{team.slug}/billing/" aria-current="page">Billing</a>' in page


def test_members_and_viewers_get_403_and_no_billing_tab(app: Flask, team: Team) -> None:
    tab = f'href="/w/{team.slug}/billing/"'
    assert tab in team.page("/transcripts/")  # the owner has it
    admin = member_web(app, team, "admin", "Ada Admin")
    assert tab in admin.get(team.url("/transcripts/")).get_data(as_text=True)
    assert admin.get(team.url("/billing/")).status_code == 200
    for role in ("member", "viewer"):
        web = member_web(app, team, role, f"Morgan {role}")
        assert web.get(team.url("/billing/")).status_code == 403
        posted = web.post(
            team.url("/billing/checkout"), {"processor": "stripe", "pack": "pack_300"}
        )
        assert posted.status_code == 403
        listing = web.get(team.url("/transcripts/")).get_data(as_text=True)
        assert tab not in listing and ">Billing<" not in listing


def test_a_refused_checkout_shows_why(team: Team) -> None:
    resp = team.web.post(
        team.url("/billing/checkout"),
        {"processor": "stripe", "plan": "pro", "seats": "2", "request_key": uuid.uuid4().hex},
    )
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert (
        '<div class="flash error" role="alert">Payments through Stripe are not set up on this '
        "server.</div>"
    ) in page
    assert "<h1>Billing</h1>" in page


def test_return_from_the_payment_page(team: Team) -> None:
    paid = billing(team, query="?paid=1")
    assert "Thanks — your payment is being confirmed; this page shows it within a minute" in paid
    cancelled = billing(team, query="?cancelled=1")
    assert "The payment was cancelled; nothing was charged." in cancelled
    assert "being confirmed" not in cancelled


def test_failed_payment_grace_cancellation_and_too_many_seats(app: Flask, team: Team) -> None:
    with database(app, team.workspace.id) as s:
        account = accounts.get(team.workspace.id)
        account.plan, account.status, account.seats = "pro", "past_due", 1
        account.stripe_customer_id = f"cus_{uuid.uuid4().hex[:12]}"
        account.stripe_subscription_id = f"sub_{uuid.uuid4().hex[:12]}"
        account.stripe_item_id = f"si_{uuid.uuid4().hex[:12]}"
        account.grace_until = utcnow() + timedelta(days=5)
        account.cancel_at_period_end = True
        accounts.apply(account)
        s.commit()
    member_web(app, team, "member", "Second Seat")  # 2 people, 1 seat

    page = billing(team)

    assert '<span class="badge plan-badge">Pro</span>' in page  # in force during grace
    assert "Payment failed" in page
    assert "The last payment failed. Pro stays until" in page
    assert "then the Free plan's limits apply" in page
    assert "2 members and invitations, 1 seat: remove some" in page
    assert "new invitations are refused meanwhile" in page
    assert "The Pro subscription is cancelled and ends on" in page
    # Pro's minutes are per seat: one seat, 2,000 minutes.
    assert "33 h 20 min left" in section(page, "minutes-h")
    seats = section(page, "seats-h")
    assert "<strong>2</strong> of <strong>1</strong> seat used" in seats
    assert "Seats can be changed once the card is updated." in seats
    plans = section(page, "plans-h")
    assert re.search(r'<h3 id="plan-pro">Pro <span class="badge ok">Current</span>', plans)
    assert "Your subscription: 1 seat." in plans
    assert "To go back to Free, cancel the subscription" in plans
    # No Stripe on this server: no portal button, no plan change.
    assert "/billing/portal" not in page and "/billing/plan" not in page


def test_payments_and_credits_bought(app: Flask, team: Team) -> None:
    with database(app, team.workspace.id) as s:
        s.add(
            Payment(
                processor="stripe",
                reference=f"in_{uuid.uuid4().hex}",
                kind="credits",
                description="300 minutes of credits",
                amount_cents=500,
                currency="usd",
                status="paid",
                method_type="card",
                occurred_at=utcnow(),
                receipt_url="https://pay.example.test/receipt/1",
            )
        )
        checkouts.grant_pack(
            team.workspace.id,
            entitlements.CREDIT_PACKS["pack_300"],
            processor="stripe",
            reference=f"in_{uuid.uuid4().hex}",
            user_id=team.user.id,
        )
        s.commit()

    page = billing(team)

    payments = section(page, "payments-h")
    assert "300 minutes of credits" in payments and "$5.00" in payments and "card" in payments
    assert (
        '<a href="https://pay.example.test/receipt/1" rel="noopener noreferrer" target="_blank">'
    ) in payments
    assert "5 h 00 min <small>(Stripe)</small>" in payments
    assert "5 h 00 min left" in section(page, "credits-h")
    # Credits add to what is left: 600 + 300 minutes.
    assert "15 h 00 min left" in section(page, "minutes-h")


# --- the upload page ------------------------------------------------------------------------


def test_upload_page_shows_minutes_left(app: Flask, team: Team) -> None:
    page = team.page("/transcripts/new")
    line = part(page, 'id="minutes-left"', "</p>")
    assert "<strong>10 h 00 min</strong> left this month (renews " in line
    assert "no credits" in line and "longest file 2 h 00 min" in line
    assert f'href="/w/{team.slug}/billing/"' in line  # the owner may go and buy more
    assert 'aria-describedby="minutes-left"' in page
    assert "up to" in page and "2 hours each" in page  # the plan's longest file
    assert 'id="minutes-out"' not in page

    spend(app, team, 100 * 60.0)
    assert "<strong>8 h 20 min</strong> left this month" in team.page("/transcripts/new")


def test_upload_page_says_when_nothing_is_left(app: Flask, team: Team) -> None:
    spend(app, team, 600 * 60.0, "A very long day")  # the whole month's allowance

    page = team.page("/transcripts/new")
    notice = part(page, '<div class="flash error" role="alert" id="minutes-out">', "</div>")
    assert "uploads, recordings and links will be refused" in notice
    assert f'href="/w/{team.slug}/billing/"' in notice
    assert "<strong>0 min</strong> left this month" in page

    member = member_web(app, team, "member", "Mo Member")
    seen = member.get(team.url("/transcripts/new")).get_data(as_text=True)
    assert "uploads, recordings and links will be refused" in seen
    assert "An admin of Pages Team can buy credits or change the plan." in seen
    assert "/billing/" not in seen  # members have no Billing page to go to
