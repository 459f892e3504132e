"""Shared helpers for tests about transcripts: a signed-in team, transcripts put straight in
the database, and an API caller with a key of the team."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from flask import Flask
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from app.auth.models import User
from app.extensions import db
from app.search import indexer
from app.search.indexer import DrainReport
from app.tenants.models import Workspace
from app.transcripts.models import Status, Transcript, TranscriptSegment, TranscriptSpeaker
from tests.integration.test_api import new_key
from tests.integration.test_workspaces import create_team, database
from tests.web import Web, make_user


@dataclass
class Team:
    web: Web
    workspace: Workspace
    user: User

    @property
    def slug(self) -> str:
        return self.workspace.slug

    def url(self, path: str) -> str:
        return f"/w/{self.slug}{path}"

    def page(self, path: str, **kw: Any) -> str:
        resp = self.web.get(self.url(path), **kw)
        assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
        return resp.get_data(as_text=True)

    def count(self, model: type) -> int:
        with database(self.web.app, self.workspace.id) as s:
            return s.scalar(select(func.count(model.id))) or 0


def make_team(app: Flask, web: Web, name: str = "Pages Team") -> Team:
    """A signed-in owner of a new team workspace."""
    user = make_user(app, name="Paula Pages")
    web.login(user)
    return Team(web, create_team(web, name), user)


def drain_index(app: Flask) -> DrainReport:
    """What the index worker does after a commit: drain the search outbox into the backend."""
    with app.app_context():
        try:
            return indexer.drain()
        finally:
            db.session.remove()


def make_transcript(
    app: Flask,
    workspace_id: uuid.UUID,
    title: str,
    *,
    status: Status = Status.COMPLETED,
    duration: float = 65.0,
    segments: list[tuple[float, float, str, str | None]] = (),  # type: ignore[assignment]
    speakers: dict[str, str] | None = None,
    **fields: Any,
) -> uuid.UUID:
    """A transcript put straight in the database (the engine has its own tests)."""
    with database(app, workspace_id) as s:
        t = Transcript(
            title=title,
            status=status,
            engine="faster-whisper",
            model="tiny-random",
            duration_seconds=duration,
            speaker_count=len(speakers or {}),
            **fields,
        )
        s.add(t)
        s.flush()
        for position, (start, end, text, speaker) in enumerate(segments):
            words = [
                [w, start + i * 0.4, start + i * 0.4 + 0.3, 0.9] for i, w in enumerate(text.split())
            ]
            s.add(
                TranscriptSegment(
                    transcript_id=t.id,
                    position=position,
                    start=start,
                    end=end,
                    text=text,
                    speaker=speaker,
                    words=words,
                )
            )
        for label, name in (speakers or {}).items():
            s.add(TranscriptSpeaker(transcript_id=t.id, label=label, name=name))
        s.commit()
        return t.id


@dataclass
class ApiCaller:
    """Calls /api/v1 with an API key of one workspace."""

    web: Web
    raw_key: str

    def __call__(self, method: str, path: str, **kw: Any) -> TestResponse:
        headers = dict(kw.pop("headers", {}))
        headers["Authorization"] = f"Bearer {self.raw_key}"
        url = path if path.startswith("/api/") else f"/api/v1{path}"
        return self.web.client.open(url, method=method, headers=headers, **kw)


def api_caller(team: Team) -> ApiCaller:
    """An API key of the team (made through its page, as a person would)."""
    return ApiCaller(team.web, new_key(team.web, team.slug))
