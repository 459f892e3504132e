"""Job (periodic): enforce the audio deadline whatever the jobs' state, close stale uploads,
and delete Voice Lab files no kept contribution owns."""

from __future__ import annotations

from datetime import datetime

from app.ingest import staging, uploads
from app.privacy import voice_lab
from workers.runtime import job_context


def sweep_audio(now: datetime | None = None) -> str:
    with job_context():
        closed = uploads.expire_stale()
        report = staging.sweep_report(now)
        staging.record_sweep(report, now)  # the metric /healthz shows
        strays = voice_lab.sweep_strays()
    return (
        f"closed {closed} upload(s), removed {report.swept} staged file(s),"
        f" {report.overdue} past the deadline, {strays} stray Voice Lab file(s)"
    )
