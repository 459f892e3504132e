"""A local server speaking Stripe's REST wire format (API version 2026-10-28.endive), for
exercising billing through the official `stripe` SDK:
`stripe.StripeClient(key, base_addresses={"api": server.url})`. Nothing leaves the machine.

Wire format, as Stripe's: form-encoded bodies (and query strings) with bracket notation
(`a[b][0][c]=v`, `expand[]=x` or `expand[0]=x`; an empty value unsets metadata), JSON
answers, errors as {"error": {"type", "message", "param", "code"}} (plus doc_url when there
is a code). Every request needs `Authorization: Bearer <api_key>` (401 otherwise, the key
masked in the message as Stripe does). Unknown ids are 404 resource_missing; an id given as
a parameter that does not exist is 400 resource_missing with that param. Parameters the
fake does not know are refused with 400 parameter_unknown ("Received unknown parameter:
x"), even the real ones it does not model, so nothing is silently ignored. `expand`
works on every answer for any id-valued field (dotted paths, `data.` inside lists).
Idempotency-Key on POST (the SDK sends one on every POST): the same key on the same
endpoint with the same parameters replays the first answer byte for byte with
`Idempotent-Replayed: true`; other parameters or another endpoint is 400
idempotency_error. As at Stripe, only answers from requests that ran are kept: a
validation error is not replayed.

Endpoints:
- POST /v1/customers (name, email, description, phone, metadata), GET /v1/customers/{id}
- POST /v1/checkout/sessions: mode (payment|subscription; setup is refused), customer,
  customer_email, client_reference_id, success_url, cancel_url, metadata,
  subscription_data[metadata|description], payment_intent_data[metadata|description],
  line_items[i][price] + [quantity], or line_items[i][price_data][currency, unit_amount,
  product_data[name|description], recurring[interval|interval_count]] + [quantity].
  Validated as Stripe does: mode and line_items required, quantity required and >= 1,
  prices must exist (`server.prices`, all recurring monthly; price_data is one-time
  unless it has recurring), subscription mode needs a recurring price, payment mode
  refuses them, one currency per session, a given customer must exist.
  GET /v1/checkout/sessions/{id}, POST /v1/checkout/sessions/{id}/expire.
- POST /v1/billing_portal/sessions (customer required and known, return_url).
- GET /v1/subscriptions/{id}; POST /v1/subscriptions/{id}: items[i][id|price|quantity|
  deleted] (an item without id is added), proration_behavior (create_prorations, the
  default | none | always_invoice), cancel_at_period_end, metadata; DELETE cancels now.
  Prorations are computed on the time left in the period: create_prorations keeps them
  for the next renewal invoice, always_invoice bills them at once (a credit goes to the
  customer's balance, used by the next invoice). Every call is noted in
  `.proration_behaviors` as (subscription id, the value sent or None).
  Periods live on the items (current_period_start/end), as in API 2025+.
- GET /v1/payment_intents/{id} (expand[]=latest_charge embeds the charge),
  GET /v1/charges/{id}, GET /v1/invoices/{id}, GET /v1/prices/{id},
  GET /v1/invoice_payments?invoice=&payment[type]=&payment[payment_intent]=&status=&limit=
  &starting_after=, GET /v1/invoice_payments/{id}.
Invoices have parent {type "subscription_details", subscription_details {subscription,
metadata}} and lines with parent.subscription_item_details and pricing.price_details, as
in API 2025+ (no invoice.subscription, .payment_intent, .charge or .paid). Charges carry
payment_method_details (a card: visa 4242).

Test-side helpers (not HTTP) change state as Stripe would and return the webhook Events
Stripe would send (full Event objects: id evt_..., object "event", api_version
2026-10-28.endive, created, livemode false, pending_webhooks 1, request, type, data
{object, previous_attributes on updates}); `created=` (epoch seconds) sets both the event
time and the moment of the change:
- complete_checkout(session_id, method_type="card", *, created=None, email=..., name=...)
  -> [customer.subscription.created, invoice.paid, checkout.session.completed]
  (subscription mode) or [checkout.session.completed] (payment mode). A method_type
  other than "card" gives payment_method_details {type: X, X: {}}.
- expire_checkout(session_id, *, created=None) -> checkout.session.expired
- update_subscription(sub_id, *, quantity=None, price=None, status=None,
  cancel_at_period_end=None, created=None) -> customer.subscription.updated (first item;
  no proration)
- delete_subscription(sub_id, created=None) -> customer.subscription.deleted
- fail_payment(sub_id, *, created=None) -> [invoice.payment_failed,
  customer.subscription.updated (past_due)]: a failed renewal, so the period moves on as
  at Stripe; with an invoice already open, a failed retry: [invoice.payment_failed].
- pay_invoice(sub_id, *, created=None) -> [invoice.paid] + customer.subscription.updated
  when it was past_due.
- renew(sub_id, *, created=None) -> [customer.subscription.updated (periods moved on),
  invoice.paid], or [customer.subscription.deleted] when set to cancel at period end.
Misusing them (completing an expired session, paying with nothing open) is ValueError.
API calls that change state queue their events too (customer.created,
customer.subscription.updated / .deleted, invoice.paid on always_invoice,
checkout.session.expired), with request {id, idempotency_key} filled; `.events` lists every
event generated, in order.
`sign(payload, secret, timestamp=None)` is the Stripe-Signature header, made by the SDK's
own `stripe.WebhookSignature.generate_signature_header`; `signed(event, secret)` gives
(JSON body, header). `get(id)` / `of_type(kind)` return copies of stored objects;
`client()` is a StripeClient pointed here.

`.requests` records every request, refused ones included, as (method, path, params decoded
to nested dicts and lists with string leaves, Idempotency-Key or None).

Not modelled: setup mode, taxes, discounts, trials, payment_behavior, Connect, pagination
other than limit/starting_after on invoice_payments, `expand[]=payments` on invoices.
"""

from __future__ import annotations

import contextlib
import copy
import json
import secrets
import string
import threading
import time
from calendar import monthrange
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlsplit

import stripe

from tests.fakes.local_server import LocalServer

API_VERSION = "2026-10-28.endive"
DEFAULT_API_KEY = "sk_test_verbatim_fake_0000000000000000"
DEFAULT_PRICES: dict[str, dict[str, Any]] = {
    "price_verbatim_pro": {"unit_amount": 1200, "currency": "usd", "product_name": "Pro"},
    "price_verbatim_business": {
        "unit_amount": 2400,
        "currency": "usd",
        "product_name": "Business",
    },
}
ERROR_DOCS = "https://docs.stripe.com/error-codes/"
CARD = {"brand": "visa", "last4": "4242", "exp_month": 12, "funding": "credit", "country": "US"}
SESSION_LIFETIME = 24 * 3600
RETRY_AFTER = 3 * 24 * 3600  # Smart Retries' first retry, roughly
PRORATION_BEHAVIORS = ("create_prorations", "none", "always_invoice")
_ALNUM = string.ascii_letters + string.digits
TIMES = "\u00d7"  # the multiplication sign of Stripe's line descriptions: "2 (times) Pro"


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The Stripe-Signature header for `payload`, made by the SDK's own signer."""
    return stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp)


def signed(event: dict[str, Any], secret: str, timestamp: int | None = None) -> tuple[str, str]:
    """An event as Stripe posts it: (JSON body, Stripe-Signature header)."""
    payload = json.dumps(event)
    return payload, sign(payload, secret, timestamp)


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(length))


def _new_id(prefix: str, length: int = 24) -> str:
    return f"{prefix}_{_random(length)}"


def _now() -> int:
    return int(time.time())


def add_interval(ts: int, interval: str, count: int, anchor_day: int) -> int:
    """`ts` moved on by `count` intervals; months keep the anchor's day of month, clamped
    to the month's length (an anchor on the 31st bills on Feb 28), as Stripe does."""
    if interval == "day":
        return ts + 86400 * count
    if interval == "week":
        return ts + 7 * 86400 * count
    months = count * (12 if interval == "year" else 1)
    d = datetime.fromtimestamp(ts, UTC)
    index = d.month - 1 + months
    year, month = d.year + index // 12, index % 12 + 1
    day = min(anchor_day, monthrange(year, month)[1])
    return int(d.replace(year=year, month=month, day=day).timestamp())


# --- Parameters ----------------------------------------------------------------------------


def decode_params(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Form pairs in Stripe's bracket notation to nested dicts and lists: `a[b][0][c]=v`
    is {"a": {"b": [{"c": "v"}]}}; `a[]=x` appends. Keys under metadata stay keys."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        head, _, rest = key.partition("[")
        parts = [head, *(rest[:-1].split("][") if rest else [])]
        node = root
        for depth, part in enumerate(parts):
            name = part if part != "" else str(len(node))
            if depth == len(parts) - 1:
                node[name] = value
            else:
                child = node.get(name)
                if not isinstance(child, dict):
                    child = node[name] = {}
                node = child
    return _listify(root, None)


def _listify(value: Any, name: str | None) -> Any:
    if not isinstance(value, dict):
        return value
    out = {k: _listify(v, k) for k, v in value.items()}
    if name != "metadata" and out and all(k.isdigit() for k in out):
        return [out[k] for k in sorted(out, key=int)]
    return out


class StripeError(Exception):
    """An answer in Stripe's error shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        kind: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.kind = kind

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "type": self.kind,
            "message": self.message,
            "param": self.param,
            "code": self.code,
        }
        if self.code:
            error["doc_url"] = ERROR_DOCS + self.code.replace("_", "-")
        return {"error": error}


def _missing(param: str) -> StripeError:
    return StripeError(
        400, f"Missing required param: {param}.", code="parameter_missing", param=param
    )


def _invalid(param: str, message: str, code: str | None = None) -> StripeError:
    return StripeError(400, message, code=code, param=param)


def _no_such(kind: str, value: str, param: str) -> StripeError:
    return StripeError(400, f"No such {kind}: '{value}'", code="resource_missing", param=param)


# Accepted parameters. A str leaf is a scalar, "metadata" a metadata hash, a dict an
# object, a one-element list an array of that.
S = "scalar"
META = "metadata"
CUSTOMER_CREATE = {"name": S, "email": S, "description": S, "phone": S, "metadata": META}
CHECKOUT_CREATE = {
    "mode": S,
    "customer": S,
    "customer_email": S,
    "client_reference_id": S,
    "success_url": S,
    "cancel_url": S,
    "metadata": META,
    "subscription_data": {"metadata": META, "description": S},
    "payment_intent_data": {"metadata": META, "description": S},
    "line_items": [
        {
            "price": S,
            "quantity": S,
            "price_data": {
                "currency": S,
                "unit_amount": S,
                "product_data": {"name": S, "description": S},
                "recurring": {"interval": S, "interval_count": S},
            },
        }
    ],
}
PORTAL_CREATE = {"customer": S, "return_url": S}
SUBSCRIPTION_UPDATE = {
    "items": [{"id": S, "price": S, "quantity": S, "deleted": S}],
    "proration_behavior": S,
    "cancel_at_period_end": S,
    "metadata": META,
}
INVOICE_PAYMENT_LIST = {
    "invoice": S,
    "status": S,
    "limit": S,
    "starting_after": S,
    "payment": {"type": S, "payment_intent": S},
}


def check_params(params: dict[str, Any], schema: dict[str, Any], prefix: str = "") -> None:
    """Refuse what Stripe refuses: unknown parameters, objects where scalars belong, etc."""
    for key, value in params.items():
        path = f"{prefix}[{key}]" if prefix else key
        if key == "expand" and not prefix:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise _invalid("expand", "Invalid array", code="parameter_invalid_array")
            continue
        if key not in schema:
            raise StripeError(
                400, f"Received unknown parameter: {path}", code="parameter_unknown", param=path
            )
        rule = schema[key]
        if rule == S:
            if not isinstance(value, str):
                raise _invalid(path, f"Invalid string: {value!r}", code="parameter_invalid_string")
        elif rule == META:
            _check_metadata(value, path)
        elif isinstance(rule, list):
            if not isinstance(value, list):
                raise _invalid(path, "Invalid array", code="parameter_invalid_array")
            for i, item in enumerate(value):
                if not isinstance(item, dict):
                    raise _invalid(
                        f"{path}[{i}]", "Invalid object", code="parameter_invalid_object"
                    )
                check_params(item, rule[0], f"{path}[{i}]")
        elif not isinstance(value, dict):
            raise _invalid(path, "Invalid object", code="parameter_invalid_object")
        else:
            check_params(value, rule, path)


def _check_metadata(value: Any, path: str) -> None:
    if value == "":
        return  # metadata="" unsets every key
    if not isinstance(value, dict):
        raise _invalid(path, "Invalid object", code="parameter_invalid_object")
    if len(value) > 50:
        raise _invalid(path, "You can only specify up to 50 keys in metadata.")
    for key, item in value.items():
        if not isinstance(item, str):
            raise _invalid(
                f"{path}[{key}]", "Invalid string: {...}", code="parameter_invalid_string"
            )
        if len(key) > 40:
            raise _invalid(
                f"{path}[{key}]",
                f"Metadata keys can have up to 40 characters; `{key}` has {len(key)}.",
            )
        if len(item) > 500:
            raise _invalid(
                f"{path}[{key}]",
                f"Metadata values can have up to 500 characters, but you passed in a value "
                f"that is {len(item)} characters. Invalid value: {item[:40]}...",
            )


def _int(value: str, param: str, minimum: int = 0) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise _invalid(
            param, f"Invalid integer: {value}", code="parameter_invalid_integer"
        ) from None
    if number < minimum:
        raise _invalid(
            param,
            f"This value must be greater than or equal to {minimum}.",
            code="parameter_invalid_integer",
        )
    return number


def _bool(value: str, param: str) -> bool:
    if value not in ("true", "false"):
        raise _invalid(param, f"Invalid boolean: {value}", code="parameter_invalid_boolean")
    return value == "true"


def _merge_metadata(current: dict[str, str], given: Any) -> dict[str, str]:
    if given == "":
        return {}
    merged = dict(current)
    for key, value in given.items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


class SeenRequest(NamedTuple):
    method: str
    path: str
    params: dict[str, Any]
    idempotency_key: str | None


class _Ctx(NamedTuple):
    """The request an API call came in on, for the events it causes."""

    request_id: str | None
    idempotency_key: str | None


_HELPER = _Ctx(None, None)


# --- The server ----------------------------------------------------------------------------


class StripeServer(LocalServer):
    thread_name = "fake-stripe"

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        prices: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        # price id -> {"unit_amount", "currency", "product_name"}; recurring monthly.
        self.prices: dict[str, dict[str, Any]] = copy.deepcopy(
            DEFAULT_PRICES if prices is None else prices
        )
        self.lock = threading.RLock()
        self.requests: list[SeenRequest] = []
        self.events: list[dict[str, Any]] = []
        self.proration_behaviors: list[tuple[str, str | None]] = []
        self._objects: dict[str, dict[str, Any]] = {}
        self._session_lines: dict[str, list[dict[str, Any]]] = {}
        self._session_extra: dict[str, dict[str, Any]] = {}  # subscription/payment_intent_data
        self._products: dict[str, str] = {}  # configured price id -> product id
        self._pending: dict[str, list[dict[str, Any]]] = {}  # sub id -> proration lines
        self._methods: dict[str, str] = {}  # customer -> payment method type on file
        self._idempotent: dict[str, tuple[str, str, dict[str, Any], int, bytes]] = {}

    # --- Life -------------------------------------------------------------------------

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _Handler

    def client(self, **options: Any) -> stripe.StripeClient:
        """A StripeClient pointed at this server, with the right key."""
        options.setdefault("base_addresses", {"api": self.url})
        return stripe.StripeClient(options.pop("api_key", self.api_key), **options)

    # --- Reading state (for assertions) -------------------------------------------------

    def get(self, object_id: str) -> dict[str, Any]:
        """A copy of any object the fake holds, by id (KeyError if none)."""
        with self.lock:
            return copy.deepcopy(self._lookup_or_raise(object_id))

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        """Copies of every object of one type ("customer", "subscription", ...)."""
        with self.lock:
            return [copy.deepcopy(o) for o in self._objects.values() if o["object"] == kind]

    def _lookup(self, object_id: str) -> dict[str, Any] | None:
        found = self._objects.get(object_id)
        if found is None and object_id in self.prices:
            found = self._configured_price(object_id)
        return found

    def _lookup_or_raise(self, object_id: str) -> dict[str, Any]:
        found = self._lookup(object_id)
        if found is None:
            raise KeyError(object_id)
        return found

    def _fetch(self, object_id: str, kind: str) -> dict[str, Any]:
        """The object for an id in a URL, or Stripe's 404."""
        found = self._lookup(object_id)
        if found is None or found["object"] != kind:
            raise StripeError(
                404, f"No such {kind}: '{object_id}'", code="resource_missing", param="id"
            )
        return found

    # --- Building blocks --------------------------------------------------------------

    def _product(self, name: str, now: int, description: str | None = None) -> str:
        product_id = _new_id("prod", 14)
        self._objects[product_id] = {
            "id": product_id,
            "object": "product",
            "active": True,
            "created": now,
            "description": description,
            "livemode": False,
            "metadata": {},
            "name": name,
            "type": "service",
            "updated": now,
        }
        return product_id

    def _price_object(
        self,
        price_id: str,
        unit_amount: int,
        currency: str,
        product: str,
        recurring: tuple[str, int] | None,
        created: int,
    ) -> dict[str, Any]:
        return {
            "id": price_id,
            "object": "price",
            "active": True,
            "billing_scheme": "per_unit",
            "created": created,
            "currency": currency,
            "custom_unit_amount": None,
            "livemode": False,
            "lookup_key": None,
            "metadata": {},
            "nickname": None,
            "product": product,
            "recurring": None
            if recurring is None
            else {
                "interval": recurring[0],
                "interval_count": recurring[1],
                "meter": None,
                "trial_period_days": None,
                "usage_type": "licensed",
            },
            "tax_behavior": "unspecified",
            "tiers_mode": None,
            "transform_quantity": None,
            "type": "one_time" if recurring is None else "recurring",
            "unit_amount": unit_amount,
            "unit_amount_decimal": str(unit_amount),
        }

    def _configured_price(self, price_id: str) -> dict[str, Any]:
        spec = self.prices[price_id]
        if price_id not in self._products:
            self._products[price_id] = self._product(spec.get("product_name", price_id), 0)
        return self._price_object(
            price_id,
            int(spec["unit_amount"]),
            str(spec.get("currency", "usd")).lower(),
            self._products[price_id],
            ("month", 1),
            1700000000,
        )

    def _price(self, price_id: str) -> dict[str, Any] | None:
        found = self._lookup(price_id)
        return found if found is not None and found["object"] == "price" else None

    def _event(
        self,
        kind: str,
        obj: dict[str, Any],
        now: int,
        ctx: _Ctx = _HELPER,
        previous: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        data: dict[str, Any] = {"object": copy.deepcopy(obj)}
        if previous is not None:
            data["previous_attributes"] = copy.deepcopy(previous)
        event = {
            "id": _new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": now,
            "data": data,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": ctx.request_id, "idempotency_key": ctx.idempotency_key},
            "type": kind,
        }
        self.events.append(event)
        return copy.deepcopy(event)

    def _new_customer(
        self,
        now: int,
        *,
        name: str | None,
        email: str | None,
        description: str | None = None,
        phone: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        customer_id = _new_id("cus", 14)
        customer = {
            "id": customer_id,
            "object": "customer",
            "address": None,
            "balance": 0,
            "created": now,
            "currency": None,
            "default_source": None,
            "delinquent": False,
            "description": description,
            "email": email,
            "invoice_prefix": _random(8).upper(),
            "invoice_settings": {
                "custom_fields": None,
                "default_payment_method": None,
                "footer": None,
                "rendering_options": None,
            },
            "livemode": False,
            "metadata": metadata or {},
            "name": name,
            "next_invoice_sequence": 1,
            "phone": phone,
            "preferred_locales": [],
            "shipping": None,
            "tax_exempt": "none",
            "test_clock": None,
        }
        self._objects[customer_id] = customer
        return customer

    # --- HTTP: customers --------------------------------------------------------------

    def _create_customer(self, p: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        check_params(p, CUSTOMER_CREATE)
        now = _now()
        customer = self._new_customer(
            now,
            name=p.get("name"),
            email=p.get("email"),
            description=p.get("description"),
            phone=p.get("phone"),
            metadata=_merge_metadata({}, p.get("metadata", {})),
        )
        self._event("customer.created", customer, now, ctx)
        return customer

    # --- HTTP: checkout ---------------------------------------------------------------

    def _create_checkout(self, p: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        check_params(p, CHECKOUT_CREATE)
        mode = p.get("mode")
        if not mode:
            raise _missing("mode")
        if mode not in ("payment", "setup", "subscription"):
            raise _invalid("mode", "Invalid mode: must be one of payment, setup, or subscription")
        if mode == "setup":
            raise _invalid("mode", "setup mode is not implemented by this fake.")
        if mode == "payment" and "subscription_data" in p:
            raise _invalid(
                "subscription_data",
                "You can not pass `subscription_data` in `payment` mode.",
            )
        if mode == "subscription" and "payment_intent_data" in p:
            raise _invalid(
                "payment_intent_data",
                "You can not pass `payment_intent_data` in `subscription` mode.",
            )
        customer = p.get("customer")
        if customer is not None and self._find(customer, "customer") is None:
            raise _no_such("customer", customer, "customer")
        if customer is not None and "customer_email" in p:
            raise _invalid(
                "customer_email",
                "You may only specify one of these parameters: customer, customer_email.",
            )
        lines = p.get("line_items")
        if not lines:
            raise _missing("line_items")
        now = _now()
        resolved = [self._resolve_line(line, i, now) for i, line in enumerate(lines)]
        currencies = {line["price"]["currency"] for line in resolved}
        if len(currencies) > 1:
            raise _invalid(
                "line_items",
                "Checkout does not support multiple currencies; all prices must share one.",
            )
        recurring = [i for i, line in enumerate(resolved) if line["price"]["recurring"]]
        if mode == "subscription" and not recurring:
            raise _invalid(
                "line_items",
                "You must provide at least one recurring price in `subscription` mode when "
                "using prices.",
            )
        if mode == "payment" and recurring:
            raise _invalid(
                f"line_items[{recurring[0]}][price]",
                "You specified `payment` mode but passed a recurring price. Either switch to "
                "`subscription` mode or use only one-time prices.",
            )
        total = sum(line["amount_total"] for line in resolved)
        session_id = "cs_test_" + _random(58)
        session = {
            "id": session_id,
            "object": "checkout.session",
            "after_expiration": None,
            "allow_promotion_codes": None,
            "amount_subtotal": total,
            "amount_total": total,
            "automatic_tax": {"enabled": False, "liability": None, "status": None},
            "billing_address_collection": None,
            "cancel_url": p.get("cancel_url"),
            "client_reference_id": p.get("client_reference_id"),
            "client_secret": None,
            "created": now,
            "currency": currencies.pop(),
            "customer": customer,
            # Only payment mode has it; without a customer, none is made there.
            "customer_creation": "if_required" if mode == "payment" and not customer else None,
            "customer_details": None,
            "customer_email": p.get("customer_email"),
            "expires_at": now + SESSION_LIFETIME,
            "invoice": None,
            "livemode": False,
            "locale": None,
            "metadata": _merge_metadata({}, p.get("metadata", {})),
            "mode": mode,
            "payment_intent": None,
            "payment_link": None,
            "payment_method_collection": "always" if mode == "subscription" else None,
            "payment_method_types": ["card"],
            "payment_status": "unpaid",
            "recovered_from": None,
            "setup_intent": None,
            "status": "open",
            "submit_type": None,
            "subscription": None,
            "success_url": p.get("success_url"),
            "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
            "ui_mode": "hosted",
            "url": f"{self.url}/pay/{session_id}",
        }
        self._objects[session_id] = session
        self._session_lines[session_id] = resolved
        self._session_extra[session_id] = {
            "subscription_data": p.get("subscription_data", {}),
            "payment_intent_data": p.get("payment_intent_data", {}),
        }
        return session

    def _find(self, object_id: str, kind: str) -> dict[str, Any] | None:
        found = self._lookup(object_id)
        return found if found is not None and found["object"] == kind else None

    def _resolve_line(self, line: dict[str, Any], i: int, now: int) -> dict[str, Any]:
        base = f"line_items[{i}]"
        if "quantity" not in line:
            raise _missing(f"{base}[quantity]")
        quantity = _int(line["quantity"], f"{base}[quantity]", minimum=1)
        if "price" in line and "price_data" in line:
            raise _invalid(base, "You may only specify one of these parameters: price, price_data.")
        if "price" in line:
            price = self._price(line["price"])
            if price is None:
                raise _no_such("price", line["price"], f"{base}[price]")
        elif "price_data" in line:
            price = self._inline_price(line["price_data"], f"{base}[price_data]", now)
        else:
            raise _invalid(base, f"You must specify either `price` or `price_data` in `{base}`.")
        return {
            "price": copy.deepcopy(price),
            "quantity": quantity,
            "amount_total": price["unit_amount"] * quantity,
        }

    def _inline_price(self, data: dict[str, Any], base: str, now: int) -> dict[str, Any]:
        for name in ("currency", "unit_amount"):
            if name not in data:
                raise _missing(f"{base}[{name}]")
        if "product_data" not in data:
            raise _missing(f"{base}[product_data]")
        if "name" not in data["product_data"]:
            raise _missing(f"{base}[product_data][name]")
        amount = _int(data["unit_amount"], f"{base}[unit_amount]")
        recurring = None
        if "recurring" in data:
            interval = data["recurring"].get("interval")
            if interval is None:
                raise _missing(f"{base}[recurring][interval]")
            if interval not in ("day", "week", "month", "year"):
                raise _invalid(
                    f"{base}[recurring][interval]",
                    f"Invalid {base}[recurring][interval]: must be one of day, month, week, "
                    "or year",
                )
            count = _int(
                data["recurring"].get("interval_count", "1"),
                f"{base}[recurring][interval_count]",
                minimum=1,
            )
            recurring = (interval, count)
        product = self._product(
            data["product_data"]["name"], now, data["product_data"].get("description")
        )
        price = self._price_object(
            _new_id("price"), amount, data["currency"].lower(), product, recurring, now
        )
        price["active"] = False  # Stripe archives prices made inline
        self._objects[price["id"]] = price
        return price

    def _expire_session(self, session: dict[str, Any], now: int, ctx: _Ctx) -> dict[str, Any]:
        if session["status"] != "open":
            raise StripeError(
                400,
                f'Only Checkout Sessions with a status in ["open"] can be expired. This '
                f'Checkout Session has a status of "{session["status"]}".',
                param="session",
            )
        session["status"] = "expired"
        session["url"] = None
        return self._event("checkout.session.expired", session, now, ctx)

    # --- HTTP: billing portal ---------------------------------------------------------

    def _create_portal(self, p: dict[str, Any]) -> dict[str, Any]:
        check_params(p, PORTAL_CREATE)
        customer = p.get("customer")
        if not customer:
            raise _missing("customer")
        if self._find(customer, "customer") is None:
            raise _no_such("customer", customer, "customer")
        portal_id = _new_id("bps")
        portal = {
            "id": portal_id,
            "object": "billing_portal.session",
            "configuration": "bpc_fakedefaultconfiguration",
            "created": _now(),
            "customer": customer,
            "flow": None,
            "livemode": False,
            "locale": None,
            "on_behalf_of": None,
            "return_url": p.get("return_url"),
            "url": f"{self.url}/billing_portal/{portal_id}",
        }
        self._objects[portal_id] = portal
        return portal

    # --- Subscriptions ----------------------------------------------------------------

    def _item(
        self, sub_id: str, price: dict[str, Any], quantity: int, start: int, end: int, now: int
    ) -> dict[str, Any]:
        return {
            "id": _new_id("si", 14),
            "object": "subscription_item",
            "billing_thresholds": None,
            "created": now,
            "current_period_end": end,
            "current_period_start": start,
            "discounts": [],
            "metadata": {},
            "price": copy.deepcopy(price),
            "quantity": quantity,
            "subscription": sub_id,
            "tax_rates": [],
        }

    @staticmethod
    def _items_amount(sub: dict[str, Any]) -> int:
        return sum(i["price"]["unit_amount"] * i["quantity"] for i in sub["items"]["data"])

    def _sub_line(
        self,
        sub: dict[str, Any],
        item: dict[str, Any],
        amount: int,
        *,
        proration: bool,
        start: int,
        end: int,
        description: str,
        quantity: int | None = None,
    ) -> dict[str, Any]:
        price = item["price"]
        return {
            "id": _new_id("il"),
            "object": "line_item",
            "amount": amount,
            "currency": price["currency"],
            "description": description,
            "discount_amounts": [],
            "discountable": not proration,
            "discounts": [],
            "invoice": None,
            "livemode": False,
            "metadata": {},
            "parent": {
                "type": "subscription_item_details",
                "invoice_item_details": None,
                "subscription_item_details": {
                    "invoice_item": None,
                    "proration": proration,
                    "proration_details": {"credited_items": None},
                    "subscription": sub["id"],
                    "subscription_item": item["id"],
                },
            },
            "period": {"end": end, "start": start},
            "pretax_credit_amounts": [],
            "pricing": {
                "type": "price_details",
                "price_details": {"price": price["id"], "product": price["product"]},
                "unit_amount_decimal": price["unit_amount_decimal"],
            },
            "quantity": item["quantity"] if quantity is None else quantity,
            "subscription": sub["id"],
            "taxes": [],
        }

    def _period_lines(self, sub: dict[str, Any]) -> list[dict[str, Any]]:
        lines = []
        for item in sub["items"]["data"]:
            name = self._product_name(item["price"]["product"])
            amount = item["price"]["unit_amount"] * item["quantity"]
            lines.append(
                self._sub_line(
                    sub,
                    item,
                    amount,
                    proration=False,
                    start=item["current_period_start"],
                    end=item["current_period_end"],
                    description=f"{item['quantity']} {TIMES} {name} (at "
                    f"{_money(item['price']['unit_amount'], item['price']['currency'])} / "
                    f"{item['price']['recurring']['interval']})",
                )
            )
        return lines

    def _product_name(self, product_id: str) -> str:
        product = self._objects.get(product_id)
        return product["name"] if product else product_id

    def _new_subscription(
        self, session: dict[str, Any], customer: str, lines: list[dict[str, Any]], now: int
    ) -> dict[str, Any]:
        sub_id = _new_id("sub")
        anchor_day = datetime.fromtimestamp(now, UTC).day
        items = []
        for line in lines:
            price = line["price"]
            if price["recurring"] is None:
                continue
            end = add_interval(
                now,
                price["recurring"]["interval"],
                price["recurring"]["interval_count"],
                anchor_day,
            )
            items.append(self._item(sub_id, price, line["quantity"], now, end, now))
        extra = self._session_extra[session["id"]]["subscription_data"]
        sub = {
            "id": sub_id,
            "object": "subscription",
            "application": None,
            "application_fee_percent": None,
            "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
            "billing_cycle_anchor": now,
            "billing_cycle_anchor_config": None,
            "billing_mode": {"type": "flexible", "flexible": {"proration_discounts": "included"}},
            "billing_thresholds": None,
            "cancel_at": None,
            "cancel_at_period_end": False,
            "canceled_at": None,
            "cancellation_details": {"comment": None, "feedback": None, "reason": None},
            "collection_method": "charge_automatically",
            "created": now,
            "currency": session["currency"],
            "customer": customer,
            "days_until_due": None,
            "default_payment_method": None,
            "default_source": None,
            "default_tax_rates": [],
            "description": extra.get("description"),
            "discounts": [],
            "ended_at": None,
            "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
            "items": {
                "object": "list",
                "data": items,
                "has_more": False,
                "total_count": len(items),
                "url": f"/v1/subscription_items?subscription={sub_id}",
            },
            "latest_invoice": None,
            "livemode": False,
            "metadata": _merge_metadata({}, extra.get("metadata", {})),
            "next_pending_invoice_item_invoice": None,
            "on_behalf_of": None,
            "pause_collection": None,
            "payment_settings": {
                "payment_method_options": None,
                "payment_method_types": None,
                "save_default_payment_method": "off",
            },
            "pending_invoice_item_interval": None,
            "pending_setup_intent": None,
            "pending_update": None,
            "schedule": None,
            "start_date": now,
            "status": "active",
            "test_clock": None,
            "transfer_data": None,
            "trial_end": None,
            "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
            "trial_start": None,
        }
        self._objects[sub_id] = sub
        return sub

    def _update_subscription_api(
        self, sub: dict[str, Any], p: dict[str, Any], ctx: _Ctx
    ) -> dict[str, Any]:
        check_params(p, SUBSCRIPTION_UPDATE)
        behavior = p.get("proration_behavior")
        if behavior is not None and behavior not in PRORATION_BEHAVIORS:
            raise _invalid(
                "proration_behavior",
                "Invalid proration_behavior: must be one of always_invoice, create_prorations, "
                "or none",
            )
        if sub["status"] in ("canceled", "incomplete_expired") and set(p) - {"metadata"}:
            raise StripeError(
                400,
                "A canceled subscription can only update its cancellation_details and metadata.",
            )
        now = _now()
        before = copy.deepcopy(sub)
        old_amount = self._items_amount(sub)
        if "items" in p:
            self._apply_items(sub, p["items"], now)
        if "cancel_at_period_end" in p:
            self._set_cancel_at_period_end(
                sub, _bool(p["cancel_at_period_end"], "cancel_at_period_end"), now
            )
        if "metadata" in p:
            sub["metadata"] = _merge_metadata(sub["metadata"], p["metadata"])
        self.proration_behaviors.append((sub["id"], behavior))
        previous = _changed(before, sub)
        if previous:
            self._event("customer.subscription.updated", sub, now, ctx, previous)
        if "items" in p and (behavior or "create_prorations") != "none":
            self._prorate(sub, before, old_amount, behavior or "create_prorations", now, ctx)
        return sub

    def _apply_items(self, sub: dict[str, Any], given: list[dict[str, Any]], now: int) -> None:
        data = sub["items"]["data"]
        first = data[0] if data else None
        for i, change in enumerate(given):
            base = f"items[{i}]"
            item = None
            if "id" in change:
                item = next((x for x in data if x["id"] == change["id"]), None)
                if item is None:
                    raise _no_such("subscription_item", change["id"], f"{base}[id]")
            if "deleted" in change and _bool(change["deleted"], f"{base}[deleted]"):
                if item is None:
                    raise _missing(f"{base}[id]")
                data.remove(item)
                continue
            price = None
            if "price" in change:
                price = self._price(change["price"])
                if price is None:
                    raise _no_such("price", change["price"], f"{base}[price]")
                if price["recurring"] is None:
                    raise _invalid(
                        f"{base}[price]",
                        "The price specified is set to `type=one_time` but this field only "
                        "accepts prices with `type=recurring`.",
                    )
                if price["currency"] != sub["currency"]:
                    raise _invalid(
                        f"{base}[price]",
                        "The price specified has a different currency from the subscription.",
                    )
            quantity = None
            if "quantity" in change:
                quantity = _int(change["quantity"], f"{base}[quantity]")
            if item is None:
                if price is None:
                    raise _missing(f"{base}[price]")
                start = first["current_period_start"] if first else now
                end = first["current_period_end"] if first else now
                data.append(
                    self._item(
                        sub["id"], price, 1 if quantity is None else quantity, start, end, now
                    )
                )
                continue
            if price is not None:
                item["price"] = copy.deepcopy(price)
            if quantity is not None:
                item["quantity"] = quantity
        if not data:
            raise _invalid("items", "A subscription must have at least one active item.")
        sub["items"]["total_count"] = len(data)

    def _prorate(
        self,
        sub: dict[str, Any],
        before: dict[str, Any],
        old_amount: int,
        behavior: str,
        now: int,
        ctx: _Ctx,
    ) -> None:
        item = sub["items"]["data"][0]
        start, end = item["current_period_start"], item["current_period_end"]
        if end <= start or now >= end:
            return
        fraction = (end - now) / (end - start)
        lines = []
        old_items = {x["id"]: x for x in before["items"]["data"]}
        for new in sub["items"]["data"]:
            old = old_items.pop(new["id"], None)
            lines += self._proration_lines(sub, old, new, fraction, now, end)
        for old in old_items.values():  # deleted items are credited
            lines += self._proration_lines(sub, old, None, fraction, now, end)
        if not lines:
            return
        if behavior == "create_prorations":
            self._pending.setdefault(sub["id"], []).extend(lines)
            return
        invoice = self._new_invoice(sub, lines, "subscription_update", now)
        sub["latest_invoice"] = invoice["id"]
        if self._pay(invoice, succeed=True, now=now):
            self._event("invoice.paid", invoice, now, ctx)

    def _proration_lines(
        self,
        sub: dict[str, Any],
        old: dict[str, Any] | None,
        new: dict[str, Any] | None,
        fraction: float,
        now: int,
        end: int,
    ) -> list[dict[str, Any]]:
        def amount(x: dict[str, Any] | None) -> int:
            return x["price"]["unit_amount"] * x["quantity"] if x else 0

        if (
            old is not None
            and new is not None
            and (amount(old), old["price"]["id"]) == (amount(new), new["price"]["id"])
        ):
            return []
        lines = []
        if old is not None and amount(old):
            name = self._product_name(old["price"]["product"])
            credit = -round(amount(old) * fraction)
            lines.append(
                self._sub_line(
                    sub,
                    old,
                    credit,
                    proration=True,
                    start=now,
                    end=end,
                    description=f"Unused time on {old['quantity']} {TIMES} {name}",
                    quantity=old["quantity"],
                )
            )
        if new is not None and amount(new):
            name = self._product_name(new["price"]["product"])
            lines.append(
                self._sub_line(
                    sub,
                    new,
                    round(amount(new) * fraction),
                    proration=True,
                    start=now,
                    end=end,
                    description=f"Remaining time on {new['quantity']} {TIMES} {name}",
                )
            )
        return lines

    def _set_cancel_at_period_end(self, sub: dict[str, Any], value: bool, now: int) -> None:
        sub["cancel_at_period_end"] = value
        if value:
            sub["cancel_at"] = min(i["current_period_end"] for i in sub["items"]["data"])
            sub["canceled_at"] = now
            sub["cancellation_details"]["reason"] = "cancellation_requested"
        else:
            sub["cancel_at"] = None
            sub["canceled_at"] = None
            sub["cancellation_details"]["reason"] = None

    def _end_subscription(self, sub: dict[str, Any], now: int, ctx: _Ctx) -> dict[str, Any]:
        sub["status"] = "canceled"
        sub["ended_at"] = now
        sub["canceled_at"] = sub["canceled_at"] or now
        sub["cancellation_details"]["reason"] = (
            sub["cancellation_details"]["reason"] or "cancellation_requested"
        )
        for invoice in self._open_invoices(sub["id"]):
            invoice["status"] = "void"
            invoice["status_transitions"]["voided_at"] = now
            invoice["next_payment_attempt"] = None
        return self._event("customer.subscription.deleted", sub, now, ctx)

    def _advance_period(self, sub: dict[str, Any]) -> None:
        anchor_day = datetime.fromtimestamp(sub["billing_cycle_anchor"], UTC).day
        for item in sub["items"]["data"]:
            recurring = item["price"]["recurring"]
            start = item["current_period_end"]
            item["current_period_start"] = start
            item["current_period_end"] = add_interval(
                start, recurring["interval"], recurring["interval_count"], anchor_day
            )

    def _open_invoices(self, sub_id: str) -> list[dict[str, Any]]:
        return [
            o
            for o in self._objects.values()
            if o["object"] == "invoice"
            and o["status"] == "open"
            and o["parent"]["subscription_details"]["subscription"] == sub_id
        ]

    # --- Invoices and payments --------------------------------------------------------

    def _new_invoice(
        self, sub: dict[str, Any], lines: list[dict[str, Any]], reason: str, now: int
    ) -> dict[str, Any]:
        customer = self._objects[sub["customer"]]
        invoice_id = _new_id("in")
        subtotal = sum(line["amount"] for line in lines)
        starting = customer["balance"]
        amount_due = max(subtotal + starting, 0)
        ending = subtotal + starting - amount_due
        customer["balance"] = ending
        number = f"{customer['invoice_prefix']}-{customer['next_invoice_sequence']:04d}"
        customer["next_invoice_sequence"] += 1
        for line in lines:
            line["invoice"] = invoice_id
        periods = [line["period"] for line in lines] or [{"start": now, "end": now}]
        invoice = {
            "id": invoice_id,
            "object": "invoice",
            "account_country": "US",
            "account_name": "Verbatim (test)",
            "amount_due": amount_due,
            "amount_overpaid": 0,
            "amount_paid": 0,
            "amount_remaining": amount_due,
            "amount_shipping": 0,
            "application": None,
            "attempt_count": 0,
            "attempted": False,
            "auto_advance": True,
            "automatic_tax": {"enabled": False, "liability": None, "status": None},
            "billing_reason": reason,
            "collection_method": "charge_automatically",
            "created": now,
            "currency": sub["currency"],
            "customer": customer["id"],
            "customer_email": customer["email"],
            "customer_name": customer["name"],
            "default_payment_method": None,
            "description": None,
            "discounts": [],
            "due_date": None,
            "effective_at": now,
            "ending_balance": ending,
            "hosted_invoice_url": f"{self.url}/invoice/{invoice_id}",
            "invoice_pdf": f"{self.url}/invoice/{invoice_id}/pdf",
            "issuer": {"type": "self"},
            "last_finalization_error": None,
            "lines": {
                "object": "list",
                "data": lines,
                "has_more": False,
                "total_count": len(lines),
                "url": f"/v1/invoices/{invoice_id}/lines",
            },
            "livemode": False,
            "metadata": {},
            "next_payment_attempt": None,
            "number": number,
            "parent": {
                "type": "subscription_details",
                "quote_details": None,
                "subscription_details": {
                    "metadata": copy.deepcopy(sub["metadata"]),
                    "subscription": sub["id"],
                },
            },
            "period_end": max(p["end"] for p in periods),
            "period_start": min(p["start"] for p in periods),
            "receipt_number": None,
            "starting_balance": starting,
            "status": "open",
            "status_transitions": {
                "finalized_at": now,
                "marked_uncollectible_at": None,
                "paid_at": None,
                "voided_at": None,
            },
            "subtotal": subtotal,
            "subtotal_excluding_tax": subtotal,
            "total": subtotal,
            "total_discount_amounts": [],
            "total_excluding_tax": subtotal,
            "total_taxes": [],
            "webhooks_delivered_at": now,
        }
        self._objects[invoice_id] = invoice
        return invoice

    def _pay(self, invoice: dict[str, Any], *, succeed: bool, now: int) -> bool:
        """Attempt the invoice's payment with the customer's method on file; True if paid."""
        invoice["attempted"] = True
        if invoice["amount_due"] == 0:
            self._mark_paid(invoice, now)
            return True
        invoice["attempt_count"] += 1
        intent = self._invoice_intent(invoice, now)
        method = self._methods.get(invoice["customer"], "card")
        charge = self._charge(intent, method, now, succeed=succeed)
        intent["latest_charge"] = charge["id"]
        payment = next(
            o
            for o in self._objects.values()
            if o["object"] == "invoice_payment" and o["payment"]["payment_intent"] == intent["id"]
        )
        if succeed:
            intent["status"] = "succeeded"
            intent["amount_received"] = intent["amount"]
            intent["last_payment_error"] = None
            payment["status"] = "paid"
            payment["amount_paid"] = invoice["amount_due"]
            payment["status_transitions"]["paid_at"] = now
            self._mark_paid(invoice, now)
            return True
        intent["status"] = "requires_payment_method"
        intent["last_payment_error"] = {
            "charge": charge["id"],
            "code": "card_declined",
            "decline_code": "generic_decline",
            "message": "Your card was declined.",
            "type": "card_error",
        }
        invoice["next_payment_attempt"] = now + RETRY_AFTER
        return False

    def _mark_paid(self, invoice: dict[str, Any], now: int) -> None:
        invoice["status"] = "paid"
        invoice["amount_paid"] = invoice["amount_due"]
        invoice["amount_remaining"] = 0
        invoice["next_payment_attempt"] = None
        invoice["status_transitions"]["paid_at"] = now
        invoice["receipt_number"] = invoice["receipt_number"] or _random(4) + "-" + _random(4)

    def _invoice_intent(self, invoice: dict[str, Any], now: int) -> dict[str, Any]:
        for o in self._objects.values():
            if o["object"] == "invoice_payment" and o["invoice"] == invoice["id"]:
                return self._objects[o["payment"]["payment_intent"]]
        description = {
            "subscription_create": "Subscription creation",
            "subscription_cycle": "Subscription cycle",
            "subscription_update": "Subscription update",
        }.get(invoice["billing_reason"], "Invoice")
        intent = self._intent(
            invoice["amount_due"],
            invoice["currency"],
            invoice["customer"],
            {},
            description,
            self._methods.get(invoice["customer"], "card"),
            now,
        )
        payment_id = _new_id("inpay")
        self._objects[payment_id] = {
            "id": payment_id,
            "object": "invoice_payment",
            "amount_paid": None,
            "amount_requested": invoice["amount_due"],
            "created": now,
            "currency": invoice["currency"],
            "invoice": invoice["id"],
            "is_default": True,
            "livemode": False,
            "payment": {"type": "payment_intent", "payment_intent": intent["id"]},
            "status": "open",
            "status_transitions": {"canceled_at": None, "paid_at": None},
        }
        return intent

    def _intent(
        self,
        amount: int,
        currency: str,
        customer: str | None,
        metadata: dict[str, str],
        description: str | None,
        method: str,
        now: int,
    ) -> dict[str, Any]:
        intent_id = _new_id("pi")
        intent = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_details": {"tip": {}},
            "amount_received": 0,
            "application": None,
            "application_fee_amount": None,
            "automatic_payment_methods": None,
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": "automatic_async",
            "client_secret": f"{intent_id}_secret_{_random(25)}",
            "confirmation_method": "automatic",
            "created": now,
            "currency": currency,
            "customer": customer,
            "description": description,
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": metadata,
            "next_action": None,
            "on_behalf_of": None,
            "payment_method": _new_id("pm"),
            "payment_method_options": {},
            "payment_method_types": [method],
            "processing": None,
            "receipt_email": None,
            "setup_future_usage": None,
            "shipping": None,
            "statement_descriptor": None,
            "statement_descriptor_suffix": None,
            "status": "requires_payment_method",
            "transfer_data": None,
            "transfer_group": None,
        }
        self._objects[intent_id] = intent
        return intent

    def _charge(
        self, intent: dict[str, Any], method: str, now: int, *, succeed: bool = True
    ) -> dict[str, Any]:
        charge_id = _new_id("ch")
        details: dict[str, Any] = {"type": method}
        if method == "card":
            year = datetime.fromtimestamp(now, UTC).year + 3
            details["card"] = {
                **CARD,
                "exp_year": year,
                "checks": {
                    "address_line1_check": None,
                    "address_postal_code_check": "pass",
                    "cvc_check": "pass",
                },
                "fingerprint": "FakeFingerprint0",
                "network": "visa",
                "three_d_secure": None,
                "wallet": None,
            }
        else:
            details[method] = {}
        outcome = (
            {
                "network_status": "approved_by_network",
                "reason": None,
                "risk_level": "normal",
                "seller_message": "Payment complete.",
                "type": "authorized",
            }
            if succeed
            else {
                "network_status": "declined_by_network",
                "reason": "generic_decline",
                "risk_level": "normal",
                "seller_message": "The bank did not return any further details with this decline.",
                "type": "issuer_declined",
            }
        )
        charge = {
            "id": charge_id,
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": intent["amount"] if succeed else 0,
            "amount_refunded": 0,
            "application": None,
            "balance_transaction": _new_id("txn") if succeed else None,
            "billing_details": {"address": None, "email": None, "name": None, "phone": None},
            "calculated_statement_descriptor": "VERBATIM",
            "captured": succeed,
            "created": now,
            "currency": intent["currency"],
            "customer": intent["customer"],
            "description": intent["description"],
            "disputed": False,
            "failure_code": None if succeed else "card_declined",
            "failure_message": None if succeed else "Your card was declined.",
            "livemode": False,
            "metadata": {},
            "outcome": outcome,
            "paid": succeed,
            "payment_intent": intent["id"],
            "payment_method": intent["payment_method"],
            "payment_method_details": details,
            "receipt_email": None,
            "receipt_number": None,
            "receipt_url": f"{self.url}/receipts/{charge_id}",
            "refunded": False,
            "status": "succeeded" if succeed else "failed",
        }
        self._objects[charge_id] = charge
        return charge

    # --- Test-side helpers: what customers and Stripe do ------------------------------

    def complete_checkout(
        self,
        session_id: str,
        method_type: str = "card",
        *,
        created: int | None = None,
        email: str = "buyer@example.com",
        name: str = "Test Buyer",
    ) -> list[dict[str, Any]]:
        """The buyer pays on the hosted page. Subscription mode: the customer (made if the
        session had none), the subscription, its first invoice, paid; events
        customer.subscription.created, invoice.paid, checkout.session.completed. Payment
        mode: a payment intent and its charge; event checkout.session.completed."""
        with self.lock:
            session = self._objects[session_id]
            if session["status"] != "open":
                raise ValueError(f"{session_id} is {session['status']}, not open")
            now = created or _now()
            lines = self._session_lines[session_id]
            customer_id = session["customer"]
            if customer_id is None and session["mode"] == "subscription":
                customer_id = self._new_customer(
                    now, name=name, email=session["customer_email"] or email
                )["id"]
            if customer_id is not None:
                self._methods[customer_id] = method_type
                customer = self._objects[customer_id]
                email, name = customer["email"] or email, customer["name"] or name
            session["customer"] = customer_id
            session["customer_details"] = {
                "address": None,
                "email": session["customer_email"] or email,
                "name": name,
                "phone": None,
                "tax_exempt": "none",
                "tax_ids": [],
            }
            session["status"] = "complete"
            session["payment_status"] = "paid"
            session["url"] = None
            events = []
            if session["mode"] == "subscription":
                assert customer_id is not None
                sub = self._new_subscription(session, customer_id, lines, now)
                invoice_lines = self._period_lines(sub)
                for line in lines:
                    if line["price"]["recurring"] is None:
                        invoice_lines.append(self._one_time_line(line, now))
                invoice = self._new_invoice(sub, invoice_lines, "subscription_create", now)
                self._pay(invoice, succeed=True, now=now)
                if invoice["amount_due"]:
                    intent = self._invoice_intent(invoice, now)
                    sub["default_payment_method"] = intent["payment_method"]
                sub["latest_invoice"] = invoice["id"]
                session["subscription"] = sub["id"]
                session["invoice"] = invoice["id"]
                events.append(self._event("customer.subscription.created", sub, now))
                events.append(self._event("invoice.paid", invoice, now))
            else:
                extra = self._session_extra[session_id]["payment_intent_data"]
                intent = self._intent(
                    session["amount_total"],
                    session["currency"],
                    customer_id,
                    _merge_metadata({}, extra.get("metadata", {})),
                    extra.get("description"),
                    method_type,
                    now,
                )
                charge = self._charge(intent, method_type, now)
                intent["latest_charge"] = charge["id"]
                intent["status"] = "succeeded"
                intent["amount_received"] = intent["amount"]
                session["payment_intent"] = intent["id"]
            events.append(self._event("checkout.session.completed", session, now))
            return events

    def _one_time_line(self, line: dict[str, Any], now: int) -> dict[str, Any]:
        price = line["price"]
        return {
            "id": _new_id("il"),
            "object": "line_item",
            "amount": line["amount_total"],
            "currency": price["currency"],
            "description": self._product_name(price["product"]),
            "discount_amounts": [],
            "discountable": True,
            "discounts": [],
            "invoice": None,
            "livemode": False,
            "metadata": {},
            "parent": {
                "type": "invoice_item_details",
                "invoice_item_details": {
                    "invoice_item": _new_id("ii"),
                    "proration": False,
                    "proration_details": {"credited_items": None},
                    "subscription": None,
                },
                "subscription_item_details": None,
            },
            "period": {"end": now, "start": now},
            "pretax_credit_amounts": [],
            "pricing": {
                "type": "price_details",
                "price_details": {"price": price["id"], "product": price["product"]},
                "unit_amount_decimal": price["unit_amount_decimal"],
            },
            "quantity": line["quantity"],
            "subscription": None,
            "taxes": [],
        }

    def expire_checkout(self, session_id: str, *, created: int | None = None) -> dict[str, Any]:
        """The session runs out (24 hours pass): checkout.session.expired."""
        with self.lock:
            session = self._objects[session_id]
            try:
                return self._expire_session(session, created or _now(), _HELPER)
            except StripeError as exc:
                raise ValueError(exc.message) from None

    def update_subscription(
        self,
        sub_id: str,
        *,
        quantity: int | None = None,
        price: str | None = None,
        status: str | None = None,
        cancel_at_period_end: bool | None = None,
        created: int | None = None,
    ) -> dict[str, Any]:
        """A change made elsewhere (the Dashboard, the customer portal, dunning):
        customer.subscription.updated with previous_attributes. Quantity and price apply
        to the first item; no proration is made."""
        with self.lock:
            sub = self._objects[sub_id]
            now = created or _now()
            before = copy.deepcopy(sub)
            item = sub["items"]["data"][0]
            if quantity is not None:
                item["quantity"] = quantity
            if price is not None:
                found = self._price(price)
                if found is None:
                    raise KeyError(price)
                item["price"] = copy.deepcopy(found)
            if status is not None:
                sub["status"] = status
            if cancel_at_period_end is not None:
                self._set_cancel_at_period_end(sub, cancel_at_period_end, now)
            return self._event(
                "customer.subscription.updated", sub, now, previous=_changed(before, sub)
            )

    def delete_subscription(self, sub_id: str, created: int | None = None) -> dict[str, Any]:
        """The subscription ends now: customer.subscription.deleted (status canceled)."""
        with self.lock:
            return self._end_subscription(self._objects[sub_id], created or _now(), _HELPER)

    def fail_payment(self, sub_id: str, *, created: int | None = None) -> list[dict[str, Any]]:
        """A renewal whose payment fails: the period moves on (as at Stripe), a new invoice
        stays open (attempt_count 1, amount_due), the subscription goes past_due. Events:
        invoice.payment_failed, customer.subscription.updated. With an open invoice
        already, it is a failed retry instead: invoice.payment_failed alone."""
        with self.lock:
            sub = self._objects[sub_id]
            now = created or _now()
            open_invoices = self._open_invoices(sub_id)
            if open_invoices:
                invoice = open_invoices[-1]
                self._pay(invoice, succeed=False, now=now)
                return [self._event("invoice.payment_failed", invoice, now)]
            before = copy.deepcopy(sub)
            invoice = self._cycle_invoice(sub, now)
            if self._pay(invoice, succeed=False, now=now):
                raise ValueError("nothing to pay: the renewal invoice is for 0")
            sub["status"] = "past_due"
            return [
                self._event("invoice.payment_failed", invoice, now),
                self._event(
                    "customer.subscription.updated", sub, now, previous=_changed(before, sub)
                ),
            ]

    def pay_invoice(self, sub_id: str, *, created: int | None = None) -> list[dict[str, Any]]:
        """The open invoice is paid (a retry succeeds): invoice.paid, then
        customer.subscription.updated if the subscription was past_due (now active)."""
        with self.lock:
            sub = self._objects[sub_id]
            now = created or _now()
            open_invoices = self._open_invoices(sub_id)
            if not open_invoices:
                raise ValueError(f"{sub_id} has no open invoice")
            invoice = open_invoices[-1]
            before = copy.deepcopy(sub)
            self._pay(invoice, succeed=True, now=now)
            events = [self._event("invoice.paid", invoice, now)]
            if sub["status"] in ("past_due", "unpaid", "incomplete"):
                sub["status"] = "active"
                events.append(
                    self._event(
                        "customer.subscription.updated", sub, now, previous=_changed(before, sub)
                    )
                )
            return events

    def renew(self, sub_id: str, *, created: int | None = None) -> list[dict[str, Any]]:
        """The period ends and the next one is paid: customer.subscription.updated (the
        items' periods move on; status back to active if it was past_due), invoice.paid.
        A subscription set to cancel at period end ends instead:
        customer.subscription.deleted."""
        with self.lock:
            sub = self._objects[sub_id]
            now = created or _now()
            if sub["status"] == "canceled":
                raise ValueError(f"{sub_id} is canceled")
            if self._open_invoices(sub_id):
                raise ValueError(f"{sub_id} has an open invoice: pay_invoice() it first")
            if sub["cancel_at_period_end"]:
                return [self._end_subscription(sub, now, _HELPER)]
            before = copy.deepcopy(sub)
            invoice = self._cycle_invoice(sub, now)
            self._pay(invoice, succeed=True, now=now)
            if sub["status"] in ("past_due", "unpaid"):
                sub["status"] = "active"
            return [
                self._event(
                    "customer.subscription.updated", sub, now, previous=_changed(before, sub)
                ),
                self._event("invoice.paid", invoice, now),
            ]

    def _cycle_invoice(self, sub: dict[str, Any], now: int) -> dict[str, Any]:
        self._advance_period(sub)
        lines = self._pending.pop(sub["id"], []) + self._period_lines(sub)
        invoice = self._new_invoice(sub, lines, "subscription_cycle", now)
        sub["latest_invoice"] = invoice["id"]
        return invoice

    # --- Dispatch ---------------------------------------------------------------------

    def _list_invoice_payments(self, params: dict[str, Any]) -> dict[str, Any]:
        check_params(params, INVOICE_PAYMENT_LIST)
        limit = _int(params.get("limit", "10"), "limit", minimum=1)
        if limit > 100:
            raise _invalid("limit", "This value must be less than or equal to 100.")
        found = [o for o in self._objects.values() if o["object"] == "invoice_payment"]
        found.sort(key=lambda o: o["created"], reverse=True)
        if "invoice" in params:
            found = [o for o in found if o["invoice"] == params["invoice"]]
        if "status" in params:
            if params["status"] not in ("canceled", "open", "paid"):
                raise _invalid("status", "Invalid status: must be one of canceled, open, or paid")
            found = [o for o in found if o["status"] == params["status"]]
        payment = params.get("payment", {})
        if "type" in payment:
            found = [o for o in found if o["payment"]["type"] == payment["type"]]
        if "payment_intent" in payment:
            found = [
                o for o in found if o["payment"].get("payment_intent") == payment["payment_intent"]
            ]
        if "starting_after" in params:
            ids = [o["id"] for o in found]
            if params["starting_after"] not in ids:
                raise _no_such("invoice_payment", params["starting_after"], "starting_after")
            found = found[ids.index(params["starting_after"]) + 1 :]
        return {
            "object": "list",
            "data": found[:limit],
            "has_more": len(found) > limit,
            "url": "/v1/invoice_payments",
        }

    def handle(
        self, method: str, path: str, params: dict[str, Any], ctx: _Ctx
    ) -> tuple[int, dict[str, Any]]:
        parts = path.strip("/").split("/")
        expand = params.get("expand", [])
        if method == "GET" and path == "/v1/invoice_payments":
            result = self._list_invoice_payments({k: v for k, v in params.items() if k != "expand"})
            return 200, self._render(result, expand)
        routes: dict[tuple[str, str], Callable[..., dict[str, Any]]] = {
            ("POST", "/v1/customers"): lambda p: self._create_customer(p, ctx),
            ("POST", "/v1/checkout/sessions"): lambda p: self._create_checkout(p, ctx),
            ("POST", "/v1/billing_portal/sessions"): lambda p: self._create_portal(p),
        }
        plain = {k: v for k, v in params.items() if k != "expand"}
        if (method, path) in routes:
            return 200, self._render(routes[(method, path)](plain), expand)
        kinds = {
            "customers": "customer",
            "checkout/sessions": "checkout.session",
            "subscriptions": "subscription",
            "payment_intents": "payment_intent",
            "charges": "charge",
            "invoices": "invoice",
            "invoice_payments": "invoice_payment",
            "prices": "price",
        }
        if len(parts) >= 3 and parts[0] == "v1":
            collection = "checkout/sessions" if parts[1:3] == ["checkout", "sessions"] else parts[1]
            rest = parts[3:] if collection == "checkout/sessions" else parts[2:]
            kind = kinds.get(collection)
            if kind is not None and len(rest) == 1:
                object_id = rest[0]
                if method == "GET":
                    check_params(plain, {})
                    return 200, self._render(self._fetch(object_id, kind), expand)
                if method == "POST" and kind == "subscription":
                    sub = self._fetch(object_id, kind)
                    return 200, self._render(self._update_subscription_api(sub, plain, ctx), expand)
                if method == "DELETE" and kind == "subscription":
                    check_params(plain, {})
                    sub = self._fetch(object_id, kind)
                    if sub["status"] == "canceled":
                        raise StripeError(400, "This subscription has already been canceled.")
                    self._end_subscription(sub, _now(), ctx)
                    return 200, self._render(sub, expand)
            if kind == "checkout.session" and rest[1:] == ["expire"] and method == "POST":
                check_params(plain, {})
                session = self._fetch(rest[0], kind)
                self._expire_session(session, _now(), ctx)
                return 200, self._render(session, expand)
        raise StripeError(
            404,
            f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
            "or we can help at https://support.stripe.com/.",
        )

    def _render(self, obj: dict[str, Any], expand: list[str]) -> dict[str, Any]:
        out = copy.deepcopy(obj)
        for path in expand:
            self._expand(out, path.split("."), path)
        return out

    def _expand(self, node: Any, parts: list[str], full: str) -> None:
        if not parts or node is None:
            return
        if isinstance(node, dict) and node.get("object") == "list" and parts[0] == "data":
            for item in node["data"]:
                self._expand(item, parts[1:], full)
            return
        key = parts[0]
        if not isinstance(node, dict) or key not in node:
            raise _invalid("expand", f"This property cannot be expanded ({full}).")
        value = node[key]
        if isinstance(value, str):
            found = self._lookup(value)
            if found is None:
                raise _invalid("expand", f"This property cannot be expanded ({full}).")
            value = node[key] = copy.deepcopy(found)
        self._expand(value, parts[1:], full)


def _changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Stripe's previous_attributes: the old values of the top-level fields that changed."""
    return {k: before[k] for k in before if before[k] != after.get(k)}


def _money(amount: int, currency: str) -> str:
    symbol = {"usd": "$", "eur": "€", "gbp": "£"}.get(currency, "")
    return f"{symbol}{amount / 100:.2f}" if symbol else f"{amount / 100:.2f} {currency.upper()}"


def _mask(key: str) -> str:
    head = key[:8] if key.startswith(("sk_", "rk_")) else ""
    return head + "*" * max(len(key) - len(head) - 4, 0) + key[-4:]


class _Handler(BaseHTTPRequestHandler):
    fake: StripeServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests read .requests

    def handle(self) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            super().handle()

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        fake = self.fake
        split = urlsplit(self.path)
        path = split.path.rstrip("/") or "/"
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        pairs = parse_qsl(split.query, keep_blank_values=True)
        if self.command == "POST":
            pairs += parse_qsl(raw, keep_blank_values=True)
        params = decode_params(pairs)
        key = self.headers.get("Idempotency-Key") if self.command == "POST" else None
        request_id = _new_id("req", 14)
        with fake.lock:
            fake.requests.append(SeenRequest(self.command, path, params, key))
            refusal = self._refuse_key()
            if refusal is not None:
                self._send(401, json.dumps(refusal.body()).encode(), request_id)
                return
            if key is not None and key in fake._idempotent:
                method, first_path, first_params, status, body = fake._idempotent[key]
                if (method, first_path) != (self.command, path):
                    error = StripeError(
                        400,
                        "Keys for idempotent requests can only be used for the same endpoint "
                        f"they were first used for ('{method} {first_path}' vs "
                        f"'{self.command} {path}'). Try using a key other than '{key}' if you "
                        "meant to execute a different request.",
                        kind="idempotency_error",
                    )
                    self._send(400, json.dumps(error.body()).encode(), request_id)
                elif first_params != params:
                    error = StripeError(
                        400,
                        "Keys for idempotent requests can only be used with the same "
                        "parameters they were first used with. Try using a key other than "
                        f"'{key}' if you meant to execute a different request.",
                        kind="idempotency_error",
                    )
                    self._send(400, json.dumps(error.body()).encode(), request_id)
                else:
                    self._send(status, body, request_id, key, replayed=True)
                return
            try:
                status, answer = fake.handle(self.command, path, params, _Ctx(request_id, key))
            except StripeError as exc:
                self._send(exc.status, json.dumps(exc.body()).encode(), request_id, key)
                return
            body = json.dumps(answer).encode()
            if key is not None:
                fake._idempotent[key] = (self.command, path, params, status, body)
            self._send(status, body, request_id, key)

    def _refuse_key(self) -> StripeError | None:
        given = self.headers.get("Authorization", "")
        if not given.startswith("Bearer ") or not given.removeprefix("Bearer ").strip():
            return StripeError(
                401,
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for "
                "details, or we can help at https://support.stripe.com/.",
            )
        key = given.removeprefix("Bearer ").strip()
        if key != self.fake.api_key:
            return StripeError(401, f"Invalid API Key provided: {_mask(key)}")
        return None

    def _send(
        self,
        status: int,
        body: bytes,
        request_id: str,
        key: str | None = None,
        *,
        replayed: bool = False,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Request-Id", request_id)
        self.send_header("Stripe-Version", self.headers.get("Stripe-Version") or API_VERSION)
        if key is not None:
            self.send_header("Idempotency-Key", key)
        if replayed:
            self.send_header("Idempotent-Replayed", "true")
        self.end_headers()
        self.wfile.write(body)
