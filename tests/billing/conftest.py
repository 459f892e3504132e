"""Billing against local Stripe and Square servers (tests/fakes/), reached through the
official SDKs exactly as the real services would be.

`processors` points the running app's settings at them for one test (and puts them
back); `deliver_stripe` / `deliver_square` post events to the app's webhook endpoints
signed the way the processors sign them (Stripe's with the SDK's own signer)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from tests.fakes import square_server, stripe_server
from tests.fakes.square_server import SquareServer
from tests.fakes.stripe_server import StripeServer

STRIPE_WEBHOOK_SECRET = "whsec_test_verbatim_billing"
SQUARE_SIGNATURE_KEY = "square-signature-key-for-tests"
SQUARE_NOTIFICATION_URL = "https://verbatim.example/billing/webhooks/square"
PRICE_PRO = "price_verbatim_pro"
PRICE_BUSINESS = "price_verbatim_business"


@pytest.fixture(scope="session")
def stripe_fake() -> Iterator[StripeServer]:
    server = StripeServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def square_fake() -> Iterator[SquareServer]:
    server = SquareServer().start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Processors:
    app: Flask
    stripe: StripeServer
    square: SquareServer

    def deliver_stripe(
        self, event: dict[str, Any], *, timestamp: int | None = None, secret: str | None = None
    ) -> TestResponse:
        body = json.dumps(event)
        header = stripe_server.sign(body, secret or STRIPE_WEBHOOK_SECRET, timestamp)
        return self.post_stripe(body, header)

    def post_stripe(self, body: str | bytes, header: str | None) -> TestResponse:
        headers = {"Content-Type": "application/json"}
        if header is not None:
            headers["Stripe-Signature"] = header
        return self.app.test_client().post("/billing/webhooks/stripe", data=body, headers=headers)

    def deliver_square(self, event: dict[str, Any]) -> TestResponse:
        body = json.dumps(event)
        signature = square_server.sign(body, SQUARE_SIGNATURE_KEY, SQUARE_NOTIFICATION_URL)
        return self.post_square(body, signature)

    def post_square(self, body: str | bytes, signature: str | None) -> TestResponse:
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["X-Square-HmacSha256-Signature"] = signature
        return self.app.test_client().post("/billing/webhooks/square", data=body, headers=headers)


@pytest.fixture
def processors(
    app: Flask, stripe_fake: StripeServer, square_fake: SquareServer, monkeypatch
) -> Processors:
    cfg = app.extensions["verbatim.settings"]
    for name, value in {
        "stripe_secret_key": stripe_fake.api_key,
        "stripe_api_base": stripe_fake.url,
        "stripe_webhook_secret": STRIPE_WEBHOOK_SECRET,
        "stripe_price_pro": PRICE_PRO,
        "stripe_price_business": PRICE_BUSINESS,
        "square_access_token": square_fake.access_token,
        "square_base_url": square_fake.url,
        "square_location_id": next(iter(square_fake.locations)),
        "square_webhook_signature_key": SQUARE_SIGNATURE_KEY,
        "square_notification_url": SQUARE_NOTIFICATION_URL,
    }.items():
        monkeypatch.setattr(cfg, name, value)
    return Processors(app, stripe_fake, square_fake)
