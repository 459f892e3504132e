"""Server memory while a 2 GB file is uploaded through the resumable-upload API.

Starts throwaway PostgreSQL and Redis, serves the app with gunicorn (one worker, the
process whose memory is sampled), makes an API key, then streams the file in pieces of
`VERBATIM_UPLOAD_CHUNK_MAX_BYTES` (64 MiB) with PATCH requests. The worker's RSS is sampled
every 20 ms; the baseline is its RSS after a warm-up upload of 8 MiB in the same run.
Target: peak growth over the baseline <= 64 MB. Exit status 1 when missed.

    .venv/bin/python bench/upload_memory.py [--gigabytes 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import start_services  # noqa: E402
from bench.web import app_env, gunicorn  # noqa: E402

TARGET_GROWTH_MB = 64.0
PIECE = 64 * 1024 * 1024


def prepare(env: dict[str, str]) -> str:
    os.environ.update(env)
    from app import create_app
    from app.auth.api_keys import create_api_key
    from app.auth.services import sign_up
    from app.tenants.context import workspace_scope
    from app.tenants.services import create_workspace
    from tests.conftest import migrate

    migrate(env["VERBATIM_MIGRATION_DATABASE_URL"], env["VERBATIM_DATABASE_URL"])
    app = create_app()
    with app.app_context():
        user = sign_up("upload-bench@example.test", "quiet lantern orbit meadow 77", "Bench")
        ws = create_workspace(user.id, "Upload Bench", "bench-upload-team")
        with workspace_scope(ws.id):
            _, raw = create_api_key("bench", user.id)
    app.extensions["verbatim.engine"].dispose()
    return raw


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    if len(children) != 1:
        raise RuntimeError(f"expected one gunicorn worker, found {children}")
    return int(children[0])


def upload(url: str, key: str, size: int) -> tuple[int, float]:
    s = requests.Session()
    s.trust_env = False
    s.headers["Authorization"] = f"Bearer {key}"
    created = s.post(
        url + "/api/v1/uploads", json={"filename": "big.bin", "size": size}, timeout=30
    )
    created.raise_for_status()
    upload_id = created.json()["id"]
    block = os.urandom(1024 * 1024)
    offset = 0
    started = time.perf_counter()
    last = None
    while offset < size:
        n = min(PIECE, size - offset)

        last = s.patch(
            f"{url}/api/v1/uploads/{upload_id}",
            data=_Body(block, n),
            headers={
                "Upload-Offset": str(offset),
                "Content-Type": "application/offset+octet-stream",
            },
            timeout=600,
        )
        if last.status_code not in (200, 422):
            raise RuntimeError(f"PATCH failed: {last.status_code} {last.text[:300]}")
        offset += n
    assert last is not None
    # Random bytes are not audio: the last piece is stored, then refused by the probe.
    return last.status_code, time.perf_counter() - started


class _Body:
    """A file-like body of `n` bytes made from one block: requests sends it with a
    Content-Length (a generator would be sent chunked) and the client stays small."""

    def __init__(self, block: bytes, n: int) -> None:
        self._block, self._left = block, n

    def __len__(self) -> int:
        return self._left

    def read(self, size: int = -1) -> bytes:
        take = min(self._left, len(self._block), size if size > 0 else len(self._block))
        self._left -= take
        return self._block[:take]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gigabytes", type=float, default=2.0)
    args = parser.parse_args()
    size = int(args.gigabytes * 1024**3)
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="verbatim-bench-") as tmp:
        pg, rs = start_services(stack)
        env = app_env(pg, rs.url) | {
            "VERBATIM_STAGING_DIR": str(Path(tmp) / "staging"),
            "VERBATIM_UPLOAD_MAX_BYTES": str(size + 1),
        }
        key = prepare(env)
        url = stack.enter_context(
            gunicorn(env, "app:create_app()", 1, 2, Path(tmp) / "gunicorn.log")
        )
        masters = [
            int(p.name)
            for p in Path("/proc").iterdir()
            if p.name.isdigit() and "gunicorn" in _cmdline(p) and _ppid(p) == os.getpid()
        ]
        pid = worker_pid(masters[0])
        upload(url, key, 8 * 1024 * 1024)  # warm-up: imports, pools, first staging file
        baseline = rss_mb(pid)
        peak = [baseline]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], rss_mb(pid))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        status, seconds = upload(url, key, size)
        done.set()
        sampler.join()
        growth = peak[0] - baseline
        mb_s = size / 1024**2 / seconds
        verdict = "PASS" if growth <= TARGET_GROWTH_MB else "FAIL"
        print(f"uploaded {size / 1024**3:.2f} GiB in {seconds:.1f} s ({mb_s:.0f} MiB/s)")
        print(f"last piece answered {status} (random bytes are refused by the probe)")
        print(f"worker RSS baseline {baseline:.1f} MB, peak {peak[0]:.1f} MB")
        print(f"growth {growth:.1f} MB (target <= {TARGET_GROWTH_MB:.0f} MB): {verdict}")
        return 0 if verdict == "PASS" else 1


def _cmdline(p: Path) -> str:
    try:
        return (p / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _ppid(p: Path) -> int:
    try:
        return int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


if __name__ == "__main__":
    sys.exit(main())
