"""Job (periodic): enforce the audio deadline whatever the jobs' state, close stale uploads."""

from __future__ import annotations

from app.ingest import staging, uploads
from workers.runtime import job_context


def sweep_audio() -> str:
    with job_context():
        closed = uploads.expire_stale()
        removed = staging.sweep()
    return f"closed {closed} upload(s), removed {removed} staged file(s)"
