"""The editor in Chromium: edit a segment in place and see it autosaved, rename a speaker,
split and merge, restore a revision from the history, and two people saving the same
segment, where the second person's text stays on screen with both versions."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from app.transcripts.models import TranscriptSegment
from tests.browser.conftest import Watched, watch
from tests.integration.test_workspaces import add_member, database
from tests.transcripts import Team, make_transcript
from tests.web import Web, make_user

pytestmark = pytest.mark.browser


Person = Watched  # nothing more to track than what every browser test watches


@pytest.fixture
def people(chromium: Browser, live_server: str) -> Iterator[Callable[[Web], Person]]:
    """A browser signed in as the person behind a test client (its session cookie is handed
    over: sign-ins are rate limited per address, and every browser comes from 127.0.0.1)."""
    made: list[Person] = []

    def make(web: Web) -> Person:
        person = watch(chromium, live_server, Person, timeout_ms=15_000)
        cookie = web.client.get_cookie("verbatim_session", domain="localhost")
        assert cookie is not None
        person.context.add_cookies(
            [{"name": cookie.key, "value": cookie.value, "url": live_server}]
        )
        made.append(person)
        return person

    yield make
    for person in made:
        person.context.close()


def _transcript(app: Flask, team: Team) -> uuid.UUID:
    return make_transcript(
        app,
        team.workspace.id,
        "Standup",
        segments=[
            (0.0, 2.0, "hello teh world", "SPEAKER_00"),
            (2.5, 4.5, "second line here now", "SPEAKER_01"),
            (5.0, 7.0, "third line", "SPEAKER_00"),
        ],
        speakers={"SPEAKER_00": "Speaker 1", "SPEAKER_01": "Speaker 2"},
        duration=10.0,
        language="en",
        diarize=True,
    )


def _texts(app: Flask, team: Team, tid: uuid.UUID) -> list[str]:
    with database(app, team.workspace.id) as s:
        return list(
            s.scalars(
                select(TranscriptSegment.text)
                .where(TranscriptSegment.transcript_id == tid)
                .order_by(TranscriptSegment.position)
            )
        )


def _segment(page: Page, n: int):  # type: ignore[no-untyped-def]
    return page.locator("#transcript-body .segment").nth(n)


def test_edit_rename_split_merge_and_restore(
    app: Flask, team: Team, people: Callable[[Web], Person], live_server: str
) -> None:
    tid = _transcript(app, team)
    person = people(team.web)
    page = person.page
    page.goto(f"/w/{team.slug}/transcripts/{tid}")

    # Double-click a wrong word: the line becomes a box with that word selected.
    _segment(page, 0).locator("span.w", has_text="teh").dblclick()
    box = _segment(page, 0).locator("textarea.seg-input")
    expect(box).to_be_focused()
    assert (
        page.evaluate(
            "() => { const b = document.querySelector('textarea.seg-input');"
            " return b.value.slice(b.selectionStart, b.selectionEnd); }"
        )
        == "teh"
    )
    page.keyboard.type("the")
    # Saved by itself after a pause in typing, without leaving the box.
    expect(page.locator("#editor-status")).to_have_text("Saved", timeout=10_000)
    expect(box).to_be_visible()
    assert _texts(app, team, tid)[0] == "hello the world"
    page.keyboard.press("End")
    page.keyboard.type(" again")
    page.keyboard.press("Enter")  # saves and closes
    expect(box).to_have_count(0)
    expect(_segment(page, 0).locator("p.text")).to_have_text("hello the world again")
    assert _texts(app, team, tid)[0] == "hello the world again"
    # Escape drops what was typed since the last save.
    _segment(page, 2).locator("p.text").focus()
    page.keyboard.press("Enter")
    page.keyboard.type(" never saved")
    page.keyboard.press("Escape")
    expect(_segment(page, 2).locator("p.text")).to_have_text("third line")
    # A refused save says why and keeps the box open with what was typed.
    _segment(page, 2).locator("p.text").focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.press("Enter")
    refusal = _segment(page, 2).locator(".edit-refusal")
    expect(refusal).to_contain_text("A segment cannot be empty")
    refused = f"{live_server}/w/{team.slug}/transcripts/{tid}/segments/"
    refused += _segment(page, 2).get_attribute("data-id") or ""
    expect(page.locator("#editor-status")).to_have_text("Not saved")
    expect(_segment(page, 2).locator("textarea.seg-input")).to_have_value("")
    page.keyboard.press("Escape")
    expect(_segment(page, 2).locator("p.text")).to_have_text("third line")

    # Rename a speaker: every line of theirs changes at once.
    page.get_by_label("Name of SPEAKER_00").fill("Ada")
    page.get_by_label("Name of SPEAKER_00").locator("xpath=..").get_by_role(
        "button", name="Rename"
    ).click()
    expect(page.locator("#transcript-body .flash.success")).to_have_text(
        "SPEAKER_00 is now called Ada."
    )
    expect(page.locator("#transcript-body .segment .speaker", has_text="Ada")).to_have_count(2)

    # Split segment 2 before "here", from its tools.
    _segment(page, 1).hover()
    page.locator("#seg-toolbar").get_by_role("button", name="More…").click()
    panel = page.locator(".seg-tools")
    expect(panel).to_be_visible()
    panel.get_by_role("button", name="here", exact=True).click()
    expect(page.locator("#transcript-body .segment")).to_have_count(4)
    expect(_segment(page, 2).locator("p.text")).to_have_text("here now")
    expect(panel).to_have_count(0)
    # ...and merge it back.
    _segment(page, 1).hover()
    page.locator("#seg-toolbar").get_by_role("button", name="More…").click()
    page.locator(".seg-tools").get_by_role("button", name="Merge with the next segment").click()
    expect(page.locator("#transcript-body .segment")).to_have_count(3)
    expect(_segment(page, 1).locator("p.text")).to_have_text("second line here now")
    assert _texts(app, team, tid) == ["hello the world again", "second line here now", "third line"]

    # The history lists every save; restore the engine's version.
    page.get_by_role("link", name="History").click()
    page.wait_for_url(re.compile(r"/history$"))
    rows = page.locator("table.history tbody tr")
    expect(rows).to_have_count(5)  # original, the edit (its autosaves fold), rename, split, merge
    expect(rows.first).to_contain_text("Merged segments 2 and 3")
    page.once("dialog", lambda dialog: dialog.accept())
    rows.last.get_by_role("button", name="Restore").click()
    page.wait_for_url(re.compile(rf"/transcripts/{tid}$"))
    expect(page.locator(".flash.success").first).to_contain_text("Restored revision 1")
    expect(_segment(page, 0).locator("p.text")).to_have_text("hello teh world")
    expect(page.locator("#transcript-body .segment .speaker", has_text="Speaker 1")).to_have_count(
        2
    )
    assert _texts(app, team, tid) == ["hello teh world", "second line here now", "third line"]
    # Chromium logs every refused request; the one 422 is the empty segment above.
    assert person.problems == [
        "console: Failed to load resource: the server responded with a status of 422 "
        f"(UNPROCESSABLE ENTITY) ({refused})"
    ]


def test_a_conflict_keeps_the_second_persons_text(
    app: Flask, team: Team, web2: Web, people: Callable[[Web], Person], live_server: str
) -> None:
    tid = _transcript(app, team)
    ada = make_user(app, name="Ada Second")
    add_member(app, team.workspace.id, ada, "member")
    web2.login(ada)
    first, second = people(team.web), people(web2)
    url = f"/w/{team.slug}/transcripts/{tid}"
    first.page.goto(url)
    second.page.goto(url)  # both at revision 1

    # The first person fixes the segment and it is saved.
    _segment(first.page, 0).locator("span.w", has_text="teh").dblclick()
    first.page.keyboard.type("the")
    first.page.keyboard.press("Enter")
    expect(first.page.locator("#editor-status")).to_have_text("Saved")
    expect(_segment(first.page, 0).locator("p.text")).to_have_text("hello the world")

    # The second, on the page loaded before, edits the same segment: refused, nothing lost.
    page = second.page
    _segment(page, 0).locator("span.w", has_text="world").dblclick()
    page.keyboard.type("everyone")
    box = _segment(page, 0).locator("textarea.seg-input")
    refusal = _segment(page, 0).locator(".edit-refusal")
    expect(refusal).to_be_visible(timeout=10_000)
    expect(page.locator("#editor-status")).to_have_text("Conflict: choose a version")
    expect(refusal).to_contain_text("Paula Pages changed this segment")
    expect(refusal.locator(".theirs")).to_contain_text("hello the world")
    expect(box).to_have_value("hello teh everyone")
    # Leaving the box neither saves nor throws the text away while the choice is open.
    page.locator("h1").click()
    expect(box).to_have_value("hello teh everyone")
    assert _texts(app, team, tid)[0] == "hello the world"

    refusal.get_by_role("button", name="Keep mine").click()
    # Saved; and the page says it is behind what the other person saved elsewhere.
    expect(page.locator("#editor-status")).to_have_text(
        "Saved. Others have saved changes too: reload to see them."
    )
    assert _texts(app, team, tid)[0] == "hello teh everyone"
    box.press("Enter")
    expect(_segment(page, 0).locator("p.text")).to_have_text("hello teh everyone")
    assert first.problems == []
    # Chromium logs every refused request; the one 409 is the refusal shown above.
    refused = f"{live_server}{url}/segments/{_segment(page, 0).get_attribute('data-id')}"
    assert second.problems == [
        "console: Failed to load resource: the server responded with a status of 409 "
        f"(CONFLICT) ({refused})"
    ]
