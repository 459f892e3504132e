"""Periodic jobs, run by RQ's cron scheduler: `python -m workers.schedule`.

One scheduler process per installation is enough (RQ coordinates several).
"""

from __future__ import annotations

import logging
import threading

from redis import Redis
from rq.cron import CronScheduler

from workers.jobs.billing_grace import billing_grace
from workers.jobs.billing_reconcile import billing_reconcile
from workers.jobs.index_outbox import index_outbox
from workers.jobs.reap_stalled import reap_stalled
from workers.jobs.search_reconcile import search_reconcile
from workers.jobs.sweep_audio import sweep_audio

REAP_EVERY = 30  # with a 90 s silence threshold: a dead worker's job moves within 2 minutes
SWEEP_EVERY = 300
# The outbox is drained on every change; this catches what a failed enqueue or a search
# server outage left behind, well within the minute a deletion may take to leave search.
DRAIN_EVERY = 30
# Webhooks carry billing; these catch what they missed (a lost event, a grace period out).
BILLING_RECONCILE_EVERY = 24 * 3600
GRACE_EVERY = 3600


def _register(scheduler: CronScheduler, reconcile_every: int) -> CronScheduler:
    scheduler.register(reap_stalled, "default", interval=REAP_EVERY, job_timeout=120)
    scheduler.register(sweep_audio, "default", interval=SWEEP_EVERY, job_timeout=600)
    scheduler.register(index_outbox, "index", interval=DRAIN_EVERY, job_timeout=600)
    scheduler.register(search_reconcile, "index", interval=reconcile_every * 60, job_timeout=3600)
    scheduler.register(
        billing_reconcile, "default", interval=BILLING_RECONCILE_EVERY, job_timeout=3600
    )
    scheduler.register(billing_grace, "default", interval=GRACE_EVERY, job_timeout=600)
    return scheduler


def build(
    connection: Redis, reconcile_minutes: int = 60, logging_level: int | str = logging.INFO
) -> CronScheduler:
    scheduler = CronScheduler(connection=connection, logging_level=logging_level)
    return _register(scheduler, reconcile_minutes)


class _ThreadCron(CronScheduler):
    def _install_signal_handlers(self) -> None:
        pass  # only the main thread may; the quick start runs this in a thread


def start_thread(connection: Redis, reconcile_minutes: int = 60) -> threading.Thread:
    """The quick start's scheduler, inside the web process."""
    cron = _ThreadCron(connection=connection, logging_level=logging.WARNING)
    scheduler = _register(cron, reconcile_minutes)
    thread = threading.Thread(target=scheduler.start, name="verbatim-cron", daemon=True)
    thread.start()
    return thread


def main() -> None:
    from app.config import load_settings
    from app.queue import connection_for

    cfg = load_settings()
    build(connection_for(cfg.redis_url), cfg.search_reconcile_minutes).start()


if __name__ == "__main__":
    main()
