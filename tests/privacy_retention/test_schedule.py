"""The retention jobs are scheduled daily, and no periodic job's failure outlives the
failed-job setting (RQ would keep it a year)."""

from __future__ import annotations

from workers.schedule import RETENTION_EVERY, build


def test_retention_jobs_run_daily_and_failures_expire(redis_conn):
    scheduler = build(redis_conn, failed_ttl_hours=5)
    jobs = {job.func_name: job for job in scheduler.get_jobs()}
    for name in (
        "workers.jobs.analytics_anonymise.analytics_anonymise",
        "workers.jobs.api_log_prune.api_log_prune",
    ):
        assert jobs[name].interval == RETENTION_EVERY == 24 * 3600
    assert "workers.jobs.sweep_audio.sweep_audio" in jobs
    assert {job.job_options["failure_ttl"] for job in jobs.values()} == {5 * 3600}
