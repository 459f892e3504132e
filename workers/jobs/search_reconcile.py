"""Job (periodic): compare the search index with the database and repair drift."""

from __future__ import annotations

from app.search import indexer
from app.search.backend import backend
from workers.runtime import job_context


def search_reconcile() -> str:
    with job_context():
        backend().ensure_ready()
        return str(indexer.reconcile())
