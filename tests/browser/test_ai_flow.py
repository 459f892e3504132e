"""The AI panel in Chromium: a summary is generated and appears without a reload, a chat
answer streams in and cites moments, and clicking a citation moves the player there.
The answer is watched mid-stream too, against a local Chat Completions server holding
its reply after the first piece. Any CSP violation or script error fails the test."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect

from app import ROOT
from tests.ai.support import MEETING, STARTS, use_server
from tests.browser.conftest import Watched, watch
from tests.fakes.chat_completions_server import DEFAULT_MODEL, ChatCompletionsServer
from tests.transcripts import Team, make_transcript

pytestmark = pytest.mark.browser

DURATION = 50.0
MEDIA = "document.querySelector('#player audio')"


@pytest.fixture(scope="module")
def tone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A recording as long as the transcript, for the player to seek in."""
    out = tmp_path_factory.mktemp("ai") / "pricing.wav"
    subprocess.run(
        [
            *("ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi"),
            *("-i", f"sine=frequency=330:duration={DURATION}", "-ac", "1", "-ar", "16000"),
            str(out),
        ],
        check=True,
        timeout=120,
    )
    return out


@pytest.fixture
def person(team: Team, chromium: Browser, live_server: str) -> Iterator[Watched]:
    """A browser signed in as the team's owner (the test client's session cookie handed
    over: sign-ins are rate limited per address, and every browser test is 127.0.0.1)."""
    cookie = team.web.client.get_cookie("verbatim_session", domain="localhost")
    assert cookie is not None
    watched = watch(chromium, live_server, Watched, timeout_ms=20_000, reduced_motion="reduce")
    watched.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server}])
    watched.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    yield watched
    watched.context.close()


def _meeting(app: Flask, team: Team) -> uuid.UUID:
    return make_transcript(
        app,
        team.workspace.id,
        "Pricing meeting",
        segments=MEETING,
        speakers={"S0": "Ana", "S1": "Ben"},
        duration=DURATION,
        language="en",
    )


def _open(page: Page, team: Team, tid: uuid.UUID, tone: Path) -> None:
    page.goto(team.url(f"/transcripts/{tid}"))
    expect(page.locator("#ai-panel .ai-templates")).to_be_visible()  # loaded after the page
    page.locator("[data-player-input]").set_input_files(str(tone))
    page.wait_for_function(f"() => {MEDIA} && {MEDIA}.readyState >= 1")


def _time(page: Page) -> float:
    return float(page.evaluate(f"{MEDIA}.currentTime"))


def _click_cite_and_check_seek(page: Page, cite) -> float:  # type: ignore[no-untyped-def]
    seek = float(cite.get_attribute("data-seek") or "nan")
    assert seek in STARTS
    cite.click()
    expect(page).to_have_url(re.compile(rf"#t={seek:.2f}$"))
    page.wait_for_function(f"() => Math.abs({MEDIA}.currentTime - {seek}) < 0.3")
    linked = page.locator("#transcript-body .segment.linked")
    expect(linked).to_have_attribute("data-start", f"{seek:.2f}")
    return seek


def test_summary_and_chat_appear_and_citations_move_the_player(
    app: Flask, team: Team, person: Watched, tone: Path, run_jobs: Callable[..., None]
) -> None:
    tid = _meeting(app, team)
    page = person.page
    page.on("dialog", lambda dialog: dialog.accept())
    streams: list[str] = []
    page.on("request", lambda r: streams.append(r.url) if r.url.endswith("/stream") else None)
    _open(page, team, tid, tone)
    panel = page.locator("#ai-panel")
    expect(panel.locator(".ai-provider-name")).to_have_text("Extractive (no language model)")
    loads = page.evaluate("window.__loads = Date.now()")

    panel.get_by_role("button", name="Key points", exact=True).click()
    summary = panel.locator("article.ai-summary")
    expect(summary).to_have_attribute("data-status", "queued")
    run_jobs("ai")
    expect(summary).to_have_attribute("data-status", "completed")  # its poll found it done
    expect(summary.locator(".ai-result a.cite").first).to_be_visible()
    expect(summary.locator(".ai-made-by")).to_contain_text("By Extractive (no language model)")

    summary.get_by_role("button", name="Copy").click()
    expect(summary.get_by_role("button", name="Copied")).to_be_visible()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.strip() and copied == summary.locator(".ai-source").text_content()

    box = panel.get_by_label("Ask this transcript")
    box.fill("Who will update the pricing page?")
    box.press("Enter")
    answer = panel.locator("li.ai-assistant")
    expect(answer).to_have_count(1)
    expect(panel.locator("li.ai-user .ai-question")).to_have_text(
        "Who will update the pricing page?"
    )
    run_jobs("ai")
    expect(answer).to_have_attribute("data-status", "completed")
    expect(answer.locator(".ai-answer")).to_contain_text("Ben will update the pricing page")
    cite = answer.locator("a.cite").first
    expect(cite).to_be_visible()
    assert page.evaluate("window.__loads") == loads  # all of it without a page load
    assert len(streams) == 1  # ai.js followed the answer's event stream

    at = _click_cite_and_check_seek(page, cite)
    # Elsewhere, then the same citation again: the address does not change, the player does.
    page.evaluate(f"{MEDIA}.currentTime = 39")
    cite.click()
    page.wait_for_function(f"() => Math.abs({MEDIA}.currentTime - {at}) < 0.3")
    # A summary's citation seeks too.
    other = summary.locator("a.cite").first
    if float(other.get_attribute("data-seek") or "nan") == at:
        page.evaluate(f"{MEDIA}.currentTime = 39")
    _click_cite_and_check_seek(page, other)

    panel.get_by_role("button", name="Clear conversation").click()  # hx-confirm asks
    expect(panel.locator("li.ai-msg")).to_have_count(0)
    assert person.problems == [], person.problems


@pytest.fixture
def llm() -> Iterator[ChatCompletionsServer]:
    with ChatCompletionsServer(api_key="sk-browser") as server:
        yield server


def test_an_answer_shows_its_text_while_it_is_written(
    app: Flask, team: Team, person: Watched, tone: Path, llm: ChatCompletionsServer
) -> None:
    use_server(app, team.workspace.id, llm, key="sk-browser")
    tid = _meeting(app, team)
    page = person.page
    page.on("dialog", lambda dialog: dialog.accept())
    _open(page, team, tid, tone)
    panel = page.locator("#ai-panel")
    expect(panel.locator(".ai-provider-name")).to_contain_text(DEFAULT_MODEL)

    box = panel.get_by_label("Ask this transcript")
    box.fill("What was agreed about the Pro plan?")
    panel.get_by_role("button", name="Ask", exact=True).click()
    answer = panel.locator("li.ai-assistant")
    expect(answer).to_have_attribute("data-status", "queued")

    llm.hold()  # the reply stops after its first piece until released
    # A worker process of its own, so the page can be watched while it writes; it may
    # call this loopback server (the web app under test still may not).
    worker = subprocess.Popen(
        [sys.executable, "-m", "workers", "--queues", "ai", "--burst"],
        cwd=ROOT,
        env={**os.environ, "VERBATIM_OUTBOUND_ALLOW_PRIVATE": "true"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert llm.held.wait(60), "the worker never reached the Chat Completions server"
        streaming = answer.locator(".ai-streaming")
        expect(streaming).not_to_be_empty()  # the first piece, as plain text
        expect(answer).to_have_attribute("data-status", "running")
        expect(answer.locator("a.cite")).to_have_count(0)  # not rendered until done
        partial = streaming.text_content() or ""
        llm.release()
        _out, err = worker.communicate(timeout=120)
    finally:
        llm.release()
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert worker.returncode == 0, err[-2000:]

    expect(answer).to_have_attribute("data-status", "completed")
    expect(answer.locator(".ai-streaming")).to_have_count(0)  # the server's rendering now
    text = answer.locator(".ai-answer").inner_text()
    assert partial.strip() and text.startswith(partial.strip()[:12])
    cite = answer.locator("a.cite").first
    expect(cite).to_be_visible()
    expect(answer.locator(".ai-who")).to_contain_text(DEFAULT_MODEL)
    _click_cite_and_check_seek(page, cite)
    assert person.problems == [], person.problems
