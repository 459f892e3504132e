"""Searching in Chromium: "/" finds the box, hits appear as you type without a page load,
the address follows (so Back and sharing work), and a hit opens its transcript at the moment
it was said. Any CSP violation or script error fails the test."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from werkzeug.serving import make_server

from tests.browser.conftest import Watched, _QuietHandler, watch
from tests.fakes.meilisearch_server import silent_search_app as silent_app
from tests.transcripts import Team, drain_index, make_team, make_transcript
from tests.web import Web

pytestmark = pytest.mark.browser

SEGMENTS = 40  # 2.5 s apart: long enough that the linked moment is far down the page
LIGHTHOUSE = 21  # the one segment that says "lighthouse", at 52.5 s


def _signed_in(chromium: Browser, base_url: str, team: Team) -> Watched:
    """A browser signed in as the team's owner (the test client's session cookie handed over:
    sign-ins are rate limited per address, and every browser test comes from 127.0.0.1)."""
    cookie = team.web.client.get_cookie("verbatim_session", domain="localhost")
    assert cookie is not None
    person = watch(chromium, base_url, Watched, timeout_ms=20_000, reduced_motion="reduce")
    person.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": base_url}])
    return person


@pytest.fixture
def searcher(team: Team, chromium: Browser, live_server: str) -> Iterator[Watched]:
    person = _signed_in(chromium, live_server, team)
    yield person
    person.context.close()


def _harbour(app: Flask, team: Team) -> uuid.UUID:
    segments = [
        (
            n * 2.5,
            n * 2.5 + 2.2,
            "from the lighthouse every boat is seen" if n == LIGHTHOUSE else f"point{n} the tide",
            f"SPEAKER_0{n % 2}",
        )
        for n in range(SEGMENTS)
    ]
    tid = make_transcript(
        app,
        team.workspace.id,
        "Harbour interview",
        duration=SEGMENTS * 2.5,
        language="en",
        segments=segments,
        speakers={"SPEAKER_00": "Ana", "SPEAKER_01": "Ben"},
    )
    drain_index(app)
    return tid


def _loads(page: Page) -> int:
    """Page loads so far: a marker set on the window dies with a load."""
    return int(page.evaluate("window.__loads = window.__loads || Date.now()"))


def test_type_see_hits_and_open_one_at_its_moment(
    app: Flask, team: Team, searcher: Watched
) -> None:
    tid = _harbour(app, team)
    page = searcher.page
    page.goto(team.url("/transcripts/"))
    page.locator("body").press("/")  # the shortcut, from any page of the workspace
    page.wait_for_url(re.compile(r"/search$"))
    expect(page.get_by_text("Type to search the words of every transcript")).to_be_visible()
    box = page.get_by_label(re.compile("Search every transcript of"))
    expect(box).to_be_focused()  # a fresh search page puts the cursor in its box
    expect(page.get_by_role("link", name="Search", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    marker = _loads(page)

    page.get_by_role("heading", name="Search").click()
    expect(box).not_to_be_focused()
    page.locator("body").press("/")  # from outside any field: back to the box
    expect(box).to_be_focused()
    expect(box).to_have_value("")  # the "/" is not typed into it

    box.press_sequentially("lightho", delay=40)
    hits = page.locator("#search-results li.hit")
    expect(hits).to_have_count(1)
    hit = hits.first
    expect(hit.locator("mark")).to_have_text("lighthouse")
    expect(hit.locator(".hit-speaker")).to_have_text("Ben")
    expect(hit.locator(".hit-stamp")).to_have_text("00:52")
    expect(page.locator("#search-results .search-summary")).to_contain_text("1 result")
    expect(page).to_have_url(re.compile(r"/search\?q=lightho$"))  # shareable
    assert _loads(page) == marker  # no page load: htmx swapped the results in
    expect(page.locator("#search-results")).to_have_attribute("aria-busy", "false")

    # A filter narrows without a load too.
    page.get_by_label("Speaker").select_option("Ana")
    expect(page.locator("#search-results")).to_contain_text("No results for “lightho”")
    expect(page).to_have_url(re.compile(r"speaker=Ana"))
    page.get_by_label("Speaker").select_option("")
    expect(hits).to_have_count(1)
    assert _loads(page) == marker

    hit.get_by_role("link").click()
    page.wait_for_url(re.compile(rf"/transcripts/{tid}#t=52\.5$"))
    expect(page.locator("#player")).to_be_visible()  # player.js ran and read the fragment
    linked = page.locator("#transcript-body .segment.linked")
    expect(linked).to_have_count(1)
    expect(linked).to_have_attribute("data-start", "52.50")
    expect(linked).to_contain_text("lighthouse")
    expect(linked).to_be_in_viewport()

    # Back: the search as it was, the words in the box.
    page.go_back()
    expect(page).to_have_url(re.compile(r"/search\?q=lightho$"))
    expect(page.locator("#search-results li.hit")).to_have_count(1)
    expect(page.get_by_label(re.compile("Search every transcript of"))).to_have_value("lightho")
    assert searcher.problems == [], searcher.problems


def test_a_refused_search_says_why_next_to_the_box(team: Team, searcher: Watched) -> None:
    page = searcher.page
    page.goto(team.url("/search"))
    marker = _loads(page)
    box = page.get_by_label(re.compile("Search every transcript of"))
    box.fill("x" * 600)  # longer than a search may be
    expect(page.locator("#search-error-q")).to_have_text(
        "Search for at most 500 characters (this was 600)."
    )
    expect(page.locator("#search-results")).to_contain_text("Nothing was searched")
    box.fill("harbour")
    expect(page.locator("#search-error-q")).to_have_text("")
    expect(page.locator("#search-results")).to_contain_text("No results for “harbour”")
    assert _loads(page) == marker
    # The 400 answer is logged by Chromium as a failed resource load, which is expected here.
    problems = [p for p in searcher.problems if "status of 400" not in p]
    assert problems == [], problems


@pytest.fixture
def silent_server(app_env: dict[str, str]) -> Iterator[tuple[Flask, str]]:
    """A live server of the app with Meilisearch as its backend, at an address that accepts
    connections and never answers: every search runs into the timeout."""
    with silent_app() as made:
        server = make_server("127.0.0.1", 0, made, threaded=True, request_handler=_QuietHandler)
        thread = threading.Thread(target=server.serve_forever, name="silent-search", daemon=True)
        thread.start()
        try:
            yield made, f"http://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()
            thread.join(10)


def test_a_search_server_that_does_not_answer_is_said_in_the_results(
    chromium: Browser, silent_server: tuple[Flask, str]
) -> None:
    app, base_url = silent_server
    team = make_team(app, Web(app, remote_addr="10.78.0.1"), "Silent Team")
    person = _signed_in(chromium, base_url, team)
    try:
        page = person.page
        page.goto(team.url("/search"))
        marker = _loads(page)
        page.get_by_label(re.compile("Search every transcript of")).press_sequentially("boats")
        results = page.locator("#search-results")
        expect(results.get_by_role("alert")).to_have_text(
            "The search server took too long to answer. Try again in a minute."
        )
        expect(results).to_have_attribute("aria-busy", "false")
        assert _loads(page) == marker
        # Chromium logs the 503 as a failed load; anything else is a problem.
        problems = [p for p in person.problems if "status of 503" not in p]
        assert problems == [], problems
    finally:
        person.context.close()
