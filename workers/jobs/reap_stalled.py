"""Job (periodic): requeue or fail transcripts whose worker died, re-enqueue lost jobs."""

from __future__ import annotations

from app.transcripts.lifecycle import reap_stalled as reap
from workers.runtime import job_context


def reap_stalled() -> str:
    with job_context():
        counts = reap()
    return ", ".join(f"{k} {v}" for k, v in counts.items())
