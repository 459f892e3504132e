"""Minutes, end to end on real uploads (PostgreSQL, ffmpeg, the resumable upload protocol):
reserved when queued, refused before any work with what is left and how to get more,
credits after the allowance, released on failure, counted once, renewed on the billing
date, and the last minutes never spent twice by two uploads at once."""

from __future__ import annotations

import random
import threading
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.billing import accounts, checkouts, entitlements, metering, periods, reconcile
from app.billing.metering import QuotaExceeded
from app.billing.models import UsageRecord, UsageState
from app.db import as_utc, utcnow
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


def grant(app: Flask, team: Team, pack: str = "pack_300") -> None:
    """A pack paid for, granted as a settled checkout grants it."""
    with database(app, team.workspace.id) as s:
        assert checkouts.grant_pack(
            team.workspace.id,
            entitlements.CREDIT_PACKS[pack],
            processor="stripe",
            reference=f"cs_test_{uuid.uuid4().hex}",
            user_id=team.user.id,
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
    grant(app, team, "pack_300")
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


def tallies(app: Flask, team: Team) -> tuple[metering.Tally | None, metering.Tally]:
    """(what the account keeps for the current period, or None when it keeps nothing
    for it; what the records add up to)."""
    with database(app, team.workspace.id):
        account = accounts.get(team.workspace.id)
        period = periods.current(account.period_anchor, utcnow())
        kept = account.tally_period_start
        stored = (
            metering.stored_tally(account)
            if kept is not None and as_utc(kept) == period.start
            else None
        )
        return stored, metering.recount(team.workspace.id, period.start)


def test_the_kept_tallies_always_equal_the_records(app, team):
    """Seventy random steps through everything that spends, gives back or adds minutes (web
    and API, comparisons, failures, retries, completions of unreserved work, packs, a new
    billing period): after each one, the tallies the minutes check reads equal a count
    of the records themselves."""
    rng = random.Random(20261121)
    spend(app, team, FREE_MINUTES - 5)  # near the end, so credits and refusals happen
    state: dict[uuid.UUID, str] = {}
    refused = 0
    steps: list[str] = []

    def step(name: str) -> str:
        """Takes the step if it can; what was done ("nothing": no transcript for it)."""
        nonlocal refused
        done = name
        with database(app, team.workspace.id) as s:
            reserved = [t for t, st in state.items() if st == "reserved"]
            released = [t for t, st in state.items() if st == "released"]
            try:
                if name == "new" or name == "pair":
                    group = uuid.uuid4() if name == "pair" else None
                    seconds = rng.uniform(30, 900)
                    via = rng.choice(["web", "api"])
                    made = []
                    for _ in range(2 if group else 1):
                        t = Transcript(
                            title="Random",
                            status=Status.QUEUED,
                            engine="faster-whisper",
                            model="tiny-random",
                            duration_seconds=seconds,
                            compare_group=group,
                        )
                        s.add(t)
                        s.flush()
                        s.add(UsageRecord(workspace_id=t.workspace_id, transcript_id=t.id, via=via))
                        made.append(t)
                    s.flush()
                    metering.reserve(made, seconds, team.user.id)
                    state.update({t.id: "reserved" for t in made})
                elif name == "charge" and reserved:
                    tid = rng.choice(reserved)
                    metering.charge(s.get(Transcript, tid))
                    state[tid] = "charged"
                elif name == "release" and reserved:
                    tid = rng.choice(reserved)
                    metering.release(s.get(Transcript, tid))
                    state[tid] = "released"
                elif name == "retry" and released:
                    tid = rng.choice(released)
                    t = s.get(Transcript, tid)
                    metering.reserve([t], t.duration_seconds)
                    state[tid] = "reserved"
                elif name == "late charge" and released:
                    tid = rng.choice(released)  # finished after all: counted, even past
                    metering.charge(s.get(Transcript, tid))
                    state[tid] = "charged"
                elif name == "pack":
                    checkouts.grant_pack(
                        team.workspace.id,
                        entitlements.CREDIT_PACKS["pack_300"],
                        processor="square",
                        reference=uuid.uuid4().hex,
                        user_id=team.user.id,
                    )
                elif name == "new period":
                    # As a new subscription re-anchors the billing month (under the lock).
                    account = accounts.get(team.workspace.id, lock=True)
                    account.period_anchor = utcnow() - timedelta(seconds=1)
                else:
                    done = "nothing"
                s.commit()
            except QuotaExceeded:
                s.rollback()
                refused += 1
                done = "refused"
        return done

    def pick() -> str:
        """A step that can be taken now (a release needs something reserved...)."""
        kinds = ["new", "new", "pair"] + (["pack"] if rng.random() < 0.3 else [])
        if "reserved" in state.values():
            kinds += ["charge", "charge", "release"]
        if "released" in state.values():
            kinds += ["retry", "late charge"]
        return rng.choice(kinds)

    for i in range(70):
        name = pick() if i not in (25, 50) else "new period"
        steps.append(step(name))
        stored, true = tallies(app, team)
        # A new period is counted afresh by the next change under the lock (charging a
        # reservation changes no sum, so takes none); until then the check counts.
        since = (
            steps[len(steps) - steps[::-1].index("new period") :]
            if "new period" in steps
            else steps
        )
        assert stored is not None or not set(since) - {"nothing", "refused", "charge"}, steps
        assert stored is None or stored.close_to(true), (steps, stored, true)
        assert minutes_of(app, team).used == pytest.approx(true.allowance_used, abs=0.01)
    # The walk went everywhere: each kind of step, credits spent, refusals.
    assert {"new", "pair", "charge", "release", "retry", "late charge", "pack"} <= set(steps)
    assert refused > 0 and any(r.credit_seconds > 0 for r in records(app, team))


def test_a_reservation_builds_on_what_the_lock_returns_not_an_earlier_read(app, team):
    """A request that read the account before another one reserved must, once it holds
    the lock, add to the other's tally, not to the copy it read first."""
    first, second = (
        make_transcript(app, team.workspace.id, f"Reader {i}", status=Status.QUEUED, duration=60)
        for i in range(2)
    )
    with database(app, team.workspace.id) as s:
        accounts.get(team.workspace.id)
        s.commit()
    with app.app_context(), workspace_scope(team.workspace.id):
        workspace = db.session.get(Workspace, team.workspace.id)
        assert metering.minutes(workspace).used == 0  # the account read, unlocked
        other = threading.Thread(target=reserve_pair, args=(app, team, [second], 60.0))
        other.start()
        other.join(timeout=30)
        assert not other.is_alive()
        metering.reserve([db.session.get(Transcript, first)], 60.0)
        db.session.commit()
        db.session.remove()
    stored, true = tallies(app, team)
    assert true.allowance_used == pytest.approx(120.0)
    assert stored == true


def test_the_daily_check_corrects_a_tally_that_drifted(app, team, speech, caplog):
    upload(team, speech)
    stored, true = tallies(app, team)
    assert stored == true and true.allowance_used > 0
    with database(app, team.workspace.id) as s:
        accounts.get(team.workspace.id).tally_allowance_used = 12_345.0
        s.commit()
    with app.app_context():
        assert team.workspace.id in reconcile.check_tallies()
        assert not reconcile.check_tallies()
    assert "billing tallies of workspace" in caplog.text
    stored, true = tallies(app, team)
    assert stored == true
