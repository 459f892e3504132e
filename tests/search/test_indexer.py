"""The consumer side: draining is idempotent, a search server that is down holds the outbox
back without losing a change or failing a save, a poison transcript neither blocks the
others nor retries forever, reconcile repairs drift, reindex rebuilds while searches keep
answering, and `flask search ...` does each of these."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete, select, update

from app.extensions import db
from app.search import indexer
from app.search.backend import SearchBackend, SearchUnavailable
from app.search.models import SearchOutbox
from app.search.outbox import note
from app.tenants.models import Role, Workspace
from app.tenants.services import delete_workspace
from app.transcripts import services
from app.transcripts.models import Transcript, TranscriptSegment
from tests.search.support import (
    READING_NAMES,
    SearchApp,
    Space,
    edit,
    found,
    reading,
    segment_id,
)
from tests.transcripts import make_team
from tests.web import Web


def _snapshot(sa: SearchApp, space: Space, *queries: str) -> list[Any]:
    """What searches answer, down to snippets and moments."""
    out = []
    for q in queries:
        page = sa.search(space, q=q)
        out.append(
            (
                q,
                page.total,
                [(h.transcript_id, h.chunk, h.start, h.speaker, h.snippet) for h in page.hits],
            )
        )
    return out


def _requeue(sa: SearchApp, space: Space, *tids: uuid.UUID) -> None:
    with sa.session(space.id) as s:
        note(s, space.id, tids)
        s.commit()


def _attempts(sa: SearchApp, space: Space, tid: uuid.UUID) -> list[int]:
    with sa.session() as s:
        return list(
            s.scalars(
                select(SearchOutbox.attempts).where(
                    SearchOutbox.workspace_id == space.id, SearchOutbox.transcript_id == tid
                )
            )
        )


# --- draining --------------------------------------------------------------------------------


def test_draining_twice_gives_the_same_index(search_app: SearchApp) -> None:
    sa = search_app
    a = sa.space()
    t1 = reading(sa, a)
    t2 = sa.transcript(a, "Other", [(0.0, 3.0, "a pelican and a heron", "S0")], READING_NAMES)
    first = sa.drain()
    assert first.failed == 0 and first.synced >= 2
    versions = sa.versions(a.id)
    before = _snapshot(sa, a, "pelican ", "walrus ", "heron ")
    assert {t1, t2} <= set(versions)

    _requeue(sa, a, t1, t2)
    assert sa.outbox(a.id, t1) == sa.outbox(a.id, t2) == 1
    again = sa.drain()
    assert again.failed == 0 and again.synced >= 2
    assert sa.versions(a.id) == versions
    assert _snapshot(sa, a, "pelican ", "walrus ", "heron ") == before
    assert sa.drain().synced == 0  # nothing left


def test_many_changes_to_one_transcript_sync_once_to_the_newest(search_app: SearchApp) -> None:
    sa = search_app
    a = sa.space()
    tid = reading(sa, a)
    for bird in ("kestrel", "osprey", "puffin"):
        edit(sa, a, tid, 0, f"the {bird} brief was read aloud")
    assert sa.outbox(a.id, tid) == 4  # made, then three edits
    report = sa.drain()
    assert report.failed == 0
    assert sa.outbox(a.id, tid) == 0
    assert found(sa.search(a, q="puffin ")) == {tid}
    assert found(sa.search(a, q="osprey ")) == set()
    assert found(sa.search(a, q="kestrel ")) == set()
    row = sa.row(a.id, tid)
    assert row is not None and sa.versions(a.id)[tid] == row.search_version


# --- a poison transcript ---------------------------------------------------------------------


def _bulk(sa: SearchApp, space: Space, statement: Any) -> None:
    """A bulk UPDATE: no ORM object changes, so the outbox listener never hears of it."""
    with sa.session(space.id) as s:
        s.execute(statement.execution_options(synchronize_session=False))
        s.commit()


def _set_tags(sa: SearchApp, space: Space, tid: uuid.UUID, tags: Any) -> None:
    bump = Transcript.search_version + 1  # as every change the index must learn does
    _bulk(
        sa,
        space,
        update(Transcript).where(Transcript.id == tid).values(tags=tags, search_version=bump),
    )


def test_a_failing_transcript_blocks_no_other_and_is_given_up(search_app: SearchApp) -> None:
    sa = search_app
    a = sa.space()
    bad = reading(sa, a, "Bad")
    sa.drain()
    # Corrupt behind the ORM's back (tags must be a list): its documents never build.
    _set_tags(sa, a, bad, 5)
    _requeue(sa, a, bad)
    try:
        _poisoned(sa, a, bad)
    finally:  # the reconcile tests walk every workspace: leave nothing broken behind
        _set_tags(sa, a, bad, [])
        _requeue(sa, a, bad)
        assert sa.drain().failed == 0


def _poisoned(sa: SearchApp, a: Space, bad: uuid.UUID) -> None:
    good = sa.transcript(a, "Good", [(0.0, 3.0, "the heron flew", "S0")], READING_NAMES)
    report = sa.drain()
    assert report.failed == 1 and report.synced >= 1
    assert found(sa.search(a, q="heron ")) == {good}
    assert _attempts(sa, a, bad) == [1]

    for attempt in range(2, indexer.GIVE_UP_AFTER + 1):
        # Other work keeps flowing while the bad row waits for its next try.
        edit(sa, a, good, 0, f"the heron flew round{attempt}")
        report = sa.drain()
        assert report.failed == 1, attempt
        assert found(sa.search(a, q=f"round{attempt} ")) == {good}
        expected = [] if attempt == indexer.GIVE_UP_AFTER else [attempt]
        assert _attempts(sa, a, bad) == expected, attempt
    assert sa.outbox(a.id, bad) == 0  # given up; reconcile will try it again later
    assert sa.drain().failed == 0
    again = _reconcile(sa)
    assert again.queued >= 1 and again.drained.failed == 1  # tried again, still failing


# --- the search server down, slow or failing -------------------------------------------------


def test_saves_go_on_while_the_search_server_is_down(
    meili_search: SearchApp, meili_server: Any
) -> None:
    sa = meili_search
    web = Web(sa.app, remote_addr="10.9.8.7")
    team = make_team(sa.app, web, "Offline Team")
    space = Space(team.workspace.id, team.slug, team.user.id, team.user.id)
    tid = reading(sa, space)
    sa.drain()
    assert found(sa.search(space, q="pelican ")) == {tid}

    meili_server.go_down()
    seg = segment_id(sa, space, tid, 0)
    resp = web.post(
        team.url(f"/transcripts/{tid}/segments/{seg}"),
        {"text": "the albatross brief was read aloud", "base_revision": "1"},
        htmx=True,
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    renamed = web.post(team.url(f"/transcripts/{tid}/rename"), {"title": "Seabirds"})
    assert renamed.status_code == 302
    assert sa.outbox(space.id, tid) == 2
    with pytest.raises(SearchUnavailable):
        sa.drain()
    assert sa.outbox(space.id, tid) == 2  # kept for later
    assert _attempts(sa, space, tid) == [0, 0]  # an outage is not the transcript's fault
    with pytest.raises(SearchUnavailable) as caught:
        sa.search(space, q="albatross ")
    assert caught.value.status == 503

    meili_server.come_back()
    report = sa.drain()
    assert report.failed == 0 and report.synced >= 1
    assert sa.outbox(space.id, tid) == 0
    assert found(sa.search(space, q="albatross ")) == {tid}
    assert found(sa.search(space, q="pelican ")) == set()
    assert all(h.title == "Seabirds" for h in sa.search(space, q="albatross ").hits)


def test_failed_index_tasks_keep_the_outbox(meili_search: SearchApp, meili_server: Any) -> None:
    sa = meili_search
    a = sa.space()
    tid = reading(sa, a)
    meili_server.fail_tasks(True)
    with pytest.raises(SearchUnavailable):
        sa.drain()
    assert sa.outbox(a.id, tid) == 1
    meili_server.fail_tasks(False)
    sa.drain()
    assert sa.outbox(a.id, tid) == 0
    assert found(sa.search(a, q="pelican ")) == {tid}


def test_a_slow_search_server_is_unavailable_not_an_error(
    meili_search: SearchApp, meili_server: Any
) -> None:
    sa = meili_search
    a = sa.space()
    tid = reading(sa, a)
    sa.drain()
    meili_server.slow(3.0)  # the app gives up after 2 s (conftest)
    with pytest.raises(SearchUnavailable):
        sa.search(a, q="pelican ")
    meili_server.slow(0)
    assert found(sa.search(a, q="pelican ")) == {tid}


# --- reconcile -------------------------------------------------------------------------------


def _reconcile(sa: SearchApp) -> indexer.ReconcileReport:
    with sa.app.app_context():
        try:
            return indexer.reconcile()
        finally:
            db.session.remove()


def test_reconcile_puts_back_documents_removed_behind_the_indexers_back(
    search_app: SearchApp,
) -> None:
    sa = search_app
    a = sa.space()
    tid = reading(sa, a)
    sa.drain()
    sa.write(a.id, lambda e: e.delete(a.id, tid))
    assert found(sa.search(a, q="pelican ")) == set()
    report = _reconcile(sa)
    assert report.queued >= 1 and report.drained.failed == 0
    assert found(sa.search(a, q="pelican ")) == {tid}
    assert _reconcile(sa).queued == 0  # nothing left to repair


def test_a_transcript_without_words_is_not_drift(search_app: SearchApp) -> None:
    """Silence transcribes to no segments (or blank ones): no documents, and reconcile
    must not queue it again on every run."""
    sa = search_app
    a = sa.space()
    silent = sa.transcript(a, "Silence", [])
    blank = sa.transcript(a, "Blank", [(0.0, 1.0, "   ", None)])
    _reconcile(sa)
    with sa.session(a.id) as s:
        versions = {t: s.get(Transcript, t).search_version for t in (silent, blank)}
    assert all(v >= 1 for v in versions.values())
    assert _reconcile(sa).queued == 0
    assert sa.outbox(a.id, silent) == sa.outbox(a.id, blank) == 0


def test_reconcile_applies_a_bulk_update_that_skipped_the_outbox(search_app: SearchApp) -> None:
    """A bulk UPDATE that bumps search_version (as the bulk services do) but forgot the
    outbox: the versions differ, so reconcile re-syncs it."""
    sa = search_app
    a = sa.space()
    tid = reading(sa, a)
    sa.drain()
    _bulk(
        sa,
        a,
        update(Transcript)
        .where(Transcript.id == tid)
        .values(title="Zanzibar summit", search_version=Transcript.search_version + 1),
    )
    assert sa.outbox(a.id, tid) == 0
    assert found(sa.search(a, q="zanzibar ")) == set()
    _reconcile(sa)
    assert found(sa.search(a, q="zanzibar ")) == {tid}


def test_reconcile_removes_transcripts_and_workspaces_that_are_gone(
    search_app: SearchApp,
) -> None:
    sa = search_app
    a, b = sa.space("a"), sa.space("b")
    tid = reading(sa, a)
    keep = reading(sa, a, "Kept")
    reading(sa, b)
    sa.drain()
    # Both removals committed, but their outbox rows lost (a bad restore, say).
    with sa.session(a.id):
        services.delete([tid])
    with sa.session(b.id) as s:
        workspace = s.get(Workspace, b.id)
        assert workspace is not None
        delete_workspace(workspace, Role.OWNER, b.slug)
    with sa.session() as s:
        s.execute(delete(SearchOutbox).where(SearchOutbox.workspace_id.in_([a.id, b.id])))
        s.commit()
    if sa.kind.startswith("meilisearch"):
        # A search server learns of removals only from the indexer.
        assert tid in sa.versions(a.id) and b.id in sa.workspace_ids()
    report = _reconcile(sa)
    assert report.drained.failed == 0
    assert set(sa.versions(a.id)) == {keep}
    assert b.id not in sa.workspace_ids() and sa.versions(b.id) == {}
    if sa.kind.startswith("meilisearch"):
        assert report.workspaces_purged >= 1


# --- reindex ---------------------------------------------------------------------------------


class Watched:
    """The installation's backend, with a probe run after each step of a rebuild."""

    def __init__(self, engine: SearchBackend, probe: Callable[[], None]) -> None:
        self.engine = engine
        self.probe = probe

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)

    def begin_rebuild(self) -> Any:
        real = self.engine.begin_rebuild()
        probe = self.probe

        class Rebuild:
            def add(self, docs: Any) -> None:
                real.add(docs)
                probe()

            def finish(self) -> None:
                probe()
                real.finish()
                probe()

            def abort(self) -> None:
                real.abort()

        return Rebuild()


def test_reindex_rebuilds_everything_while_searches_answer(search_app: SearchApp) -> None:
    sa = search_app
    a = sa.space()
    lost = reading(sa, a, "Lost")
    changed = sa.transcript(a, "Changed", [(0.0, 3.0, "the heron flew", "S0")], READING_NAMES)
    steady = sa.transcript(a, "Steady", [(0.0, 3.0, "the cormorant dived", "S0")], READING_NAMES)
    sa.drain()
    # Drift reconcile cannot see: documents gone, and text changed without a version bump.
    sa.write(a.id, lambda e: e.delete(a.id, lost))
    _bulk(
        sa,
        a,
        update(TranscriptSegment)
        .where(TranscriptSegment.transcript_id == changed)
        .values(text="the egret flew"),
    )
    _reconcile(sa)
    assert found(sa.search(a, q="egret ")) == set()  # the versions agree: reconcile cannot tell

    answers: list[Any] = []

    def probe() -> None:
        if len(answers) >= 12:  # other tests' workspaces are rebuilt too: a sample is enough
            return

        def look() -> None:
            try:
                answers.append(found(sa.search(a, q="cormorant ")))
            except Exception as e:  # recorded, so the test says what went wrong
                answers.append(e)

        thread = threading.Thread(target=look)  # its own session, as another request's
        thread.start()
        thread.join(30)

    with sa.app.app_context():
        try:
            from app.search.backend import backend

            written, report = indexer.reindex(Watched(backend(), probe))  # type: ignore[arg-type]
        finally:
            db.session.remove()
    assert written >= 3 and report.drained.failed == 0
    assert answers and all(x == {steady} for x in answers), answers
    assert found(sa.search(a, q="pelican ")) == {lost}
    assert found(sa.search(a, q="egret ")) == {changed}
    assert found(sa.search(a, q="heron ")) == set()
    assert found(sa.search(a, q="cormorant ")) == {steady}


# --- the command line ------------------------------------------------------------------------


def _cli(app: Flask, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=["search", *args])
    with app.app_context():
        db.session.remove()
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def test_the_search_commands(sql_search_app: SearchApp) -> None:
    sa = sql_search_app
    a = sa.space()
    sa.drain()
    status = _cli(sa.app, "status")
    assert status.strip() == f"backend: {sa.kind}; outbox: 0 change(s) waiting"

    tid = reading(sa, a)
    status = _cli(sa.app, "status")
    assert re.fullmatch(
        rf"backend: {sa.kind}; outbox: 1 change\(s\) waiting, oldest \d+ s old\n", status
    ), status

    drained = _cli(sa.app, "drain")
    assert re.fullmatch(r"synced 1 transcript\(s\), 0 failed\n", drained), drained
    assert found(sa.search(a, q="pelican ")) == {tid}

    sa.write(a.id, lambda e: e.delete(a.id, tid))
    reconciled = _cli(sa.app, "reconcile")
    match = re.fullmatch(
        r"checked (\d+) transcript\(s\), queued (\d+) for repair, purged (\d+) deleted "
        r"workspace\(s\); synced (\d+) transcript\(s\), 0 failed\n",
        reconciled,
    )
    assert match, reconciled
    assert int(match[1]) >= 1
    if sa.kind == "sqlite":
        assert int(match[2]) == int(match[4]) == 1
    else:
        # The PostgreSQL database is shared with the other apps of the session (the
        # meilisearch one drains outbox rows into its own index): more may differ.
        assert int(match[2]) >= 1 and int(match[4]) >= 1
    assert found(sa.search(a, q="pelican ")) == {tid}

    rebuilt = _cli(sa.app, "reindex")
    match = re.fullmatch(r"rebuilt (\d+) transcript\(s\); then checked .*, 0 failed\n", rebuilt)
    assert match and int(match[1]) >= 1, rebuilt
    assert found(sa.search(a, q="pelican ")) == {tid}
    assert _cli(sa.app, "status").startswith(f"backend: {sa.kind}; outbox: 0 change(s)")
