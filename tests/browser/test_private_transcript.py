"""A Private Transcript's page in Chromium: what the worker sealed (made here by the Python
reference) opens after unlocking; edits and a speaker rename are encrypted in the browser,
saved, survive a reload and open in Python; exports made in the page parse as subtitles and
JSON; a stale save offers both versions. And when it must not open (ciphertext swapped
between transcripts, a flipped bit, a wrong passphrase, a cancelled unlock, a reset
keyring) the page says so and writes nothing back."""

from __future__ import annotations

import io
import json
import uuid
import wave
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docx
import pytest
import srt
import webvtt
from flask import Flask
from playwright.sync_api import Browser, Download, Page, Request, expect
from sqlalchemy import select, update

from app.private import crypto
from app.private.models import PrivateContent
from app.transcripts.models import Transcript
from tests.browser.conftest import Watched, watch
from tests.integration.test_workspaces import add_member, database
from tests.private.support import (
    CANARY,
    PASSPHRASE,
    Keys,
    document,
    make_keyring,
    make_private_transcript,
    stored_envelope,
)
from tests.transcripts import Team
from tests.web import Web, make_user

pytestmark = pytest.mark.browser

LONG = (
    "This is a longer closing remark that runs past the subtitle limits of one cue. "
    "It keeps going for a while."
)


@dataclass
class Person(Watched):
    requests: list[Request] = field(default_factory=list)

    def writes(self) -> list[str]:
        """Requests that could have changed something on the server."""
        return [f"{r.method} {r.url}" for r in self.requests if r.method not in ("GET", "HEAD")]


@pytest.fixture
def people(chromium: Browser, live_server: str) -> Iterator[Callable[[Web], Person]]:
    """A browser signed in as the person behind a test client (its session cookie handed
    over, as in test_editor_flow: sign-ins are rate limited per address)."""
    made: list[Person] = []

    def make(web: Web) -> Person:
        person = watch(chromium, live_server, Person, timeout_ms=15_000, accept_downloads=True)
        cookie = web.client.get_cookie("verbatim_session", domain="localhost")
        assert cookie is not None
        person.context.add_cookies(
            [{"name": cookie.key, "value": cookie.value, "url": live_server}]
        )
        person.page.on("request", lambda r: person.requests.append(r))
        made.append(person)
        return person

    yield make
    for person in made:
        person.context.close()


def _doc() -> dict[str, Any]:
    return document(
        [
            (0.0, 2.0, f"hello {CANARY} world", "SPEAKER_00"),
            (2.5, 4.5, "second line here now", "SPEAKER_01"),
            (5.0, 14.0, LONG, "SPEAKER_00"),
        ],
        {"SPEAKER_00": "Speaker 1", "SPEAKER_01": "Speaker 2"},
        duration=15.0,
    )


def _stored(app: Flask, team: Team, tid: uuid.UUID) -> PrivateContent:
    with database(app, team.workspace.id) as s:
        row = s.scalar(select(PrivateContent).where(PrivateContent.transcript_id == tid))
        assert row is not None
        s.expunge(row)
        return row


def _opened(app: Flask, team: Team, tid: uuid.UUID, keys: Keys) -> dict[str, Any]:
    """The stored document, opened by the Python reference with the data key: only a
    CONTENT envelope (the browser's) opens that way."""
    row = _stored(app, team, tid)
    assert row.kind == crypto.CONTENT
    return crypto.open_envelope(
        row.envelope, str(team.workspace.id), str(tid), data_key=keys.unlocked.data_key
    )


def _unlock(page: Page, passphrase: str) -> None:
    dialog = page.locator("#private-unlock")
    expect(dialog).to_be_visible()
    dialog.locator("input[name=passphrase]").fill(passphrase)
    dialog.get_by_role("button", name="Unlock").click()


def _segment(page: Page, n: int):  # type: ignore[no-untyped-def]
    return page.locator("#transcript-body .segment").nth(n)


def _download(page: Page, button: str) -> tuple[str, bytes]:
    with page.expect_download() as info:
        page.locator("[data-private-exports]").get_by_role(
            "button", name=button, exact=True
        ).click()
    got: Download = info.value
    return got.suggested_filename, Path(got.path()).read_bytes()


def _silence(path: Path, seconds: float) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * int(8000 * seconds))
    return path


def test_open_edit_reload_and_export(
    app: Flask, team: Team, people: Callable[[Web], Person], tmp_path: Path
) -> None:
    keys = make_keyring(app, team.user.id)
    tid = make_private_transcript(app, team.workspace.id, keys, _doc(), title="Board: private?")
    person = people(team.web)
    page = person.page
    url = f"/w/{team.slug}/transcripts/{tid}"
    page.goto(url)

    # What cannot be had is said, not hidden.
    unavailable = page.locator("[data-private-unavailable]")
    for feature in ("Search", "AI summaries and chat", "Public links", "Team sharing"):
        expect(unavailable).to_contain_text(feature)
    expect(page.locator(".private-about")).to_contain_text("The server still sees")

    # The worker's envelope opens once unlocked, and is stored again under the data key.
    _unlock(page, PASSPHRASE)
    expect(_segment(page, 0).locator("p.text")).to_have_text(f"hello {CANARY} world")
    expect(_segment(page, 1).locator(".speaker")).to_have_text("Speaker 2")
    expect(page.locator("[data-private-status]")).to_have_text(
        "Decrypted in this browser and stored under your key."
    )
    assert _opened(app, team, tid, keys) == _doc()
    resealed = _stored(app, team, tid).revision

    # document.js, the pure half of the editing, straight from the page's own module.
    checks = page.evaluate(
        """async () => {
          const D = await import("/static/js/private/document.js");
          const doc = D.readDocument({v: 1, language: "en", duration: 4, speakers:
            [{label: "SPEAKER_00", name: "Ann"}], segments: [{start: 0, end: 4,
            text: "one two three", speaker: "SPEAKER_00",
            words: [["one", 0, 1, 0.9], ["two", 1, 2, 0.8], ["three", 2, 3, 0.7]]}]});
          const refused = (f) => { try { f(); return null; } catch (e) { return e.message; } };
          const edited = D.setSegmentText(doc, 0, "  one  2 three four ");
          const added = D.addSpeaker(doc);
          return {
            words: edited.segments[0].words, text: edited.segments[0].text,
            untouched: doc.segments[0].text,
            empty: refused(() => D.setSegmentText(doc, 0, "   ")),
            noName: refused(() => D.renameSpeaker(doc, "SPEAKER_00", "")),
            noSpeaker: refused(() => D.setSegmentSpeaker(doc, 0, "SPEAKER_09")),
            newer: refused(() => D.readDocument({v: 2, segments: []})),
            label: added.label, names: added.doc.speakers.map((s) => s.name),
            renamed: D.view(D.renameSpeaker(doc, "SPEAKER_00", " Bo ")).segments[0].name,
            japanese: D.tokenize("用iPhone拍了", "ja"),
          };
        }"""
    )
    assert checks["text"] == "one 2 three four"
    assert checks["untouched"] == "one two three"
    # Kept words keep their timing and confidence; the changed one takes the old one's
    # time; the new one is timed after it, within the segment; typed words have none.
    assert checks["words"] == [
        ["one", 0, 1, 0.9],
        ["2", 1, 2, None],
        ["three", 2, 3, 0.7],
        ["four", 3, 4, None],
    ]
    assert checks["empty"] == "A segment cannot be empty."
    assert checks["noName"] == "A speaker's name must be 1 to 120 characters."
    assert checks["noSpeaker"] == "There is no speaker SPEAKER_09 in this transcript."
    assert "newer format (version 2)" in checks["newer"]
    assert (checks["label"], checks["names"]) == ("SPEAKER_01", ["Ann", "Speaker 2"])
    assert checks["renamed"] == "Bo"
    assert checks["japanese"] == ["用", "iPhone", "拍", "了"]

    # Clicking a word plays from there (the person's own copy of the recording).
    page.locator("[data-player-input]").set_input_files(_silence(tmp_path / "meeting.wav", 15))
    expect(page.locator("#player audio")).to_have_count(1)
    page.wait_for_function("() => document.querySelector('#player audio').readyState >= 1")
    _segment(page, 1).locator("span.w", has_text="here").click()
    at = page.evaluate("() => document.querySelector('#player audio').currentTime")
    assert 3.3 <= at <= 3.8  # "here" starts at 3.3 s; playback may have started since
    page.wait_for_timeout(400)  # a click plays after a moment (a double click edits instead)
    page.evaluate("() => document.querySelector('#player audio').pause()")

    # Edit a word in place: double-click selects it in a box; Enter saves and closes.
    _segment(page, 0).locator("span.w", has_text="world").dblclick()
    box = _segment(page, 0).locator("textarea.seg-input")
    expect(box).to_be_focused()
    page.keyboard.type("everyone")
    page.keyboard.press("Enter")
    expect(box).to_have_count(0)
    expect(_segment(page, 0).locator("p.text")).to_have_text(f"hello {CANARY} everyone")
    expect(page.locator("[data-private-status]")).to_have_text("Saved")
    # An empty segment is refused in the page, and nothing is saved for it.
    _segment(page, 1).locator("p.text").focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.press("Enter")
    expect(_segment(page, 1).locator(".seg-note")).to_have_text("A segment cannot be empty.")
    page.keyboard.press("Escape")
    expect(_segment(page, 1).locator("p.text")).to_have_text("second line here now")

    # Rename a speaker everywhere, and give the last segment to them.
    page.get_by_label("Name of SPEAKER_01").fill("Grace Hopper")
    page.get_by_label("Name of SPEAKER_01").locator("xpath=..").get_by_role(
        "button", name="Rename"
    ).click()
    expect(_segment(page, 1).locator(".speaker")).to_have_text("Grace Hopper")
    _segment(page, 2).locator("button.speaker").click()
    _segment(page, 2).locator("select.seg-speaker").select_option(label="Grace Hopper")
    expect(_segment(page, 2).locator(".speaker")).to_have_text("Grace Hopper")
    expect(page.locator("[data-private-status]")).to_have_text("Saved", timeout=10_000)

    edited = _opened(app, team, tid, keys)
    assert edited["segments"][0]["text"] == f"hello {CANARY} everyone"
    assert edited["segments"][0]["words"][:4] == _doc()["segments"][0]["words"][:4]
    assert edited["segments"][0]["words"][4] == ["everyone", 1.6, 1.9, None]
    assert edited["segments"][1]["text"] == "second line here now"
    assert edited["speakers"] == [
        {"label": "SPEAKER_00", "name": "Speaker 1"},
        {"label": "SPEAKER_01", "name": "Grace Hopper"},
    ]
    assert [s["speaker"] for s in edited["segments"]] == ["SPEAKER_00", "SPEAKER_01", "SPEAKER_01"]
    assert _stored(app, team, tid).revision > resealed

    # After a reload: the keys are still unlocked in this browser, the edits are there.
    page.reload()
    expect(_segment(page, 0).locator("p.text")).to_have_text(f"hello {CANARY} everyone")
    expect(page.locator("#transcript-body .speaker", has_text="Grace Hopper")).to_have_count(2)
    expect(page.locator("#private-unlock")).not_to_be_visible()

    # Exports, made in the page, named like the server's.
    name, body = _download(page, "TXT")
    assert name == "Board private.txt"
    assert body.decode().splitlines() == [
        f"[00:00:00] Speaker 1: hello {CANARY} everyone",
        "[00:00:02] Grace Hopper: second line here now",
        f"[00:00:05] Grace Hopper: {LONG}",
    ]
    name, body = _download(page, "SRT")
    assert name == "Board private.srt"
    subs = list(srt.parse(body.decode()))
    assert subs[0].content == "Speaker 1: hello yellow\nzebra chocolate everyone"
    assert subs[1].content.startswith("Grace Hopper: second")
    _readable(
        [(s.start.total_seconds(), s.end.total_seconds(), s.content) for s in subs],
        f"Speaker 1: hello {CANARY} everyone Grace Hopper: second line here now {LONG}",
    )
    name, body = _download(page, "VTT")
    assert name == "Board private.vtt"
    cues = list(webvtt.from_string(body.decode()))
    assert [c.voice for c in cues][:2] == ["Speaker 1", "Grace Hopper"]
    _readable(
        [(c.start_in_seconds, c.end_in_seconds, c.text) for c in cues],
        f"hello {CANARY} everyone second line here now {LONG}",
    )
    name, body = _download(page, "JSON")
    assert name == "Board private.json"
    data = json.loads(body)
    assert (data["format"], data["version"]) == ("verbatim.transcript", 1)
    assert data["transcript"]["id"] == str(tid)
    assert data["transcript"]["title"] == "Board: private?"
    assert [s["speaker_name"] for s in data["segments"]] == [
        "Speaker 1",
        "Grace Hopper",
        "Grace Hopper",
    ]
    assert data["segments"][0]["text"] == f"hello {CANARY} everyone"
    assert data["segments"][0]["words"][4] == {
        "text": "everyone",
        "start": 1.6,
        "end": 1.9,
        "probability": None,
    }
    name, body = _download(page, "DOCX")
    assert name == "Board private.docx"
    assert zipfile.ZipFile(io.BytesIO(body)).testzip() is None
    paragraphs = [p.text for p in docx.Document(io.BytesIO(body)).paragraphs]
    assert paragraphs[0] == "Board: private?"
    assert paragraphs[2:4] == ["[00:00:00] Speaker 1", f"hello {CANARY} everyone"]

    # Print: a clean view of the text alone (the dialog itself is the browser's).
    page.evaluate("() => { window.print = () => { window.printed = true; }; }")
    page.locator("[data-private-exports]").get_by_role("button", name="Print / Save as PDF").click()
    assert page.evaluate("() => window.printed") is True
    expect(page.locator("#private-print h1")).to_have_text("Board: private?")
    expect(page.locator("#private-print .block .text").first).to_have_text(
        f"hello {CANARY} everyone"
    )
    page.emulate_media(media="print")
    expect(page.locator("#private-print")).to_be_visible()
    expect(page.locator("#transcript-body")).not_to_be_visible()
    page.emulate_media(media="screen")
    assert person.problems == []


def _readable(cues: list[tuple[float, float, str]], text: str) -> None:
    """The subtitle rules: at most 2 lines of 42 characters and 7 s a cue, at least half a
    second, in order without overlaps, every word there."""
    previous_end = 0.0
    for start, end, content in cues:
        lines = content.split("\n")
        assert len(lines) <= 2 and all(len(line) <= 42 for line in lines), content
        assert 0.5 <= end - start <= 7.0 + 1e-6, (start, end)
        assert start >= previous_end - 1e-6
        previous_end = end
    assert " ".join(c for _, _, c in cues).split() == text.split()


def test_a_stale_save_keeps_the_text_and_offers_both(
    app: Flask, team: Team, people: Callable[[Web], Person]
) -> None:
    keys = make_keyring(app, team.user.id)
    tid = make_private_transcript(app, team.workspace.id, keys, _doc())
    page = people(team.web).page
    page.goto(f"/w/{team.slug}/transcripts/{tid}")
    _unlock(page, PASSPHRASE)
    expect(page.locator("[data-private-status]")).to_contain_text("stored under your key")

    # Another device saves meanwhile (a CONTENT envelope, as its browser would write it).
    theirs = _doc()
    theirs["segments"][1]["text"] = "their version of line two"
    _save_elsewhere(app, team, tid, theirs, keys)

    _segment(page, 1).locator("span.w", has_text="line").dblclick()
    page.keyboard.type("row")
    page.keyboard.press("Enter")
    conflict = page.locator("[data-private-conflict]")
    expect(conflict).to_contain_text("saved elsewhere")
    expect(page.locator("[data-private-status]")).to_have_text("Not saved: choose a version")
    expect(_segment(page, 1).locator("p.text")).to_have_text("second row here now")
    assert _opened(app, team, tid, keys)["segments"][1]["text"] == "their version of line two"

    conflict.get_by_role("button", name="Keep mine (overwrite)").click()
    expect(page.locator("[data-private-status]")).to_have_text("Saved")
    expect(conflict).to_be_hidden()
    assert _opened(app, team, tid, keys)["segments"][1]["text"] == "second row here now"

    # And the other way: their version replaces what is on screen.
    _save_elsewhere(app, team, tid, theirs, keys)
    _segment(page, 0).locator("span.w", has_text="hello").dblclick()
    page.keyboard.type("goodbye")
    page.keyboard.press("Enter")
    conflict.get_by_role("button", name="Reload theirs").click()
    expect(_segment(page, 1).locator("p.text")).to_have_text("their version of line two")
    expect(_segment(page, 0).locator("p.text")).to_have_text(f"hello {CANARY} world")
    expect(conflict).to_be_hidden()
    assert _opened(app, team, tid, keys) == theirs


def _save_elsewhere(
    app: Flask, team: Team, tid: uuid.UUID, doc: dict[str, Any], keys: Keys
) -> None:
    envelope = crypto.encrypt_content(doc, keys.unlocked.data_key, str(team.workspace.id), str(tid))
    with database(app, team.workspace.id) as s:
        t = s.get(Transcript, tid)
        assert t is not None
        t.revision += 1
        s.execute(
            update(PrivateContent)
            .where(PrivateContent.transcript_id == tid)
            .values(envelope=envelope, kind=crypto.CONTENT, revision=t.revision)
        )
        s.commit()


def test_what_does_not_open_says_why_and_writes_nothing(
    app: Flask, team: Team, web2: Web, people: Callable[[Web], Person]
) -> None:
    keys = make_keyring(app, team.user.id)
    ws = team.workspace.id
    a, b, flipped, reset = (
        make_private_transcript(app, ws, keys, _doc(), title=f"Private {n}") for n in "abcd"
    )
    # Ciphertext swapped between two transcripts; one bit flipped in a third; the fourth
    # sealed to a keyring that has since been reset (its fingerprint is not the current one).
    env_a, env_b = stored_envelope(app, ws, a), stored_envelope(app, ws, b)
    bad = bytearray(stored_envelope(app, ws, flipped))
    bad[-5] ^= 0x01
    with database(app, ws) as s:
        for tid, envelope in ((a, env_b), (b, env_a), (flipped, bytes(bad))):
            s.execute(
                update(PrivateContent)
                .where(PrivateContent.transcript_id == tid)
                .values(envelope=envelope)
            )
        s.execute(
            update(PrivateContent)
            .where(PrivateContent.transcript_id == reset)
            .values(fingerprint="0" * 32)
        )
        s.commit()
    before = {tid: _stored(app, team, tid) for tid in (a, b, flipped, reset)}

    # Another member of the team, an admin even, gets the reason and no means to the text.
    other = make_user(app, name="Otto Other")
    add_member(app, ws, other, "admin")
    web2.login(other)
    resp = web2.get(team.url(f"/transcripts/{a}"))
    assert resp.status_code == 409
    html = resp.get_data(as_text=True)
    assert "its text is encrypted for its owner alone" in html
    assert "data-private-transcript" not in html
    assert f"/transcripts/{a}/private" not in html
    # Still being transcribed: the status, which refreshes itself; nothing to decrypt yet.
    running = make_private_transcript(app, ws, keys, _doc(), title="Running")
    with database(app, ws) as s:
        s.execute(update(Transcript).where(Transcript.id == running).values(status="processing"))
        s.execute(
            update(PrivateContent)
            .where(PrivateContent.transcript_id == running)
            .values(envelope=None, kind=None)
        )
        s.commit()
    html = team.page(f"/transcripts/{running}")
    assert f'hx-get="/w/{team.slug}/transcripts/{running}/status?poll=1"' in html
    assert "data-private-transcript" not in html

    person = people(team.web)
    page = person.page
    error = page.locator(".private-text [data-private-error]")

    # Cancelled: the page says the keys are locked and offers to unlock.
    page.goto(f"/w/{team.slug}/transcripts/{a}")
    expect(page.locator("#private-unlock")).to_be_visible()
    page.locator("#private-unlock").get_by_role("button", name="Cancel").click()
    expect(error).to_contain_text("Your Private Transcript keys are locked")
    # A wrong passphrase: refused in the dialog, which stays open.
    error.get_by_role("button", name="Unlock").click()
    _unlock(page, "not the passphrase")
    expect(page.locator("#private-unlock [data-private-error]")).to_contain_text(
        "does not unlock your keyring"
    )
    # The right one: the keys open, but this envelope belongs to another transcript.
    _unlock(page, PASSPHRASE)
    expect(error).to_contain_text("This transcript could not be decrypted with your key:")
    expect(page.locator("#transcript-body .segment")).to_have_count(0)
    expect(page.locator("[data-private-exports] button").first).to_be_disabled()

    page.goto(f"/w/{team.slug}/transcripts/{b}")
    expect(error).to_contain_text("This transcript could not be decrypted with your key:")
    page.goto(f"/w/{team.slug}/transcripts/{flipped}")
    expect(error).to_contain_text("This transcript could not be decrypted with your key:")
    page.goto(f"/w/{team.slug}/transcripts/{reset}")
    expect(error).to_contain_text("encrypted for a keyring that has since been reset")
    expect(error.get_by_role("link", name="Private Transcript settings")).to_be_visible()
    expect(page.locator("#transcript-body .segment")).to_have_count(0)

    # Nothing was sent back, and every envelope is as it was.
    page.wait_for_timeout(300)
    assert person.writes() == []
    for tid, row in before.items():
        now = _stored(app, team, tid)
        assert (now.envelope, now.kind, now.revision) == (row.envelope, row.kind, row.revision)
    assert person.problems == []
