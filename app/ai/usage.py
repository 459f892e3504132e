"""Token usage per workspace: recorded per run, summed per billing month (the same period
as transcription minutes: it renews on the workspace's billing date), limited by the plan
(entitlements "ai_tokens_per_month")."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select

from app.ai.models import AiUsage
from app.ai.provider import Usage
from app.billing import accounts, entitlements, periods
from app.errors import ServiceError
from app.extensions import db
from app.tenants.context import current_workspace_id


class QuotaExceeded(ServiceError):
    status = 429


def billing_period() -> periods.Period:
    """The current workspace's billing month."""
    workspace_id = current_workspace_id()
    assert workspace_id is not None
    return accounts.period(workspace_id)


def month_start() -> datetime:
    """When the current workspace's billing month began."""
    return billing_period().start


def record(
    feature: str, provider: str, model: str, usage: Usage, user_id: uuid.UUID | None
) -> None:
    """Added to the caller's transaction, so a result and its cost commit together."""
    db.session.add(
        AiUsage(
            user_id=user_id,
            feature=feature,
            provider=provider,
            model=model,
            calls=usage.calls,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            estimated=usage.estimated,
        )
    )


def tokens_this_month() -> int:
    total = db.session.scalar(
        select(func.coalesce(func.sum(AiUsage.prompt_tokens + AiUsage.completion_tokens), 0)).where(
            AiUsage.created_at >= month_start()
        )
    )
    return int(total or 0)


def check(workspace: entitlements.HasPlan, uses_language_model: bool) -> None:
    """Refuse a run that a spent allowance cannot pay for (the extractive provider costs
    nothing and is never refused)."""
    if not uses_language_model:
        return
    allowance = entitlements.limit(workspace, "ai_tokens_per_month")
    if allowance is None:
        return
    used = tokens_this_month()
    if used >= allowance:
        renews = billing_period().end
        raise QuotaExceeded(
            f"This workspace has used its {allowance:,} AI tokens for this month on "
            f"{entitlements.plan_title(workspace)}. It renews on {renews:%-d %B}; a bigger plan "
            "has more, and the extractive provider keeps working meanwhile."
        )


def summary(since: datetime | None = None) -> list[dict]:
    """This month's usage by feature and model, for the settings page and the API."""
    rows = db.session.execute(
        select(
            AiUsage.feature,
            AiUsage.provider,
            AiUsage.model,
            func.count(),
            func.sum(AiUsage.calls),
            func.sum(AiUsage.prompt_tokens),
            func.sum(AiUsage.completion_tokens),
        )
        .where(AiUsage.created_at >= (since or month_start()))
        .group_by(AiUsage.feature, AiUsage.provider, AiUsage.model)
        .order_by(AiUsage.feature, AiUsage.model)
    )
    return [
        {
            "feature": f,
            "provider": p,
            "model": m,
            "runs": int(n),
            "calls": int(c or 0),
            "prompt_tokens": int(pt or 0),
            "completion_tokens": int(ct or 0),
        }
        for f, p, m, n, c, pt, ct in rows
    ]
