"""Deleting a team workspace: everything in it goes, a live subscription is cancelled at
Stripe first, and where money changed hands the payment records stay (the law) under a
nameless tombstone that nobody can open."""

from __future__ import annotations

import socket

from flask import Flask
from sqlalchemy import func, select

from app.billing.models import BillingAccount, Payment
from app.tenants.models import Membership, Workspace
from app.transcripts.models import Transcript
from tests.billing.conftest import Processors
from tests.billing.test_stripe_billing import account_of, deliver_all, subscribe
from tests.integration.test_workspaces import add_member, database
from tests.transcripts import Team, make_transcript
from tests.web import make_user


def delete(team: Team, confirm: str | None = None):  # type: ignore[no-untyped-def]
    return team.web.post(team.url("/delete"), {"confirm": confirm or team.slug})


def count(app: Flask, workspace_id, model: type) -> int:  # type: ignore[no-untyped-def]
    with database(app, workspace_id) as s:
        return s.scalar(select(func.count(model.id))) or 0


def workspace_row(app: Flask, workspace_id) -> Workspace | None:  # type: ignore[no-untyped-def]
    with database(app) as s:
        return s.get(Workspace, workspace_id)


def test_a_team_that_never_paid_is_deleted_outright(app: Flask, team: Team) -> None:
    ws = team.workspace.id
    make_transcript(app, ws, "Planning")
    resp = delete(team)
    assert resp.status_code == 302
    assert workspace_row(app, ws) is None
    assert count(app, ws, Transcript) == 0 and count(app, ws, Membership) == 0
    assert team.web.get(team.url("/")).status_code == 404


def test_a_paid_team_cancels_its_subscription_and_keeps_only_payment_records(
    app: Flask, team: Team, processors: Processors
) -> None:
    ws = team.workspace.id
    sub_id = subscribe(processors, team)
    member = make_user(app, name="Mo Member")
    add_member(app, ws, member, "member")
    make_transcript(app, ws, "Quarterly numbers")
    assert processors.stripe.get(sub_id)["status"] == "active"

    page = team.page("/settings")
    assert "cancelled now, without a refund" in page

    resp = delete(team)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    assert processors.stripe.get(sub_id)["status"] == "canceled"
    tomb = workspace_row(app, ws)
    assert (
        tomb is not None and tomb.name == "Deleted workspace" and tomb.slug.startswith("deleted-")
    )
    assert count(app, ws, Transcript) == 0 and count(app, ws, Membership) == 0
    [payment] = _payments(app, ws)
    assert payment.amount_cents == 3600 and payment.processor == "stripe"
    with database(app, ws) as s:
        account = s.scalar(select(BillingAccount))
        assert account is not None
        assert (account.status, account.stripe_subscription_id) == ("canceled", None)
    # Nobody reaches it any more, the owner included.
    assert team.web.get(team.url("/")).status_code == 404
    assert team.web.get(f"/w/{tomb.slug}/").status_code == 404
    # Stripe's own event about the cancellation, arriving later, changes nothing.
    [event] = [
        e
        for e in processors.stripe.events
        if e["type"] == "customer.subscription.deleted" and e["data"]["object"]["id"] == sub_id
    ]
    assert deliver_all(processors, [event])[0].startswith("ignored")


def test_when_stripe_cannot_cancel_nothing_is_deleted(
    app: Flask, team: Team, processors: Processors, monkeypatch
) -> None:
    ws = team.workspace.id
    sub_id = subscribe(processors, team)
    make_transcript(app, ws, "Still here")
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setattr(app.extensions["verbatim.settings"], "stripe_api_base", dead)

    resp = delete(team)
    assert resp.status_code == 502, resp.status_code
    assert "Stripe could not be reached." in resp.get_data(as_text=True)
    row = workspace_row(app, ws)
    assert row is not None and row.name == team.workspace.name
    assert count(app, ws, Transcript) == 1
    assert account_of(app, team).stripe_subscription_id == sub_id
    assert processors.stripe.get(sub_id)["status"] == "active"


def _payments(app: Flask, workspace_id) -> list[Payment]:  # type: ignore[no-untyped-def]
    with database(app, workspace_id) as s:
        return list(s.scalars(select(Payment)))
