"""The upload page in Chromium: ticking Voice Lab sends the consent with that recording
only (upload.js), and the box unticks itself after; unticked, nothing is given."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from app.privacy import voice_lab
from app.privacy.models import ContributionStatus, VoiceContribution
from tests.browser.conftest import Watched, watch
from tests.browser.steps import sign_up
from tests.integration.test_workspaces import database

pytestmark = pytest.mark.browser


@pytest.fixture
def tone(tmp_path: Path) -> Path:
    out = tmp_path / "tone.mp3"
    subprocess.run(
        [
            *("ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=300:duration=2"),
            *("-ac", "1", "-ar", "16000", str(out)),
        ],
        check=True,
    )
    return out


@pytest.fixture
def session(chromium: Browser, live_server: str) -> Iterator[Watched]:
    made = watch(chromium, live_server, Watched, timeout_ms=20_000)
    yield made
    made.context.close()


def _given(app: Flask, transcript_id: uuid.UUID) -> VoiceContribution | None:
    with database(app) as s:
        return s.scalar(
            select(VoiceContribution).where(VoiceContribution.transcript_id == transcript_id)
        )


def test_the_box_gives_one_upload_then_unticks(app: Flask, session: Watched, tone: Path) -> None:
    page = session.page
    slug = sign_up(page, "Vera Voice", tag="voice")
    page.goto(f"/w/{slug}/transcripts/new")

    box = page.locator("#opt-voice-lab")
    expect(box).not_to_be_checked()
    expect(page.locator("#voice-lab-note")).to_contain_text("cannot be recalled")
    box.check()
    page.set_input_files("#file-input", str(tone))
    first = page.locator("#upload-list .upload-item").nth(0)
    expect(first.locator(".state")).to_contain_text("Uploaded", timeout=60_000)
    expect(box).not_to_be_checked()  # consent is per recording

    page.set_input_files("#file-input", str(tone))
    second = page.locator("#upload-list .upload-item").nth(1)
    expect(second.locator(".state")).to_contain_text("Uploaded", timeout=60_000)

    ids = []
    for item in (first, second):
        href = item.get_by_role("link", name="open it").get_attribute("href")
        assert href
        ids.append(uuid.UUID(href.rstrip("/").rsplit("/", 1)[1]))
    c = _given(app, ids[0])
    assert c is not None
    assert c.status == ContributionStatus.WAITING
    assert c.consent_version == voice_lab.CONSENT_VERSION
    assert c.consent_sha256 == voice_lab.consent_sha256()
    assert _given(app, ids[1]) is None

    for tid in ids:  # stop them, so no test worker spends time on them later
        page.goto(f"/w/{slug}/transcripts/{tid}")
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Cancel").click()
        expect(page.locator("#status .badge")).to_have_text("cancelled")
    assert _given(app, ids[0]).status == ContributionStatus.DELETED  # type: ignore[union-attr]
    assert session.problems == [], session.problems
