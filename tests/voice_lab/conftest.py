"""Voice Lab tests: real PostgreSQL, Redis, ffmpeg and the forking RQ worker with the tiny
model; the Voice Lab directory is a fresh temporary one per test (the session app's
settings, and the environment the work horses build their app from)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import update

from app.auth.models import User
from app.db import utcnow
from tests.integration.test_workspaces import database
from tests.speech import make_speech
from tests.web import Web, make_user

SENTENCE = "Good morning. This recording is given to the open data set of voices."


@pytest.fixture
def voice_dir(app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "voice-lab"
    monkeypatch.setattr(app.extensions["verbatim.settings"], "voice_lab_dir", str(path))
    monkeypatch.setenv("VERBATIM_VOICE_LAB_DIR", str(path))  # forked work horses
    yield path


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_speech(SENTENCE, tmp_path_factory.mktemp("speech"), "mp3").read_bytes()


@pytest.fixture
def operator(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Web:
    """A signed-in installation operator: on VERBATIM_OPERATOR_EMAILS, email verified."""
    user = make_user(app, name="Olga Operator")
    with database(app) as s:
        s.execute(update(User).where(User.id == user.id).values(email_verified_at=utcnow()))
        s.commit()
    monkeypatch.setattr(app.extensions["verbatim.settings"], "operator_emails", user.email.upper())
    web = Web(app, remote_addr="10.77.0.9")
    web.login(user)
    return web
