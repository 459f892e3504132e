"""The New transcript page in Chromium: files dropped in through the file picker go up in
resumable pieces with a progress bar, a browser recording goes the same way, the
transcripts show up in the listing, and the CSP is never violated."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, Watched, watch
from tests.browser.steps import sign_up

pytestmark = pytest.mark.browser


@dataclass
class Session(Watched):
    slug: str = ""


def _session(browser: Browser, base_url: str) -> Session:
    return watch(browser, base_url, Session, timeout_ms=20_000)


def _sign_up(session: Session, name: str) -> None:
    session.slug = sign_up(session.page, name, tag="uploader")


def _open_new_transcript(session: Session) -> None:
    page = session.page
    page.get_by_role("navigation", name="Workspace").get_by_role("link", name="Transcripts").click()
    page.wait_for_url(f"**/w/{session.slug}/transcripts/")
    page.get_by_role("link", name="New transcript").click()
    page.wait_for_url(f"**/w/{session.slug}/transcripts/new")
    expect(page.locator("#opt-engine")).to_be_visible()  # transcripts.js ran


def _cancel_from_its_page(page: Page, item_link: str) -> None:
    """Stop a queued transcript so no test worker spends time on it later."""
    page.goto(item_link)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#status .badge")).to_have_text("cancelled")


@pytest.fixture
def media(tmp_path: Path) -> dict[str, Path]:
    """A 9 MB WAV (two 8 MiB pieces), a short mp3, and a text file named like an mp3."""
    long_wav, short_mp3 = tmp_path / "long tone.wav", tmp_path / "short tone.mp3"
    for out, seconds in ((long_wav, 290), (short_mp3, 2)):
        subprocess.run(
            [
                *("ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i"),
                *(f"sine=frequency=300:duration={seconds}", "-ac", "1", "-ar", "16000", str(out)),
            ],
            check=True,
        )
    fake = tmp_path / "diary.mp3"
    fake.write_bytes(b"Dear diary, today I pretended to be an mp3 file.\n" * 40)
    return {"long": long_wav, "short": short_mp3, "fake": fake}


@pytest.fixture
def session(chromium: Browser, live_server: str) -> Iterator[Session]:
    made = _session(chromium, live_server)
    yield made
    made.context.close()


def test_files_upload_with_progress_and_appear_in_the_listing(
    session: Session, media: dict[str, Path]
) -> None:
    _sign_up(session, "Uma Uploader")
    _open_new_transcript(session)
    page = session.page
    assert media["long"].stat().st_size > 8 * 1024 * 1024  # more than one piece

    # Record how far each bar went, as the page updates it.
    page.evaluate(
        """() => {
          window.__progress = {};
          new MutationObserver(() => {
            document.querySelectorAll(".upload-item").forEach((li) => {
              const name = li.querySelector(".name").textContent;
              const seen = window.__progress[name] || [];
              seen.push(Number(li.querySelector("progress").value));
              window.__progress[name] = seen;
            });
          }).observe(document.getElementById("upload-list"),
                     {subtree: true, childList: true, characterData: true, attributes: true});
        }"""
    )
    page.set_input_files("#file-input", [str(media["long"]), str(media["short"])])

    items = page.locator("#upload-list .upload-item")
    expect(items).to_have_count(2)
    long_item = items.filter(has_text="long tone.wav")
    short_item = items.filter(has_text="short tone.mp3")
    for item in (long_item, short_item):
        expect(item.locator(".state")).to_contain_text("Uploaded", timeout=60_000)
        expect(item.locator("progress")).to_have_js_property("value", 100)
        expect(item.locator(".pct")).to_have_text("100%")

    seen = page.evaluate("window.__progress")["long tone.wav"]
    assert seen[-1] == 100
    assert any(0 < v < 100 for v in seen), seen  # the bar moved through the middle

    # The upload's own link opens the transcript; both files are in the listing.
    long_link = long_item.get_by_role("link", name="open it").get_attribute("href")
    short_link = short_item.get_by_role("link", name="open it").get_attribute("href")
    assert long_link and short_link
    page.goto(f"/w/{session.slug}/transcripts/")
    table = page.locator("#transcript-table")
    expect(table.locator("tr", has_text="long tone")).to_contain_text("0:04:50")
    expect(table.locator("tr", has_text="short tone")).to_contain_text("0:00:02")
    for row in ("long tone", "short tone"):
        expect(table.locator("tr", has_text=row).locator(".badge")).to_have_text("queued")

    # Search through htmx: the table is swapped, the page stays.
    page.evaluate("window.__sameDocument = true")
    page.get_by_label("Search titles").fill("short")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(page.locator("#transcript-table tr", has_text="short tone")).to_be_visible()
    assert page.evaluate("window.__sameDocument === true")
    assert "q=short" in page.url

    for link in (long_link, short_link):
        _cancel_from_its_page(page, link)
    assert session.problems == [], session.problems


def test_a_file_that_is_not_audio_is_refused_in_place(
    session: Session, media: dict[str, Path]
) -> None:
    _sign_up(session, "Nora Notaudio")
    _open_new_transcript(session)
    page = session.page
    page.set_input_files("#file-input", str(media["fake"]))
    item = page.locator("#upload-list .upload-item")
    expect(item.locator(".state")).to_contain_text("not audio", ignore_case=True)
    expect(item).to_have_attribute("data-state", "failed")
    expect(item.get_by_role("button", name="Cancel")).to_have_count(0)
    page.goto(f"/w/{session.slug}/transcripts/")
    expect(page.locator("#transcript-table")).to_contain_text("No transcripts yet.")
    # Chromium logs the refused request (422) on the console; nothing else may be there.
    [refused] = session.problems
    assert "status of 422" in refused
    assert f"/w/{session.slug}/uploads/" in refused


def test_a_dropped_connection_resumes_where_the_server_stands(
    session: Session, media: dict[str, Path]
) -> None:
    """The first piece reaches the server but its answer is lost: the page asks (HEAD),
    learns the new offset and sends only the rest."""
    _sign_up(session, "Rob Resumer")
    _open_new_transcript(session)
    page = session.page
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.method) if "/uploads/" in r.url else None)
    dropped: list[int] = []

    def drop_first_answer(route: Route) -> None:
        if route.request.method == "PATCH" and not dropped:
            answer = route.fetch()  # the server takes the piece...
            dropped.append(answer.status)
            route.abort("connectionreset")  # ...and the browser never hears back
        else:
            route.continue_()

    page.route("**/uploads/*", drop_first_answer)
    page.set_input_files("#file-input", str(media["long"]))
    item = page.locator("#upload-list .upload-item")
    expect(item.locator(".state")).to_contain_text("Uploaded", timeout=60_000)
    assert dropped == [200]
    assert sent == ["POST", "PATCH", "HEAD", "PATCH"], sent  # no byte sent twice
    link = item.get_by_role("link", name="open it").get_attribute("href")
    assert link
    _cancel_from_its_page(page, link)
    # The cut connection is logged by Chromium; nothing else may be on the console.
    [reset] = session.problems
    assert "ERR_CONNECTION_RESET" in reset


def test_cancel_stops_an_upload(session: Session, media: dict[str, Path]) -> None:
    _sign_up(session, "Carl Canceller")
    _open_new_transcript(session)
    page = session.page
    # Hold the first piece on its way, so Cancel meets an upload in flight.
    held: list[Route] = []
    page.route(
        "**/uploads/*",
        lambda route: held.append(route) if route.request.method == "PATCH" else route.continue_(),
    )
    page.set_input_files("#file-input", str(media["long"]))
    item = page.locator("#upload-list .upload-item")
    expect(item.locator(".state")).to_contain_text("Uploading")
    # "Uploading" shows once the upload exists; wait for its first piece to be in flight.
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    assert len(held) == 1
    item.get_by_role("button", name="Cancel").click()
    expect(item.locator(".state")).to_have_text("Cancelled; nothing was kept.")
    assert len(held) == 1
    page.goto(f"/w/{session.slug}/transcripts/")
    expect(page.locator("#transcript-table")).to_contain_text("No transcripts yet.")
    assert session.problems == [], session.problems


def test_browser_recording_is_uploaded(chromium: Browser, live_server: str) -> None:
    """Chromium's fake microphone (a beep) stands in for a person speaking."""
    recording_browser = chromium.browser_type.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
        ],
    )
    try:
        session = _session(recording_browser, live_server)
        session.context.grant_permissions(["microphone"])
        _sign_up(session, "Rita Recorder")
        _open_new_transcript(session)
        page = session.page
        page.locator("#rec-title").fill("Kitchen memo")
        page.get_by_role("button", name="Start recording").click()
        expect(page.locator("[data-rec-elapsed]")).to_have_text("0:02", timeout=10_000)
        page.get_by_role("button", name="Stop and transcribe").click()
        item = page.locator("[data-rec-uploads] .upload-item")
        expect(item.locator(".state")).to_contain_text("Uploaded", timeout=30_000)
        expect(item.locator(".name")).to_have_text(
            re.compile(r"^recording-\d{8}-\d{6}\.(webm|ogg|m4a)$")
        )
        link = item.get_by_role("link", name="open it").get_attribute("href")
        assert link
        page.goto(f"/w/{session.slug}/transcripts/")
        row = page.locator("#transcript-table tr", has_text="Kitchen memo")
        expect(row.locator(".badge")).to_have_text("queued")
        page.goto(link)
        expect(page.locator(".meta")).to_contain_text("Browser recording")
        _cancel_from_its_page(page, link)
        assert session.problems == [], session.problems
    finally:
        recording_browser.close()
