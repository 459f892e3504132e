"""Billing's cost where it is paid: the minutes check on every upload, and Stripe's
webhooks when events arrive twice (issue 8).

Starts throwaway PostgreSQL and Redis, migrates, and drives the app through Flask's test
client in this process. Machines here are noisy, so each measure is a ratio to a baseline
run in the same process, interleaved with it:
- upload: complete small uploads through the browser's protocol (create, then one PATCH of
  a 1-second FLAC, probed with ffprobe: the real upload path) into a workspace with
  `--records` usage records this period (and as many from earlier periods), alternating
  (a) as shipped and (b) with app.billing.metering.require_some_left and .reserve patched
  to no-ops: the same request without the minutes check and reservation. Medians of
  `--uploads` each; ratio a/b. Also metering.minutes() alone on that workspace, which
  reads the account's kept tallies, and metering.recount(), the count of the records
  that replaces them once a period (and the first time after migration 0008), median µs.
- webhooks: customer.subscription.updated events made by the local Stripe server
  (tests/fakes/stripe_server.py) for `--workspaces` workspaces whose billing accounts hold
  the customer, `created` increasing, signed with the SDK's signer and posted to
  /billing/webhooks/stripe. Each round posts a batch of unique events, a mixed batch in
  which 30% are exact redeliveries of events already posted, and (for reference) a batch
  of redeliveries only, in an order that turns round by round; events/s of each and the
  ratios to the unique batches. Every unique event must be applied, every redelivery
  answered "duplicate", and billing_webhook_events must hold exactly one row per unique
  id.
Target: upload ratio <= 1.05. Exit status 1 when it is missed or a check fails.

    .venv/bin/python bench/billing.py [--uploads 40] [--records 1000] [--rounds 3]
        [--batch 200] [--workspaces 20]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import start_services  # noqa: E402
from tests.services import Postgres  # noqa: E402

UPLOAD_RATIO_TARGET = 1.05
DUPLICATE_SHARE = 0.30
PASSWORD = "quiet lantern orbit meadow 77"
EMAIL = "billing-bench@example.test"
BASE = "https://localhost"  # as tests/web.py: Secure cookies and CSRF's Referer check apply
PIECE = "application/offset+octet-stream"


def env_for(pg: Postgres, redis_url: str, staging: str) -> dict[str, str]:
    return {
        "VERBATIM_ENV": "test",
        "VERBATIM_SECRET_KEY": "bench-secret-" + "x" * 40,
        "VERBATIM_DATABASE_URL": pg.app_url,
        "VERBATIM_MIGRATION_DATABASE_URL": pg.owner_url,
        "VERBATIM_REDIS_URL": redis_url,
        "VERBATIM_STAGING_DIR": staging,
        "VERBATIM_MODELS_DIR": str(ROOT / "tests" / "fixtures" / "models"),
        "VERBATIM_HUB_MODELS": "",
        "VERBATIM_ALLOW_MODEL_DOWNLOAD": "false",
        "VERBATIM_DEFAULT_MODEL": "tiny-random",
    }


def median_us(fn: Callable[[], Any], repeat: int) -> float:
    fn()  # warm
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1e6


@contextmanager
def without_metering() -> Iterator[None]:
    """The baseline: the same upload with the minutes check and the reservation made
    no-ops. Patched only for this benchmark's baseline (never in a test): both call sites
    (app/ingest/uploads.py, app/transcripts/services.py) call them through the module."""
    from app.billing import metering

    saved = metering.require_some_left, metering.reserve
    metering.require_some_left = lambda *a, **k: None  # type: ignore[assignment]
    metering.reserve = lambda *a, **k: None  # type: ignore[assignment]
    try:
        yield
    finally:
        metering.require_some_left, metering.reserve = saved


def seed_usage(app: Any, workspace_id: uuid.UUID, user_id: uuid.UUID, n: int) -> None:
    """`n` finished transcripts' records this period and `n` from earlier ones (12 s each,
    a fifth of them by API): a busy workspace's history. The account's billing date is
    40 days back, so the period started about 10 days ago."""
    from app.billing import accounts, periods
    from app.billing.models import UsageRecord, UsageState
    from app.db import utcnow
    from app.extensions import db
    from app.tenants.context import workspace_scope

    rng = random.Random(8)
    with app.app_context(), workspace_scope(workspace_id):
        account = accounts.get(workspace_id)
        account.period_anchor = utcnow() - timedelta(days=40)
        period = periods.current(account.period_anchor, utcnow())
        span = (utcnow() - period.start).total_seconds()
        for i in range(2 * n):
            start = (
                period.start + timedelta(seconds=rng.uniform(0, span))
                if i < n
                else period.start - timedelta(days=rng.uniform(1, 330))
            )
            db.session.add(
                UsageRecord(
                    workspace_id=workspace_id,
                    user_id=user_id,
                    via="api" if i % 5 == 0 else "web",
                    state=UsageState.CHARGED,
                    seconds=12.0,
                    allowance_seconds=12.0,
                    credit_seconds=0.0,
                    period_start=start,
                    charged_at=start,
                    model="faster-whisper:tiny-random",
                )
            )
        db.session.commit()
        db.session.remove()


def bench_uploads(app: Any, args: argparse.Namespace, audio: bytes, ws_id: uuid.UUID) -> dict:
    from sqlalchemy import select

    from app.auth.models import User
    from app.billing import metering
    from app.extensions import db
    from app.tenants.context import workspace_scope
    from app.tenants.models import Workspace
    from tests.web import Web

    web = Web(app, remote_addr="10.8.0.1")
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == EMAIL))
        db.session.expunge(user)
        db.session.remove()
    web.login(user, PASSWORD)
    slug = "bench-billing-uploads"
    headers = {"X-CSRFToken": web.csrf(), "Referer": f"{BASE}/"}
    client = web.client

    def one_upload() -> None:
        created = client.post(
            f"/w/{slug}/uploads/",
            json={"filename": "minute.flac", "size": len(audio)},
            headers=headers,
            base_url=BASE,
        )
        assert created.status_code == 201, (created.status_code, created.json)
        done = client.open(
            created.json["upload_url"],
            method="PATCH",
            data=audio,
            headers={**headers, "Upload-Offset": "0", "Content-Type": PIECE},
            base_url=BASE,
        )
        assert done.status_code == 200, (done.status_code, done.json)
        assert done.json["complete"] and len(done.json["transcripts"]) == 1, done.json

    def timed(baseline: bool) -> float:
        with without_metering() if baseline else _nothing():
            began = time.perf_counter()
            one_upload()
            return time.perf_counter() - began

    for _ in range(2):  # warm: imports, templates, pools, ffprobe's page cache
        timed(False)
        timed(True)
    shipped: list[float] = []
    bare: list[float] = []
    for i in range(args.uploads):
        # ABBA: neither variant always goes first.
        order = (False, True) if i % 2 == 0 else (True, False)
        for baseline in order:
            (bare if baseline else shipped).append(timed(baseline))

    with app.app_context(), workspace_scope(ws_id):
        ws = db.session.get(Workspace, ws_id)
        m = metering.minutes(ws)
        minutes_us = median_us(lambda: metering.minutes(ws), args.check_repeat)
        recount_us = median_us(lambda: metering.recount(ws_id, m.period.start), args.check_repeat)
        db.session.remove()
    return {
        "shipped": shipped,
        "bare": bare,
        "minutes_us": minutes_us,
        "recount_us": recount_us,
        "used_min": m.used / 60,
        "left_min": (m.left() or 0) / 60,
    }


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def subscribe_all(fake: Any, workspace_ids: list[uuid.UUID], price: str) -> list[str]:
    """A customer and an active subscription at the fake per workspace (as a finished
    checkout leaves them); returns the subscription ids."""
    client = fake.client()
    subs = []
    for ws_id in workspace_ids:
        customer = client.v1.customers.create(params={"name": f"Bench {ws_id}"})
        session = client.v1.checkout.sessions.create(
            params={
                "mode": "subscription",
                "customer": customer.id,
                "success_url": "https://verbatim.example/billing/done",
                "cancel_url": "https://verbatim.example/billing",
                "subscription_data": {"metadata": {"workspace_id": str(ws_id), "plan": "pro"}},
                "line_items": [{"price": price, "quantity": 2}],
            }
        )
        events = fake.complete_checkout(session.id)
        created = next(e for e in events if e["type"] == "customer.subscription.created")
        subs.append(created["data"]["object"]["id"])
    return subs


def bench_webhooks(app: Any, args: argparse.Namespace) -> dict:
    import json

    from sqlalchemy import func, select

    from app.auth.models import User
    from app.billing import accounts
    from app.billing.models import WebhookEvent
    from app.extensions import db
    from app.tenants.context import unscoped, workspace_scope
    from app.tenants.services import create_workspace
    from tests.billing.conftest import PRICE_BUSINESS, PRICE_PRO, STRIPE_WEBHOOK_SECRET
    from tests.fakes.stripe_server import StripeServer, sign

    rng = random.Random(88)
    with ExitStack() as stack:
        fake = StripeServer().start()
        stack.callback(fake.stop)
        # Settings as tests/billing/conftest.py's `processors` sets them.
        cfg = app.extensions["verbatim.settings"]
        for name, value in {
            "stripe_secret_key": fake.api_key,
            "stripe_api_base": fake.url,
            "stripe_webhook_secret": STRIPE_WEBHOOK_SECRET,
            "stripe_price_pro": PRICE_PRO,
            "stripe_price_business": PRICE_BUSINESS,
        }.items():
            setattr(cfg, name, value)

        with app.app_context():
            user_id = db.session.scalar(select(User.id).where(User.email == EMAIL))
            ws_ids = [
                create_workspace(user_id, f"Webhook Bench {n}", f"bench-billing-hooks-{n}").id
                for n in range(args.workspaces)
            ]
            db.session.remove()
        subs = subscribe_all(fake, ws_ids, PRICE_PRO)
        with app.app_context():
            for ws_id, sub_id in zip(ws_ids, subs, strict=True):
                with workspace_scope(ws_id):
                    customer = fake.get(sub_id)["customer"]
                    accounts.get(ws_id).stripe_customer_id = customer
                    db.session.commit()
            db.session.remove()

        client = app.test_client()
        clock = {"created": int(time.time()) - 100_000, "n": 0}
        posted: list[str] = []  # bodies of unique events posted so far
        unique_ids: set[str] = set()

        def new_events(n: int) -> list[str]:
            """`n` customer.subscription.updated events, round-robin over the workspaces,
            each newer than every event before it (seat counts 2 to 5)."""
            out = []
            for _ in range(n):
                k = clock["n"]
                clock["n"] += 1
                clock["created"] += 1
                event = fake.update_subscription(
                    subs[k % len(subs)], quantity=2 + k % 4, created=clock["created"]
                )
                out.append(json.dumps(event))
            return out

        def batch(size: int, share: float) -> list[tuple[str, bool]]:
            """(body, is a redelivery): `share` of them exact copies of earlier events."""
            dups = round(size * share)
            fresh = iter(new_events(size - dups))
            kinds = [False] * (size - dups) + [True] * dups
            rng.shuffle(kinds)
            out: list[tuple[str, bool]] = []
            seen = list(posted)
            for dup in kinds:
                if dup and seen:
                    out.append((rng.choice(seen), True))
                else:
                    body = next(fresh, None)
                    if body is None:  # a redelivery came first with nothing before it
                        out.append((rng.choice(seen), True))
                        continue
                    seen.append(body)
                    out.append((body, False))
            return out

        outcomes: dict[str, int] = {}
        failures: list[str] = []

        def post(items: list[tuple[str, bool]]) -> list[float]:
            """Posts the batch; seconds per request. Signed just before (Stripe signs each
            delivery attempt afresh; the tolerance is minutes), outside the timing."""
            signed = [(body, dup, sign(body, STRIPE_WEBHOOK_SECRET)) for body, dup in items]
            answers, took = [], []
            for body, _, header in signed:
                began = time.perf_counter()
                answers.append(
                    client.post(
                        "/billing/webhooks/stripe",
                        data=body,
                        headers={"Content-Type": "application/json", "Stripe-Signature": header},
                    )
                )
                took.append(time.perf_counter() - began)
            for (body, dup, _), resp in zip(signed, answers, strict=True):
                outcome = resp.json.get("outcome", "") if resp.is_json else ""
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
                wanted = "duplicate" if dup else "applied: active"
                if resp.status_code != 200 or outcome != wanted:
                    failures.append(f"{resp.status_code} {outcome or resp.data[:200]!r}")
                if not dup:
                    unique_ids.add(json.loads(body)["id"])
                    posted.append(body)
            return took

        post(batch(20, 0.0))  # warm
        post(batch(20, DUPLICATE_SHARE))
        # Each round: a batch of each kind, in an order that turns round by round.
        shares = {"unique": 0.0, "mix": DUPLICATE_SHARE, "redelivered": 1.0}
        kinds = list(shares)
        totals: dict[str, dict[str, Any]] = {
            kind: {"s": 0.0, "n": 0, "dups": 0, "applied": [], "redelivered": []} for kind in kinds
        }
        for r in range(args.rounds):
            for kind in kinds[r % 3 :] + kinds[: r % 3]:
                items = batch(args.batch, shares[kind])
                took = post(items)
                t = totals[kind]
                t["s"] += sum(took)
                t["n"] += len(items)
                t["dups"] += sum(dup for _, dup in items)
                for (_, dup), seconds in zip(items, took, strict=True):
                    t["redelivered" if dup else "applied"].append(seconds)

        with app.app_context(), unscoped("count the events recorded, all workspaces"):
            rows = db.session.scalar(
                select(func.count())
                .select_from(WebhookEvent)
                .where(WebhookEvent.processor == "stripe")
            )
            db.session.remove()
    return {
        "totals": totals,
        "rows": rows,
        "unique_ids": len(unique_ids),
        "outcomes": outcomes,
        "failures": failures,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--uploads", type=int, default=40, help="per variant")
    parser.add_argument("--records", type=int, default=1000, help="usage records this period")
    parser.add_argument("--check-repeat", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=200, help="events per batch")
    parser.add_argument("--workspaces", type=int, default=20)
    args = parser.parse_args()
    began = time.perf_counter()

    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        pg, rs = start_services(stack)
        staging = Path(tmp) / "staging"
        staging.mkdir()
        os.environ.update(env_for(pg, rs.url, str(staging)))

        from app import create_app
        from app.auth.services import sign_up
        from app.extensions import db
        from app.tenants.services import create_workspace
        from tests.conftest import migrate
        from tests.speech import make_long_silence

        migrate(pg.owner_url, pg.app_url)
        app = create_app()
        audio = make_long_silence(1.0, Path(tmp)).read_bytes()
        with app.app_context():
            user = sign_up(EMAIL, PASSWORD, "Billing Bench")
            ws = create_workspace(user.id, "Billing Bench", "bench-billing-uploads")
            ws_id, user_id = ws.id, user.id
            db.session.remove()
        seed_usage(app, ws_id, user_id, args.records)
        up = bench_uploads(app, args, audio, ws_id)
        hooks = bench_webhooks(app, args)

    failures = list(hooks["failures"])
    shipped_ms = statistics.median(up["shipped"]) * 1000
    bare_ms = statistics.median(up["bare"]) * 1000
    ratio = shipped_ms / bare_ms
    pairs = sorted(a / b for a, b in zip(up["shipped"], up["bare"], strict=True))
    print(
        f"# Upload of a {len(audio):,}-byte, 1 s FLAC (create + one PATCH, probed), "
        f"{args.uploads} of each variant, alternating; workspace with {args.records:,} usage "
        f"records this period and {args.records:,} before ({up['used_min']:.0f} min used, "
        f"{up['left_min']:.0f} left)\n"
    )
    print("| variant | median ms | p90 ms | x baseline |")
    print("|---|---:|---:|---:|")

    def p90(xs: list[float]) -> float:
        return sorted(xs)[max(0, round(0.9 * len(xs)) - 1)] * 1000

    print(f"| baseline: metering patched out | {bare_ms:.1f} | {p90(up['bare']):.1f} | 1.00 |")
    print(
        f"| as shipped: require_some_left + reserve | {shipped_ms:.1f} | "
        f"{p90(up['shipped']):.1f} | {ratio:.3f} |"
    )
    print(
        f"\nmedian of per-pair ratios {statistics.median(pairs):.3f}; "
        f"difference of medians {shipped_ms - bare_ms:+.2f} ms"
    )
    print(f"\n| check alone, {args.records:,} records this period | median µs |")
    print("|---|---:|")
    print(f"| metering.minutes(): the account's kept tallies | {up['minutes_us']:.0f} |")
    print(f"| metering.recount(): the records counted, once a period | {up['recount_us']:.0f} |")

    totals = hooks["totals"]
    rate = {kind: t["n"] / t["s"] for kind, t in totals.items()}
    unique_rate, mix_rate = rate["unique"], rate["mix"]
    print(
        f"\n# Stripe webhooks: customer.subscription.updated over {args.workspaces} "
        f"workspaces; {args.rounds} rounds of a batch of {args.batch} of each kind, order "
        "turning\n"
    )
    print(
        "| batch | events | redeliveries | events/s | ms/event | x unique "
        "| median ms: applied / redelivery |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")

    def med_ms(xs: list[float]) -> str:
        return f"{statistics.median(xs) * 1000:.2f}" if xs else "-"

    labels = {
        "unique": "unique",
        "mix": f"mix ({DUPLICATE_SHARE:.0%} redelivered)",
        "redelivered": "redeliveries only",
    }
    for kind, t in totals.items():
        print(
            f"| {labels[kind]} | {t['n']:,} | {t['dups']:,} | {rate[kind]:.0f} | "
            f"{1000 / rate[kind]:.2f} | {rate[kind] / unique_rate:.2f} | "
            f"{med_ms(t['applied'])} / {med_ms(t['redelivered'])} |"
        )
    print(
        "\noutcomes (warm-up included): "
        + ", ".join(f"{k or '(none)'}: {v:,}" for k, v in sorted(hooks["outcomes"].items()))
    )
    print(
        f"billing_webhook_events rows {hooks['rows']:,}, unique event ids posted "
        f"{hooks['unique_ids']:,}"
    )
    if hooks["rows"] != hooks["unique_ids"]:
        failures.append(
            f"billing_webhook_events has {hooks['rows']:,} rows for "
            f"{hooks['unique_ids']:,} unique events"
        )

    print(f"\n(run time {time.perf_counter() - began:.0f} s)\n")
    ok_ratio = ratio <= UPLOAD_RATIO_TARGET
    print(
        f"upload with metering: {ratio:.3f}x the same upload without "
        f"(target <= {UPLOAD_RATIO_TARGET:g}): {'PASS' if ok_ratio else 'FAIL'}"
    )
    print(f"minutes check alone: {up['minutes_us']:.0f} µs at {args.records:,} records")
    print(
        f"webhooks: {unique_rate:.0f} events/s unique, {mix_rate:.0f} events/s with "
        f"{DUPLICATE_SHARE:.0%} redeliveries, ratio mix/unique {mix_rate / unique_rate:.2f}"
    )
    print(
        f"webhook rows = unique ids: {hooks['rows']:,} = {hooks['unique_ids']:,}: "
        f"{'PASS' if hooks['rows'] == hooks['unique_ids'] else 'FAIL'}"
    )
    for f in failures[:10]:
        print(f"FAILED: {f}")
    if len(failures) > 10:
        print(f"... and {len(failures) - 10} more")
    ok = ok_ratio and not failures
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
