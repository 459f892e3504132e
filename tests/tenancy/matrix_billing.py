"""Tenancy matrix entries of billing (app/billing/; see matrix.py).

The webhook endpoints need no sign-in: the processor's signature is the authentication,
and the workspace comes from the signed event (tests/billing/ prove both)."""

from __future__ import annotations

PUBLIC: set[str] = {"billing_webhooks.stripe_events", "billing_webhooks.square_events"}

WORKSPACE: dict[str, tuple[str, str]] = {
    "billing.index": ("GET", "/w/{slug}/billing/"),
    "billing.checkout": ("POST", "/w/{slug}/billing/checkout"),
    "billing.change_plan": ("POST", "/w/{slug}/billing/plan"),
    "billing.portal": ("POST", "/w/{slug}/billing/portal"),
}

API: dict[str, tuple[str, str]] = {
    "api_billing.get_billing": ("GET", "/api/v1/billing"),
    "api_billing.get_usage": ("GET", "/api/v1/billing/usage"),
    "api_billing.list_payments": ("GET", "/api/v1/billing/payments"),
    "api_billing.list_credits": ("GET", "/api/v1/billing/credits"),
    "api_billing.create_checkout": ("POST", "/api/v1/billing/checkout"),
    "api_billing.change_subscription": ("PUT", "/api/v1/billing/subscription"),
    "api_billing.open_portal": ("POST", "/api/v1/billing/portal"),
}
