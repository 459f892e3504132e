"""The consumer side: drain the outbox into the backend, repair drift, rebuild.

Draining is idempotent and ordered per transcript. Each transcript is synced in its own
transaction under a lock on its id (PostgreSQL advisory lock; one process-wide lock on
SQLite, whose quick start has one process), and the state is read after the lock is
taken, so the last sync always writes the newest state. Backends also refuse a document
version lower than the stored one. Outbox rows are deleted only after the backend
confirmed the write; while the search server is down they wait.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import delete, event, func, select, text, update
from sqlalchemy.orm import Session

from app.extensions import db
from app.search import documents
from app.search.backend import SearchBackend, SearchUnavailable, backend
from app.search.models import SearchOutbox
from app.tenants.context import unscoped, workspace_scope
from app.tenants.models import Workspace
from app.transcripts.models import Status, Transcript, TranscriptSegment

log = logging.getLogger("verbatim.search")

BATCH = 100
GIVE_UP_AFTER = 5  # attempts of a row that keeps failing; reconcile retries it later
_local_lock = threading.RLock()


@dataclass
class DrainReport:
    synced: int = 0
    failed: int = 0

    def __str__(self) -> str:
        return f"synced {self.synced} transcript(s), {self.failed} failed"


@dataclass
class ReconcileReport:
    queued: int = 0
    workspaces_purged: int = 0
    checked: int = 0
    drained: DrainReport = field(default_factory=DrainReport)

    def __str__(self) -> str:
        return (
            f"checked {self.checked} transcript(s), queued {self.queued} for repair, "
            f"purged {self.workspaces_purged} deleted workspace(s); {self.drained}"
        )


def drain(engine: SearchBackend | None = None) -> DrainReport:
    """Sync every transcript the outbox names, oldest first, until it is empty."""
    engine = engine or backend()
    report = DrainReport()
    skip: set[tuple[uuid.UUID, uuid.UUID | None]] = set()
    while True:
        with unscoped("the index worker drains every workspace's outbox"):
            pending = db.session.execute(
                select(
                    SearchOutbox.workspace_id,
                    SearchOutbox.transcript_id,
                    func.max(SearchOutbox.id),
                )
                .group_by(SearchOutbox.workspace_id, SearchOutbox.transcript_id)
                .order_by(func.min(SearchOutbox.id))
                .limit(BATCH + len(skip))
            ).all()
        db.session.commit()
        todo = [p for p in pending if (p[0], p[1]) not in skip]
        if not todo:
            return report
        for workspace_id, transcript_id, upto in todo:
            try:
                if _drain_one(engine, workspace_id, transcript_id, upto):
                    report.synced += 1
            except SearchUnavailable:
                db.session.rollback()
                raise
            except Exception:
                db.session.rollback()
                log.exception("indexing %s of workspace %s failed", transcript_id, workspace_id)
                _count_failure(workspace_id, transcript_id, upto)
                report.failed += 1
                skip.add((workspace_id, transcript_id))


def _drain_one(
    engine: SearchBackend, workspace_id: uuid.UUID, transcript_id: uuid.UUID | None, upto: int
) -> bool:
    _lock(transcript_id or workspace_id)
    with unscoped("the index worker takes the outbox rows it is about to sync"):
        ids = list(
            db.session.scalars(
                select(SearchOutbox.id)
                .where(_target(workspace_id, transcript_id), SearchOutbox.id <= upto)
                .with_for_update(skip_locked=True)
            )
        )
    if not ids:  # another worker took them
        db.session.rollback()
        return False
    if transcript_id is None:
        engine.delete_workspace(workspace_id)
    else:
        with workspace_scope(workspace_id):
            sync(engine, workspace_id, transcript_id)
    engine.commit()
    with unscoped("the index worker removes the outbox rows it synced"):
        db.session.execute(delete(SearchOutbox).where(SearchOutbox.id.in_(ids)))
    db.session.commit()
    return True


def sync(engine: SearchBackend, workspace_id: uuid.UUID, transcript_id: uuid.UUID) -> None:
    """Make the index match the transcript as it is now in this workspace (scoped read: a
    transcript moved away or deleted is simply not found, and leaves the index)."""
    t = db.session.scalar(
        select(Transcript)
        .where(Transcript.id == transcript_id)
        .execution_options(populate_existing=True)
    )
    if t is None or not documents.indexable(t):
        engine.delete(workspace_id, transcript_id)
        return
    docs = documents.build(t)
    if docs:
        engine.replace(workspace_id, transcript_id, docs)
    else:
        engine.delete(workspace_id, transcript_id)


def _target(workspace_id: uuid.UUID, transcript_id: uuid.UUID | None):  # type: ignore[no-untyped-def]
    if transcript_id is None:
        return (SearchOutbox.workspace_id == workspace_id) & SearchOutbox.transcript_id.is_(None)
    return (SearchOutbox.workspace_id == workspace_id) & (
        SearchOutbox.transcript_id == transcript_id
    )


def _lock(key: uuid.UUID) -> None:
    """Serialise syncs of one transcript until the transaction ends."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": str(key)}
        )
    else:
        _local_lock.acquire()
        db.session.info.setdefault("verbatim_release", []).append(_local_lock.release)


@event.listens_for(Session, "after_transaction_end")
def _release_local_lock(session: Session, transaction) -> None:  # type: ignore[no-untyped-def]
    if transaction.parent is None:
        for release in session.info.pop("verbatim_release", []):
            release()


def _count_failure(workspace_id: uuid.UUID, transcript_id: uuid.UUID | None, upto: int) -> None:
    with unscoped("the index worker counts a failed sync"):
        target = (_target(workspace_id, transcript_id), SearchOutbox.id <= upto)
        db.session.execute(
            update(SearchOutbox).where(*target).values(attempts=SearchOutbox.attempts + 1)
        )
        dropped = db.session.execute(
            delete(SearchOutbox).where(*target, SearchOutbox.attempts >= GIVE_UP_AFTER)
        ).rowcount
    db.session.commit()
    if dropped:
        log.error(
            "gave up indexing %s of workspace %s after %d attempts; reconcile will retry",
            transcript_id,
            workspace_id,
            GIVE_UP_AFTER,
        )


# --- Reconcile and rebuild -----------------------------------------------------------------


def _expected(workspace_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """Transcripts that should have documents, with their version. One without any words
    (silence) has none, and must not read as missing from the index forever."""
    has_words = (
        select(TranscriptSegment.id)
        .where(
            TranscriptSegment.transcript_id == Transcript.id,
            func.trim(TranscriptSegment.text) != "",
        )
        .exists()
    )
    with workspace_scope(workspace_id):
        rows = db.session.execute(
            select(Transcript.id, Transcript.search_version).where(
                Transcript.status == Status.COMPLETED, Transcript.encrypted.is_(False), has_words
            )
        ).all()
    return {r[0]: r[1] for r in rows}


def _workspace_ids() -> set[uuid.UUID]:
    with unscoped("reconcile walks every workspace"):
        return set(db.session.scalars(select(Workspace.id)))


def reconcile(engine: SearchBackend | None = None) -> ReconcileReport:
    """Compare every workspace's transcripts with the index; queue what differs (missing,
    stale, or no longer there), purge workspaces that no longer exist, then drain."""
    engine = engine or backend()
    report = ReconcileReport()
    existing = _workspace_ids()
    for workspace_id in sorted(engine.workspace_ids() - existing):
        with unscoped("reconcile purges a deleted workspace from the index"):
            db.session.add(SearchOutbox(workspace_id=workspace_id, transcript_id=None))
        report.workspaces_purged += 1
    for workspace_id in sorted(existing):
        expected = _expected(workspace_id)
        indexed = engine.versions(workspace_id)
        report.checked += len(expected)
        drift = {t for t, v in expected.items() if indexed.get(t) != v} | (
            set(indexed) - set(expected)
        )
        with unscoped("reconcile queues repairs"):
            for transcript_id in sorted(drift):
                db.session.add(SearchOutbox(workspace_id=workspace_id, transcript_id=transcript_id))
        report.queued += len(drift)
    db.session.commit()
    report.drained = drain(engine)
    return report


def _documents_of_every_workspace() -> Iterator[tuple[uuid.UUID, list[documents.ChunkDoc]]]:
    for workspace_id in sorted(_workspace_ids()):
        with workspace_scope(workspace_id):
            ids = list(
                db.session.scalars(
                    select(Transcript.id).where(
                        Transcript.status == Status.COMPLETED, Transcript.encrypted.is_(False)
                    )
                )
            )
            for transcript_id in ids:
                t = db.session.get(Transcript, transcript_id)
                if t is not None and documents.indexable(t):
                    docs = documents.build(t)
                    if docs:
                        yield workspace_id, docs
            db.session.commit()
            db.session.expunge_all()


def reindex(engine: SearchBackend | None = None) -> tuple[int, ReconcileReport]:
    """Rebuild the whole index while searches keep answering from the old one, then
    reconcile to catch what changed during the rebuild. Returns transcripts written."""
    engine = engine or backend()
    engine.ensure_ready()
    rebuild = engine.begin_rebuild()
    written = 0
    try:
        for workspace_id, docs in _documents_of_every_workspace():
            with workspace_scope(workspace_id):
                rebuild.add(docs)
            written += 1
        rebuild.finish()
    except BaseException:
        rebuild.abort()
        raise
    db.session.commit()
    return written, reconcile(engine)


def backlog() -> tuple[int, float | None]:
    """Outbox rows waiting, and the age in seconds of the oldest (None when empty)."""
    from app.db import as_utc, utcnow

    with unscoped("status of the whole outbox"):
        count, oldest = db.session.execute(
            select(func.count(SearchOutbox.id), func.min(SearchOutbox.created_at))
        ).one()
    db.session.commit()
    age = (utcnow() - as_utc(oldest)).total_seconds() if oldest is not None else None
    return int(count or 0), age
