"""The quick start's worker: a thread in the web process on the in-process Redis."""

from __future__ import annotations

import logging
import threading

from flask import Flask
from redis import Redis
from rq import SimpleWorker
from rq.scheduler import RQScheduler
from rq.timeouts import TimerDeathPenalty

from app.queue import QUEUES, redis
from workers.failures import SafeFailures
from workers.runtime import adopt_app

log = logging.getLogger("verbatim.worker")


class ThreadWorker(SafeFailures, SimpleWorker):
    # Signals can only be handled in the main thread; timeouts use a timer instead.
    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        pass


class ThreadScheduler(RQScheduler):
    """RQ's scheduler (due retries back onto their queues) as a thread on our connection:
    the in-process Redis stand-in cannot be shared with the process RQ would fork."""

    def __init__(self, queues: list[str], connection: Redis) -> None:
        super().__init__(queues, connection=connection, logging_level="WARNING")
        self._conn = connection

    @property
    def connection(self) -> Redis:
        return self._conn

    def _install_signal_handlers(self) -> None:
        pass


def start(app: Flask) -> list[threading.Thread]:
    """Two worker threads, so a long transcription does not hold up mail and indexing,
    plus RQ's retry scheduler and the periodic jobs (sweeper, reaper, search drain and
    reconcile, retention)."""
    from workers.schedule import start_thread as start_cron

    adopt_app(app)
    with app.app_context():
        conn = redis()
    threads = []
    for name, queues in (("transcribe", ["gpu"]), ("other", [q for q in QUEUES if q != "gpu"])):
        worker = ThreadWorker(queues, connection=conn)
        thread = threading.Thread(
            target=worker.work,
            kwargs={"logging_level": "WARNING"},
            name=f"verbatim-inline-worker-{name}",
            daemon=True,
        )
        thread.start()
        threads.append(thread)
    scheduler = ThreadScheduler(list(QUEUES), conn)
    scheduler.acquire_locks()
    threading.Thread(target=scheduler.work, name="verbatim-inline-scheduler", daemon=True).start()
    cfg = app.extensions["verbatim.settings"]
    threads.append(start_cron(conn, cfg.search_reconcile_minutes, cfg.failed_job_ttl_hours))
    log.info("inline workers started on queues %s", ", ".join(QUEUES))
    return threads
