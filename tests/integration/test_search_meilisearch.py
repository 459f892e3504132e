"""The meilisearch backend itself: what it sends, how it keeps workspaces apart in filters,
and how it fails. It talks through the official client to tests.fakes.meilisearch_server
(the documented wire format) and, when MEILI_URL (with MEILI_MASTER_KEY) is set, to a real
Meilisearch too; faults (down, slow, failing tasks) are injected into the fake only.

The backend-agnostic behaviour (words, filters, paging, tenancy through the pipeline) is
tests/search/test_conformance.py, which runs against this backend as well.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import meilisearch
import pytest
import requests
from flask import Flask
from meilisearch.errors import MeilisearchApiError
from sqlalchemy import func, select

from app import create_app
from app.config import load_settings
from app.extensions import db
from app.search import documents, indexer, service
from app.search.backend import SearchUnavailable, backend
from app.search.backends import meilisearch as meili
from app.search.backends.meilisearch import INDEX_SETTINGS, MeilisearchBackend, settings_match
from app.search.documents import MARK_END, MARK_START, ChunkDoc
from app.search.models import SearchOutbox
from app.search.query import parse
from app.tenants.context import unscoped, workspace_scope
from app.transcripts.models import Folder, Transcript
from tests.fakes.meilisearch_server import MeiliServer
from tests.transcripts import Team, make_team, make_transcript

REAL_URL = os.environ.get("MEILI_URL", "")
REAL_KEY = os.environ.get("MEILI_MASTER_KEY", "")


@dataclasses.dataclass
class Target:
    """A Meilisearch to test against: the fake (faults can be injected) or a real one."""

    kind: str
    url: str
    key: str
    fake: MeiliServer | None

    def client(self) -> meilisearch.Client:
        return meilisearch.Client(self.url, self.key or None, timeout=5)


@pytest.fixture(scope="module")
def fake_server() -> Iterator[MeiliServer]:
    server = MeiliServer(master_key="test-master-key")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fake(fake_server: MeiliServer) -> Iterator[MeiliServer]:
    """The fake, emptied and healthy again after the test."""
    yield fake_server
    fake_server.reset()


@pytest.fixture(params=["fake", "real"])
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    if request.param == "real":
        if not REAL_URL:
            pytest.skip("no real Meilisearch: set MEILI_URL (and MEILI_MASTER_KEY)")
        yield Target("real", REAL_URL.rstrip("/"), REAL_KEY, None)
    else:
        server = request.getfixturevalue("fake")
        yield Target("fake", server.url, server.master_key or "", server)


def _drop(target: Target, uid: str) -> None:
    client = target.client()
    for name in (uid, f"{uid}_rebuild"):
        try:
            client.wait_for_task(client.delete_index(name).task_uid, timeout_in_ms=10_000)
        except Exception:  # noqa: S112 (cleanup of a test index; the fake may be down)
            continue


@pytest.fixture
def engine(target: Target) -> Iterator[MeilisearchBackend]:
    """A backend on an index of its own (the real server may be shared)."""
    uid = f"verbatim_test_{uuid.uuid4().hex[:12]}"
    made = MeilisearchBackend(target.url, target.key, uid, 2.0)
    made.ensure_ready()
    yield made
    if target.fake is not None:
        target.fake.come_back()
        target.fake.slow(0)
        target.fake.hold_tasks(False)
    _drop(target, uid)


@pytest.fixture
def fake_engine(fake: MeiliServer) -> MeilisearchBackend:
    made = MeilisearchBackend(fake.url, fake.master_key or "", "verbatim_chunks", 1.0)
    made.ensure_ready()
    return made


WS_A = uuid.UUID("aaaaaaaa-0000-4000-8000-000000000001")
WS_B = uuid.UUID("bbbbbbbb-0000-4000-8000-000000000002")
DAY = datetime(2026, 3, 4, 10, 30, 15, 250000, tzinfo=UTC)


def chunk(
    workspace_id: uuid.UUID,
    transcript_id: uuid.UUID,
    number: int,
    text: str,
    *,
    version: int = 1,
    title: str = "Harbour planning",
    speaker: str = "Ana Lima",
    created_at: datetime = DAY,
    **fields: Any,
) -> ChunkDoc:
    values: dict[str, Any] = {
        "workspace_id": workspace_id,
        "transcript_id": transcript_id,
        "chunk": number,
        "version": version,
        "revision": 3,
        "title": title,
        "text": text,
        "speaker": speaker,
        "start": number * 10.0,
        "end": number * 10.0 + 8.0,
        "marks": ((0, number * 10.0), (12, number * 10.0 + 4.0)),
        "language": "en",
        "tags": ("board",),
        "folder_id": None,
        "uploader_id": None,
        "created_at": created_at,
    }
    values.update(fields)
    return ChunkDoc(**values)


def put(engine: MeilisearchBackend, *docs: ChunkDoc) -> None:
    """Write each transcript's chunks as the indexer does, and wait for them."""
    by_transcript: dict[tuple[uuid.UUID, uuid.UUID], list[ChunkDoc]] = {}
    for d in docs:
        by_transcript.setdefault((d.workspace_id, d.transcript_id), []).append(d)
    for (workspace_id, transcript_id), group in by_transcript.items():
        assert engine.replace(workspace_id, transcript_id, group)
    engine.commit()


def search(engine: MeilisearchBackend, workspace_id: uuid.UUID, **args: str) -> Any:
    return engine.search(parse(args, workspace_id))


def found(page: Any) -> set[tuple[uuid.UUID, int]]:
    return {(h.transcript_id, h.chunk) for h in page.hits}


def stored(target: Target, engine: MeilisearchBackend) -> dict[str, dict[str, Any]]:
    index = target.client().index(engine.index_uid)
    return {d.id: dict(d) for d in index.get_documents({"limit": 1000}).results}


# --- index settings ----------------------------------------------------------------------------


def test_ensure_ready_creates_the_index_with_its_settings(
    target: Target, engine: MeilisearchBackend
) -> None:
    client = target.client()
    assert client.get_index(engine.index_uid).primary_key == "id"
    current = client.index(engine.index_uid).get_settings()
    assert current["searchableAttributes"] == ["title", "text"]
    assert sorted(current["filterableAttributes"]) == sorted(INDEX_SETTINGS["filterableAttributes"])
    assert {"workspace_id", "transcript_id", "chunk", "created_at"} <= set(
        current["filterableAttributes"]
    )
    assert sorted(current["sortableAttributes"]) == ["chunk", "created_at", "transcript_id"]
    assert current["rankingRules"] == INDEX_SETTINGS["rankingRules"]
    assert current["pagination"]["maxTotalHits"] == 50_000
    assert settings_match(current)


def test_ensure_ready_again_changes_nothing(fake: MeiliServer) -> None:
    engine = MeilisearchBackend(fake.url, fake.master_key or "", "verbatim_chunks", 1.0)
    engine.ensure_ready()
    assert ("POST", "/indexes") in fake.requests
    assert ("PATCH", "/indexes/verbatim_chunks/settings") in fake.requests
    fake.requests.clear()
    engine.ensure_ready()
    MeilisearchBackend(fake.url, fake.master_key or "", "verbatim_chunks", 1.0).ensure_ready()
    assert fake.requests == [("GET", "/indexes/verbatim_chunks/settings")] * 2


def test_settings_changed_by_hand_are_put_back(fake: MeiliServer) -> None:
    engine = MeilisearchBackend(fake.url, fake.master_key or "", "verbatim_chunks", 1.0)
    engine.ensure_ready()
    index = engine.client().index("verbatim_chunks")
    task = index.update_settings({"filterableAttributes": ["speaker"], "rankingRules": None})
    engine.client().wait_for_task(task.task_uid)
    assert not settings_match(index.get_settings())
    engine.ensure_ready()
    assert settings_match(index.get_settings())


def test_the_first_write_prepares_a_missing_index(fake: MeiliServer) -> None:
    """The index worker never calls ensure_ready(): documents added to a missing index
    would make one without filterable attributes, and every filter would then fail."""
    engine = MeilisearchBackend(fake.url, fake.master_key or "", "fresh_index", 1.0)
    tid = uuid.uuid4()
    put(engine, chunk(WS_A, tid, 0, "the lighthouse keeper"))
    assert settings_match(engine.index().get_settings())
    assert found(search(engine, WS_A, q="lighthouse ")) == {(tid, 0)}


# --- documents ---------------------------------------------------------------------------------


def test_documents_carry_every_field_of_the_chunk(
    app: Flask, team: Team, target: Target, engine: MeilisearchBackend
) -> None:
    ws = team.workspace.id
    with app.app_context(), workspace_scope(ws):
        folder = Folder(name="Clients")
        db.session.add(folder)
        db.session.commit()
        folder_id = folder.id
        db.session.remove()
    tid = make_transcript(
        app,
        ws,
        'Budget "review" \\ 2026',
        language="de",
        tags=["board", "finance"],
        folder_id=folder_id,
        uploader_id=team.user.id,
        segments=[
            (0.0, 4.0, "Guten Morgen zusammen.", "S0"),
            (4.0, 9.5, "Das Budget für den Leuchtturm.", "S0"),
            (9.5, 12.0, "Fragen zum Leuchtturm?", "S1"),
        ],
        speakers={"S0": "Anna Ömer", "S1": 'Dr. "Q"'},
    )
    with app.app_context(), workspace_scope(ws):
        t = db.session.get(Transcript, tid)
        assert t is not None
        docs = documents.build(t)
        db.session.remove()
    assert [d.chunk for d in docs] == [0, 1]
    assert engine.replace(ws, tid, docs) is True
    engine.commit()

    written = stored(target, engine)
    assert set(written) == {f"{tid.hex}-0", f"{tid.hex}-1"}
    first = written[f"{tid.hex}-0"]
    assert first == {
        "id": f"{tid.hex}-0",
        "workspace_id": str(ws),
        "transcript_id": str(tid),
        "chunk": 0,
        "version": docs[0].version,
        "revision": docs[0].revision,
        "title": 'Budget "review" \\ 2026',
        "text": "Guten Morgen zusammen. Das Budget für den Leuchtturm.",
        "speaker": "Anna Ömer",
        "speaker_exact": meili.exact("Anna Ömer"),
        "start": 0.0,
        "end": 9.5,
        "marks": [[0, 0.0], [23, 4.0]],
        "language": "de",
        "language_exact": meili.exact("de"),
        "tags": ["board", "finance"],
        "folder_id": str(folder_id),
        "uploader_id": str(team.user.id),
        "created_at": docs[0].created_at.timestamp(),
    }
    assert written[f"{tid.hex}-1"]["speaker"] == 'Dr. "Q"'
    assert written[f"{tid.hex}-1"]["marks"] == [[0, 9.5]]

    # What search hands back is the chunk as it was written.
    page = engine.search(parse({"q": "leuchtturm ", "speaker": 'Dr. "Q"'}, ws))
    [hit] = page.hits
    assert (hit.transcript_id, hit.chunk, hit.start, hit.speaker) == (tid, 1, 9.5, 'Dr. "Q"')
    assert hit.marks == ((0, 9.5),)
    assert hit.created_at == docs[0].created_at
    assert hit.text == f"Fragen zum {MARK_START}Leuchtturm{MARK_END}?"
    assert hit.title == 'Budget "review" \\ 2026'


def test_replace_refuses_documents_of_another_transcript(engine: MeilisearchBackend) -> None:
    tid = uuid.uuid4()
    with pytest.raises(ValueError):
        engine.replace(WS_A, tid, [chunk(WS_B, tid, 0, "misfiled")])
    with pytest.raises(ValueError):
        engine.replace(WS_A, tid, [chunk(WS_A, uuid.uuid4(), 0, "misfiled")])
    with pytest.raises(ValueError):
        engine.replace(WS_A, tid, [])


def test_a_stale_version_is_refused_and_an_equal_one_rewrites(
    target: Target, engine: MeilisearchBackend
) -> None:
    tid = uuid.uuid4()
    assert engine.replace(WS_A, tid, [chunk(WS_A, tid, 0, "version five words", version=5)])
    engine.commit()
    assert engine.stored_version(tid) == 5

    assert engine.replace(WS_A, tid, [chunk(WS_A, tid, 0, "stale four words", version=4)]) is False
    engine.commit()
    assert stored(target, engine)[f"{tid.hex}-0"]["text"] == "version five words"

    assert engine.replace(WS_A, tid, [chunk(WS_A, tid, 0, "again five words", version=5)])
    engine.commit()
    assert stored(target, engine)[f"{tid.hex}-0"]["text"] == "again five words"
    assert engine.replace(WS_A, tid, [chunk(WS_A, tid, 0, "newer six words", version=6)])
    engine.commit()
    assert engine.stored_version(tid) == 6
    assert engine.stored_version(uuid.uuid4()) is None


def test_a_shorter_version_drops_the_extra_chunks_of_its_workspace_only(
    target: Target, engine: MeilisearchBackend
) -> None:
    tid, other = uuid.uuid4(), uuid.uuid4()
    put(
        engine,
        *(chunk(WS_A, tid, n, f"harbor part {n}", version=1) for n in range(3)),
        *(chunk(WS_B, other, n, f"harbor other {n}") for n in range(3)),
    )
    assert engine.replace(WS_A, tid, [chunk(WS_A, tid, 0, "harbor only", version=2)])
    engine.commit()
    ids = set(stored(target, engine))
    assert f"{tid.hex}-0" in ids and f"{tid.hex}-1" not in ids and f"{tid.hex}-2" not in ids
    assert {f"{other.hex}-{n}" for n in range(3)} <= ids
    assert found(search(engine, WS_A, q="harbor ")) == {(tid, 0)}


def test_the_old_chunks_go_only_after_the_new_ones_are_in(
    fake: MeiliServer, fake_engine: MeilisearchBackend
) -> None:
    """One task adds (overwrites) chunks 0..n-1, the next deletes chunks n.. of this
    transcript in this workspace: never a moment when the transcript is missing."""
    tid = uuid.uuid4()
    put(fake_engine, *(chunk(WS_A, tid, n, f"words {n}") for n in range(3)))
    fake.calls.clear()
    assert fake_engine.replace(WS_A, tid, [chunk(WS_A, tid, 0, "fewer words", version=2)])
    writes = [c for c in fake.calls if c["method"] == "POST"]
    assert [c["path"] for c in writes] == [
        "/indexes/verbatim_chunks/documents",
        "/indexes/verbatim_chunks/documents/delete",
    ]
    assert writes[0]["query"] == {"primaryKey": "id"}
    assert writes[1]["body"] == {
        "filter": f'transcript_id = "{tid}" AND workspace_id = "{WS_A}" AND chunk >= 1'
    }
    fake_engine.commit()


def test_delete_and_delete_workspace_touch_only_their_target(
    target: Target, engine: MeilisearchBackend
) -> None:
    t1, t2, t3 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    put(
        engine,
        chunk(WS_A, t1, 0, "harbor one"),
        chunk(WS_A, t2, 0, "harbor two"),
        chunk(WS_B, t3, 0, "harbor three"),
    )
    engine.delete(WS_B, t1)  # not in B: nothing happens
    engine.commit()
    assert found(search(engine, WS_A, q="harbor ")) == {(t1, 0), (t2, 0)}
    engine.delete(WS_A, t1)
    engine.commit()
    assert found(search(engine, WS_A, q="harbor ")) == {(t2, 0)}
    engine.delete_workspace(WS_A)
    engine.commit()
    assert found(search(engine, WS_A, q="harbor ")) == set()
    assert found(search(engine, WS_B, q="harbor ")) == {(t3, 0)}


def test_versions_and_workspace_ids_page_through_everything(
    monkeypatch: pytest.MonkeyPatch, target: Target, engine: MeilisearchBackend
) -> None:
    monkeypatch.setattr(meili, "FETCH_PAGE", 2)  # several pages with a handful of documents
    mine = {uuid.uuid4(): v for v in (1, 2, 3, 4, 5)}
    theirs = uuid.uuid4()
    put(
        engine,
        *(chunk(WS_A, t, n, "words", version=v) for t, v in mine.items() for n in range(2)),
        chunk(WS_B, theirs, 0, "words", version=7),
    )
    assert engine.versions(WS_A) == mine
    assert engine.versions(WS_B) == {theirs: 7}
    assert engine.versions(uuid.uuid4()) == {}
    assert engine.workspace_ids() == {WS_A, WS_B}
    engine.delete_workspace(WS_B)
    engine.commit()
    assert engine.workspace_ids() == {WS_A}


def test_an_index_that_does_not_exist_yet_reads_as_empty(target: Target) -> None:
    engine = MeilisearchBackend(target.url, target.key, f"missing_{uuid.uuid4().hex[:8]}", 2.0)
    assert engine.search(parse({"q": "harbor"}, WS_A)).hits == []
    assert engine.versions(WS_A) == {}
    assert engine.workspace_ids() == set()
    assert engine.stored_version(uuid.uuid4()) is None


# --- searching ---------------------------------------------------------------------------------


def test_words_phrases_negations_prefixes_and_typos(engine: MeilisearchBackend) -> None:
    t1, t2 = uuid.uuid4(), uuid.uuid4()
    put(
        engine,
        chunk(WS_A, t1, 0, "the planning of the lighthouse budget"),
        chunk(WS_A, t2, 0, "the budget for the ferry timetable", title="Ferry"),
    )

    def hits(q: str) -> set[uuid.UUID]:
        return {h.transcript_id for h in search(engine, WS_A, q=q).hits}

    assert hits("budget ") == {t1, t2}
    assert hits('"lighthouse budget" ') == {t1}
    assert hits('"budget lighthouse" ') == set()
    assert hits("budget -ferry ") == {t1}
    assert hits('budget -"ferry timetable"') == {t1}
    assert hits("plan") == {t1}  # the last word as typed is a prefix...
    assert hits("plan ") == set()  # ...until a space ends it
    assert hits("lighthuose ") == {t1}  # one transposition in a 10-letter word
    assert hits("timetabel ") == {t2}
    assert hits("fery ") == set()  # four letters: no typo allowed
    assert hits("budget xylophone ") == set()  # every word must match


def test_highlights_cover_whole_words_in_text_and_title(engine: MeilisearchBackend) -> None:
    tid = uuid.uuid4()
    put(engine, chunk(WS_A, tid, 0, "the lighthouses stood tall", title="Lighthouse survey"))
    [hit] = search(engine, WS_A, q="lightho").hits
    assert hit.text == f"the {MARK_START}lighthouses{MARK_END} stood tall"
    assert hit.title == f"{MARK_START}Lighthouse{MARK_END} survey"
    [hit] = search(engine, WS_A, q="survey ").hits
    assert hit.text == "the lighthouses stood tall"
    assert hit.title == f"Lighthouse {MARK_START}survey{MARK_END}"


def test_whole_words_extends_partial_marks() -> None:
    assert (
        meili.whole_words("\x02hel\x03lo and \x02wor\x03ld!") == "\x02hello\x03 and \x02world\x03!"
    )
    assert meili.whole_words("ab\x02cd\x03 x") == "\x02abcd\x03 x"
    assert meili.whole_words("no marks") == "no marks"


def test_sorting_paging_and_browsing(engine: MeilisearchBackend) -> None:
    old, mid, new = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    put(
        engine,
        # The oldest is the most relevant (the word in its title too).
        chunk(
            WS_A,
            old,
            0,
            "harbor harbor",
            title="Harbor",
            created_at=datetime(2026, 1, 1, tzinfo=UTC),
        ),
        chunk(WS_A, mid, 0, "a harbor", title="Mid", created_at=datetime(2026, 2, 1, tzinfo=UTC)),
        chunk(WS_A, mid, 1, "the harbor", title="Mid", created_at=datetime(2026, 2, 1, tzinfo=UTC)),
        chunk(WS_A, new, 0, "one harbor", title="New", created_at=datetime(2026, 3, 1, tzinfo=UTC)),
    )

    def order(**args: str) -> list[tuple[uuid.UUID, int]]:
        return [(h.transcript_id, h.chunk) for h in search(engine, WS_A, **args).hits]

    assert order(q="harbor ")[0] == (old, 0)  # relevance: the title match first
    assert order(q="harbor ", sort="newest") == [(new, 0), (mid, 0), (mid, 1), (old, 0)]
    assert order(q="harbor ", sort="oldest") == [(old, 0), (mid, 0), (mid, 1), (new, 0)]
    assert order(tag="board") == [(new, 0), (mid, 0), (mid, 1), (old, 0)]  # browsing: newest
    assert order(tag="board", sort="oldest")[0] == (old, 0)
    assert order(q="-one", tag="board") == [(mid, 0), (mid, 1), (old, 0)]

    pages = [
        search(engine, WS_A, q="harbor ", sort="newest", per_page="3", page=str(p))
        for p in (1, 2, 3)
    ]
    assert [p.total for p in pages] == [4, 4, 4]
    assert [len(p.hits) for p in pages] == [3, 1, 0]


def test_each_filter_is_sent_and_narrows(
    fake: MeiliServer, fake_engine: MeilisearchBackend
) -> None:
    t1, t2 = uuid.uuid4(), uuid.uuid4()
    folder, uploader = uuid.uuid4(), uuid.uuid4()
    put(
        fake_engine,
        chunk(
            WS_A,
            t1,
            0,
            "harbor",
            speaker="Ana",
            language="de",
            tags=("board", "finance"),
            folder_id=folder,
            uploader_id=uploader,
            created_at=datetime(2026, 2, 15, 23, 30, tzinfo=UTC),
        ),
        chunk(
            WS_A,
            t2,
            0,
            "harbor",
            speaker="Ben",
            created_at=datetime(2026, 2, 16, 0, 30, tzinfo=UTC),
        ),
    )
    fake.calls.clear()
    page = search(
        fake_engine,
        WS_A,
        q="harbor ",
        speaker="Ana",
        language="de",
        tag="Finance",
        folder=str(folder),
        uploader=str(uploader),
        transcript=str(t1),
        date_from="2026-02-15",
        date_to="2026-02-15",
    )
    assert found(page) == {(t1, 0)}
    [call] = [c for c in fake.calls if c["path"].endswith("/search")]
    sent = call["body"]
    assert sent["q"] == "harbor "
    assert sent["matchingStrategy"] == "all"
    assert (sent["page"], sent["hitsPerPage"]) == (1, 20)
    assert sent["highlightPreTag"] == MARK_START and sent["highlightPostTag"] == MARK_END
    assert sent["filter"] == [
        f'workspace_id = "{WS_A}"',
        f'transcript_id = "{t1}"',
        f'speaker_exact = "{meili.exact("Ana")}"',
        f'language_exact = "{meili.exact("de")}"',
        'tags = "finance"',
        f'folder_id = "{folder}"',
        f'uploader_id = "{uploader}"',
        f"created_at >= {int(datetime(2026, 2, 15, tzinfo=UTC).timestamp())}",
        f"created_at < {int(datetime(2026, 2, 16, tzinfo=UTC).timestamp())}",
    ]
    # Each filter on its own keeps to what it names.
    assert found(search(fake_engine, WS_A, q="harbor ", speaker="Ben")) == {(t2, 0)}
    assert found(search(fake_engine, WS_A, q="harbor ", speaker="ana")) == set()  # exact
    assert found(search(fake_engine, WS_A, q="harbor ", date_from="2026-02-16")) == {(t2, 0)}
    assert found(search(fake_engine, WS_A, q="harbor ", date_to="2026-02-15")) == {(t1, 0)}
    assert found(search(fake_engine, WS_A, q="harbor ", folder=str(uuid.uuid4()))) == set()


HOSTILE = [
    'x" OR workspace_id = "{other}',
    'x\\" OR workspace_id = \\"{other}',
    "\\",
    '\\"',
    '") OR (workspace_id = "{other}") OR ("',
    "x' OR 'a' = 'a",
    "workspace_id EXISTS",
]


@pytest.mark.parametrize("template", HOSTILE)
def test_filter_values_never_become_operators(
    target: Target, engine: MeilisearchBackend, template: str
) -> None:
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    value = template.format(other=WS_B)
    put(
        engine,
        chunk(WS_A, mine, 0, "harbor mine", speaker="Ana", tags=("board",)),
        chunk(WS_B, theirs, 0, "harbor theirs", speaker="x", tags=("x",)),
    )
    for name in ("speaker", "tag", "language"):
        for q in ("harbor ", ""):
            page = search(engine, WS_A, q=q, **{name: value})  # no SearchUnavailable either
            assert page.hits == [] and page.total == 0, (name, value)


def test_hostile_values_are_matched_literally(engine: MeilisearchBackend) -> None:
    """The escaping round-trips: a value full of quotes and backslashes finds exactly the
    documents that carry it."""
    tid = uuid.uuid4()
    tag = 'a"b\\c'
    put(engine, chunk(WS_A, tid, 0, "harbor", speaker='Dr. "Q" \\ Smith', tags=(tag,)))
    assert found(search(engine, WS_A, speaker='Dr. "Q" \\ Smith')) == {(tid, 0)}
    assert found(search(engine, WS_A, tag=tag)) == {(tid, 0)}
    assert found(search(engine, WS_A, tag='a"b')) == set()


def test_quote_escapes_backslash_then_quote() -> None:
    assert meili.quote('a"b') == '"a\\"b"'
    assert meili.quote("a\\") == '"a\\\\"'
    assert meili.quote('\\"') == '"\\\\\\""'
    with pytest.raises(ValueError):
        meili.quote_id('x" OR "1')


def test_the_workspace_comes_from_the_query_never_the_text(
    fake: MeiliServer, fake_engine: MeilisearchBackend
) -> None:
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    put(fake_engine, chunk(WS_A, mine, 0, "harbor"), chunk(WS_B, theirs, 0, "harbor"))
    fake.calls.clear()
    page = search(fake_engine, WS_A, q=f'harbor workspace_id = "{WS_B}" -"x" "')
    assert {h.transcript_id for h in page.hits} <= {mine}
    [call] = [c for c in fake.calls if c["path"].endswith("/search")]
    assert call["body"]["filter"] == [f'workspace_id = "{WS_A}"']
    # The text reaches q only as words, phrases and negations.
    assert "=" not in call["body"]["q"]


# --- rebuild -----------------------------------------------------------------------------------


def test_a_rebuild_answers_from_the_old_index_until_it_swaps(
    target: Target, engine: MeilisearchBackend
) -> None:
    old, new = uuid.uuid4(), uuid.uuid4()
    put(engine, chunk(WS_A, old, 0, "harbor before"))
    rebuild = engine.begin_rebuild()
    rebuild.add([chunk(WS_A, new, 0, "harbor after")])
    rebuild.add([])
    assert found(search(engine, WS_A, q="harbor ")) == {(old, 0)}
    rebuild.finish()
    assert found(search(engine, WS_A, q="harbor ")) == {(new, 0)}
    names = {i.uid for i in target.client().get_indexes({"limit": 1000})["results"]}
    assert engine.index_uid in names and f"{engine.index_uid}_rebuild" not in names
    assert settings_match(engine.index().get_settings())  # the swapped-in index is ready


def test_an_aborted_rebuild_leaves_the_live_index_alone(
    target: Target, engine: MeilisearchBackend
) -> None:
    old = uuid.uuid4()
    put(engine, chunk(WS_A, old, 0, "harbor before"))
    rebuild = engine.begin_rebuild()
    rebuild.add([chunk(WS_A, uuid.uuid4(), 0, "harbor after")])
    rebuild.abort()
    assert found(search(engine, WS_A, q="harbor ")) == {(old, 0)}
    names = {i.uid for i in target.client().get_indexes({"limit": 1000})["results"]}
    assert f"{engine.index_uid}_rebuild" not in names


def test_a_rebuild_drops_a_leftover_of_an_interrupted_one(
    target: Target, engine: MeilisearchBackend
) -> None:
    client = target.client()
    leftover = f"{engine.index_uid}_rebuild"
    client.wait_for_task(client.create_index(leftover, {"primaryKey": "id"}).task_uid)
    index = client.index(leftover)
    client.wait_for_task(index.add_documents([{"id": "stray-0", "text": "stray"}]).task_uid)
    rebuild = engine.begin_rebuild()
    rebuild.finish()
    assert engine.search(parse({"q": "stray "}, WS_A)).hits == []
    assert engine.versions(WS_A) == {}


# --- failures ----------------------------------------------------------------------------------


def test_a_server_that_is_down_is_search_unavailable(
    fake: MeiliServer, fake_engine: MeilisearchBackend
) -> None:
    tid = uuid.uuid4()
    put(fake_engine, chunk(WS_A, tid, 0, "harbor"))
    fake.go_down()
    with pytest.raises(SearchUnavailable, match="cannot be reached"):
        search(fake_engine, WS_A, q="harbor ")
    with pytest.raises(SearchUnavailable):
        fake_engine.replace(WS_A, tid, [chunk(WS_A, tid, 0, "harbor", version=2)])
    with pytest.raises(SearchUnavailable):
        fake_engine.delete(WS_A, tid)
    with pytest.raises(SearchUnavailable):
        fake_engine.versions(WS_A)
    with pytest.raises(SearchUnavailable):
        fake_engine.workspace_ids()
    with pytest.raises(SearchUnavailable):
        fake_engine.ensure_ready()
    fake.come_back()
    assert found(search(fake_engine, WS_A, q="harbor ")) == {(tid, 0)}


def test_commit_while_the_server_is_down_is_search_unavailable(
    fake: MeiliServer, fake_engine: MeilisearchBackend
) -> None:
    tid = uuid.uuid4()
    fake.hold_tasks(True)  # the writes are enqueued, not yet applied
    assert fake_engine.replace(WS_A, tid, [chunk(WS_A, tid, 0, "harbor")])
    fake.go_down()
    with pytest.raises(SearchUnavailable):
        fake_engine.commit()
    fake.come_back()
    fake.hold_tasks(False)
    fake.wait_idle()
    # The indexer keeps its outbox rows and writes again; that works now.
    assert fake_engine.replace(WS_A, tid, [chunk(WS_A, tid, 0, "harbor")])
    fake_engine.commit()


def test_a_slow_server_is_given_up_after_the_timeout(
    fake: MeiliServer, fake_engine: MeilisearchBackend
) -> None:
    put(fake_engine, chunk(WS_A, uuid.uuid4(), 0, "harbor"))
    fake.slow(1.6)  # the backend waits 1 s
    with pytest.raises(SearchUnavailable, match="too long"):
        search(fake_engine, WS_A, q="harbor ")
    fake.slow(0)
    assert search(fake_engine, WS_A, q="harbor ").total == 1


def test_tasks_not_done_within_the_timeout_are_search_unavailable(
    fake: MeiliServer, fake_engine: MeilisearchBackend
) -> None:
    tid = uuid.uuid4()
    fake.hold_tasks(True)
    fake_engine.delete(WS_A, tid)
    with pytest.raises(SearchUnavailable, match="too long"):
        fake_engine.commit()
    fake.hold_tasks(False)


def test_a_failed_task_is_search_unavailable(
    fake: MeiliServer, fake_engine: MeilisearchBackend
) -> None:
    tid = uuid.uuid4()
    fake.fail_tasks(True)
    assert fake_engine.replace(WS_A, tid, [chunk(WS_A, tid, 0, "harbor")])
    with pytest.raises(SearchUnavailable, match="could not apply"):
        fake_engine.commit()
    fake.fail_tasks(False)
    fake_engine.commit()  # the failure was reported once; nothing is left waiting
    assert fake_engine.versions(WS_A) == {}


def test_a_wrong_key_is_search_unavailable(target: Target, engine: MeilisearchBackend) -> None:
    wrong = MeilisearchBackend(target.url, "not-the-key", engine.index_uid, 2.0)
    with pytest.raises(SearchUnavailable, match="refused"):
        search(wrong, WS_A, q="harbor ")
    with pytest.raises(SearchUnavailable):
        wrong.ensure_ready()


def test_a_url_that_is_not_meilisearch_is_search_unavailable(fake: MeiliServer) -> None:
    """A proxy path or a typo in VERBATIM_MEILI_URL: never a client exception."""
    engine = MeilisearchBackend(fake.url + "/not-meilisearch", "x", "verbatim_chunks", 1.0)
    with pytest.raises(SearchUnavailable):
        search(engine, WS_A, q="harbor ")
    with pytest.raises(SearchUnavailable):
        engine.replace(WS_A, WS_B, [chunk(WS_A, WS_B, 0, "harbor")])


def test_from_settings_needs_a_url() -> None:
    with pytest.raises(RuntimeError, match="MEILI_URL"):
        MeilisearchBackend.from_settings(load_settings(search_backend="meilisearch", meili_url=""))
    made = MeilisearchBackend.from_settings(
        load_settings(
            meili_url="http://127.0.0.1:7700/",
            meili_api_key="k",
            meili_index="chunks",
            search_timeout_seconds=3.5,
        )
    )
    assert (made.url, made.api_key, made.index_uid, made.timeout) == (
        "http://127.0.0.1:7700",
        "k",
        "chunks",
        3.5,
    )


# --- the fake speaks the documented API (also checked against a real server) ------------------


def test_errors_have_meilisearch_shape(target: Target, engine: MeilisearchBackend) -> None:
    index = target.client().index(engine.index_uid)
    for bad in ('speaker = "unclosed', "speaker = ", "speaker ~ x", "(speaker = x", "AND"):
        with pytest.raises(MeilisearchApiError) as caught:
            index.search("", {"filter": bad})
        assert caught.value.status_code == 400, bad
        assert caught.value.code == "invalid_search_filter", bad
        assert caught.value.link and caught.value.type == "invalid_request"
    with pytest.raises(MeilisearchApiError) as caught:
        index.search("", {"filter": "revision = 3"})  # not filterable
    assert caught.value.code == "invalid_search_filter"
    with pytest.raises(MeilisearchApiError) as caught:
        index.search("", {"sort": ["title:asc"]})  # not sortable
    assert caught.value.code == "invalid_search_sort"
    with pytest.raises(MeilisearchApiError) as caught:
        target.client().index("no_such_index_here").search("x")
    assert (caught.value.status_code, caught.value.code) == (404, "index_not_found")
    with pytest.raises(MeilisearchApiError) as caught:
        index.get_document("nope-0")
    assert (caught.value.status_code, caught.value.code) == (404, "document_not_found")
    with pytest.raises(MeilisearchApiError) as caught:
        meilisearch.Client(target.url, "wrong-key").get_indexes()
    assert (caught.value.status_code, caught.value.code) == (403, "invalid_api_key")
    # (The client always sends a header, "Bearer None" without a key.)
    bare = requests.get(f"{target.url}/indexes", timeout=5)
    assert bare.status_code == 401 and bare.json()["code"] == "missing_authorization_header"
    assert requests.get(f"{target.url}/health", timeout=5).json() == {"status": "available"}


def test_filter_expressions_follow_the_documented_grammar(
    target: Target, engine: MeilisearchBackend
) -> None:
    t1, t2, t3 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    put(
        engine,
        chunk(WS_A, t1, 0, "one", speaker="Ana", tags=("board", "finance")),
        chunk(WS_A, t2, 0, "two", speaker="Ben", tags=("board",)),
        chunk(WS_A, t3, 0, "three", speaker="Cy", tags=(), language=""),
        chunk(WS_A, t3, 1, "four", speaker="Cy", tags=()),
    )
    index = target.client().index(engine.index_uid)

    def chunks(expression: Any) -> set[tuple[str, int]]:
        hits = index.search("", {"filter": expression, "limit": 50})["hits"]
        return {(h["transcript_id"], h["chunk"]) for h in hits}

    a, b, c0, c1 = (str(t1), 0), (str(t2), 0), (str(t3), 0), (str(t3), 1)
    assert chunks("speaker = ana") == {a}  # = on strings ignores case
    assert chunks("speaker != 'Ana'") == {b, c0, c1}
    assert chunks("tags = board AND NOT tags = finance") == {b}
    assert chunks("speaker = Ana OR speaker = Ben AND tags = finance") == {a}  # AND first
    assert chunks("(speaker = Ana OR speaker = Ben) AND tags = board") == {a, b}
    assert chunks("speaker IN [Ana, 'Cy']") == {a, c0, c1}
    assert chunks("speaker NOT IN [Ana, Cy]") == {b}
    assert chunks("chunk >= 1") == {c1}
    assert chunks("chunk 0 TO 0") == {a, b, c0}
    assert chunks("tags IS EMPTY") == {c0, c1}
    assert chunks("folder_id IS NULL AND chunk > 0") == {c1}
    assert chunks("language_exact EXISTS AND chunk = 1") == {c1}
    assert chunks([["speaker = Ana", "speaker = Cy"], "chunk = 0"]) == {a, c0}
    assert chunks('speaker = "Dr \\"Q\\""') == set()


def test_facets_pages_and_the_total_cap_as_documented(
    target: Target, engine: MeilisearchBackend
) -> None:
    t1, t2 = uuid.uuid4(), uuid.uuid4()
    put(
        engine,
        *(chunk(WS_A, t1, n, f"harbor {n}", speaker="Ana", tags=("board",)) for n in range(3)),
        chunk(WS_A, t2, 0, "harbor", speaker="Ben", tags=("board", "finance")),
    )
    index = target.client().index(engine.index_uid)
    answer = index.search("harbor", {"facets": ["speaker", "tags", "chunk"], "limit": 1})
    assert answer["estimatedTotalHits"] == 4 and len(answer["hits"]) == 1
    assert answer["facetDistribution"]["speaker"] == {"Ana": 3, "Ben": 1}
    assert answer["facetDistribution"]["tags"] == {"board": 4, "finance": 1}
    assert answer["facetStats"]["chunk"] == {"min": 0.0, "max": 2.0}
    paged = index.search("harbor", {"page": 2, "hitsPerPage": 3})
    assert (paged["totalHits"], paged["totalPages"], len(paged["hits"])) == (4, 2, 1)
    assert "estimatedTotalHits" not in paged

    task = index.update_settings({"pagination": {"maxTotalHits": 2}})
    target.client().wait_for_task(task.task_uid)
    capped = index.search("harbor", {"page": 1, "hitsPerPage": 10})
    assert (capped["totalHits"], len(capped["hits"])) == (2, 2)
    # Which is why the backend raises the cap: every allowed page has its hits.
    engine.ensure_ready()
    assert engine.search(parse({"q": "harbor ", "per_page": "1", "page": "4"}, WS_A)).total == 4


def test_tasks_are_reported_as_documented(target: Target, engine: MeilisearchBackend) -> None:
    index = target.client().index(engine.index_uid)
    info = index.add_documents([{"id": "a-0", "text": "x"}], primary_key="id")
    assert info.status == "enqueued" and info.type == "documentAdditionOrUpdate"
    assert info.index_uid == engine.index_uid
    task = target.client().wait_for_task(info.task_uid)
    assert task.status == "succeeded" and task.uid == info.task_uid
    listed = target.client().get_tasks({"uids": [str(info.task_uid)]})
    assert [t.uid for t in listed.results] == [info.task_uid]
    bad = index.add_documents([{"id": "no spaces allowed", "text": "x"}])
    failed = target.client().wait_for_task(bad.task_uid)
    assert failed.status == "failed" and (failed.error or {}).get("code") == "invalid_document_id"


# --- through the app: the index worker and the service -------------------------------------------


@pytest.fixture
def meili_app(app_env: dict[str, str], fake: MeiliServer) -> Iterator[Flask]:
    made = create_app(
        load_settings(
            search_backend="meilisearch",
            meili_url=fake.url,
            meili_api_key=fake.master_key,
            meili_index=f"app_{uuid.uuid4().hex[:8]}",
            search_timeout_seconds=1,
        )
    )
    yield made
    made.extensions["verbatim.engine"].dispose()


def _outbox_rows(transcript_id: uuid.UUID) -> int:
    with unscoped("test reads the outbox"):
        count = db.session.scalar(
            select(func.count(SearchOutbox.id)).where(SearchOutbox.transcript_id == transcript_id)
        )
    db.session.commit()
    return int(count or 0)


def test_the_index_worker_waits_out_a_server_that_is_down(
    app: Flask, web2: Any, team: Team, fake: MeiliServer, meili_app: Flask
) -> None:
    ws = team.workspace.id
    other = make_team(app, web2, "Other Team").workspace.id
    tid = make_transcript(
        app,
        ws,
        "Harbour budget",
        language="en",
        segments=[(0.0, 4.0, "The lighthouse budget is ready.", "S0")],
        speakers={"S0": "Ana"},
    )
    theirs = make_transcript(
        app, other, "Theirs", language="en", segments=[(0.0, 3.0, "Their lighthouse.", "S0")]
    )
    with meili_app.app_context():
        assert backend().name == "meilisearch"
        fake.go_down()
        with pytest.raises(SearchUnavailable):
            indexer.drain()
        db.session.rollback()
        assert _outbox_rows(tid) == 1  # the change waits for the server
        with workspace_scope(ws), pytest.raises(SearchUnavailable):
            service.search({"q": "lighthouse "}, ws)
        db.session.rollback()

        fake.come_back()
        indexer.drain()
        assert _outbox_rows(tid) == 0 and _outbox_rows(theirs) == 0
        with workspace_scope(ws):
            page = service.search({"q": "lighthouse "}, ws)
            assert page.backend == "meilisearch" and page.total == 1
            [hit] = page.hits
            assert (hit.transcript_id, hit.speaker, hit.start) == (tid, "Ana", 0.0)
            assert "<mark>lighthouse</mark>" in str(hit.snippet.html)
        db.session.remove()
