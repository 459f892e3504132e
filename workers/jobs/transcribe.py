"""Job: transcribe one queued transcript with its engine, store the result, drop the audio.

Arguments are ids. The job claims the transcript first (compare-and-set), so a duplicate
delivery or a cancelled transcript does nothing. Audio is decrypted in memory and handed to
ffmpeg over loopback (app.ingest.media_server); only PCM samples reach the engine.
"""

from __future__ import annotations

import logging
import sys
import time
import uuid

from app.extensions import db
from app.ingest import media_server, staging
from app.ingest.crypto_file import CorruptStagedFile
from app.ingest.decode import DecodeFailed, decode_pcm
from app.ingest.models import StagedAudio
from app.settings import settings
from app.transcripts import lifecycle, services
from app.transcripts.engines import engine_env, engine_objects
from app.transcripts.models import Status
from workers.engines import cache
from workers.engines.base import Cancelled, EngineError, TranscribeOptions
from workers.heartbeat import Heartbeat
from workers.runtime import job_context

log = logging.getLogger("verbatim.jobs.transcribe")
PERMANENT = (EngineError, DecodeFailed, CorruptStagedFile, FileNotFoundError)


def transcribe(transcript_id: str, workspace_id: str) -> str:
    with job_context(workspace_id) as app:
        tid, token = uuid.UUID(transcript_id), uuid.uuid4().hex
        t = lifecycle.claim(tid, token, Status.QUEUED)
        if t is None:
            return "not claimable (done, cancelled or running elsewhere)"
        cfg = settings()
        started = time.perf_counter()
        attempts, duration, private = t.attempts, t.duration_seconds, t.encrypted

        def beat(progress: float, stage: str) -> bool:
            return lifecycle.heartbeat(tid, token, progress, stage)

        try:
            with Heartbeat(app, t.workspace_id, beat, cfg.heartbeat_seconds) as pulse:
                staged = (
                    db.session.get(StagedAudio, t.staged_audio_id) if t.staged_audio_id else None
                )
                if staged is None or staged.wrapped_key is None:
                    raise FileNotFoundError(
                        "The audio was deleted before it could be transcribed "
                        "(it was kept past its deadline); upload it again."
                    )
                pulse.progress(0.0, "decoding")
                decode_started = time.perf_counter()
                with staging.reader(staged) as source, media_server.serve(source) as media:
                    db.session.rollback()  # no transaction open during long work
                    audio = decode_pcm(
                        media,
                        max_duration_s=cfg.max_audio_seconds,
                        timeout_s=lifecycle.job_timeout(duration),
                    )
                decode_s = time.perf_counter() - decode_started
                engine = engine_objects().get(t.engine)
                if engine is None:
                    raise EngineError(f"The engine '{t.engine}' is no longer available here.")
                pulse.progress(0.0, "loading model")
                loaded, load_s = cache.get(engine, t.model, engine_env())
                pulse.progress(0.0, "transcribing")
                options = TranscribeOptions(
                    language=t.language_requested,
                    diarize=t.diarize,
                    min_speakers=t.min_speakers,
                    max_speakers=t.max_speakers,
                )
                db.session.rollback()
                result = loaded.transcribe(audio, options, pulse.progress)
                del audio
                result.timings = {"decode": decode_s, "load": load_s, **result.timings}
        except Cancelled:
            db.session.rollback()
            return "cancelled"
        except PERMANENT as e:
            db.session.rollback()
            lifecycle.fail(tid, token, str(e) or type(e).__name__)
            return "failed"
        except Exception as e:
            db.session.rollback()
            _log_failure("transcription of %s failed (attempt %d)", tid, attempts, private)
            if attempts >= 1 + cfg.transcribe_retries:
                lifecycle.fail(tid, token, f"Transcription failed: {_describe(e, private)}")
                return "failed"
            lifecycle.release_for_retry(tid, token)
            raise  # RQ retries with backoff; the retry claims the transcript again
        try:
            stored = lifecycle.complete(tid, token, result)
        except Exception as e:
            db.session.rollback()
            _log_failure("storing the transcript %s failed (attempt %d)", tid, attempts, private)
            if attempts >= 1 + cfg.transcribe_retries:
                lifecycle.fail(
                    tid, token, f"The transcript could not be stored: {_describe(e, private)}"
                )
                return "failed"
            lifecycle.release_for_retry(tid, token)
            raise
        if not stored:
            return "claim lost (cancelled meanwhile)"
        services.note_speed(time.perf_counter() - started, duration)
        return f"completed: {len(result.segments)} segments"


def _describe(e: Exception, private: bool = False) -> str:
    # A library's message could quote the words it was working on: for a Private
    # Transcript only the kind of error is stored.
    if private or not str(e).strip():
        return type(e).__name__
    return str(e).strip().splitlines()[0][:300]


def _log_failure(message: str, tid: uuid.UUID, attempts: int, private: bool) -> None:
    if private:  # the traceback's messages could quote the text: the kind of error only
        exc = sys.exc_info()[1]
        log.error(message + ": %s", tid, attempts, type(exc).__name__)
    else:
        log.exception(message, tid, attempts)
