"""A local server speaking Square's v2 wire format, for exercising billing through the
official `squareup` SDK: `square.Square(token=..., base_url=server.url)`. Nothing leaves
the machine.

Wire format, as Square's: JSON bodies and answers; errors as {"errors": [{"category",
"code", "detail", "field"}]}; `Authorization: Bearer <access token>` on every call (401
AUTHENTICATION_ERROR / UNAUTHORIZED otherwise); the Square-Version header is accepted
whatever it says and recorded. idempotency_key is a body field: the same key with the same
body replays the first answer; with another body it is 400 IDEMPOTENCY_KEY_REUSED. Only
answers from requests that ran are kept (a validation error is not replayed).

Endpoints:
- POST /v2/online-checkout/payment-links with `order` {location_id, reference_id,
  customer_id, metadata, line_items [{name, quantity, base_price_money {amount, currency},
  note, uid, metadata}]} or `quick_pay` {name, price_money, location_id}, plus
  description, checkout_options {redirect_url, ...}, pre_populated_data, payment_note.
  Validated as Square does: exactly one of order/quick_pay (neither: 400
  MISSING_REQUIRED_PARAMETER), location_id required and one of `server.locations`
  (default {"LOC1"}; another: 400 INVALID_VALUE "Invalid location id", field
  order.location_id — Square's documentation names no code for it, forum reports show a
  400), line items need quantity (a positive integer string), name and base_price_money,
  one currency per order, metadata at most 10 entries, keys up to 60 characters of
  [a-zA-Z0-9_-], values up to 255; reference_id up to 40. The answer is {"payment_link":
  {id, version 1, description, order_id, checkout_options, url, long_url, payment_note,
  created_at}, "related_resources": {"orders": [order]}}. As Square documents, the order
  is created in state DRAFT (with a DIGITAL fulfillment, PROPOSED) and becomes OPEN once
  paid; it is never COMPLETED on its own.
  GET /v2/online-checkout/payment-links/{id}.
- GET /v2/orders/{id}: {"order": {id, location_id, reference_id, metadata, state,
  line_items (with the computed money fields), total_money, net_amounts,
  net_amount_due_money, tenders once paid [{id, type, amount_money, payment_id,
  card_details {status, card {card_brand, last_4}, entry_method}}], fulfillments, version,
  created_at, updated_at}}.
- GET /v2/payments/{id}: {"payment": {id, status, amount_money, total_money,
  approved_money, order_id, location_id, source_type, card_details {status, card
  {card_brand "VISA", last_4 "1111", ...}} or wallet_details, receipt_number, receipt_url,
  note, created_at, updated_at, version_token}}.
Unknown ids are 404 NOT_FOUND; other paths 404 as Square answers them.

Test-side helper: pay(order_id, source_type="CARD") is the buyer paying on the hosted page.
It returns the body of the `payment.updated` webhook (the payment COMPLETED) exactly as
Square posts it: {"merchant_id", "type", "event_id", "created_at", "data": {"type":
"payment", "id", "object": {"payment": {...}}}}. Square first sends `payment.created`
(status APPROVED, card AUTHORIZED); both bodies are kept, in order, in `.webhooks`.
source_type "CARD" (a sandbox Visa ending 1111) or "WALLET" (Cash App Pay: wallet_details
brand CASH_APP, as Square reports it). "CASH_APP" is accepted as a shorthand for the
latter, since Square has no source_type by that name.
`sign(body, signature_key, notification_url)` is the x-square-hmacsha256-signature value.

`.requests` records every request as (method, path, JSON body or None, Square-Version).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import hmac
import json
import re
import secrets
import string
import threading
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import square

from tests.fakes.local_server import LocalServer

DEFAULT_TOKEN = "EAAAl-verbatim-fake-square-token"
DEFAULT_MERCHANT = "MLVERBATIMFAKE"
CARD = {"card_brand": "VISA", "last_4": "1111", "exp_month": 12, "card_type": "CREDIT"}
_UPPER = string.ascii_uppercase + string.digits
_ALNUM = string.ascii_letters + string.digits
_METADATA_KEY = re.compile(r"^[A-Za-z0-9_-]{1,60}$")
_QUANTITY = re.compile(r"^[0-9]+$")


def sign(body: str, signature_key: str, notification_url: str) -> str:
    """The x-square-hmacsha256-signature header: base64 HMAC-SHA256, keyed with the
    subscription's signature key, of the notification URL followed by the raw body."""
    digest = hmac.new(
        signature_key.encode(), (notification_url + body).encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


def _timestamp(now: datetime | None = None) -> str:
    moment = now or datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _money(amount: int, currency: str) -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


class SquareError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        field: str | None = None,
        category: str = "INVALID_REQUEST_ERROR",
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.field = field
        self.category = category

    def body(self) -> dict[str, Any]:
        error = {"category": self.category, "code": self.code, "detail": self.detail}
        if self.field is not None:
            error["field"] = self.field
        return {"errors": [error]}


def _missing(field: str) -> SquareError:
    return SquareError(400, "MISSING_REQUIRED_PARAMETER", f"Field must be set: `{field}`.", field)


def _invalid(field: str, detail: str, code: str = "INVALID_VALUE") -> SquareError:
    return SquareError(400, code, detail, field)


class SeenRequest(NamedTuple):
    method: str
    path: str
    body: Any
    square_version: str | None


class SquareServer(LocalServer):
    thread_name = "fake-square"

    def __init__(
        self,
        *,
        access_token: str = DEFAULT_TOKEN,
        locations: set[str] | None = None,
        merchant_id: str = DEFAULT_MERCHANT,
    ) -> None:
        super().__init__()
        self.access_token = access_token
        self.locations: set[str] = set(locations) if locations is not None else {"LOC1"}
        self.merchant_id = merchant_id
        self.lock = threading.RLock()
        self.requests: list[SeenRequest] = []
        self.webhooks: list[dict[str, Any]] = []
        self.links: dict[str, dict[str, Any]] = {}
        self.orders: dict[str, dict[str, Any]] = {}
        self.payments: dict[str, dict[str, Any]] = {}
        self._notes: dict[str, str | None] = {}  # order id -> the link's payment_note
        self._idempotent: dict[str, tuple[str, Any, int, bytes]] = {}

    # --- Life -------------------------------------------------------------------------

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _Handler

    def client(self, **options: Any) -> square.Square:
        """A Square client pointed at this server, with the right token."""
        options.setdefault("token", self.access_token)
        return square.Square(base_url=self.url, **options)

    # --- Payment links ----------------------------------------------------------------

    def _create_link(self, body: dict[str, Any]) -> dict[str, Any]:
        order_in, quick = body.get("order"), body.get("quick_pay")
        if order_in is None and quick is None:
            raise SquareError(
                400,
                "MISSING_REQUIRED_PARAMETER",
                "One of `quick_pay` or `order` must be set.",
                "order",
            )
        if order_in is not None and quick is not None:
            raise SquareError(
                400, "BAD_REQUEST", "Only one of `quick_pay` or `order` can be set.", "order"
            )
        if quick is not None:
            if not isinstance(quick, dict):
                raise _invalid("quick_pay", "Expected an object.", "EXPECTED_OBJECT")
            for name in ("name", "price_money", "location_id"):
                if not quick.get(name):
                    raise _missing(f"quick_pay.{name}")
            order_in = {
                "location_id": quick["location_id"],
                "line_items": [
                    {
                        "name": quick["name"],
                        "quantity": "1",
                        "base_price_money": quick["price_money"],
                    }
                ],
            }
            prefix = "quick_pay"
        else:
            prefix = "order"
        if not isinstance(order_in, dict):
            raise _invalid("order", "Expected an object.", "EXPECTED_OBJECT")
        for name in ("description", "payment_note"):
            value = body.get(name)
            if value is not None and not isinstance(value, str):
                raise _invalid(name, "Expected a string value.", "EXPECTED_STRING")
        if len(body.get("payment_note") or "") > 500:
            raise _invalid("payment_note", "Must be at most 500 characters.", "VALUE_TOO_LONG")
        options = body.get("checkout_options")
        if options is not None and not isinstance(options, dict):
            raise _invalid("checkout_options", "Expected an object.", "EXPECTED_OBJECT")
        order = self._new_order(order_in, prefix)
        now = _timestamp()
        link_id = _random(_UPPER, 16)
        link: dict[str, Any] = {
            "id": link_id,
            "version": 1,
            "order_id": order["id"],
            "url": f"{self.url}/u/{_random(_ALNUM, 8)}",
            "long_url": f"{self.url}/checkout/{self.merchant_id}/order/{order['id']}",
            "created_at": now,
        }
        if body.get("description") is not None:
            link["description"] = body["description"]
        if options:
            link["checkout_options"] = copy.deepcopy(options)
        if body.get("pre_populated_data"):
            link["pre_populated_data"] = copy.deepcopy(body["pre_populated_data"])
        if body.get("payment_note") is not None:
            link["payment_note"] = body["payment_note"]
        self.links[link_id] = link
        self.orders[order["id"]] = order
        self._notes[order["id"]] = body.get("payment_note")
        return {"payment_link": link, "related_resources": {"orders": [order]}}

    def _new_order(self, given: dict[str, Any], prefix: str) -> dict[str, Any]:
        location = given.get("location_id")
        if not location:
            raise _missing(f"{prefix}.location_id")
        if location not in self.locations:
            raise _invalid(f"{prefix}.location_id", f"Invalid location id: {location}.")
        reference = given.get("reference_id")
        if reference is not None and (not isinstance(reference, str) or len(reference) > 40):
            raise _invalid(
                f"{prefix}.reference_id", "Must be at most 40 characters.", "VALUE_TOO_LONG"
            )
        metadata = self._metadata(given.get("metadata"), f"{prefix}.metadata")
        lines_in = given.get("line_items")
        if not isinstance(lines_in, list) or not lines_in:
            raise _missing(f"{prefix}.line_items")
        lines = [self._line(line, f"{prefix}.line_items[{i}]") for i, line in enumerate(lines_in)]
        currencies = {line["base_price_money"]["currency"] for line in lines}
        if len(currencies) > 1:
            raise _invalid(
                f"{prefix}.line_items",
                "All line items must use the same currency.",
                "CURRENCY_MISMATCH",
            )
        currency = currencies.pop()
        total = sum(line["total_money"]["amount"] for line in lines)
        zero = _money(0, currency)
        now = _timestamp()
        order: dict[str, Any] = {
            "id": _random(_ALNUM, 28) + "Y",
            "location_id": location,
            "source": {"name": "Verbatim (fake Square)"},
            "line_items": lines,
            "fulfillments": [{"uid": _random(_ALNUM, 21), "type": "DIGITAL", "state": "PROPOSED"}],
            "net_amounts": {
                "total_money": _money(total, currency),
                "tax_money": zero,
                "discount_money": zero,
                "tip_money": zero,
                "service_charge_money": zero,
            },
            "created_at": now,
            "updated_at": now,
            "state": "DRAFT",
            "version": 1,
            "total_money": _money(total, currency),
            "total_tax_money": zero,
            "total_discount_money": zero,
            "total_tip_money": zero,
            "total_service_charge_money": zero,
            "net_amount_due_money": _money(total, currency),
        }
        if reference is not None:
            order["reference_id"] = reference
        if given.get("customer_id") is not None:
            order["customer_id"] = given["customer_id"]
        if metadata:
            order["metadata"] = metadata
        return order

    def _line(self, given: Any, field: str) -> dict[str, Any]:
        if not isinstance(given, dict):
            raise _invalid(field, "Expected an object.", "EXPECTED_OBJECT")
        quantity = given.get("quantity")
        if quantity is None:
            raise _missing(f"{field}.quantity")
        if not isinstance(quantity, str):
            raise _invalid(f"{field}.quantity", "Expected a string value.", "EXPECTED_STRING")
        if not _QUANTITY.match(quantity) or int(quantity) < 1:
            raise _invalid(
                f"{field}.quantity",
                f"The quantity `{quantity}` is invalid: it must be a positive integer.",
            )
        if given.get("catalog_object_id"):
            raise _invalid(
                f"{field}.catalog_object_id", "Catalog items are not modelled by this fake."
            )
        if not given.get("name"):
            raise _missing(f"{field}.name")
        price = given.get("base_price_money")
        if not isinstance(price, dict):
            raise _missing(f"{field}.base_price_money")
        amount, currency = price.get("amount"), price.get("currency")
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise _invalid(
                f"{field}.base_price_money.amount",
                "Expected an integer value.",
                "EXPECTED_INTEGER",
            )
        if amount < 0:
            raise _invalid(
                f"{field}.base_price_money.amount",
                "Must be greater than or equal to 0.",
                "VALUE_TOO_LOW",
            )
        if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
            raise _invalid(
                f"{field}.base_price_money.currency",
                f"Invalid currency: {currency}.",
                "INVALID_ENUM_VALUE",
            )
        line_total = amount * int(quantity)
        zero = _money(0, currency)
        line: dict[str, Any] = {
            "uid": given.get("uid") or _random(_ALNUM, 21),
            "name": given["name"],
            "quantity": quantity,
            "item_type": "ITEM",
            "base_price_money": _money(amount, currency),
            "variation_total_price_money": _money(line_total, currency),
            "gross_sales_money": _money(line_total, currency),
            "total_tax_money": zero,
            "total_discount_money": zero,
            "total_money": _money(line_total, currency),
            "total_service_charge_money": zero,
        }
        if given.get("note") is not None:
            line["note"] = given["note"]
        metadata = self._metadata(given.get("metadata"), f"{field}.metadata")
        if metadata:
            line["metadata"] = metadata
        return line

    @staticmethod
    def _metadata(value: Any, field: str) -> dict[str, str] | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise _invalid(field, "Expected an object.", "EXPECTED_OBJECT")
        if len(value) > 10:
            raise _invalid(field, "Must have at most 10 entries.", "TOO_MANY_MAP_ENTRIES")
        for key, item in value.items():
            if not _METADATA_KEY.match(key):
                raise _invalid(
                    f"{field}.{key}",
                    "Metadata keys must be 1 to 60 characters of [a-zA-Z0-9_-].",
                    "INVALID_VALUE",
                )
            if not isinstance(item, str):
                raise _invalid(f"{field}.{key}", "Expected a string value.", "EXPECTED_STRING")
            if len(item) > 255:
                raise _invalid(
                    f"{field}.{key}", "Must be at most 255 characters.", "VALUE_TOO_LONG"
                )
        return dict(value)

    # --- Test-side helpers ------------------------------------------------------------

    def pay(
        self,
        order_id: str,
        source_type: str = "CARD",
        *,
        created_at: datetime | None = None,
    ) -> dict[str, Any]:
        """The buyer pays the order on the hosted page: a COMPLETED payment, the order OPEN
        with a tender. Returns the payment.updated webhook body; `.webhooks` also gets the
        payment.created that Square sends first."""
        with self.lock:
            order = self.orders[order_id]
            if order["state"] != "DRAFT":
                raise ValueError(f"order {order_id} is {order['state']}, already paid")
            wallet = source_type in ("WALLET", "CASH_APP")
            if not wallet and source_type != "CARD":
                raise ValueError(f"source_type must be CARD, WALLET or CASH_APP: {source_type}")
            moment = created_at or datetime.now(UTC)
            now = _timestamp(moment)
            payment_id = _random(_ALNUM, 28) + "Y"
            total = copy.deepcopy(order["total_money"])
            payment: dict[str, Any] = {
                "id": payment_id,
                "created_at": now,
                "updated_at": now,
                "amount_money": total,
                "total_money": copy.deepcopy(total),
                "approved_money": copy.deepcopy(total),
                "status": "APPROVED",
                "delay_duration": "PT168H",
                "delay_action": "CANCEL",
                "source_type": "WALLET" if wallet else "CARD",
                "location_id": order["location_id"],
                "order_id": order_id,
                "risk_evaluation": {"created_at": now, "risk_level": "NORMAL"},
                "receipt_number": payment_id[:4],
                "receipt_url": f"{self.url}/receipt/preview/{payment_id}",
                "application_details": {
                    "square_product": "ECOMMERCE_API",
                    "application_id": "sq0idp-verbatim-fake",
                },
                "capabilities": ["EDIT_AMOUNT_UP", "EDIT_AMOUNT_DOWN", "EDIT_TIP_AMOUNT_UP"],
                "version_token": _random(_ALNUM, 43),
            }
            if self._notes.get(order_id) is not None:
                payment["note"] = self._notes[order_id]
            if wallet:
                payment["wallet_details"] = {
                    "status": "AUTHORIZED",
                    "brand": "CASH_APP",
                    "cash_app_details": {
                        "buyer_full_name": "Test Buyer",
                        "buyer_country_code": "US",
                        "buyer_cashtag": "$VERBATIMTEST",
                    },
                }
            else:
                payment["card_details"] = {
                    "status": "AUTHORIZED",
                    "card": {
                        **CARD,
                        "exp_year": moment.year + 3,
                        "fingerprint": "sq-1-verbatim-fake-fingerprint",
                        "prepaid_type": "NOT_PREPAID",
                        "bin": "411111",
                    },
                    "entry_method": "KEYED",
                    "cvv_status": "CVV_ACCEPTED",
                    "avs_status": "AVS_ACCEPTED",
                    "statement_description": "SQ *VERBATIM",
                    "card_payment_timeline": {"authorized_at": now},
                }
            self.payments[payment_id] = payment
            self.webhooks.append(self._webhook("payment.created", payment, now))
            payment["status"] = "COMPLETED"
            payment["version_token"] = _random(_ALNUM, 43)
            if wallet:
                payment["wallet_details"]["status"] = "CAPTURED"
            else:
                payment["card_details"]["status"] = "CAPTURED"
                payment["card_details"]["card_payment_timeline"]["captured_at"] = now
            tender: dict[str, Any] = {
                "id": payment_id,
                "location_id": order["location_id"],
                "transaction_id": order_id,
                "created_at": now,
                "amount_money": copy.deepcopy(total),
                "type": "WALLET" if wallet else "CARD",
                "payment_id": payment_id,
            }
            if not wallet:
                tender["card_details"] = {
                    "status": "CAPTURED",
                    "card": {
                        "card_brand": CARD["card_brand"],
                        "last_4": CARD["last_4"],
                        "fingerprint": "sq-1-verbatim-fake-fingerprint",
                    },
                    "entry_method": "KEYED",
                }
            order["tenders"] = [tender]
            order["state"] = "OPEN"
            order["updated_at"] = now
            order["version"] += 1
            order["net_amount_due_money"] = _money(0, total["currency"])
            body = self._webhook("payment.updated", payment, now)
            self.webhooks.append(body)
            return copy.deepcopy(body)

    def _webhook(self, kind: str, payment: dict[str, Any], now: str) -> dict[str, Any]:
        return {
            "merchant_id": self.merchant_id,
            "type": kind,
            "event_id": str(uuid.uuid4()),
            "created_at": now,
            "data": {
                "type": "payment",
                "id": payment["id"],
                "object": {"payment": copy.deepcopy(payment)},
            },
        }

    # --- Dispatch ---------------------------------------------------------------------

    def handle(self, method: str, path: str, body: Any) -> tuple[int, dict[str, Any]]:
        parts = path.strip("/").split("/")
        if method == "POST" and path == "/v2/online-checkout/payment-links":
            if not isinstance(body, dict):
                raise SquareError(400, "INVALID_BODY", "The request body must be a JSON object.")
            return 200, self._create_link(body)
        if (
            method == "GET"
            and len(parts) == 4
            and parts[:3] == ["v2", "online-checkout", "payment-links"]
        ):
            link = self.links.get(parts[3])
            if link is None:
                raise SquareError(404, "NOT_FOUND", f"Payment link not found: {parts[3]}.")
            return 200, {"payment_link": link}
        if method == "GET" and len(parts) == 3 and parts[:2] == ["v2", "orders"]:
            order = self.orders.get(parts[2])
            if order is None:
                raise SquareError(404, "NOT_FOUND", f"Order not found for id: {parts[2]}.")
            return 200, {"order": order}
        if method == "GET" and len(parts) == 3 and parts[:2] == ["v2", "payments"]:
            payment = self.payments.get(parts[2])
            if payment is None:
                raise SquareError(404, "NOT_FOUND", f"Could not find payment with id: {parts[2]}")
            return 200, {"payment": payment}
        raise SquareError(
            404,
            "NOT_FOUND",
            f"API endpoint for URL path `{path}` and HTTP method `{method}` is not found.",
        )


class _Handler(BaseHTTPRequestHandler):
    fake: SquareServer
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

    def _serve(self) -> None:
        fake = self.fake
        path = urlsplit(self.path).path.rstrip("/") or "/"
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body: Any = None
        parsed = True
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                parsed = False
        with fake.lock:
            fake.requests.append(
                SeenRequest(self.command, path, body, self.headers.get("Square-Version"))
            )
            if self.headers.get("Authorization") != f"Bearer {fake.access_token}":
                error = SquareError(
                    401,
                    "UNAUTHORIZED",
                    "This request could not be authorized.",
                    category="AUTHENTICATION_ERROR",
                )
                self._send(401, json.dumps(error.body()).encode())
                return
            if not parsed:
                error = SquareError(400, "INVALID_BODY", "Invalid JSON in the request body.")
                self._send(400, json.dumps(error.body()).encode())
                return
            key = body.get("idempotency_key") if isinstance(body, dict) else None
            if key:
                if len(key) > 192:
                    error = _invalid(
                        "idempotency_key", "Must be at most 192 characters.", "VALUE_TOO_LONG"
                    )
                    self._send(400, json.dumps(error.body()).encode())
                    return
                if key in fake._idempotent:
                    first_path, first_body, status, answer = fake._idempotent[key]
                    if (first_path, first_body) == (path, body):
                        self._send(status, answer)
                    else:
                        error = SquareError(
                            400,
                            "IDEMPOTENCY_KEY_REUSED",
                            "The idempotency key can only be retried with the same request data.",
                            "idempotency_key",
                        )
                        self._send(400, json.dumps(error.body()).encode())
                    return
            try:
                status, result = fake.handle(self.command, path, body)
            except SquareError as exc:
                self._send(exc.status, json.dumps(exc.body()).encode())
                return
            answer = json.dumps(result).encode()
            if key:
                fake._idempotent[key] = (path, copy.deepcopy(body), status, answer)
            self._send(status, answer)

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Square-Version", self.headers.get("Square-Version") or "2026-09-16")
        self.end_headers()
        self.wfile.write(body)
