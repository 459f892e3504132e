"""Fairness across workspaces on a real Redis with a real RQ worker: a workspace that queues
many files holds back another workspace's single file by at most the job now running."""

from __future__ import annotations

import threading
import time
import uuid

from rq.registry import StartedJobRegistry

from app.queue import FairQueue
from workers.inline import ThreadWorker

JOB = "tests.integration.fair_jobs.record"


def _enqueue(q: FairQueue, workspace: uuid.UUID, tag: str, seconds: float = 0.0) -> None:
    q.enqueue(JOB, tag, seconds, job_id=f"w{workspace.hex}_{uuid.uuid4().hex}")


def test_a_single_file_waits_for_at_most_the_running_job(redis_conn):
    name = f"fair-{uuid.uuid4().hex[:8]}"
    q = FairQueue(name, connection=redis_conn)
    redis_conn.delete("test:fair:order")
    busy, other, third = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for i in range(30):
        _enqueue(q, busy, f"busy-{i}", 0.15)
    worker = ThreadWorker([name], connection=redis_conn)
    thread = threading.Thread(target=worker.work, kwargs={"burst": True}, daemon=True)
    thread.start()
    registry = StartedJobRegistry(name, connection=redis_conn)
    deadline = time.monotonic() + 10
    while registry.count == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert registry.count == 1  # busy-0 is running now
    _enqueue(q, other, "other-0")
    _enqueue(q, third, "third-0")
    _enqueue(q, other, "other-1")
    thread.join(timeout=30)
    order = [x.decode() for x in redis_conn.lrange("test:fair:order", 0, -1)]
    assert len(order) == 33
    # The running job finishes, then the newcomers' first files, before busy's backlog.
    assert order[:3] == ["busy-0", "other-0", "third-0"]
    # other's second file takes its turn in the next round, not after the 29 left.
    assert order.index("other-1") <= 5
    assert [t for t in order if t.startswith("busy")] == [f"busy-{i}" for i in range(30)]


def test_jobs_without_an_owner_keep_plain_fifo(redis_conn):
    name = f"fair-{uuid.uuid4().hex[:8]}"
    q = FairQueue(name, connection=redis_conn)
    ids = [q.enqueue(JOB, f"plain-{i}", 0).id for i in range(3)]
    assert q.job_ids == ids
