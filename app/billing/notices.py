"""Mail to a workspace's owners and admins about its billing."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.auth.models import User
from app.billing import entitlements, urls
from app.billing.models import BillingAccount
from app.extensions import db
from app.mail.service import queue_mail
from app.tenants.models import Membership, Role, Workspace


def payment_failed(account: BillingAccount) -> int:
    """Tell the admins a payment failed and until when the plan holds; once per grace
    period (the caller sends it when the grace period starts). Returns mails queued."""
    workspace = db.session.get(Workspace, account.workspace_id)
    assert workspace is not None and account.grace_until is not None
    admins = db.session.scalars(
        select(User.email)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.role.in_([Role.OWNER.value, Role.ADMIN.value]))
    ).all()
    plan = entitlements.PLANS.get(account.plan, entitlements.PLANS["free"]).title
    link = urls.billing_page(workspace)
    for email in admins:
        queue_mail(
            email,
            _l("Payment failed for %(workspace)s", workspace=workspace.name),
            "payment_failed",
            workspace=workspace,
            plan=plan,
            until=account.grace_until,
            link=link,
        )
    return len(admins)
