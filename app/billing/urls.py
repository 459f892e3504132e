"""Links to billing pages that leave the request: processors' return URLs, mail."""

from __future__ import annotations

from app.settings import settings
from app.tenants.models import Workspace


def billing_page(workspace: Workspace) -> str:
    """The workspace's Billing page, absolute (from the configured base URL)."""
    return settings().base_url.rstrip("/") + f"/w/{workspace.slug}/billing"
