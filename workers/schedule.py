"""Periodic jobs, run by RQ's cron scheduler: `python -m workers.schedule`.

One scheduler process per installation is enough (RQ coordinates several).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from redis import Redis
from rq.cron import CronScheduler

from workers.jobs.analytics_anonymise import analytics_anonymise
from workers.jobs.api_log_prune import api_log_prune
from workers.jobs.billing_grace import billing_grace
from workers.jobs.billing_reconcile import billing_reconcile
from workers.jobs.index_outbox import index_outbox
from workers.jobs.privacy_deletions import privacy_deletions
from workers.jobs.privacy_exports_expire import privacy_exports_expire
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
# Retention: analytics anonymised and API request metadata deleted after 90 days; a day
# late at most is well inside what the privacy policy promises.
RETENTION_EVERY = 24 * 3600
# Deletion requests filed by an operator, and exports past their link's life: hourly.
PRIVACY_EVERY = 3600
# RQ keeps a failed periodic job a year by default; ours no longer than any other job.
FAILED_TTL_HOURS = 24


def _register(
    scheduler: CronScheduler, reconcile_every: int, failed_ttl_hours: int = FAILED_TTL_HOURS
) -> CronScheduler:
    def every(func: Callable[..., object], queue: str, interval: int, timeout: int) -> None:
        scheduler.register(
            func,
            queue,
            interval=interval,
            job_timeout=timeout,
            failure_ttl=failed_ttl_hours * 3600,
        )

    every(reap_stalled, "default", REAP_EVERY, 120)
    every(sweep_audio, "default", SWEEP_EVERY, 600)
    every(index_outbox, "index", DRAIN_EVERY, 600)
    every(search_reconcile, "index", reconcile_every * 60, 3600)
    every(billing_reconcile, "default", BILLING_RECONCILE_EVERY, 3600)
    every(billing_grace, "default", GRACE_EVERY, 600)
    every(analytics_anonymise, "default", RETENTION_EVERY, 3600)
    every(api_log_prune, "default", RETENTION_EVERY, 3600)
    every(privacy_deletions, "default", PRIVACY_EVERY, 3600)
    every(privacy_exports_expire, "default", PRIVACY_EVERY, 600)
    return scheduler


def build(
    connection: Redis,
    reconcile_minutes: int = 60,
    logging_level: int | str = logging.INFO,
    failed_ttl_hours: int = FAILED_TTL_HOURS,
) -> CronScheduler:
    scheduler = CronScheduler(connection=connection, logging_level=logging_level)
    return _register(scheduler, reconcile_minutes, failed_ttl_hours)


class _ThreadCron(CronScheduler):
    def _install_signal_handlers(self) -> None:
        pass  # only the main thread may; the quick start runs this in a thread


def start_thread(
    connection: Redis, reconcile_minutes: int = 60, failed_ttl_hours: int = FAILED_TTL_HOURS
) -> threading.Thread:
    """The quick start's scheduler, inside the web process."""
    cron = _ThreadCron(connection=connection, logging_level=logging.WARNING)
    scheduler = _register(cron, reconcile_minutes, failed_ttl_hours)
    thread = threading.Thread(target=scheduler.start, name="verbatim-cron", daemon=True)
    thread.start()
    return thread


def main() -> None:
    from app.config import load_settings
    from app.queue import connection_for

    cfg = load_settings()
    build(
        connection_for(cfg.redis_url),
        cfg.search_reconcile_minutes,
        failed_ttl_hours=cfg.failed_job_ttl_hours,
    ).start()


if __name__ == "__main__":
    main()
