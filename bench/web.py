"""Signed-in workspace dashboard vs a trivial endpoint, 20 concurrent clients, gunicorn.

Starts throwaway PostgreSQL and Redis, migrates, creates a user with a team workspace,
serves the app with gunicorn on loopback, signs in 20 clients and measures, in two
phases of the same run, GET /healthz (trivial) and GET /w/<slug>/ (the dashboard).
Prints p50/p95/p99 of each and the ratios; the target is p95(dashboard)/p95(trivial) <= 3.
Exit status 1 when the target is missed or a request fails.

    .venv/bin/python bench/web.py [--clients 20] [--requests 300] [--seconds 25]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.services import Postgres, RedisServer, free_port  # noqa: E402

TARGET_P95_RATIO = 3.0
EMAIL = "bench@example.test"
PASSWORD = "quiet lantern orbit meadow 77"
SLUG = "bench-team"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Phase:
    name: str
    path: str
    latencies_ms: list[float]
    errors: list[str]
    seconds: float

    def pct(self, q: float) -> float:
        data = sorted(self.latencies_ms)
        # Nearest-rank percentile: a value that was actually measured.
        return data[max(0, min(len(data) - 1, round(q / 100 * len(data)) - 1))]


def app_env(pg: Postgres, redis_url: str) -> dict[str, str]:
    return {
        "VERBATIM_ENV": "production",
        "VERBATIM_SECRET_KEY": "bench-secret-key-not-for-production",
        "VERBATIM_DATABASE_URL": pg.app_url,
        "VERBATIM_MIGRATION_DATABASE_URL": pg.owner_url,
        "VERBATIM_REDIS_URL": redis_url,
        "VERBATIM_SECURE_COOKIES": "false",  # plain http on loopback
        "VERBATIM_RATELIMIT_LOGIN": "10000 per minute",  # 20 sign-ins from one address
        "VERBATIM_DB_POOL_SIZE": "5",
        "VERBATIM_BASE_URL": "http://127.0.0.1",
    }


def prepare(env: dict[str, str]) -> None:
    """Schema, one user and a team workspace, made in this process before gunicorn starts."""
    os.environ.update(env)
    from app import create_app
    from app.auth.services import sign_up
    from app.tenants.services import create_workspace
    from tests.conftest import migrate

    migrate(env["VERBATIM_MIGRATION_DATABASE_URL"], env["VERBATIM_DATABASE_URL"])
    app = create_app()
    with app.app_context():
        user = sign_up(EMAIL, PASSWORD, "Bench User")
        create_workspace(user.id, "Bench Team", SLUG)
    app.extensions["verbatim.engine"].dispose()


@contextmanager
def gunicorn(
    env: dict[str, str], app_spec: str, workers: int, threads: int, log: Path
) -> Iterator[str]:
    port = free_port()
    cmd = [
        str(ROOT / ".venv/bin/gunicorn"),
        app_spec,
        "-w",
        str(workers),
        "-k",
        "gthread",
        "--threads",
        str(threads),
        "-b",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    probe = requests.Session()
    probe.trust_env = False  # never a proxy: loopback only
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {log.read_text()[-2000:]}")
            try:
                if probe.get(url + "/healthz", timeout=5).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not answer within 30 s")
            time.sleep(0.2)
        yield url
    finally:
        probe.close()
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def signed_in_session(url: str) -> requests.Session:
    s = requests.Session()
    s.trust_env = False  # never a proxy: loopback only
    page = s.get(url + "/login", timeout=10)
    match = _TOKEN.search(page.text)
    if not match:
        raise RuntimeError("no CSRF token on /login")
    resp = s.post(
        url + "/login",
        data={"csrf_token": match.group(1), "email": EMAIL, "password": PASSWORD},
        allow_redirects=False,
        timeout=10,
    )
    if resp.status_code != 302:
        raise RuntimeError(f"sign-in failed: {resp.status_code} {resp.text[:300]}")
    return s


def run_phase(
    name: str,
    url: str,
    path: str,
    sessions: list[requests.Session],
    per_client: int,
    seconds: float,
    check: Callable[[requests.Response], bool],
) -> Phase:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(len(sessions) + 1)
    stop_at: list[float] = []

    def client(s: requests.Session) -> None:
        mine: list[float] = []
        start.wait()
        for _ in range(per_client):
            if time.monotonic() > stop_at[0]:
                break
            t0 = time.perf_counter()
            try:
                resp = s.get(url + path, allow_redirects=False, timeout=30)
                ok = check(resp)
                problem = "" if ok else f"{resp.status_code} {resp.text[:120]!r}"
            except requests.RequestException as e:
                problem = repr(e)
            elapsed = (time.perf_counter() - t0) * 1000
            if problem:
                with lock:
                    errors.append(problem)
            else:
                mine.append(elapsed)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(s,)) for s in sessions]
    for t in threads:
        t.start()
    stop_at.append(time.monotonic() + seconds)
    t0 = time.perf_counter()
    start.wait()
    for t in threads:
        t.join()
    return Phase(name, path, latencies, errors, time.perf_counter() - t0)


def report(phases: list[Phase]) -> None:
    print(f"{'endpoint':<28}{'n':>6}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
    for p in phases:
        rate = len(p.latencies_ms) / p.seconds
        print(
            f"{p.name + ' ' + p.path:<28}{len(p.latencies_ms):>6}{rate:>8.0f}"
            f"{p.pct(50):>9.1f}{p.pct(95):>9.1f}{p.pct(99):>9.1f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=150, help="per client and phase")
    parser.add_argument("--seconds", type=float, default=25.0, help="cap per phase")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument(
        "--app", default="app:create_app()", help="gunicorn app spec (for what-if runs)"
    )
    args = parser.parse_args()

    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="verbatim-bench-")))
        pg = Postgres()
        pg.start()
        stack.callback(pg.stop)
        rs = RedisServer()
        rs.start()
        stack.callback(rs.stop)
        env = app_env(pg, rs.url)
        prepare(env)
        url = stack.enter_context(
            gunicorn(env, args.app, args.workers, args.threads, tmp / "gunicorn.log")
        )

        sessions = [signed_in_session(url) for _ in range(args.clients)]
        for s in sessions:
            stack.callback(s.close)

        def trivial_ok(r: requests.Response) -> bool:
            return r.status_code == 200 and r.json() == {"status": "ok"}

        def dashboard_ok(r: requests.Response) -> bool:
            return r.status_code == 200 and "Bench Team" in r.text and "Seats used" in r.text

        dashboard = f"/w/{SLUG}/"
        print(
            f"gunicorn -w {args.workers} -k gthread --threads {args.threads}; "
            f"{args.clients} clients; up to {args.requests} requests per client and phase, "
            f"{args.seconds:.0f} s cap per phase; {os.cpu_count()} CPU cores"
        )
        # Warm-up: imports, template compilation, connection pools, in both workers.
        for path, ok in (("/healthz", trivial_ok), (dashboard, dashboard_ok)):
            warm = run_phase("warm-up", url, path, sessions, 10, 10, ok)
            if warm.errors:
                print(f"warm-up of {path} failed: {warm.errors[:3]}")
                return 1
        phases = [
            run_phase(
                "trivial", url, "/healthz", sessions, args.requests, args.seconds, trivial_ok
            ),
            run_phase(
                "dashboard", url, dashboard, sessions, args.requests, args.seconds, dashboard_ok
            ),
        ]
        report(phases)
        trivial, dash = phases
        failed = [e for p in phases for e in p.errors]
        if failed:
            print(f"FAIL: {len(failed)} requests failed, e.g. {failed[:3]}")
            return 1
        p50_ratio = dash.pct(50) / trivial.pct(50)
        p95_ratio = dash.pct(95) / trivial.pct(95)
        print(f"ratio p50 dashboard/trivial: {p50_ratio:.2f}")
        print(f"ratio p95 dashboard/trivial: {p95_ratio:.2f} (target <= {TARGET_P95_RATIO:g})")
        mean = statistics.fmean(dash.latencies_ms)
        print(f"dashboard mean {mean:.1f} ms over {len(dash.latencies_ms)} requests")
        if p95_ratio <= TARGET_P95_RATIO:
            print("PASS")
            return 0
        print("FAIL: p95 ratio above target")
        return 1


if __name__ == "__main__":
    sys.exit(main())
