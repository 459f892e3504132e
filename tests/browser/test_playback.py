"""Reading and playback on the transcript page, in Chromium.

The server deletes the audio after transcription, so the page plays the person's own copy:
the file the browser kept in IndexedDB when it was uploaded, or one chosen again from disk.
These tests prove the file is never sent back, that words and times seek, that the current
word follows playback, the keyboard shortcuts, and #t=... links.
"""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import (
    Browser,
    Locator,
    Page,
    Request,
    expect,
)
from sqlalchemy import select

from app.transcripts.models import Status, TranscriptSegment
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, Watched, watch
from tests.browser.steps import sign_up
from tests.integration.test_workspaces import database
from tests.speech import make_speech
from tests.transcripts import Team, make_transcript

pytestmark = pytest.mark.browser

TONE_SECONDS = 100.0
SEGMENTS = 38  # one every 2.5 s, long enough to scroll; the last 5 s have no words


@dataclass
class Person(Watched):
    requests: list[Request] = field(default_factory=list)

    def sent_bodies(self) -> list[str]:
        """Requests that carried a body: playback must never send one."""
        return [f"{r.method} {r.url}" for r in self.requests if r.post_data_buffer]

    def media_fetches(self) -> list[str]:
        """Media the page fetched from anywhere but an object URL of this page."""
        return [
            r.url
            for r in self.requests
            if r.resource_type == "media" and not r.url.startswith("blob:")
        ]


def _person(browser: Browser, base_url: str) -> Person:
    # Reduced motion: the page scrolls to the current word at once, not smoothly, so what a
    # test measures is where it stays.
    person = watch(browser, base_url, Person, timeout_ms=20_000, reduced_motion="reduce")
    person.page.on("request", lambda request: person.requests.append(request))
    return person


@pytest.fixture
def people(chromium: Browser, live_server: str) -> Iterator[Callable[[], Person]]:
    made: list[Person] = []

    def make() -> Person:
        made.append(_person(chromium, live_server))
        return made[-1]

    yield make
    for person in made:
        person.context.close()


@pytest.fixture
def reader(team: Team, people: Callable[[], Person], live_server: str) -> Person:
    """A browser signed in as the team's owner. The session cookie of the team's test client
    is handed over rather than signing in again: sign-ins are rate limited per address, and
    every browser test comes from 127.0.0.1."""
    cookie = team.web.client.get_cookie("verbatim_session", domain="localhost")
    assert cookie is not None
    person = people()
    person.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server}])
    return person


def _sign_up(page: Page, name: str) -> str:
    """Sign up through the page (as test_upload_flow does); the new workspace's slug."""
    return sign_up(page, name, tag="player")


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True, timeout=120)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 100 s tone (the length of the transcripts below), a short one, a video, and two
    files that are not recordings."""
    root = tmp_path_factory.mktemp("playback")
    tone, short, video = root / "harbour.wav", root / "short.wav", root / "harbour.webm"
    for out, seconds in ((tone, TONE_SECONDS), (short, 4)):
        _ffmpeg(
            *("-f", "lavfi", "-i", f"sine=frequency=330:duration={seconds}"),
            *("-ac", "1", "-ar", "16000", str(out)),
        )
    _ffmpeg(
        *("-f", "lavfi", "-i", f"color=c=black:s=64x64:r=10:d={TONE_SECONDS}"),
        *("-f", "lavfi", "-i", f"sine=frequency=330:duration={TONE_SECONDS}"),
        *("-c:v", "libvpx", "-b:v", "50k", "-c:a", "libopus", "-shortest", str(video)),
    )
    text = root / "notes.txt"
    text.write_text("Not a recording.\n")
    broken = root / "broken.mp3"  # named like audio, but it is not
    broken.write_bytes(b"Dear diary, today I pretended to be an mp3 file.\n" * 40)
    return {"tone": tone, "short": short, "video": video, "text": text, "broken": broken}


def _harbour(app: Flask, team: Team, **fields: object) -> uuid.UUID:
    """A completed 100 s transcript: segment n starts at 2.5 n s, its words 0.4 s apart."""
    segments = [
        (n * 2.5, n * 2.5 + 2.2, f"point{n} the boats come home", "SPEAKER_00")
        for n in range(SEGMENTS)
    ]
    return make_transcript(
        app,
        team.workspace.id,
        "Harbour interview",
        duration=TONE_SECONDS,
        segments=segments,
        speakers={"SPEAKER_00": "Ana"},
        **fields,
    )


def _open(person: Person, team: Team, transcript_id: uuid.UUID, fragment: str = "") -> Page:
    page = person.page
    page.goto(team.url(f"/transcripts/{transcript_id}{fragment}"))
    expect(page.locator("#player")).to_be_visible()  # player.js ran
    return page


def _pick(page: Page, path: Path) -> None:
    page.locator("[data-player-input]").set_input_files(str(path))
    _wait_ready(page)


def _wait_ready(page: Page) -> None:
    page.wait_for_function(
        "() => { const m = document.querySelector('#player audio, #player video');"
        " return m && m.readyState >= 1; }"
    )


MEDIA = "document.querySelector('#player audio, #player video')"


def _until(page: Page, condition: str) -> None:
    """Wait until a JavaScript condition holds (a function: the CSP forbids eval of a string)."""
    page.wait_for_function(f"() => ({condition})")


def _time(page: Page) -> float:
    return float(page.evaluate(f"{MEDIA}.currentTime"))


def _paused(page: Page) -> bool:
    return bool(page.evaluate(f"{MEDIA}.paused"))


def _pause(page: Page) -> None:
    page.evaluate(f"{MEDIA}.pause()")


def _seg(page: Page, position: int) -> Locator:
    """The segment at a position (ids are the segments' database ids)."""
    return page.locator("#transcript-body .segment").nth(position)


def _word(page: Page, segment: int, index: int) -> tuple[Locator, float]:
    word = _seg(page, segment).locator(f"span.w[data-i='{index}']")
    return word, float(word.get_attribute("data-start") or "nan")


def test_an_uploaded_file_plays_from_this_browser_and_is_never_sent_again(
    people: Callable[[], Person], run_jobs: Callable[..., None], tmp_path: Path
) -> None:
    person = people()
    page = person.page
    slug = _sign_up(page, "Pia Player")
    page.goto(f"/w/{slug}/transcripts/new")
    speech = make_speech(
        "The ferry leaves the harbour at seven. Bring a coat, it is cold on the water.",
        tmp_path,
        "wav",
    )
    page.set_input_files("#file-input", str(speech))
    item = page.locator("#upload-list .upload-item")
    expect(item.locator(".state")).to_contain_text("Uploaded", timeout=60_000)
    expect(item.locator(".state")).to_contain_text("Kept on this device for playback.")
    link = item.get_by_role("link", name="open it").get_attribute("href")
    assert link

    run_jobs("gpu")  # the real worker transcribes it and deletes the audio

    person.requests.clear()
    page.goto(link)
    expect(page.locator("#status .badge")).to_have_text("completed")
    audio = page.locator("#player audio")
    expect(audio).to_have_attribute("src", re.compile(r"^blob:"))
    expect(page.locator("[data-player-pick]")).to_be_hidden()
    expect(page.locator("[data-player-source]")).to_contain_text(
        f"Playing “{speech.name}” from this device"
    )
    _wait_ready(page)
    length = page.evaluate("document.querySelector('#player audio').duration")
    probed = float(
        subprocess.run(
            [
                *("ffprobe", "-v", "error", "-show_entries", "format=duration"),
                *("-of", "default=nw=1:nk=1", str(speech)),
            ],
            capture_output=True,
            check=True,
            text=True,
        ).stdout
    )
    assert abs(length - probed) < 0.1  # the very file that was uploaded

    page.locator("body").press("Space")  # a real key press: playback starts
    _until(page, f"{MEDIA}.currentTime > 0.3")
    assert not _paused(page)
    _pause(page)

    # Nothing went to the server for it: no media fetched, no request with a body.
    assert person.media_fetches() == []
    assert person.sent_bodies() == []
    assert not [r.url for r in person.requests if "/uploads/" in r.url]
    assert person.problems == [], person.problems


def test_a_browser_recording_is_kept_for_playback_too(
    chromium: Browser, live_server: str, run_jobs: Callable[..., None]
) -> None:
    """recorder.js hands its recording to upload.js, which keeps it like any file."""
    browser = chromium.browser_type.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
        ],
    )
    try:
        person = _person(browser, live_server)
        person.context.grant_permissions(["microphone"])
        page = person.page
        slug = _sign_up(page, "Rex Recorder")
        page.goto(f"/w/{slug}/transcripts/new")
        page.locator("#rec-title").fill("Dock memo")
        page.get_by_role("button", name="Start recording").click()
        expect(page.locator("[data-rec-elapsed]")).to_have_text("0:02", timeout=10_000)
        page.get_by_role("button", name="Stop and transcribe").click()
        item = page.locator("[data-rec-uploads] .upload-item")
        expect(item.locator(".state")).to_contain_text("Kept on this device for playback.")
        name = item.locator(".name").inner_text()
        link = item.get_by_role("link", name="open it").get_attribute("href")
        assert link

        run_jobs("gpu")

        person.requests.clear()
        page.goto(link)
        expect(page.locator("#status .badge")).to_have_text("completed")
        expect(page.locator("#player audio")).to_have_attribute("src", re.compile(r"^blob:"))
        expect(page.locator("[data-player-source]")).to_contain_text(f"“{name}”")
        _wait_ready(page)
        assert person.media_fetches() == []
        assert person.sent_bodies() == []
        assert person.problems == [], person.problems
    finally:
        browser.close()


def test_a_chosen_file_plays_when_the_browser_has_none(
    app: Flask, team: Team, reader: Person, files: dict[str, Path]
) -> None:
    tid = _harbour(app, team)
    page = _open(reader, team, tid)
    pick = page.locator("[data-player-pick]")
    expect(pick).to_contain_text("Play along: choose your copy of “Harbour interview”")
    expect(pick).to_contain_text("The file stays on this device")
    expect(page.locator("#player audio, #player video")).to_have_count(0)

    # Not a recording: refused in place, nothing loaded.
    page.locator("[data-player-input]").set_input_files(str(files["text"]))
    expect(page.locator("[data-player-message]")).to_have_text(
        "“notes.txt” is not an audio or video file; choose the recording."
    )
    expect(page.locator("#player audio, #player video")).to_have_count(0)
    expect(pick).to_be_visible()

    # Named like audio but not audio: the browser cannot play it, and says so.
    page.locator("[data-player-input]").set_input_files(str(files["broken"]))
    expect(page.locator("[data-player-message]")).to_have_text(
        "This browser cannot play “broken.mp3”. A copy in another format (MP3, M4A, WebM) may work."
    )

    _pick(page, files["tone"])
    audio = page.locator("#player audio")
    expect(audio).to_have_attribute("src", re.compile(r"^blob:"))
    expect(page.locator("[data-player-source]")).to_contain_text("not kept")
    expect(page.locator("[data-player-message]")).to_be_empty()  # same length: no warning

    # Not kept unless asked: a reload asks again.
    page.reload()
    expect(pick).to_be_visible()
    expect(page.locator("#player audio")).to_have_count(0)

    _pick(page, files["tone"])
    page.get_by_role("button", name="Remember this file on this device").click()
    expect(page.locator("[data-player-message]")).to_contain_text("Kept in this browser")
    expect(page.get_by_role("button", name="Remember this file on this device")).to_be_hidden()
    page.reload()
    expect(page.locator("#player audio")).to_have_attribute("src", re.compile(r"^blob:"))
    expect(page.locator("[data-player-source]")).to_contain_text("“harbour.wav”")
    expect(page.locator("[data-player-source]")).to_contain_text("kept in this browser")
    expect(pick).to_be_hidden()

    page.get_by_role("button", name="Forget this file").click()
    expect(page.locator("#player audio")).to_have_count(0)
    expect(pick).to_be_visible()
    expect(page.locator("[data-player-message]")).to_contain_text("Forgotten")
    page.reload()
    expect(pick).to_be_visible()
    expect(page.locator("#player audio")).to_have_count(0)

    # Another file than the transcript's: it plays, with a warning that times may not match.
    _pick(page, files["short"])
    expect(page.locator("[data-player-message]")).to_contain_text("is it the same recording?")

    # A video file plays in a video element.
    page.get_by_role("button", name="Forget this file").click()
    _pick(page, files["video"])
    expect(page.locator("#player video")).to_have_attribute("src", re.compile(r"^blob:"))
    expect(page.locator("#player audio")).to_have_count(0)

    assert reader.sent_bodies() == []
    assert reader.media_fetches() == []
    assert reader.problems == [], reader.problems


def test_clicking_words_and_times_seeks_and_the_current_word_follows(
    app: Flask, team: Team, reader: Person, files: dict[str, Path]
) -> None:
    tid = _harbour(app, team)
    page = _open(reader, team, tid)
    _pick(page, files["tone"])
    assert _paused(page)

    word, start = _word(page, 3, 2)  # "boats" of the fourth segment: 8.3 s
    assert start == pytest.approx(8.3)
    word.click()
    assert abs(_time(page) - start) < 0.3  # the position moves at once...
    _until(page, f"!{MEDIA}.paused")  # ...and playback starts (after a double click's time)
    # The highlight follows playback: a later word becomes the current one.
    page.wait_for_function(
        f"() => {{ const w = document.querySelector('#transcript-body .w.current');"
        f" return w && Number(w.dataset.start) >= {start + 0.8}; }}"
    )
    expect(page.locator("#transcript-body .w.current")).to_have_count(1)

    # A segment's time seeks to its start.
    _seg(page, 10).locator(".ts").click()
    assert abs(_time(page) - 25.0) < 0.3
    expect(_seg(page, 10).locator(".w.current")).to_have_count(1)
    _pause(page)

    # Seeking while paused moves the highlight too (found by binary search over the starts).
    page.evaluate("document.querySelector('#player audio').currentTime = 51.3")
    expect(page.locator("#transcript-body .w.current")).to_have_attribute("data-start", "51.20")
    expect(_seg(page, 20).locator(".w.current")).to_have_attribute("data-i", "3")
    # Past the last word (94.4 s) by more than a short pause, no word is current.
    page.evaluate("document.querySelector('#player audio').currentTime = 99.9")
    expect(page.locator("#transcript-body .w.current")).to_have_count(0)

    # A double click (the editor's way in) moves the position but does not start playback.
    _seg(page, 12).locator("span.w[data-i='3']").dblclick()
    assert _time(page) == pytest.approx(31.2, abs=0.05)
    page.wait_for_timeout(600)
    assert _paused(page)

    # The click that ends selecting part of a word (text selected when it arrives) is not a
    # seek. The selection is made and the click sent directly: a mouse drag would also meet
    # the editor's hover toolbar, which moves the words under the pointer.
    before = _time(page)
    the = _seg(page, 5).locator("span.w[data-i='1']")
    the.evaluate(
        "(w) => { const r = document.createRange(); r.selectNodeContents(w);"
        " const s = window.getSelection(); s.removeAllRanges(); s.addRange(r); }"
    )
    the.dispatch_event("click", {"button": 0, "detail": 1})
    assert page.evaluate("window.getSelection().toString()") == "the"
    page.wait_for_timeout(500)
    assert _time(page) == pytest.approx(before)
    assert _paused(page)
    page.evaluate("window.getSelection().removeAllRanges()")
    the.dispatch_event("click", {"button": 0, "detail": 1})  # the same click, nothing selected
    assert _time(page) == pytest.approx(12.9, abs=0.05)
    _until(page, f"!{MEDIA}.paused")
    _pause(page)
    before = _time(page)

    # Text being edited (as the editor makes it) is not a seek either.
    _seg(page, 6).locator(".text").evaluate("(p) => { p.contentEditable = 'true'; }")
    _seg(page, 6).locator("span.w[data-i='2']").click()
    assert _time(page) == pytest.approx(before)
    assert _paused(page)

    assert reader.sent_bodies() == []
    assert reader.problems == [], reader.problems


def test_keyboard_shortcuts_and_speed(
    app: Flask, team: Team, reader: Person, files: dict[str, Path]
) -> None:
    tid = _harbour(app, team)
    page = _open(reader, team, tid)
    body = page.locator("body")

    # No file yet: "?" still shows the help; Space does not claim anything.
    help_box = page.locator("#player-help")
    expect(help_box).to_be_hidden()
    body.press("?")
    expect(help_box).to_be_visible()
    expect(help_box).to_contain_text("Play or pause")
    body.press("Escape")
    expect(help_box).to_be_hidden()

    _pick(page, files["tone"])
    page.evaluate("document.activeElement.blur()")
    body.press("Space")
    _until(page, f"!{MEDIA}.paused")
    body.press("Space")
    _until(page, f"{MEDIA}.paused")
    body.press("k")
    _until(page, f"!{MEDIA}.paused")
    body.press("k")
    _until(page, f"{MEDIA}.paused")

    page.evaluate("document.querySelector('#player audio').currentTime = 20")
    body.press("ArrowRight")
    assert _time(page) == pytest.approx(25, abs=0.05)
    body.press("l")
    assert _time(page) == pytest.approx(30, abs=0.05)
    body.press("ArrowLeft")
    assert _time(page) == pytest.approx(25, abs=0.05)
    body.press("j")
    assert _time(page) == pytest.approx(20, abs=0.05)
    page.evaluate("document.querySelector('#player audio').currentTime = 2")
    body.press("j")
    assert _time(page) == 0  # not before the start

    # In a text field keys type; with Alt they still control playback.
    name = page.get_by_label("Name of SPEAKER_00")
    name.click()
    name.press("End")
    name.press("Space")
    name.press("k")
    assert name.input_value() == "Ana k"
    assert _paused(page)
    name.press("Alt+l")
    assert _time(page) == pytest.approx(5, abs=0.05)
    name.press("Alt+k")
    _until(page, f"!{MEDIA}.paused")
    name.press("Alt+k")
    _until(page, f"{MEDIA}.paused")
    assert name.input_value() == "Ana k"

    # Speed: applied to the element and remembered for the next file.
    page.locator("[data-player-speed]").select_option("1.5")
    assert page.evaluate("document.querySelector('#player audio').playbackRate") == 1.5
    page.reload()
    _pick(page, files["tone"])
    assert page.evaluate("document.querySelector('#player audio').playbackRate") == 1.5
    expect(page.locator("[data-player-speed]")).to_have_value("1.5")
    assert reader.problems == [], reader.problems


def test_a_time_link_highlights_its_segment_and_seeks_once_a_file_is_there(
    app: Flask, team: Team, reader: Person, files: dict[str, Path]
) -> None:
    tid = _harbour(app, team)
    page = _open(reader, team, tid, "#t=83.5")
    target = _seg(page, 33)  # 82.5 s to 84.7 s
    expect(target).to_have_class(re.compile(r"\blinked\b"))
    expect(page.locator("#transcript-body .segment.linked")).to_have_count(1)
    expect(target).to_be_in_viewport()
    expect(_seg(page, 0)).not_to_be_in_viewport()

    _pick(page, files["tone"])
    _until(page, f"Math.abs({MEDIA}.currentTime - 83.5) < 0.1")
    assert _paused(page)  # a link shows the moment; playing is the person's choice

    # A new fragment moves the highlight and the playback position.
    page.evaluate("window.location.hash = '#t=0:10'")
    expect(_seg(page, 4)).to_have_class(re.compile(r"\blinked\b"))
    expect(page.locator("#transcript-body .segment.linked")).to_have_count(1)
    assert _time(page) == pytest.approx(10, abs=0.05)

    # Nonsense in the fragment changes nothing.
    page.evaluate("window.location.hash = '#t=soon'")
    expect(_seg(page, 4)).to_have_class(re.compile(r"\blinked\b"))
    assert _time(page) == pytest.approx(10, abs=0.05)
    assert reader.problems == [], reader.problems


def test_low_confidence_words_are_marked_with_their_confidence(
    app: Flask, team: Team, reader: Person
) -> None:
    tid = _harbour(app, team)
    with database(app, team.workspace.id) as s:
        seg = s.scalars(
            select(TranscriptSegment).where(
                TranscriptSegment.transcript_id == tid, TranscriptSegment.position == 2
            )
        ).one()
        words = [list(w) for w in seg.words]
        words[1][3] = 0.31
        seg.words = words
        s.commit()
    page = _open(reader, team, tid, "#t=5.5")
    low = page.locator("#transcript-body span.w.low")
    expect(low).to_have_count(1)
    expect(low).to_have_text("the")
    expect(low).to_have_attribute("title", "Low confidence: 31%")
    style = low.evaluate("(w) => getComputedStyle(w).textDecorationStyle")
    assert style == "dotted"
    sure = _seg(page, 2).locator("span.w[data-i='2']")
    assert sure.get_attribute("title") is None
    assert sure.evaluate("(w) => getComputedStyle(w).textDecorationLine") == "none"

    # htmx swaps the whole body after a rename: the marks come back on the new markup.
    page.evaluate("document.querySelector('#transcript-body').dataset.old = '1'")
    name = page.get_by_label("Name of SPEAKER_00")
    name.fill("Ana Costa")
    name.press("Enter")
    expect(_seg(page, 2).locator(".speaker")).to_have_text("Ana Costa")
    expect(page.locator("#transcript-body[data-old]")).to_have_count(0)  # new markup
    expect(low).to_have_attribute("title", "Low confidence: 31%")
    expect(_seg(page, 2)).to_have_class(re.compile(r"\blinked\b"))  # #t=5.5
    assert reader.problems == [], reader.problems


def test_only_completed_transcripts_have_a_player(app: Flask, team: Team, reader: Person) -> None:
    tid = make_transcript(app, team.workspace.id, "Still going", status=Status.PROCESSING)
    reader.page.goto(team.url(f"/transcripts/{tid}"))
    expect(reader.page.locator("#transcript-title")).to_have_text("Still going")
    expect(reader.page.locator("#player")).to_have_count(0)


_STORE_SCRIPT = """
async () => {
  const media = await import("/static/js/local-media.js");
  const file = (n, fill, type = "audio/wav") => new Blob([fill.repeat(n)], { type });
  const look = async (id) => {
    const r = await media.find(id);
    return r && { name: r.name, size: r.size, type: r.type, head: (await r.blob.text())[0] };
  };
  const limit = 250;
  const out = {};
  out.keptA = await media.keep(file(100, "a"), { name: "a.wav", ids: ["t-a"], limit });
  out.keptB = await media.keep(file(100, "b"), { name: "b.wav", ids: ["t-b1", "t-b2"], limit });
  out.keptC = await media.keep(file(100, "c"), { name: "c.ogg", ids: ["t-c"], limit });
  out.afterC = { a: await look("t-a"), b1: await look("t-b1"), c: await look("t-c") };
  out.tooBig = await media.keep(file(300, "d"), { name: "d.wav", ids: ["t-d"], limit });
  out.noIds = await media.keep(file(10, "e"), { name: "e.wav", ids: [], limit });
  out.empty = await media.keep(file(0, "f"), { name: "f.wav", ids: ["t-f"], limit });
  out.notAFile = await media.keep("not a file", { name: "g.wav", ids: ["t-g"], limit });
  out.afterRefused = {
    b1: await look("t-b1"), c: await look("t-c"), d: await look("t-d"), f: await look("t-f"),
  };
  out.replaced = await media.keep(file(50, "x", "video/webm"), { name: "x.webm", ids: ["t-b1"] });
  out.afterReplace = { b1: await look("t-b1"), b2: await look("t-b2") };
  out.forgotB2 = await media.forget("t-b2");
  out.forgotAgain = await media.forget("t-b2");
  out.afterForget = { b1: await look("t-b1"), b2: await look("t-b2"), c: await look("t-c") };
  out.cleared = await media.forgetAll();
  out.afterClear = { b1: await look("t-b1"), c: await look("t-c") };
  return out;
}
"""


def test_local_media_keeps_within_a_budget_and_forgets(people: Callable[[], Person]) -> None:
    """local-media.js in the page: eviction of the oldest, refusals that change nothing,
    one file serving two transcripts, replacing and forgetting."""
    person = people()
    person.page.goto("/login")
    out = person.page.evaluate(_STORE_SCRIPT)

    def kept(name: str, size: int, kind: str = "audio/wav") -> dict[str, object]:
        return {"name": name, "size": size, "type": kind, "head": name[0]}

    assert (out["keptA"], out["keptB"], out["keptC"]) == (True, True, True)
    # 300 bytes over a 250 byte budget: the oldest (a) made room for c.
    assert out["afterC"] == {"a": None, "b1": kept("b.wav", 100), "c": kept("c.ogg", 100)}
    # Too large, no transcript, an empty file, not a file: refused, nothing else changed.
    assert (out["tooBig"], out["noIds"], out["empty"], out["notAFile"]) == (False,) * 4
    assert out["afterRefused"] == {
        "b1": kept("b.wav", 100),
        "c": kept("c.ogg", 100),
        "d": None,
        "f": None,
    }
    # Keeping another file for one of b's transcripts replaces it there only.
    assert out["replaced"] is True
    assert out["afterReplace"] == {"b1": kept("x.webm", 50, "video/webm"), "b2": kept("b.wav", 100)}
    assert (out["forgotB2"], out["forgotAgain"]) == (True, False)
    assert out["afterForget"] == {
        "b1": kept("x.webm", 50, "video/webm"),
        "b2": None,
        "c": kept("c.ogg", 100),
    }
    assert out["cleared"] is True
    assert out["afterClear"] == {"b1": None, "c": None}
    assert person.problems == [], person.problems
