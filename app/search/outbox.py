"""The producer side: every change the index must learn writes an outbox row in the same
transaction, so a committed change can never be missed and a rolled-back one never leaks.

ORM changes are caught in one place (a before_flush listener), so no service can forget:
new completed transcripts, changed searchable fields (title, tags, folder, revision...),
deleted transcripts and workspaces. Bulk SQL updates bypass the ORM; their services call
note() themselves (organizing.move, organizing.delete_folder).

After the commit, a drain job goes to the `index` queue (at most one waiting at a time); if
Redis is down the save still succeeds, and the scheduled drain picks the rows up.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from app.search.models import SearchOutbox
from app.tenants.context import current_workspace_id
from app.tenants.models import Workspace
from app.transcripts.models import Status, Transcript

log = logging.getLogger("verbatim.search")

# Fields of a transcript that documents carry: changing one means re-indexing it.
SEARCHABLE = (
    "title",
    "tags",
    "folder_id",
    "revision",
    "language",
    "status",
    "uploader_id",
    "encrypted",
    "workspace_id",
)
DRAIN_JOB = "workers.jobs.index_outbox.index_outbox"
DRAIN_PENDING_KEY = "verbatim:search:drain-pending"
_NOTED = "verbatim_search_noted"


def note(session: Session, workspace_id: uuid.UUID, transcript_ids: Iterable[uuid.UUID]) -> None:
    """Queue transcripts of a workspace for (re-)indexing or removal from the index; the
    indexer reads their state when it drains, so one row per transcript is enough."""
    noted = session.info.setdefault(_NOTED, set())
    for transcript_id in transcript_ids:
        key = (workspace_id, transcript_id)
        if key in noted:
            continue
        noted.add(key)
        session.add(SearchOutbox(workspace_id=workspace_id, transcript_id=transcript_id))
    _drain_after_commit(session)


def note_workspace_gone(session: Session, workspace_id: uuid.UUID) -> None:
    session.add(SearchOutbox(workspace_id=workspace_id, transcript_id=None))
    _drain_after_commit(session)


def _changed(t: Transcript) -> bool:
    state = inspect(t)
    return any(state.attrs[name].history.has_changes() for name in SEARCHABLE)


def _was_or_is_completed(t: Transcript) -> bool:
    state = inspect(t)
    if "status" in state.unloaded:
        return True  # cannot tell without a query: re-indexing is harmless
    history = state.attrs.status.history
    return Status.COMPLETED in (*history.added, *history.deleted, *history.unchanged)


@event.listens_for(Session, "before_flush")
def _collect(session: Session, _ctx: object, _instances: object) -> None:
    for obj in session.new:
        if isinstance(obj, Transcript) and obj.status == Status.COMPLETED:
            # Defaults are applied at INSERT, after this: settle the two we need now.
            obj.id = obj.id or uuid.uuid4()
            obj.workspace_id = obj.workspace_id or current_workspace_id()  # type: ignore[assignment]
            obj.search_version = (obj.search_version or 0) + 1
            note(session, obj.workspace_id, [obj.id])
    for obj in session.dirty:
        if isinstance(obj, Transcript) and _changed(obj) and _was_or_is_completed(obj):
            obj.search_version = (obj.search_version or 0) + 1
            old = inspect(obj).attrs.workspace_id.history.deleted
            for workspace_id in {obj.workspace_id, *old}:
                note(session, workspace_id, [obj.id])
    for obj in session.deleted:
        if isinstance(obj, Transcript):
            note(session, obj.workspace_id, [obj.id])
        elif isinstance(obj, Workspace):
            note_workspace_gone(session, obj.id)


@event.listens_for(Session, "after_commit")
def _forget(session: Session) -> None:
    session.info.pop(_NOTED, None)


@event.listens_for(Session, "after_soft_rollback")
def _forget_on_rollback(session: Session, _previous: object) -> None:
    session.info.pop(_NOTED, None)


def _drain_after_commit(session: Session) -> None:
    from app.queue import on_commit

    if session.info.get("verbatim_search_drain_planned"):
        return
    session.info["verbatim_search_drain_planned"] = True
    on_commit(session, request_drain)


@event.listens_for(Session, "after_transaction_end")
def _unplan(session: Session, transaction) -> None:  # type: ignore[no-untyped-def]
    if transaction.parent is None:
        session.info.pop("verbatim_search_drain_planned", None)


def request_drain() -> None:
    """Enqueue a drain unless one is already waiting. Never raises: the change is committed
    and the scheduled drain is the safety net."""
    try:
        from app.queue import enqueue, redis

        if redis().set(DRAIN_PENDING_KEY, "1", nx=True, ex=60):
            enqueue(DRAIN_JOB, queue_name="index", retries=3, intervals=[5, 30, 120])
    except Exception:
        log.warning("could not enqueue a search drain; the scheduled one will run", exc_info=True)
