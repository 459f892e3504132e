"""API request metadata: a row per API call (the URL rule, never the URL), none for web
pages, deleted after the retention period by the daily job."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from flask import Response, g
from sqlalchemy import select

from app.db import utcnow
from app.privacy import api_log
from app.privacy.models import ApiRequestLog
from app.settings import settings
from tests.integration.test_workspaces import database
from tests.transcripts import api_caller, make_transcript
from workers.jobs.api_log_prune import api_log_prune


def rows(app, workspace_id: uuid.UUID) -> list[ApiRequestLog]:  # type: ignore[no-untyped-def]
    with database(app, workspace_id) as s:
        return list(s.scalars(select(ApiRequestLog).order_by(ApiRequestLog.at)))


def test_each_api_call_writes_its_metadata_and_web_pages_none(app, team):
    call = api_caller(team)
    ws = team.workspace.id
    assert rows(app, ws) == []  # making the key on its page wrote nothing
    tid = make_transcript(app, ws, "Board meeting")
    missing = uuid.uuid4()

    assert call("GET", f"/transcripts/{tid}").status_code == 200
    assert call("GET", f"/transcripts/{missing}").status_code == 404
    assert call("GET", "/transcripts?q=secret+words").status_code in (200, 400)
    logged = rows(app, ws)
    assert len(logged) == 3
    first, second, third = logged
    assert first.endpoint == second.endpoint == "/api/v1/transcripts/<uuid:transcript_id>"
    assert (first.method, first.status, second.status) == ("GET", 200, 404)
    assert third.endpoint == "/api/v1/transcripts"  # no query string
    assert first.api_key_id is not None and first.duration_ms >= 0
    for row in logged:
        assert str(tid) not in row.endpoint and str(missing) not in row.endpoint

    # Web pages, and calls without a valid key (no workspace to file them under): none.
    team.page("/")
    team.page("/transcripts/")
    anonymous = team.web.client.get("/api/v1/workspace")
    assert anonymous.status_code == 401
    wrong = team.web.client.get(
        "/api/v1/workspace", headers={"Authorization": "Bearer vb_not-a-key"}
    )
    assert wrong.status_code == 401
    assert len(rows(app, ws)) == 3


def test_a_failing_write_never_breaks_the_response(app, caplog):
    """A row that cannot be written (its key's workspace vanished under it) is logged and
    skipped; the caller still gets its answer."""
    with app.test_request_context("/api/v1/workspace"):
        g.api_log_started = 0.0
        g.api_log_key = (uuid.uuid4(), uuid.uuid4())  # no such key, no such workspace
        resp = Response("ok")
        with caplog.at_level(logging.WARNING, logger="verbatim.api_log"):
            assert api_log.record_response(resp) is resp
    assert "API request metadata not recorded" in caplog.text


def test_the_daily_job_deletes_metadata_past_retention_once(app, team):
    ws = team.workspace.id
    with app.app_context():
        days = settings().api_log_retention_days
    now = utcnow()
    deadline = now - timedelta(days=days)
    with app.app_context():
        for at in (deadline - timedelta(seconds=1), deadline + timedelta(seconds=1)):
            api_log.write(
                workspace_id=ws,
                api_key_id=None,
                method="GET",
                endpoint="/api/v1/workspace",
                status=200,
                duration_ms=3,
                at=at,
            )
    assert [r.at for r in rows(app, ws)] == [
        deadline - timedelta(seconds=1),
        deadline + timedelta(seconds=1),
    ]

    assert api_log_prune(now=now) == "deleted 1 API request log row(s)"
    assert [r.at for r in rows(app, ws)] == [deadline + timedelta(seconds=1)]
    assert api_log_prune(now=now) == "deleted 0 API request log row(s)"
    assert api_log_prune(now=now + timedelta(seconds=2)) == "deleted 1 API request log row(s)"
    assert rows(app, ws) == []


def test_recent_shows_a_workspace_only_its_own_requests(app, team):
    call = api_caller(team)
    call("GET", "/workspace")
    with app.app_context():
        mine = api_log.recent(team.workspace.id)
        other = api_log.recent(uuid.uuid4())
    assert [r.endpoint for r in mine] == ["/api/v1/workspace"]
    assert other == []


def test_the_keys_page_lists_recent_requests_of_this_workspace_only(app, web, team):
    from tests.transcripts import make_team

    call = api_caller(team)
    assert call("GET", "/workspace").status_code == 200
    assert call("GET", f"/transcripts/{uuid.uuid4()}").status_code == 404
    page = team.page("/api-keys/")
    section = page[page.index('id="recent-requests"') :]
    assert "GET /api/v1/workspace" in section
    assert "GET /api/v1/transcripts/&lt;uuid:transcript_id&gt;" in section
    assert '<span class="badge warn">404</span>' in section
    assert '<span class="badge ok">200</span>' in section
    assert "No requests in the last" not in section

    # Another team of the same person: its page shows none of the first team's calls.
    other = make_team(app, web, "Quiet Team")
    quiet = other.page("/api-keys/")
    quiet_section = quiet[quiet.index('id="recent-requests"') :]
    assert "/api/v1/workspace" not in quiet_section
    assert "No requests in the last 90 days." in quiet_section
