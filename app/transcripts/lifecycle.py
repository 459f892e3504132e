"""The transcript's state machine as jobs drive it; every transition is a compare-and-set.

fetching ──fetch job──> queued ──transcribe job──> processing ──> completed | failed
any active state ──person──> cancelled

A job first claims its transcript (status and claim token in one UPDATE ... WHERE); a second
delivery of the same job, or a job whose transcript was cancelled, finds nothing to claim.
Completion and failure only apply while the claim is still the job's own. Audio is
discarded as soon as no active transcript needs it.
"""

from __future__ import annotations

import logging
import math
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, insert, or_, select, update

from app.billing import metering
from app.db import utcnow
from app.extensions import db
from app.i18n import N_
from app.ingest import staging
from app.ingest.models import StagedAudio
from app.plugins.events import emit
from app.privacy import voice_lab
from app.private import sealing
from app.queue import enqueue, new_job_id, on_commit
from app.settings import settings
from app.transcripts.models import (
    ACTIVE,
    Status,
    Transcript,
    TranscriptSegment,
    TranscriptSpeaker,
)
from workers.engines.base import EngineResult, Segment

log = logging.getLogger("verbatim.transcripts")
TRANSCRIBE_JOB = "workers.jobs.transcribe.transcribe"
FETCH_JOB = "workers.jobs.fetch_url.fetch_url"
MAX_ERROR = 1000


def job_timeout(duration_seconds: float) -> int:
    cfg = settings()
    return int(cfg.job_timeout_base_seconds + cfg.job_timeout_per_audio_second * duration_seconds)


def enqueue_after_commit(transcript: Transcript) -> None:
    """Put the transcript's next job on its queue once the current transaction commits.

    The job id is chosen now and stored in the same commit, for queue position and for the
    reaper to tell a lost queue entry from a waiting one.
    """
    tid, ws = str(transcript.id), transcript.workspace_id
    fetching = transcript.status == Status.FETCHING
    job_id = new_job_id(None if fetching else ws)
    transcript.rq_job_id = job_id
    duration = transcript.duration_seconds

    def _go() -> None:
        if fetching:
            enqueue(
                FETCH_JOB,
                tid,
                str(ws),
                queue_name="default",
                retries=1,
                timeout=3 * 3600,
                job_id=job_id,
            )
        else:
            enqueue(
                TRANSCRIBE_JOB,
                tid,
                str(ws),
                queue_name="gpu",
                retries=settings().transcribe_retries,
                intervals=[15, 60, 300],
                timeout=job_timeout(duration),
                workspace_id=ws,
                job_id=job_id,
            )

    on_commit(db.session(), _go)


def _stale_before() -> Any:
    return utcnow() - timedelta(seconds=settings().stalled_after_seconds)


def claim(transcript_id: uuid.UUID, token: str, from_status: Status) -> Transcript | None:
    """Take the transcript for this job run, or None if it is not ours to take.

    A row another run holds is taken over only when that run has gone silent (killed).
    """
    now = utcnow()
    result = db.session.execute(
        update(Transcript)
        .where(
            Transcript.id == transcript_id,
            Transcript.status.in_([from_status, Status.PROCESSING])
            if from_status == Status.QUEUED
            else Transcript.status == from_status,
            or_(
                Transcript.claim_token.is_(None),
                Transcript.heartbeat_at < _stale_before(),
            ),
        )
        .values(
            status=Status.PROCESSING if from_status == Status.QUEUED else from_status,
            claim_token=token,
            attempts=Transcript.attempts + 1,
            heartbeat_at=now,
            started_at=now,
            stage="starting",
            error="",
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if result.rowcount != 1:
        return None
    return db.session.get(Transcript, transcript_id, populate_existing=True)


def heartbeat(transcript_id: uuid.UUID, token: str, progress: float, stage: str) -> bool:
    """Report progress; False when the job no longer owns the transcript (cancelled)."""
    result = db.session.execute(
        update(Transcript)
        .where(Transcript.id == transcript_id, Transcript.claim_token == token)
        .values(heartbeat_at=utcnow(), progress=max(0.0, min(1.0, progress)), stage=stage)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def _owned(transcript_id: uuid.UUID, token: str) -> Transcript | None:
    row = db.session.scalar(
        select(Transcript)
        .where(Transcript.id == transcript_id, Transcript.claim_token == token)
        .with_for_update()
    )
    return row


def complete(transcript_id: uuid.UUID, token: str, result: EngineResult) -> bool:
    """Store the transcript and charge its minutes, once; False if the claim was lost.

    A private transcript's text is sealed to its owner's key instead (app/private/
    sealing.py): no segment, speaker or revision row, and the envelope is stored in the
    same commit as the status, so "completed" always comes with its text.
    """
    t = _owned(transcript_id, token)
    if t is None or t.status != Status.PROCESSING:
        db.session.rollback()
        return False
    if t.encrypted:
        sealing.seal(t, result)
        warnings = sealing.safe_warnings(list(result.warnings))
    else:
        _store_text(t, result)
        warnings = list(result.warnings)
    t.status = Status.COMPLETED
    t.claim_token = None
    t.language = result.language
    t.language_probability = result.language_probability
    t.speaker_count = len(result.speakers)
    t.warnings = warnings
    t.timings = {k: round(v, 3) for k, v in result.timings.items()}
    t.model = result.model or t.model
    t.progress = 1.0
    t.stage = "done"
    t.finished_at = utcnow()
    metering.charge(t)
    _release_audio(t)
    emit("transcript.completed", _event_data(t))
    db.session.commit()
    return True


def _store_text(t: Transcript, result: EngineResult) -> None:
    rows = [
        {
            "id": uuid.uuid4(),
            "workspace_id": t.workspace_id,
            "transcript_id": t.id,
            "position": position,
            **segment_fields(seg),
        }
        for position, seg in enumerate(result.segments)
    ]
    if rows:
        db.session.execute(insert(TranscriptSegment), rows)
    for number, label in enumerate(result.speakers, start=1):
        db.session.add(
            TranscriptSpeaker(
                workspace_id=t.workspace_id,
                transcript_id=t.id,
                label=label,
                name=f"Speaker {number}",
            )
        )


_CONTROL = dict.fromkeys(c for c in range(32) if c not in (9, 10))


def clean_text(text: str) -> str:
    """Engine text as stored: no NUL or other control characters (PostgreSQL refuses NUL,
    and none of them belongs in a transcript), no unpaired surrogates."""
    return text.translate(_CONTROL).encode("utf-8", "replace").decode("utf-8")


def segment_fields(seg: Segment) -> dict[str, Any]:
    """An engine segment as stored: in rows for ordinary transcripts, in the sealed document
    (app/private/sealing.py) for private ones; cleaned the same way for both."""
    return {
        "start": seg.start,
        "end": seg.end,
        "text": clean_text(seg.text),
        "speaker": seg.speaker,
        "words": [[clean_text(w.text), w.start, w.end, finite(w.probability)] for w in seg.words],
    }


def finite(value: float | None) -> float | None:
    # JSON has no NaN or infinity; a missing confidence is None.
    return value if value is not None and math.isfinite(value) else None


def fail(transcript_id: uuid.UUID, token: str | None, message: str) -> bool:
    """Mark failed with a reason people can act on; False if the claim was lost."""
    query = select(Transcript).where(Transcript.id == transcript_id)
    if token is not None:
        query = query.where(Transcript.claim_token == token)
    t = db.session.scalar(query.with_for_update())
    if t is None or Status(t.status).terminal:
        db.session.rollback()
        return False
    t.status = Status.FAILED
    t.claim_token = None
    t.source_url = None
    t.error = message[:MAX_ERROR]
    t.finished_at = utcnow()
    metering.release(t)
    _release_audio(t)
    emit("transcript.failed", _event_data(t))
    db.session.commit()
    return True


def release_for_retry(transcript_id: uuid.UUID, token: str) -> bool:
    """Give the claim back after a transient failure; RQ's retry (with backoff) claims it
    again. The stage the transcript was in (fetching or queued) is restored."""
    t = _owned(transcript_id, token)
    if t is None:
        db.session.rollback()
        return False
    t.status = Status.FETCHING if t.source_url else Status.QUEUED
    t.claim_token = None
    t.stage = "waiting to retry"
    db.session.commit()
    return True


def _release_audio(t: Transcript) -> None:
    """Discard the staged audio when no active transcript needs it any more (compare runs
    share one file). Audio given to Voice Lab is copied out first (app/privacy/voice_lab.py)."""
    voice_lab.on_transcript_ended(t)
    if t.staged_audio_id is None:
        return
    others = db.session.scalar(
        select(Transcript.id)
        .where(
            Transcript.staged_audio_id == t.staged_audio_id,
            Transcript.id != t.id,
            Transcript.status.in_(ACTIVE),
        )
        .limit(1)
    )
    if others is None:
        staged = db.session.get(StagedAudio, t.staged_audio_id)
        if staged is not None:
            staging.discard(staged)


def cancel(t: Transcript) -> None:
    """Stop an active transcript; a running job sees it at its next heartbeat."""
    t.status = Status.CANCELLED
    t.claim_token = None
    t.source_url = None
    t.error = N_("Cancelled.")  # stored in English; shown through _() (an exact msgid)
    t.finished_at = utcnow()
    metering.release(t)
    _release_audio(t)


def _event_data(t: Transcript) -> dict[str, Any]:
    return {
        "transcript_id": str(t.id),
        "title": t.title,
        "status": t.status,
        # Never any text: a private transcript's is sealed, and events say only that.
        "private": t.encrypted,
        "duration_seconds": t.duration_seconds,
        "language": t.language,
        "error": t.error or None,
    }


def reap_stalled() -> dict[str, int]:
    """Jobs whose worker died: requeue them while attempts remain, else fail them.

    Also re-enqueue queued transcripts whose queue entry is gone (Redis lost its data).
    Runs across workspaces (each transition in its own workspace scope).
    """
    from rq.job import Job

    from app.queue import redis
    from app.tenants.context import unscoped, workspace_scope

    counts = {"requeued": 0, "failed": 0, "reenqueued": 0}
    max_attempts = 1 + settings().transcribe_retries
    with unscoped("the reaper looks for stalled jobs in every workspace"):
        stalled = db.session.execute(
            select(Transcript.id, Transcript.workspace_id).where(
                Transcript.claim_token.is_not(None),
                Transcript.status.in_([Status.PROCESSING, Status.FETCHING]),
                Transcript.heartbeat_at < _stale_before(),
            )
        ).all()
        waiting = db.session.execute(
            select(Transcript.id, Transcript.workspace_id, Transcript.rq_job_id).where(
                or_(
                    Transcript.status == Status.QUEUED,
                    # A compare run's second transcript has no link: it waits on the first.
                    and_(
                        Transcript.status == Status.FETCHING,
                        Transcript.claim_token.is_(None),
                        Transcript.source_url.is_not(None),
                    ),
                ),
                Transcript.updated_at < _stale_before(),
            )
        ).all()
        db.session.commit()
    for tid, ws in stalled:
        with workspace_scope(ws):
            t = db.session.scalar(
                select(Transcript)
                .where(Transcript.id == tid, Transcript.heartbeat_at < _stale_before())
                .with_for_update()
            )
            if t is None or t.claim_token is None:
                db.session.rollback()
                continue
            if t.attempts >= max_attempts:
                fail(
                    t.id,
                    t.claim_token,
                    f"The worker stopped while working on this file ({t.attempts} attempts). "
                    "Retry it, or contact support if it happens again.",
                )
                counts["failed"] += 1
                continue
            t.status = Status.FETCHING if t.source_url else Status.QUEUED
            t.claim_token = None
            t.stage = "requeued after a worker stopped"
            enqueue_after_commit(t)
            db.session.commit()
            counts["requeued"] += 1
    conn = redis()
    for tid, ws, job_id in waiting:
        if job_id and Job.exists(job_id, connection=conn):
            continue
        with workspace_scope(ws):
            t = db.session.get(Transcript, tid)
            if t is None or t.status not in (Status.QUEUED, Status.FETCHING) or t.claim_token:
                db.session.rollback()
                continue
            t.stage = "requeued"
            enqueue_after_commit(t)
            db.session.commit()
            counts["reenqueued"] += 1
    return counts
