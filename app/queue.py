"""RQ queues and the Redis connection; jobs are enqueued by dotted path with ids only."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import fakeredis
from redis import Redis
from rq import Queue, Retry
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.settings import settings

QUEUES = ("gpu", "default", "index", "ai", "email")

_fake_server: fakeredis.FakeServer | None = None
_fake_lock = threading.Lock()


def connection_for(url: str) -> Redis:
    """A Redis connection; an empty URL gives the in-process stand-in (quick start)."""
    global _fake_server
    if url:
        return Redis.from_url(url)
    with _fake_lock:
        if _fake_server is None:
            _fake_server = fakeredis.FakeServer()
    return fakeredis.FakeRedis(server=_fake_server)


def redis() -> Redis:
    from flask import current_app

    conn = current_app.extensions.get("verbatim.redis")
    if conn is None:
        conn = connection_for(settings().redis_url)
        current_app.extensions["verbatim.redis"] = conn
    return conn


def queue(name: str) -> Queue:
    if name not in QUEUES:
        raise ValueError(f"unknown queue {name}")
    return Queue(name, connection=redis())


def enqueue(
    func: str,
    *ids: str,
    queue_name: str = "default",
    retries: int = 3,
    intervals: list[int] | None = None,
    timeout: int = 300,
) -> str:
    """Enqueue `func` (dotted path) with ids only; retried with backoff."""
    job = queue(queue_name).enqueue(
        func,
        *ids,
        retry=Retry(max=retries, interval=intervals or [10, 60, 300]),
        job_timeout=timeout,
        failure_ttl=7 * 24 * 3600,
    )
    return job.id


def on_commit(session: Session, callback: Callable[[], Any]) -> None:
    """Run `callback` once the session's transaction commits (and never if it rolls back).

    Jobs are enqueued this way so a worker never looks for a row that is not committed yet.
    """
    session.info.setdefault("verbatim_on_commit", []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_on_commit(session: Session) -> None:
    callbacks = session.info.pop("verbatim_on_commit", [])
    for callback in callbacks:
        callback()


@event.listens_for(Session, "after_soft_rollback")
def _drop_on_rollback(session: Session, _previous: object) -> None:
    session.info.pop("verbatim_on_commit", None)
