"""Minutes, end to end on real uploads (PostgreSQL, ffmpeg, the resumable upload protocol):
reserved when queued, refused before any work with what is left and how to get more,
credits after the allowance, released on failure, counted once, renewed on the billing
date, and the last minutes never spent twice by two uploads at once."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.billing import accounts, metering
from app.billing.metering import QuotaExceeded
from app.billing.models import CreditGrant, UsageRecord, UsageState
from app.db import utcnow
from app.extensions import db
from app.ingest.models import StagedAudio, Upload
from app.tenants.context import workspace_scope
from app.tenants.models import Workspace
from app.transcripts import lifecycle
from app.transcripts.models import Status, Transcript
from tests.integration.test_transcript_pages import open_upload, patch, upload
from tests.integration.test_workspaces import database
from tests.speech import make_long_silence, make_speech
from tests.transcripts import Team, api_caller, make_transcript

FREE_MINUTES = 600


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    # About six seconds: longer than the three seconds some tests leave.
    return make_speech(
        "Counting minutes for the billing tests. This sentence makes the recording a few "
        "seconds longer, so that it needs more than what is left.",
        tmp_path_factory.mktemp("speech"),
        "mp3",
    ).read_bytes()


@pytest.fixture(scope="module")
def long_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 2 h 05 min: longer than the free plan's 2 hours, within the installation's 4.
    return make_long_silence(125 * 60, tmp_path_factory.mktemp("long"))


def spend(app: Flask, team: Team, minutes: float, *, via: str = "web") -> None:
    """Minutes used this period by earlier, finished transcripts (reserved and charged
    through the metering service, as real ones are; none longer than the plan takes)."""
    left = minutes
    while left > 1e-9:
        chunk = min(left, 100.0)
        left -= chunk
        tid = make_transcript(
            app, team.workspace.id, f"Earlier {chunk}", status=Status.QUEUED, duration=chunk * 60
        )
        with database(app, team.workspace.id) as s:
            t = s.get(Transcript, tid)
            s.add(UsageRecord(workspace_id=t.workspace_id, transcript_id=t.id, via=via))
            s.flush()
            metering.reserve([t], t.duration_seconds)
            metering.charge(t)
            s.commit()


def transcript_of(app: Flask, team: Team, tid: uuid.UUID | str) -> Transcript:
    with database(app, team.workspace.id) as s:
        t = s.get(Transcript, uuid.UUID(str(tid)))
        s.expunge(t)
        return t


def minutes_of(app: Flask, team: Team) -> metering.Minutes:
    with database(app, team.workspace.id) as s:
        return metering.minutes(s.get(Workspace, team.workspace.id))


def records(app: Flask, team: Team) -> list[UsageRecord]:
    with database(app, team.workspace.id) as s:
        rows = list(s.scalars(select(UsageRecord).order_by(UsageRecord.created_at)))
        s.expunge_all()
        return rows


def grant(app: Flask, team: Team, minutes: int) -> None:
    with database(app, team.workspace.id) as s:
        s.add(
            CreditGrant(
                workspace_id=team.workspace.id,
                processor="stripe",
                reference=f"cs_test_{uuid.uuid4().hex}",
                pack="pack_300",
                seconds=minutes * 60.0,
            )
        )
        s.commit()


def counts(app: Flask, team: Team) -> tuple[int, int, int]:
    with database(app, team.workspace.id) as s:
        return (
            s.scalar(select(func.count(Transcript.id))) or 0,
            s.scalar(select(func.count(StagedAudio.id)).where(StagedAudio.wrapped_key.is_not(None)))
            or 0,
            s.scalar(select(func.count(UsageRecord.id))) or 0,
        )


def test_a_new_workspace_has_the_free_allowance(app, team):
    m = minutes_of(app, team)
    assert m.included == FREE_MINUTES * 60
    assert m.used == 0 and m.credits == 0
    assert m.api_included == 100 * 60
    assert m.left() == FREE_MINUTES * 60
    assert m.period.start <= utcnow() < m.period.end


def test_an_upload_reserves_its_minutes_and_completion_charges_them_once(app, team, speech):
    done = upload(team, speech)
    tid = uuid.UUID(done["transcripts"][0]["id"])
    [record] = records(app, team)
    assert record.transcript_id == tid and record.state == UsageState.RESERVED
    assert record.user_id == team.user.id and record.via == "web"
    assert record.seconds == pytest.approx(transcript_of(app, team, tid).duration_seconds)
    assert minutes_of(app, team).used == pytest.approx(record.seconds)
    # Completing twice (a duplicate job delivery) charges once.
    with database(app, team.workspace.id) as s:
        t = s.get(Transcript, tid)
        metering.charge(t)
        metering.charge(t)
        s.commit()
    [record] = records(app, team)
    assert record.state == UsageState.CHARGED and record.charged_at is not None
    assert minutes_of(app, team).used == pytest.approx(record.seconds)


def test_quota_exhausted_mid_month_refuses_before_any_work_and_says_what_is_left(app, team, speech):
    spend(app, team, FREE_MINUTES - 0.05)  # 3 s left; the recording is longer
    before = counts(app, team)
    created = open_upload(team, "standup.mp3", len(speech))
    assert created.status_code == 201  # something is left: the length is not known yet
    resp = patch(team, created.json["upload_url"], 0, speech)
    assert resp.status_code == 402
    message = resp.json["message"]
    assert "3 s left on the Free plan this month" in message
    assert "no credits" in message and "Billing page" in message
    renews = minutes_of(app, team).period.end
    assert f"renews on {renews:%-d %B}" in message
    # Nothing queued, the audio deleted, the upload closed with the reason.
    transcripts, staged, usage = counts(app, team)
    assert (transcripts, staged, usage) == (before[0], before[1], before[2])
    with database(app, team.workspace.id) as s:
        up = s.scalar(select(Upload).order_by(Upload.created_at.desc()))
        assert up.status == "failed" and "left on the Free plan" in up.error


def test_with_nothing_left_an_upload_is_refused_before_a_byte(app, team, speech):
    spend(app, team, FREE_MINUTES)
    resp = open_upload(team, "standup.mp3", len(speech))
    assert resp.status_code == 402
    assert resp.json["message"].startswith("This workspace has 0 min left on the Free plan")
    link = team.web.post(team.url("/transcripts/link"), {"url": "https://example.com/a.mp3"})
    assert link.status_code == 402, link.get_data(as_text=True)[:3000]
    assert "0 min left" in link.get_data(as_text=True)
    assert counts(app, team)[0] == 6  # only the transcripts that spent them


def test_credits_pay_after_the_allowance(app, team, speech):
    spend(app, team, FREE_MINUTES - 0.05)
    grant(app, team, 300)
    done = upload(team, speech)
    tid = uuid.UUID(done["transcripts"][0]["id"])
    record = next(r for r in records(app, team) if r.transcript_id == tid)
    assert record.allowance_seconds == pytest.approx(3.0, abs=0.01)
    assert record.credit_seconds == pytest.approx(record.seconds - 3.0, abs=0.01)
    m = minutes_of(app, team)
    assert m.allowance_left() == pytest.approx(0.0, abs=0.01)
    assert m.credits == pytest.approx(300 * 60 - record.credit_seconds, abs=0.01)


def test_a_failed_transcript_gives_its_minutes_back_and_a_retry_takes_them_again(app, team, speech):
    done = upload(team, speech)
    tid = uuid.UUID(done["transcripts"][0]["id"])
    with database(app, team.workspace.id) as s:
        token = "job-token"
        s.get(Transcript, tid).claim_token = token
        s.commit()
        assert lifecycle.fail(tid, token, "The engine crashed.")
    [record] = records(app, team)
    assert record.state == UsageState.RELEASED
    assert minutes_of(app, team).used == 0
    # The audio went with the failure, so this transcript cannot be retried: upload again.
    again = upload(team, speech)
    assert transcript_of(app, team, again["transcripts"][0]["id"]).status == Status.QUEUED
    assert minutes_of(app, team).used == pytest.approx(record.seconds)


def compare_pair(app: Flask, team: Team, seconds: float) -> list[uuid.UUID]:
    """Two transcripts of one file, as start_from_staged makes for a model comparison."""
    group = uuid.uuid4()
    return [
        make_transcript(
            app,
            team.workspace.id,
            f"Compare {model}",
            status=Status.QUEUED,
            duration=seconds,
            compare_group=group,
        )
        for model in ("tiny-random", "small")
    ]


def reserve_pair(app: Flask, team: Team, ids: list[uuid.UUID], seconds: float) -> None:
    with database(app, team.workspace.id) as s:
        pair = [s.get(Transcript, tid) for tid in ids]
        try:
            metering.reserve(pair, seconds, team.user.id)
            s.commit()
        finally:
            s.rollback()


def test_a_model_comparison_counts_each_run(app, team):
    ids = compare_pair(app, team, 30.0)
    reserve_pair(app, team, ids, 30.0)
    rows = records(app, team)
    assert {r.transcript_id for r in rows} == set(ids)
    assert minutes_of(app, team).used == pytest.approx(60.0)


def test_a_comparison_needs_minutes_for_both_runs(app, team):
    spend(app, team, FREE_MINUTES - 0.75)  # 45 s left: one 30 s run fits, two do not
    ids = compare_pair(app, team, 30.0)
    with pytest.raises(QuotaExceeded, match="This needs 1 min, but this workspace has 45 s"):
        reserve_pair(app, team, ids, 30.0)
    assert {r.transcript_id for r in records(app, team)}.isdisjoint(ids)


def test_a_file_longer_than_the_plan_takes_is_refused_naming_the_plan(app, team, long_file):
    data = long_file.read_bytes()
    created = open_upload(team, "all-hands.flac", len(data))
    resp = patch(team, created.json["upload_url"], 0, data)
    assert resp.status_code == 402
    message = resp.json["message"]
    assert "This recording is 2 h 05 min; Free takes files up to 2 h 00 min" in message
    assert "Pro and Business take longer files" in message
    assert counts(app, team)[0] == 0


def test_the_api_has_its_own_cap_on_the_free_plan(app, team, speech):
    api = api_caller(team)
    spend(app, team, 100 - 0.05, via="api")  # the API's 100 minutes are nearly gone
    resp = api(
        "POST",
        "/transcripts/file?filename=standup.mp3",
        data=speech,
        headers={"Content-Type": "audio/mpeg"},
    )
    assert resp.status_code == 402, resp.json
    assert "3 s of the API's left" in resp.json["message"]
    # The web still has the rest of the month's allowance.
    done = upload(team, speech)
    assert transcript_of(app, team, done["transcripts"][0]["id"]).status == Status.QUEUED


def test_the_allowance_renews_on_the_billing_date(app, team):
    spend(app, team, FREE_MINUTES)
    assert minutes_of(app, team).left() == 0
    with database(app, team.workspace.id) as s:
        account = accounts.get(team.workspace.id)
        # The billing date came round: the period that holds the spending is over.
        account.period_anchor = utcnow() - timedelta(days=40)
        for r in s.scalars(select(UsageRecord)):
            r.period_start = utcnow() - timedelta(days=35)
        s.commit()
    m = minutes_of(app, team)
    assert m.used == 0 and m.left() == FREE_MINUTES * 60
    assert m.period.start > utcnow() - timedelta(days=31)


def test_two_uploads_cannot_both_spend_the_last_minutes(app, team):
    """Two reservations at the same moment, each alone within what is left, together
    not: the account lock lets exactly one through."""
    spend(app, team, FREE_MINUTES - 1.5)  # 90 s left
    ids = [
        make_transcript(app, team.workspace.id, f"Race {i}", status=Status.QUEUED, duration=60)
        for i in range(2)
    ]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def race(tid: uuid.UUID) -> None:
        with app.app_context(), workspace_scope(team.workspace.id):
            try:
                t = db.session.get(Transcript, tid)
                barrier.wait(timeout=10)
                metering.reserve([t], t.duration_seconds)
                db.session.commit()
                outcomes.append("reserved")
            except QuotaExceeded:
                db.session.rollback()
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=race, args=(tid,)) for tid in ids]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=30)
    assert sorted(outcomes) == ["refused", "reserved"]
    assert minutes_of(app, team).used == pytest.approx((FREE_MINUTES - 1.5) * 60 + 60)
