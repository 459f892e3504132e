"""Periodic jobs, run by RQ's cron scheduler: `python -m workers.schedule`.

One scheduler process per installation is enough (RQ coordinates several).
"""

from __future__ import annotations

import logging
import threading

from redis import Redis
from rq.cron import CronScheduler

from workers.jobs.reap_stalled import reap_stalled
from workers.jobs.sweep_audio import sweep_audio

REAP_EVERY = 30  # with a 90 s silence threshold: a dead worker's job moves within 2 minutes
SWEEP_EVERY = 300


def _register(scheduler: CronScheduler) -> CronScheduler:
    scheduler.register(reap_stalled, "default", interval=REAP_EVERY, job_timeout=120)
    scheduler.register(sweep_audio, "default", interval=SWEEP_EVERY, job_timeout=600)
    return scheduler


def build(connection: Redis, logging_level: int | str = logging.INFO) -> CronScheduler:
    return _register(CronScheduler(connection=connection, logging_level=logging_level))


class _ThreadCron(CronScheduler):
    def _install_signal_handlers(self) -> None:
        pass  # only the main thread may; the quick start runs this in a thread


def start_thread(connection: Redis) -> threading.Thread:
    """The quick start's scheduler, inside the web process."""
    scheduler = _register(_ThreadCron(connection=connection, logging_level=logging.WARNING))
    thread = threading.Thread(target=scheduler.start, name="verbatim-cron", daemon=True)
    thread.start()
    return thread


def main() -> None:
    from app.config import load_settings
    from app.queue import connection_for

    build(connection_for(load_settings().redis_url)).start()


if __name__ == "__main__":
    main()
