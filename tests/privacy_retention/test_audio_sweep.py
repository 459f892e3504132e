"""The audio sweeper is monitored: a metric in Redis (shown by /healthz) and an alert
line whenever it finds audio kept past its deadline."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from app.db import utcnow
from app.extensions import db
from app.ingest import staging
from app.ingest.models import StagedAudio
from app.tenants.context import workspace_scope
from tests.integration.test_workspaces import database
from workers.jobs.sweep_audio import sweep_audio


def _staged(app, workspace_id: uuid.UUID, expires_at) -> uuid.UUID:  # type: ignore[no-untyped-def]
    with app.app_context(), workspace_scope(workspace_id):
        staged = staging.create()
        staged.expires_at = expires_at
        with staging.writer(staged) as w:
            w.write(b"\x00" * 4096)
        db.session.commit()
        staged_id = staged.id
        db.session.remove()
    return staged_id


def _state(app, workspace_id: uuid.UUID, staged_id: uuid.UUID) -> tuple[bool, bool]:  # type: ignore[no-untyped-def]
    """(file on disk, key kept)"""
    with database(app, workspace_id) as s:
        staged = s.get(StagedAudio, staged_id)
        with app.app_context():
            on_disk = staging.path_of(staged).exists()
        return on_disk, staged.wrapped_key is not None


def test_the_sweeper_alerts_and_counts_audio_past_its_deadline(app, team, redis_conn, caplog):
    ws = team.workspace.id
    now = utcnow()
    late = _staged(app, ws, now - timedelta(seconds=1))  # just past its deadline
    due = _staged(app, ws, now + timedelta(seconds=1))  # just before
    redis_conn.delete(staging.METRICS_KEY)

    with caplog.at_level(logging.ERROR, logger="verbatim.alerts"):
        summary = sweep_audio(now=now)
    assert _state(app, ws, late) == (False, False)
    assert _state(app, ws, due) == (True, True)
    alerts = [r for r in caplog.records if r.name == "verbatim.alerts"]
    assert len(alerts) == 1 and alerts[0].levelno == logging.ERROR
    assert alerts[0].getMessage().startswith("ALERT audio outlived its deadline")
    metric = {k.decode(): v.decode() for k, v in redis_conn.hgetall(staging.METRICS_KEY).items()}
    assert metric["last_run"] == now.isoformat()
    overdue = int(metric["overdue"])
    assert overdue >= 1 and int(metric["swept"]) >= overdue  # others' leftovers count too
    assert f"{overdue} past the deadline" in summary
    assert metric["last_overdue_at"] == now.isoformat()

    health = team.web.get("/healthz").get_json()
    assert health["status"] == "ok"
    assert health["audio_sweep"]["overdue"] == overdue
    assert health["audio_sweep"]["last_run"] == now.isoformat()

    # Again with the same clock: nothing left, no alert; the totals stay.
    caplog.clear()
    later = now + timedelta(milliseconds=500)
    with caplog.at_level(logging.ERROR, logger="verbatim.alerts"):
        assert ", 0 past the deadline," in sweep_audio(now=later)
    assert not [r for r in caplog.records if r.name == "verbatim.alerts"]
    assert _state(app, ws, due) == (True, True)
    metric = {k.decode(): v.decode() for k, v in redis_conn.hgetall(staging.METRICS_KEY).items()}
    assert (metric["overdue"], metric["last_run"]) == ("0", later.isoformat())
    assert int(metric["overdue_total"]) == overdue
    assert metric["last_overdue_at"] == now.isoformat()

    # Past the other one's deadline too.
    with caplog.at_level(logging.ERROR, logger="verbatim.alerts"):
        sweep_audio(now=now + timedelta(seconds=2))
    assert _state(app, ws, due) == (False, False)
    assert int(redis_conn.hget(staging.METRICS_KEY, "overdue") or 0) >= 1


def test_a_sweep_that_finds_nothing_late_raises_no_alert(app, team, redis_conn, caplog):
    ws = team.workspace.id
    now = utcnow()
    fresh = _staged(app, ws, now + timedelta(hours=1))
    sweep_audio(now=now)  # whatever others left behind
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="verbatim.alerts"):
        sweep_audio(now=now)
    assert not [r for r in caplog.records if r.name == "verbatim.alerts"]
    assert _state(app, ws, fresh) == (True, True)
    assert redis_conn.hget(staging.METRICS_KEY, "overdue") == b"0"
