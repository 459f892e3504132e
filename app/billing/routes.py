"""The workspace's Billing page (admins): plan, seats, minutes, credits, payments; and the
forms that change them. Routes parse and render; app/billing services decide."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, flash, g, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from app.billing import (
    checkouts,
    entitlements,
    reports,
    square_gateway,
    stripe_gateway,
    subscriptions,
    urls,
)
from app.errors import ServiceError, refusal_status
from app.extensions import db
from app.security.headers import CSP
from app.settings import settings
from app.tenants.models import Role
from app.tenants.web import require_role, workspace_blueprint

bp: Blueprint = workspace_blueprint("billing", __name__, "/billing")


def _page(status: int = 200, error: ServiceError | None = None) -> Any:
    view = reports.overview(g.workspace)
    usage = reports.usage(view.minutes.period)
    html = render_template(
        "billing/index.html",
        view=view,
        days=usage.by_day,
        members=usage.by_member,
        payments=reports.payment_records(),
        grants=reports.credit_grants(),
        plans=list(entitlements.PLANS.values()),
        packs=list(entitlements.CREDIT_PACKS.values()),
        on_sale={p: stripe_gateway.price_for(p) is not None for p in entitlements.PLANS},
        money=reports.money,
        human=_human,
        # A fresh key per page view: a double click sends the same one twice.
        request_key=uuid.uuid4().hex,
        paid=request.args.get("paid") == "1",
        cancelled=request.args.get("cancelled") == "1",
        error=error,
        currency=settings().billing_currency,
    )
    resp = make_response(html, status)
    # The forms here redirect to the processor's payment page; CSP's form-action covers
    # that redirect, so this page allows exactly those origins and no others.
    resp.headers["Content-Security-Policy"] = payment_csp()
    return resp


def payment_csp() -> str:
    origins = " ".join(stripe_gateway.page_origins() + square_gateway.page_origins())
    return CSP.replace("form-action 'self'", f"form-action 'self' {origins}".rstrip())


def _human(seconds: float | None) -> str:
    from app.billing.metering import human

    return _("unlimited") if seconds is None else human(seconds)


@bp.get("/")
@require_role(Role.ADMIN)
def index() -> Any:
    return _page()


def _int(name: str) -> int | None:
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ServiceError(_("Seats must be a whole number."), field=name) from None


@bp.post("/checkout")
@require_role(Role.ADMIN)
def checkout() -> Any:
    try:
        want = checkouts.Request(
            processor=(request.form.get("processor") or "stripe").strip(),
            plan=(request.form.get("plan") or "").strip() or None,
            seats=_int("seats"),
            pack=(request.form.get("pack") or "").strip() or None,
        )
        row = checkouts.start(
            g.workspace, want, request.form.get("request_key", ""), current_user.id
        )
    except ServiceError as e:
        return _page(refusal_status(e), e)
    return redirect(row.url, code=303)


@bp.post("/plan")
@require_role(Role.ADMIN)
def change_plan() -> Any:
    try:
        plan = (request.form.get("plan") or "").strip()
        account = subscriptions.change(g.workspace, plan, _int("seats"))
    except ServiceError as e:
        return _page(refusal_status(e), e)
    title = entitlements.PLANS[account.plan].title
    flash(
        ngettext(
            "Now on %(plan)s with %(num)d seat; Stripe prorates the difference on the next "
            "invoice.",
            "Now on %(plan)s with %(num)d seats; Stripe prorates the difference on the next "
            "invoice.",
            account.seats,
            plan=title,
        ),
        "success",
    )
    return redirect(url_for("billing.index"), code=303)


@bp.post("/portal")
@require_role(Role.ADMIN)
def portal() -> Any:
    try:
        url = stripe_gateway.portal(
            checkouts.stripe_customer(g.workspace), urls.billing_page(g.workspace)
        )
    except ServiceError as e:
        return _page(refusal_status(e), e)
    db.session.commit()  # a customer made just now is kept
    return redirect(url, code=303)
