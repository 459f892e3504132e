"""Opening payment pages, and what happens when one is paid.

A double click, a resubmitted form or a retried API call carries the same request key:
the first makes the Checkout row (unique per workspace and key), every other one finds it
and gets the same page. The processor call is idempotent on the row's id too, so two
requests racing past each other still open one page, never two.

Paying is applied from webhooks (app/billing/stripe_events.py, square_events.py) and,
for any webhook that never came, from the daily reconcile; both go through `fulfil`,
which grants a pack's minutes once per processor payment.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.audit.service import record
from app.billing import accounts, entitlements, metering, square_gateway, stripe_gateway, urls
from app.billing.models import Checkout, CreditGrant
from app.db import utcnow
from app.errors import Conflict, ServiceError
from app.extensions import db
from app.tenants import services as tenants
from app.tenants.models import Workspace

PROCESSORS = ("stripe", "square")
MAX_KEY = 64


@dataclass(frozen=True)
class Request:
    """What someone asked to buy: a plan for some seats, or a credit pack."""

    processor: str
    plan: str | None = None
    seats: int | None = None
    pack: str | None = None

    @property
    def kind(self) -> str:
        return "credits" if self.pack else "subscription"


def _check(workspace: Workspace, want: Request) -> None:
    if want.processor not in PROCESSORS:
        raise ServiceError(_("Choose Stripe or Square."), field="processor")
    enabled = stripe_gateway.enabled() if want.processor == "stripe" else square_gateway.enabled()
    if not enabled:
        raise ServiceError(
            _(
                "Payments through %(processor)s are not set up on this server.",
                processor=want.processor.title(),
            ),
            field="processor",
        )
    if bool(want.pack) == bool(want.plan):
        raise ServiceError(_("Choose a plan or a credit pack."), field="plan")
    if want.pack:
        if want.pack not in entitlements.CREDIT_PACKS:
            raise ServiceError(_("There is no such credit pack."), field="pack")
        return
    if want.processor != "stripe":
        raise ServiceError(_("Subscriptions are paid through Stripe."), field="processor")
    if accounts.get(workspace.id).stripe_subscription_id:
        # A second subscription would bill twice; an existing one is changed in place.
        raise Conflict(
            _("This workspace already has a subscription; change its plan or seats instead.")
        )
    check_plan(workspace, want.plan or "", want.seats)


def check_plan(workspace: Workspace, plan_name: str, seats: int | None) -> int:
    """The seats to bill for `plan_name`, or a refusal saying why not."""
    plan = entitlements.PLANS.get(plan_name)
    if plan is None or not plan.price_cents:
        raise ServiceError(_("Choose Pro or Business."), field="plan")
    if stripe_gateway.price_for(plan.name) is None:
        raise ServiceError(
            _("%(plan)s is not for sale on this server.", plan=plan.title), field="plan"
        )
    if workspace.personal:
        if seats not in (None, 1):
            raise ServiceError(
                _("A personal workspace has one seat; create a team to buy more."),
                field="seats",
            )
        return 1
    if seats is None or not 1 <= seats <= plan.max_seats:
        raise ServiceError(
            _(
                "%(plan)s takes between 1 and %(max)d seats.",
                plan=plan.title,
                max=plan.max_seats,
            ),
            field="seats",
        )
    used = tenants.seats_used()
    if seats < used:
        raise ServiceError(
            _(
                "This workspace uses %(used)d seats (members and pending invitations); "
                "remove %(extra)d before going down to %(seats)d.",
                used=used,
                extra=used - seats,
                seats=seats,
            ),
            field="seats",
        )
    return seats


def _same(row: Checkout, want: Request) -> bool:
    return (row.processor, row.plan, row.seats, row.pack) == (
        want.processor,
        want.plan,
        want.seats,
        want.pack,
    )


def start(
    workspace: Workspace, want: Request, request_key: str, user_id: uuid.UUID | None
) -> Checkout:
    """The payment page for `want`: opened now, or the one this request key already
    opened. Commits."""
    key = (request_key or "").strip()
    if not key or len(key) > MAX_KEY:
        raise ServiceError(_("Reload the page and try again (the form's key is missing)."))
    seats = None if want.pack else (1 if workspace.personal else want.seats)
    want = Request(want.processor, want.plan or None, seats, want.pack or None)
    row = _find(key)
    if row is None:
        _check(workspace, want)
        row = Checkout(
            request_key=key,
            processor=want.processor,
            kind=want.kind,
            plan=want.plan,
            seats=want.seats,
            pack=want.pack,
            created_by_id=user_id,
        )
        db.session.add(row)
        try:
            db.session.commit()
        except IntegrityError:  # the same click, a moment ahead of us
            db.session.rollback()
            row = _find(key)
            assert row is not None
    if not _same(row, want):
        raise Conflict(_("This form was already used for another purchase; reload the page."))
    if row.status != "open":
        done = {
            "completed": _("This purchase is already completed."),
            "expired": _("This purchase is already expired."),
        }
        raise Conflict(
            done.get(row.status) or _("This purchase is already %(status)s.", status=row.status)
        )
    if not row.url:
        _open(workspace, row)
        record("billing.checkout_opened", target=row, details=_details(row))
        db.session.commit()
    return row


def _find(key: str) -> Checkout | None:
    return db.session.scalar(select(Checkout).where(Checkout.request_key == key))


def _details(row: Checkout) -> dict[str, Any]:
    return {"processor": row.processor, "plan": row.plan, "seats": row.seats, "pack": row.pack}


def _open(workspace: Workspace, row: Checkout) -> None:
    page = urls.billing_page(workspace)
    success, cancel = page + "?paid=1", page + "?cancelled=1"
    pack = entitlements.CREDIT_PACKS[row.pack] if row.pack else None
    if row.processor == "square":
        assert pack is not None
        link = square_gateway.payment_link(
            pack=pack,
            workspace_id=str(workspace.id),
            checkout_id=str(row.id),
            redirect_url=success,
            key=f"verbatim-checkout-{row.id}",
        )
        row.external_id, row.url = link.order_id, link.url
        return
    customer = stripe_customer(workspace)
    session = stripe_gateway.checkout(
        customer=customer,
        workspace_id=str(workspace.id),
        checkout_id=str(row.id),
        success_url=success,
        cancel_url=cancel,
        key=f"verbatim-checkout-{row.id}",
        plan=row.plan,
        seats=row.seats,
        pack=pack,
    )
    row.external_id, row.url = session.id, session.url


def stripe_customer(workspace: Workspace) -> str:
    """The workspace's Stripe customer, made once (idempotent on the account's id)."""
    account = accounts.get(workspace.id)
    if account.stripe_customer_id:
        return account.stripe_customer_id
    customer = stripe_gateway.create_customer(
        str(workspace.id), workspace.name, None, key=f"verbatim-customer-{account.id}"
    )
    account.stripe_customer_id = customer
    db.session.flush()
    return customer


def fulfil(row: Checkout, *, processor: str, reference: str) -> bool:
    """A paid checkout: grant its pack once per processor payment, mark it completed.
    True when minutes were granted now. The caller holds the workspace scope and commits."""
    row.status = "completed"
    row.completed_at = row.completed_at or utcnow()
    if not row.pack:
        return False
    pack = entitlements.CREDIT_PACKS[row.pack]
    if not grant_pack(
        row.workspace_id,
        pack,
        processor=processor,
        reference=reference,
        user_id=row.created_by_id,
    ):
        return False
    record(
        "billing.credits_added",
        target=row,
        details={"pack": pack.name, "minutes": pack.minutes, "processor": processor},
        workspace_id=row.workspace_id,
    )
    return True


def grant_pack(
    workspace_id: uuid.UUID,
    pack: entitlements.CreditPack,
    *,
    processor: str,
    reference: str,
    user_id: uuid.UUID | None,
) -> bool:
    """Add a pack's minutes once per processor payment (`reference`); False when that
    payment was granted already. The caller holds the workspace scope and commits."""
    exists = db.session.scalar(
        select(CreditGrant.id).where(
            CreditGrant.processor == processor, CreditGrant.reference == reference
        )
    )
    if exists is not None:
        return False
    metering.add_credits(workspace_id, pack.minutes * 60.0)
    db.session.add(
        CreditGrant(
            workspace_id=workspace_id,
            processor=processor,
            reference=reference,
            pack=pack.name,
            seconds=pack.minutes * 60.0,
            user_id=user_id,
        )
    )
    return True
