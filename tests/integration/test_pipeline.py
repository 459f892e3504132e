"""The transcription pipeline end to end with the production worker entry point as its own
process (`python -m workers --queues gpu`): real PostgreSQL, Redis, ffmpeg and the tiny
faster-whisper model. Proves the audio promise after every outcome, including SIGKILL."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app import ROOT, create_app
from app.billing.models import UsageRecord, UsageState
from app.config import load_settings
from app.extensions import db
from app.ingest import staging, uploads
from app.ingest.models import StagedAudio
from app.queue import enqueue
from app.tenants.context import workspace_scope
from app.tenants.services import create_workspace
from app.transcripts import lifecycle
from app.transcripts.models import Status, Transcript, TranscriptSegment
from tests.speech import make_speech
from tests.web import make_user, unique_email

SENTENCE = "The quick brown fox jumps over the lazy dog while the band plays on."


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> Path:
    return make_speech(SENTENCE, tmp_path_factory.mktemp("speech"), "mp3")


@pytest.fixture(scope="module")
def long_speech(tmp_path_factory) -> Path:
    return make_speech(" ".join([SENTENCE] * 40), tmp_path_factory.mktemp("long"), "ogg")


@pytest.fixture
def workspace(app):
    user = make_user(app, unique_email("pipeline"))
    with app.app_context():
        ws = create_workspace(user.id, "Pipeline", f"pipeline-{uuid.uuid4().hex[:8]}")
        return ws.id, user.id


def _upload(app, workspace, path: Path, **options) -> uuid.UUID:
    ws_id, user_id = workspace
    data = path.read_bytes()
    with app.app_context(), workspace_scope(ws_id):
        upload = uploads.create(
            filename=path.name, size=len(data), options=options, user_id=user_id
        )
        _, created = uploads.append(upload.id, 0, io.BytesIO(data), len(data))
        assert len(created) == 1
        return created[0].id


def _worker(app_env, *extra_env: tuple[str, str], wait: bool = True) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "workers", "--queues", "gpu", "--burst"],
        cwd=ROOT,
        env={**os.environ, **app_env, **dict(extra_env)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    if wait:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out[-3000:]
        proc.output = out  # type: ignore[attr-defined]
    return proc


def _state(app, ws_id, tid) -> Transcript:
    with app.app_context(), workspace_scope(ws_id):
        t = db.session.get(Transcript, tid)
        db.session.expunge(t)
        return t


def _audio_gone(app, ws_id, tid) -> bool:
    with app.app_context(), workspace_scope(ws_id):
        t = db.session.get(Transcript, tid)
        staged = db.session.get(StagedAudio, t.staged_audio_id)
        path = staging.path_of(staged)
        return staged.wrapped_key is None and staged.discarded_at is not None and not path.exists()


def _usage(app, ws_id, tid) -> int:
    """Minutes records charged for the transcript (a failed one's reservation is released,
    not charged)."""
    with app.app_context(), workspace_scope(ws_id):
        return db.session.scalar(
            select(func.count(UsageRecord.id)).where(
                UsageRecord.transcript_id == tid, UsageRecord.state == UsageState.CHARGED
            )
        )


def test_upload_is_transcribed_stored_and_its_audio_deleted(app, app_env, workspace, speech):
    ws_id, _ = workspace
    tid = _upload(app, workspace, speech, language="en")
    queued = _state(app, ws_id, tid)
    assert queued.status == Status.QUEUED
    assert 3.0 < queued.duration_seconds < 10.0  # probed before queueing
    assert not _audio_gone(app, ws_id, tid)  # staged, encrypted, until the job ends
    worker = _worker(app_env)
    done = _state(app, ws_id, tid)
    assert done.status == Status.COMPLETED, worker.output[-3000:]
    assert done.language == "en" and done.model == "tiny-random"
    assert set(done.timings) >= {"decode", "transcribe"}
    with app.app_context(), workspace_scope(ws_id):
        segments = db.session.scalars(
            select(TranscriptSegment).where(TranscriptSegment.transcript_id == tid)
        ).all()
    for seg in segments:
        assert 0 <= seg.start <= seg.end <= done.duration_seconds + 0.5
    assert _audio_gone(app, ws_id, tid)
    assert _usage(app, ws_id, tid) == 1

    # At-least-once delivery: the same job again changes nothing and bills nothing.
    with app.app_context():
        enqueue(lifecycle.TRANSCRIBE_JOB, str(tid), str(ws_id), queue_name="gpu")
    _worker(app_env)
    assert _state(app, ws_id, tid).status == Status.COMPLETED
    assert _usage(app, ws_id, tid) == 1


def test_engine_failure_says_why_and_deletes_the_audio(app, app_env, workspace, speech):
    ws_id, _ = workspace
    tid = _upload(app, workspace, speech)
    with app.app_context(), workspace_scope(ws_id):
        db.session.get(Transcript, tid).model = "removed-model"  # uninstalled since
        db.session.commit()
    _worker(app_env)
    failed = _state(app, ws_id, tid)
    assert failed.status == Status.FAILED
    assert "removed-model" in failed.error
    assert _audio_gone(app, ws_id, tid)
    assert _usage(app, ws_id, tid) == 0


def _wait_processing(app, ws_id, tid, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        t = _state(app, ws_id, tid)
        if t.status == Status.PROCESSING and t.stage.startswith("transcrib"):
            return
        assert proc.poll() is None, proc.stdout.read()[-3000:] if proc.stdout else ""
        time.sleep(0.05)
    raise AssertionError("the job never started transcribing")


def _reap(app_env, **overrides) -> dict[str, int]:
    reaper = create_app(load_settings(**overrides))
    with reaper.app_context():
        return lifecycle.reap_stalled()


def test_sigkilled_worker_job_is_requeued_then_completed_once(app, app_env, workspace, long_speech):
    ws_id, _ = workspace
    tid = _upload(app, workspace, long_speech)
    proc = _worker(app_env, ("VERBATIM_HEARTBEAT_SECONDS", "0.2"), wait=False)
    _wait_processing(app, ws_id, tid, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert _state(app, ws_id, tid).status == Status.PROCESSING  # what a dead worker leaves
    time.sleep(1.2)
    assert _reap(app_env, stalled_after_seconds=1.0)["requeued"] >= 1
    requeued = _state(app, ws_id, tid)
    assert requeued.status == Status.QUEUED and requeued.attempts == 1
    assert not _audio_gone(app, ws_id, tid)  # kept for the retry
    worker = _worker(app_env)
    done = _state(app, ws_id, tid)
    assert done.status == Status.COMPLETED, worker.output[-4000:]
    assert done.attempts == 2
    assert _usage(app, ws_id, tid) == 1
    assert _audio_gone(app, ws_id, tid)


def test_sigkilled_worker_job_without_retries_left_fails_and_drops_audio(
    app, app_env, workspace, long_speech
):
    ws_id, _ = workspace
    tid = _upload(app, workspace, long_speech)
    proc = _worker(app_env, ("VERBATIM_HEARTBEAT_SECONDS", "0.2"), wait=False)
    _wait_processing(app, ws_id, tid, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    time.sleep(1.2)
    assert _reap(app_env, stalled_after_seconds=1.0, transcribe_retries=0)["failed"] >= 1
    failed = _state(app, ws_id, tid)
    assert failed.status == Status.FAILED
    assert "worker stopped" in failed.error
    assert _audio_gone(app, ws_id, tid)
    assert _usage(app, ws_id, tid) == 0


def test_cancel_deletes_audio_at_once_and_the_job_does_nothing(app, app_env, workspace, speech):
    from app.transcripts import services

    ws_id, _ = workspace
    tid = _upload(app, workspace, speech)
    with app.app_context(), workspace_scope(ws_id):
        services.cancel(tid)
    assert _audio_gone(app, ws_id, tid)
    _worker(app_env)
    assert _state(app, ws_id, tid).status == Status.CANCELLED
    assert _usage(app, ws_id, tid) == 0


def test_lost_queue_entry_is_enqueued_again(app, app_env, workspace, speech, redis_conn):
    """Redis lost its data (restart without persistence): the reaper notices a queued
    transcript whose job is gone and enqueues it again."""
    ws_id, _ = workspace
    tid = _upload(app, workspace, speech)
    job_id = _state(app, ws_id, tid).rq_job_id
    assert job_id
    redis_conn.delete(f"rq:job:{job_id}")
    redis_conn.lrem("rq:queue:gpu", 0, job_id)
    time.sleep(1.2)
    assert _reap(app_env, stalled_after_seconds=1.0)["reenqueued"] >= 1
    worker = _worker(app_env)
    assert _state(app, ws_id, tid).status == Status.COMPLETED, worker.output[-4000:]


def test_sweeper_deletes_expired_and_stray_audio(app, workspace, speech):
    ws_id, _ = workspace
    tid = _upload(app, workspace, speech)
    with app.app_context(), workspace_scope(ws_id):
        t = db.session.get(Transcript, tid)
        staged = db.session.get(StagedAudio, t.staged_audio_id)
        staged.expires_at = staged.created_at  # past its deadline, job still queued
        db.session.commit()
        stray = staging.staging_root() / "not-a-staged-file.tmp"
        stray.write_bytes(b"x")
        staging.sweep()
        assert not stray.exists()
    assert _audio_gone(app, ws_id, tid)
