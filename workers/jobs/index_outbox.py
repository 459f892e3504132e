"""Job (queue `index`, also every 30 s): drain the search outbox into the backend."""

from __future__ import annotations

from app.search import indexer
from app.search.outbox import DRAIN_PENDING_KEY
from workers.runtime import job_context


def index_outbox() -> str:
    with job_context():
        from app.queue import redis

        # Cleared first: a change committed from now on enqueues a drain of its own.
        redis().delete(DRAIN_PENDING_KEY)
        return str(indexer.drain())
