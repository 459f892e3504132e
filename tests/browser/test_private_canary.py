"""The canary: a phrase spoken in the audio of a Private Transcript is heard by a real engine
(tests/plugins/sphinx_engine.py, installed as third-party plugins are), shown in the browser
once unlocked, and found nowhere on the server: not in any table (compressed values
included), not in Redis, not in the search index, not in any log, not at the AI provider.

The control first: the same audio uploaded the same way but not private puts the phrase in
the database and the search index, so the scanner (tests/private/leaks.py) can fail.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from redis import Redis
from rq import Queue
from sqlalchemy import func, select

from app import ROOT
from app.ai.models import AiSummary
from app.plugins.manager import PluginRegistry
from app.private.models import PrivateContent
from app.transcripts.models import Status, Transcript
from tests.ai.support import use_server
from tests.browser.conftest import Watched, watch
from tests.fakes.chat_completions_server import ChatCompletionsServer
from tests.integration.test_workspaces import database
from tests.plugins import sphinx_engine
from tests.private.leaks import (
    Cell,
    LogRecords,
    capture_logs,
    dump_database,
    dump_redis,
    find,
    new_cells,
    text_cells,
)
from tests.private.support import CANARY, PASSPHRASE, make_keyring
from tests.transcripts import ApiCaller, Team, api_caller, drain_index

pytestmark = pytest.mark.browser

WORKER_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The canary, spoken slowly by espeak-ng's American voice (what the grammar engine
    hears best). The file name says nothing of it: file names are not protected."""
    out = tmp_path_factory.mktemp("canary") / "standup.wav"
    subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", "130", "-w", str(out), CANARY],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return out


@pytest.fixture(scope="module")
def sphinx(app: Flask, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The engine installed as a third-party plugin: a distribution declaring its
    `verbatim.plugins` entry point. Worker processes find it on PYTHONPATH (the returned
    environment); the live server gets a registry loaded with it on the path, in place of
    the session app's until the module is done."""
    site = tmp_path_factory.mktemp("site")
    dist = site / "verbatim_sphinx_test-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: verbatim-sphinx-test\nVersion: 1.0\n"
    )
    (dist / "entry_points.txt").write_text(
        f"[verbatim.plugins]\n{sphinx_engine.PLUGIN} = {sphinx_engine.__name__}:plugin\n"
    )
    original: PluginRegistry = app.extensions["verbatim.plugins"]
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(site))
        registry = PluginRegistry(original.safe_mode)
        registry.load()
    assert sphinx_engine.PLUGIN in registry.infos, "the entry point was not found"
    assert not registry.infos[sphinx_engine.PLUGIN].first_party
    app.extensions["verbatim.plugins"] = registry
    try:
        path = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
        yield {"PYTHONPATH": path}
    finally:
        app.extensions["verbatim.plugins"] = original


@pytest.fixture
def person(chromium: Browser, live_server: str, team: Team) -> Iterator[Watched]:
    """A browser signed in as the team's owner (the test client's session cookie)."""
    watched = watch(chromium, live_server, Watched, timeout_ms=20_000)
    cookie = team.web.client.get_cookie("verbatim_session", domain="localhost")
    assert cookie is not None
    watched.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server}])
    yield watched
    watched.context.close()


def _enable_engine(team: Team) -> None:
    """As an admin does it, on the workspace's plugins page."""
    resp = team.web.post(team.url(f"/plugins/{sphinx_engine.PLUGIN}"), {"enabled": "on"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]


def _upload(page: Page, team: Team, audio: Path, *, private: bool) -> uuid.UUID:
    page.goto(team.url("/transcripts/new"))
    expect(page.locator("#opt-engine")).to_be_visible()  # transcripts.js ran
    page.select_option("#opt-engine", sphinx_engine.ENGINE)
    page.select_option("#opt-language", "en")
    box = page.locator('input[name="private"]')
    if private:
        box.check()
    elif box.count():
        box.uncheck()
    page.set_input_files("#file-input", str(audio))
    expect(page.locator("#upload-list .upload-item .state")).to_contain_text(
        "Uploaded", timeout=60_000
    )
    with database(team.web.app, team.workspace.id) as s:
        ids = s.scalars(select(Transcript.id)).all()
    assert len(ids) == 1, ids
    return ids[0]


def _worker(app_env: dict[str, str], sphinx: dict[str, str]) -> str:
    """The production worker entry point, its own process, until the queue is empty."""
    done = subprocess.run(
        [sys.executable, "-m", "workers", "--queues", "gpu", "--burst"],
        cwd=ROOT,
        env={**os.environ, **app_env, **sphinx},
        capture_output=True,
        text=True,
        timeout=WORKER_TIMEOUT_S,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    return output


def _transcript(app: Flask, team: Team, tid: uuid.UUID, worker_output: str) -> Transcript:
    with database(app, team.workspace.id) as s:
        t = s.get(Transcript, tid)
    assert t is not None
    assert t.status == Status.COMPLETED, (t.status, t.error, worker_output[-3000:])
    assert (t.engine, t.model) == (sphinx_engine.ENGINE, sphinx_engine.MODEL)
    return t


def _search_hits(team: Team, api: ApiCaller, words: str) -> tuple[str, str]:
    """The search page's and the API's answers to `words`, as text."""
    page = team.web.get(team.url(f"/search?q={quote(words)}"))
    assert page.status_code == 200
    found = api("GET", f"/search?q={quote(words)}")
    assert found.status_code == 200, found.get_data(as_text=True)
    return page.get_data(as_text=True), found.get_data(as_text=True)


def test_control_the_same_audio_not_private_puts_the_canary_in_the_database(
    app: Flask,
    app_env: dict[str, str],
    services: SimpleNamespace,
    sphinx: dict[str, str],
    spoken: Path,
    team: Team,
    person: Watched,
) -> None:
    # The scanner sees through compression and encodings (a revision snapshot is zlib JSON).
    snapshot = zlib.compress(json.dumps({"segments": [{"text": CANARY.title()}]}).encode())
    assert find(CANARY, [Cell("snapshot", snapshot)])
    assert find(CANARY, [Cell("words", json.dumps([[w, 0.1] for w in CANARY.split()]).encode())])
    assert not find(CANARY, [Cell("other", zlib.compress(b"the quick brown fox"))])

    _enable_engine(team)
    api = api_caller(team)
    before = dump_database(services.owner_url)
    tid = _upload(person.page, team, spoken, private=False)
    output = _worker(app_env, sphinx)
    t = _transcript(app, team, tid, output)
    assert not t.encrypted
    drain_index(app)

    # Found as the private test looks: in rows this upload wrote.
    found = find(CANARY, new_cells(dump_database(services.owner_url), before))
    tables = {line.split(".", 1)[0] for line in found}
    assert {"transcript_segments", "search_chunks"} <= tables, found
    page, api_found = _search_hits(team, api, "zebra")
    assert str(tid) in page and str(tid) in api_found
    assert person.problems == []


@pytest.fixture
def server_log() -> Iterator[LogRecords]:
    """The live server's (and this process's) log records, at every level."""
    with capture_logs() as records:
        yield records


def _unlock(page: Page) -> None:
    dialog = page.locator("dialog#private-unlock")
    try:
        expect(dialog).to_be_visible(timeout=5_000)
    except AssertionError:  # the page may wait to be asked
        page.get_by_role("button", name=re.compile("unlock", re.I)).first.click()
        expect(dialog).to_be_visible()
    dialog.locator('input[name="passphrase"]').fill(PASSPHRASE)
    dialog.get_by_role("button", name="Unlock").click()
    expect(dialog).to_be_hidden()


def test_private_the_canary_is_shown_in_the_browser_and_nowhere_on_the_server(
    app: Flask,
    app_env: dict[str, str],
    services: SimpleNamespace,
    redis_conn: Redis,
    sphinx: dict[str, str],
    spoken: Path,
    team: Team,
    person: Watched,
    server_log: LogRecords,
) -> None:
    make_keyring(app, team.user.id)
    _enable_engine(team)
    api = api_caller(team)
    with ChatCompletionsServer(api_key="sk-workspace") as provider:
        use_server(app, team.workspace.id, provider)
        # Whatever is there now (other tests' rows, the control's canary) is not this leak.
        db_before, redis_before = dump_database(services.owner_url), dump_redis(services.redis_url)

        tid = _upload(person.page, team, spoken, private=True)
        output = _worker(app_env, sphinx)
        t = _transcript(app, team, tid, output)
        assert t.encrypted
        with database(app, team.workspace.id) as s:
            content = s.scalar(select(PrivateContent).where(PrivateContent.transcript_id == tid))
        assert content is not None and content.owner_id == team.user.id
        drain_index(app)

        # The engine heard it: the owner's browser shows it once unlocked.
        page = person.page
        page.goto(team.url(f"/transcripts/{tid}"))
        _unlock(page)
        expect(page.locator("body")).to_contain_text(CANARY, timeout=20_000)

        # No AI feature reads it, by page or API, and the provider hears nothing at all.
        panel = team.url(f"/transcripts/{tid}/ai")
        asked = [
            team.web.post(f"{panel}/summaries", {"template": "key_points"}),
            team.web.post(f"{panel}/chat", {"question": "What was said?"}),
            api("POST", f"/transcripts/{tid}/summaries", json={"template": "key_points"}),
            api("POST", f"/transcripts/{tid}/chat", json={"question": "What was said?"}),
        ]
        assert [r.status_code for r in asked] == [409] * 4, [
            r.get_data(as_text=True)[:300] for r in asked
        ]
        with database(app, team.workspace.id) as s:
            assert s.scalar(select(func.count(AiSummary.id))) == 0
        queued = Queue("ai", connection=redis_conn).get_jobs()
        assert not [j for j in queued if str(team.workspace.id) in repr((j.args, j.kwargs))]
        assert provider.requests == []

        for word in (CANARY, *CANARY.split()):
            shown, answered = _search_hits(team, api, word)
            assert str(tid) not in shown and str(tid) not in answered, word

        db_after = new_cells(dump_database(services.owner_url), db_before)
        redis_after = new_cells(dump_redis(services.redis_url), redis_before)
        # The scan covers what this upload wrote: its sealed envelope, its job, its logs.
        assert any(c.where == "private_contents.envelope" for c in db_after)
        assert any(str(tid) in c.value.decode(errors="replace") for c in redis_after)
        assert str(tid) in output and server_log.lines
        cells = [
            *db_after,
            *redis_after,
            *text_cells("worker output", output),
            *text_cells("server log", server_log.lines),
            *text_cells("AI provider requests", [repr(r) for r in provider.requests]),
        ]
    leaks = find(CANARY, cells)
    assert not leaks, "\n".join(leaks[:40])
    assert person.problems == []
