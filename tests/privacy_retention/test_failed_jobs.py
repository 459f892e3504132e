"""Failed jobs keep no transcript text in Redis, and not for long: a real worker process
runs a job whose exception quotes a transcript (canary_jobs.py)."""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import subprocess
import sys
import zlib
from collections.abc import Iterator
from typing import NamedTuple

import pytest
from flask import Flask
from redis import Redis
from rq import Worker
from rq.job import Job, JobStatus

from app import ROOT, create_app
from app.queue import enqueue
from app.settings import settings
from tests.privacy_retention.canary_jobs import CANARY, CONTROL

JOBS = "tests.privacy_retention.canary_jobs"
QUEUE = "ai"
# A logical Redis database no other test uses: `make test` shares one Redis between the
# parallel test processes, whose workers on the same queue would take these jobs.
OWN_DB = 13


@pytest.fixture
def own(app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Own]:
    """An app, a worker environment and a connection on OWN_DB, emptied before and after."""
    url = app_env["VERBATIM_REDIS_URL"].rsplit("/", 1)[0] + f"/{OWN_DB}"
    env = {**app_env, "VERBATIM_REDIS_URL": url}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    conn = Redis.from_url(url)
    conn.flushdb()
    try:
        yield Own(create_app(), env, conn)
    finally:
        conn.flushdb()


class Own(NamedTuple):
    app: Flask
    env: dict[str, str]
    conn: Redis


def _values(conn: Redis) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) for every value of every key, whatever its type."""
    for key in conn.scan_iter(count=1000):
        kind = conn.type(key).decode()
        values: list[bytes] = [key]
        if kind == "none":
            continue  # expired between the scan and the read (rate-limit counters do)
        if kind == "string":
            values.append(conn.get(key) or b"")
        elif kind == "hash":
            for field, value in conn.hgetall(key).items():
                values += [field, value]
        elif kind == "list":
            values += conn.lrange(key, 0, -1)
        elif kind == "set":
            values += list(conn.smembers(key))
        elif kind == "zset":
            values += conn.zrange(key, 0, -1)
        elif kind == "stream":
            for entry_id, fields in conn.xrange(key):
                values.append(entry_id)
                for field, value in fields.items():
                    values += [field, value]
        else:
            raise AssertionError(f"a Redis type this scan does not read: {kind} ({key!r})")
        for value in values:
            yield key, value


def _readable(value: bytes) -> list[bytes]:
    """The value as stored and as RQ compresses it (job exc_info: zlib; results: base64
    of zlib), so compressed text is found too."""
    forms = [value]
    with contextlib.suppress(zlib.error):
        forms.append(zlib.decompress(value))
    with contextlib.suppress(binascii.Error, ValueError, zlib.error):
        forms.append(zlib.decompress(base64.b64decode(value, validate=True)))
    return forms


def holders(conn: Redis, text: str) -> set[str]:
    needle = text.encode()
    return {
        key.decode(errors="replace")
        for key, value in _values(conn)
        for form in _readable(value)
        if needle in form
    }


def _enqueue_failing(app, func: str) -> str:  # type: ignore[no-untyped-def]
    with app.app_context():
        # One immediate retry: the first failure goes through RQ's retry path, the second
        # ends in the failed-job registry.
        return enqueue(f"{JOBS}.{func}", queue_name=QUEUE, retries=1, intervals=[0])


def test_the_scan_finds_text_rq_keeps_compressed(own: Own) -> None:
    """The control: RQ's own worker keeps the message (compressed), and the scan sees it;
    so the scan finding nothing below means something."""
    job_id = _enqueue_failing(own.app, "fail_with_control")
    Worker([QUEUE], connection=own.conn).work(burst=True, logging_level="WARNING")  # RQ's
    assert Job.fetch(job_id, connection=own.conn).get_status() == JobStatus.FAILED
    found = holders(own.conn, CONTROL)
    assert f"rq:results:{job_id}" in found  # RQ 2 keeps it in the failure Result
    own.conn.delete(*found)


def test_a_failed_job_keeps_no_message_in_redis_and_expires(own: Own) -> None:
    job_id = _enqueue_failing(own.app, "fail_with_canary")
    result = subprocess.run(
        [sys.executable, "-m", "workers", "--queues", QUEUE, "--burst"],
        cwd=ROOT,
        env={**os.environ, **own.env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]

    job = Job.fetch(job_id, connection=own.conn)
    assert job.get_status() == JobStatus.FAILED, (result.stdout[-3000:], result.stderr[-3000:])
    # What is kept: where it failed and what kind of error, nothing it said.
    kept = job.latest_result().exc_string or ""
    assert "tests/privacy_retention/canary_jobs.py:" in kept
    assert "RuntimeError (from ValueError)" in kept
    assert holders(own.conn, CANARY) == set()
    assert holders(own.conn, "Ada Quill") == set()
    # Nor in the worker's own log lines.
    assert "Ada Quill" not in result.stdout + result.stderr

    with own.app.app_context():
        limit = settings().failed_job_ttl_hours * 3600
    assert job.failure_ttl == limit
    for key in (job.key, f"rq:results:{job_id}"):
        ttl = own.conn.ttl(key)
        assert 0 < ttl <= limit, (key, ttl)
