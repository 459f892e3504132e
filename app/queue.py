"""RQ queues and the Redis connection; jobs are enqueued by dotted path with ids only."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import fakeredis
from redis import Redis
from redis.client import Pipeline
from rq import Queue, Retry
from rq.registry import StartedJobRegistry
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
    workspace_id: uuid.UUID | None = None,
    job_id: str | None = None,
) -> str:
    """Enqueue `func` (dotted path) with ids only; retried with backoff.

    With a workspace id the job takes its fair place in the queue (FairQueue) instead of
    the back of the line.
    """
    q = FairQueue(queue_name, connection=redis()) if workspace_id else queue(queue_name)
    job = q.enqueue(
        func,
        *ids,
        retry=Retry(max=retries, interval=intervals or [10, 60, 300]),
        job_timeout=timeout,
        # A failed job's record (its traceback, never the message: workers/failures.py)
        # is kept only as long as someone may need to look into it.
        failure_ttl=settings().failed_job_ttl_hours * 3600,
        job_id=job_id or new_job_id(workspace_id),
    )
    return job.id


def new_job_id(workspace_id: uuid.UUID | None = None) -> str:
    """A job id known before the job is enqueued (stored with its row in the same commit);
    a workspace's jobs carry its id so the fair queue can tell whose they are."""
    return f"w{workspace_id.hex}_{uuid.uuid4().hex}" if workspace_id else uuid.uuid4().hex


# Round-robin across workspaces, computed where the job is pushed. A job's round is how many
# jobs of its workspace are running or queued before it; it goes in front of the first job
# of a later round, so a workspace's burst of 100 files cannot hold back another
# workspace's single file by more than the job now running. Jobs without an owner prefix
# (retries pushed by RQ's scheduler, other producers) count as one workspace "".
_FAIR_PUSH = """
local function owner(id) return string.match(id, '^w(%x+)_') or '' end
local seen = {}
for _, m in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  local o = owner(m); seen[o] = (seen[o] or 0) + 1
end
local ids = redis.call('LRANGE', KEYS[1], 0, -1)
local me = owner(ARGV[1])
local mine = seen[me] or 0
for _, id in ipairs(ids) do if owner(id) == me then mine = mine + 1 end end
for _, id in ipairs(ids) do
  local o = owner(id); local r = seen[o] or 0; seen[o] = r + 1
  if r > mine then return redis.call('LINSERT', KEYS[1], 'BEFORE', id, ARGV[1]) end
end
return redis.call('RPUSH', KEYS[1], ARGV[1])
"""


class FairQueue(Queue):
    def push_job_id(
        self, job_id: str, pipeline: Pipeline | None = None, at_front: bool = False
    ) -> None:
        if at_front or not job_id.startswith("w"):
            super().push_job_id(job_id, pipeline=pipeline, at_front=at_front)
            return
        script = self.connection.register_script(_FAIR_PUSH)
        wip = StartedJobRegistry(self.name, connection=self.connection).key
        script(keys=[self.key, wip], args=[job_id], client=pipeline or self.connection)


def position(queue_name: str, job_id: str) -> int | None:
    """0 for the next job to start; None when the job is not waiting in the queue."""
    pos = redis().lpos(f"rq:queue:{queue_name}", job_id)
    return None if pos is None else int(pos)


def running_count(queue_name: str) -> int:
    return StartedJobRegistry(queue_name, connection=redis()).count


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
