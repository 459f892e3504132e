"""The scripts speak the page's language: with the `lang` cookie set, what upload.js writes
into the page (a refusal, the size of a file, the progress bar's label) comes from the
page's #i18n-strings through static/js/i18n.js; without it, the same words in English."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Route, expect

from tests.browser.conftest import Watched, watch
from tests.browser.steps import sign_up

pytestmark = pytest.mark.browser

# What upload.js shows when opening the upload is answered 429 without a message of the
# server's own, for a file of 40 bytes named note.mp3.
SHOWN = {
    "en": (
        "Too many requests; wait a little and try again.",
        "40 bytes",
        "Upload of note.mp3",
    ),
    "de": (
        "Zu viele Anfragen; warten Sie kurz und versuchen Sie es dann erneut.",
        "40 Bytes",
        "Hochladen von note.mp3",
    ),
    "fr": (
        "Trop de requêtes ; patientez un peu puis réessayez.",
        "40 octets",
        "Import de note.mp3",
    ),
}


@pytest.fixture
def session(chromium: Browser, live_server: str) -> Iterator[Watched]:
    made = watch(chromium, live_server, Watched, timeout_ms=20_000)
    yield made
    made.context.close()


def _sign_up(session: Watched) -> str:
    """A new account, signed up in English (no cookie yet); its workspace's slug."""
    return sign_up(session.page, "Lena Language", tag="language")


@pytest.mark.parametrize("language", ["en", "de", "fr"])
def test_upload_messages_follow_the_page_language(
    session: Watched, live_server: str, tmp_path: Path, language: str
) -> None:
    slug = _sign_up(session)
    if language != "en":
        session.context.add_cookies([{"name": "lang", "value": language, "url": live_server}])
    page = session.page

    def busy(route: Route) -> None:
        if route.request.method == "POST":
            route.fulfill(status=429, content_type="text/plain", body="slow down")
        else:
            route.continue_()

    page.route("**/uploads/", busy)
    page.goto(f"/w/{slug}/transcripts/new")
    expect(page.locator("html")).to_have_attribute("lang", language)
    expect(page.locator("#opt-engine")).to_be_visible()  # transcripts.js ran

    note = tmp_path / "note.mp3"
    note.write_bytes(b"0123456789" * 4)
    page.set_input_files("#file-input", str(note))

    refusal, size, label = SHOWN[language]
    item = page.locator("#upload-list .upload-item")
    expect(item.locator(".state")).to_have_text(refusal)
    expect(item.locator(".upload-head small")).to_have_text(size)
    expect(item.get_by_role("progressbar")).to_have_attribute("aria-label", label)
    problems = [p for p in session.problems if "status of 429" not in p]
    assert problems == [], problems
