"""The producer side: every change the index must learn writes an outbox row in the very
transaction that makes the change (PostgreSQL's xmin says which transaction wrote a row),
a rolled-back change leaves none, and a real RQ worker process drains what a person
changed through the pages."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from redis import Redis
from rq import Queue
from sqlalchemy import select, text

from app.search import outbox
from app.search.models import SearchOutbox
from app.transcripts import lifecycle, organizing, services
from app.transcripts.models import Folder, Status, Transcript
from tests.search.support import (
    READING,
    READING_NAMES,
    SearchApp,
    Space,
    edit,
    found,
    reading,
    segment_id,
)
from tests.transcripts import Team, make_transcript
from workers.engines.base import EngineResult, Segment


def xmin(
    sa: SearchApp, workspace_id: uuid.UUID | None, table: str, where: str, **params: Any
) -> set[str]:
    """The ids of the transactions that last wrote the matching rows."""
    with sa.session(workspace_id) as s:
        rows = s.execute(text(f"SELECT xmin::text FROM {table} WHERE {where}"), params)  # noqa: S608
        return {r[0] for r in rows}


def outbox_xmin(sa: SearchApp, workspace_id: uuid.UUID, tid: uuid.UUID) -> set[str]:
    where = "workspace_id = :w AND transcript_id = :t"
    return xmin(sa, None, "search_outbox", where, w=workspace_id, t=tid)


def transcript_xmin(sa: SearchApp, space: Space, tid: uuid.UUID) -> set[str]:
    return xmin(sa, space.id, "transcripts", "id = :t", t=tid)


# --- one row per change, in the change's own transaction -------------------------------------


def _complete(sa: SearchApp, a: Space) -> uuid.UUID:
    tid = make_transcript(sa.app, a.id, "Queued", status=Status.QUEUED, segments=[])
    sa.drain()
    assert sa.outbox(a.id, tid) == 0  # a queued transcript has nothing to index
    result = EngineResult(
        language="en",
        segments=[Segment(0.0, 3.0, "the pelican landed", "SPEAKER_00")],
        model="tiny-random",
        engine="faster-whisper",
    )
    with sa.session(a.id):
        assert lifecycle.claim(tid, "token-1", Status.QUEUED) is not None
    sa.drain()  # claiming is no change the index must learn, but drain whatever it left
    with sa.session(a.id):
        assert lifecycle.complete(tid, "token-1", result)
    return tid


def _edit(sa: SearchApp, a: Space) -> uuid.UUID:
    tid = reading(sa, a)
    sa.drain()
    edit(sa, a, tid, 1, "then the sea lion report")
    return tid


def _rename(sa: SearchApp, a: Space) -> uuid.UUID:
    tid = reading(sa, a)
    sa.drain()
    with sa.session(a.id):
        services.rename(tid, "Renamed reading")
    return tid


def _tags(sa: SearchApp, a: Space) -> uuid.UUID:
    tid = reading(sa, a)
    sa.drain()
    with sa.session(a.id):
        organizing.set_tags(tid, ["birds"])
    return tid


def _folder(sa: SearchApp, a: Space) -> uuid.UUID:
    tid = reading(sa, a)
    folder = sa.folder(a, "Birds")
    sa.drain()
    with sa.session(a.id):
        organizing.file_into([tid], folder)
    return tid


def _folder_deleted(sa: SearchApp, a: Space) -> uuid.UUID:
    folder = sa.folder(a, "Birds")
    tid = reading(sa, a, folder_id=folder)
    sa.drain()
    with sa.session(a.id):
        assert organizing.delete_folder(folder) == 1
    return tid


CHANGES: dict[str, Callable[[SearchApp, Space], uuid.UUID]] = {
    "complete": _complete,
    "edit": _edit,
    "rename": _rename,
    "tags": _tags,
    "folder": _folder,
    "folder deleted": _folder_deleted,
}


@pytest.mark.parametrize("kind", list(CHANGES))
def test_a_change_writes_its_outbox_row_in_the_same_transaction(
    pg_search: SearchApp, kind: str
) -> None:
    sa = pg_search
    a = sa.space()
    tid = CHANGES[kind](sa, a)
    row = sa.row(a.id, tid)
    assert row is not None
    before = row.search_version
    assert sa.outbox(a.id, tid) == 1
    written = outbox_xmin(sa, a.id, tid)
    assert written == transcript_xmin(sa, a, tid), kind  # one transaction wrote both
    sa.drain()
    assert sa.outbox(a.id, tid) == 0
    assert sa.versions(a.id)[tid] == before  # the index holds the version the change made


def test_a_move_queues_both_workspaces_in_its_transaction(pg_search: SearchApp) -> None:
    sa = pg_search
    a = sa.space("a")
    b = sa.space("b", owner=a.owner)
    tid = reading(sa, a)
    sa.drain()
    with sa.session(a.id):
        organizing.move(tid, b.slug, a.owner)
    assert sa.outbox(a.id, tid) == 1 and sa.outbox(b.id, tid) == 1
    moved = transcript_xmin(sa, b, tid)
    assert outbox_xmin(sa, a.id, tid) == moved == outbox_xmin(sa, b.id, tid)
    sa.drain()
    assert tid not in sa.versions(a.id) and tid in sa.versions(b.id)


def test_a_deletion_queues_its_transcript_in_its_transaction(pg_search: SearchApp) -> None:
    sa = pg_search
    a = sa.space()
    tid = reading(sa, a)
    sa.drain()
    with sa.session(a.id):
        services.delete([tid])
    assert sa.row(a.id, tid) is None
    assert sa.outbox(a.id, tid) == 1
    # The audit event of the deletion survives it: same transaction as the outbox row.
    audit = xmin(
        sa, a.id, "audit_events", "action = 'transcript.deleted' AND target_id = :t", t=str(tid)
    )
    assert audit and outbox_xmin(sa, a.id, tid) == audit
    sa.drain()
    assert sa.outbox(a.id, tid) == 0 and tid not in sa.versions(a.id)


# --- nothing when the transaction rolls back -------------------------------------------------


def _title(s: Any, t: Transcript, a: Space) -> None:
    t.title = "Never saved"


def _tag(s: Any, t: Transcript, a: Space) -> None:
    t.tags = ["never"]


def _file(s: Any, t: Transcript, a: Space) -> None:
    folder = Folder(name=f"f-{uuid.uuid4().hex[:6]}")
    s.add(folder)
    s.flush()
    t.folder_id = folder.id


def _encrypt(s: Any, t: Transcript, a: Space) -> None:
    t.encrypted = True


def _remove(s: Any, t: Transcript, a: Space) -> None:
    s.delete(t)


def _noted(s: Any, t: Transcript, a: Space) -> None:
    outbox.note(s, a.id, [t.id])  # the bulk-update services' way (move, delete_folder)


ROLLED_BACK: dict[str, Callable[[Any, Transcript, Space], None]] = {
    "title": _title,
    "tags": _tag,
    "folder": _file,
    "encrypted": _encrypt,
    "delete": _remove,
    "note": _noted,
}


@pytest.mark.parametrize("kind", list(ROLLED_BACK))
def test_a_rolled_back_change_leaves_no_row_and_asks_for_no_drain(
    sql_search_app: SearchApp, redis_conn: Redis, kind: str
) -> None:
    sa = sql_search_app
    a = sa.space()
    tid = reading(sa, a)
    sa.drain()
    redis_conn.delete(outbox.DRAIN_PENDING_KEY)
    with sa.session(a.id) as s:
        t = s.get(Transcript, tid)
        assert t is not None
        ROLLED_BACK[kind](s, t, a)
        s.flush()
        pending = s.scalar(select(SearchOutbox.id).where(SearchOutbox.transcript_id == tid))
        assert pending is not None  # written in the transaction...
        s.rollback()  # ...and gone with it
    assert sa.outbox(a.id, tid) == 0
    assert redis_conn.get(outbox.DRAIN_PENDING_KEY) is None  # no drain asked for
    row = sa.row(a.id, tid)
    assert row is not None and row.title == "Reading" and not row.encrypted
    assert sa.versions(a.id)[tid] == row.search_version


def test_a_new_transcript_rolled_back_leaves_no_row_and_a_committed_one_asks_for_a_drain(
    sql_search_app: SearchApp, redis_conn: Redis
) -> None:
    sa = sql_search_app
    a = sa.space()
    redis_conn.delete(outbox.DRAIN_PENDING_KEY)
    with sa.session(a.id) as s:
        t = Transcript(title="Ghost", status=Status.COMPLETED, engine="e", model="m")
        s.add(t)
        s.flush()
        ghost = t.id
        assert sa.committed_outbox(a.id, ghost) == 0  # not visible outside the transaction
        assert s.scalar(select(SearchOutbox.id).where(SearchOutbox.transcript_id == ghost))
        s.rollback()
    assert sa.outbox(a.id, ghost) == 0
    assert redis_conn.get(outbox.DRAIN_PENDING_KEY) is None
    tid = reading(sa, a)
    assert sa.outbox(a.id, tid) == 1
    assert redis_conn.get(outbox.DRAIN_PENDING_KEY) is not None  # asked after the commit


def test_a_refused_change_leaves_no_row(pg_search: SearchApp) -> None:
    from app.errors import ServiceError

    sa = pg_search
    a = sa.space()
    tid = reading(sa, a)
    sa.drain()
    with sa.session(a.id), pytest.raises(ServiceError):
        services.rename(tid, "   ")
    with sa.session(a.id), pytest.raises(ServiceError):
        organizing.set_tags(tid, ["a" * 200])
    seg = segment_id(sa, a, tid, 0)
    from app.transcripts import editing

    with sa.session(a.id), pytest.raises(ServiceError):
        editing.edit_text(tid, seg, "new words", base_revision=99, author_id=a.owner)
    assert sa.outbox(a.id, tid) == 0


# --- a real worker process -------------------------------------------------------------------


def _web_segment(app: Flask, team: Team, tid: uuid.UUID, position: int) -> uuid.UUID:
    sa = SearchApp("postgres", app)
    space = Space(team.workspace.id, team.slug, team.user.id, team.user.id)
    return segment_id(sa, space, tid, position)


def test_a_worker_process_drains_what_people_change_through_the_pages(
    app: Flask, team: Team, run_jobs: Any, redis_conn: Redis
) -> None:
    sa = SearchApp("postgres", app)
    ws = team.workspace.id
    tid = make_transcript(
        app, ws, "Reading", segments=READING, speakers=READING_NAMES, language="en"
    )
    assert Queue("index", connection=redis_conn).count >= 1  # the commit asked for a drain
    run_jobs("index")
    assert sa.outbox(ws, tid) == 0
    assert found(sa.search(ws, q="pelican ")) == {tid}

    seg = _web_segment(app, team, tid, 0)
    resp = team.web.post(
        team.url(f"/transcripts/{tid}/segments/{seg}"),
        {"text": "the albatross brief was read aloud", "base_revision": "1"},
        htmx=True,
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert sa.outbox(ws, tid) == 1
    assert Queue("index", connection=redis_conn).count >= 1
    assert found(sa.search(ws, q="pelican ")) == {tid}  # not yet: no worker ran
    run_jobs("index")
    assert sa.outbox(ws, tid) == 0
    assert found(sa.search(ws, q="pelican ")) == set()
    assert found(sa.search(ws, q="albatross ")) == {tid}

    gone = team.web.post(team.url(f"/transcripts/{tid}/delete"), {})
    assert gone.status_code == 302
    assert sa.outbox(ws, tid) == 1
    run_jobs("index")
    assert sa.outbox(ws, tid) == 0
    assert found(sa.search(ws, q="albatross ")) == set()
    assert sa.raw(ws, q="albatross ").hits == []
    assert tid not in sa.versions(ws)
