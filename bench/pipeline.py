"""Enqueue-to-stored-transcript time, as a ratio to the engine's own time on the same audio.

Starts throwaway PostgreSQL and Redis, makes a speech recording of `--minutes` (espeak-ng,
looped by ffmpeg), and measures in one run:
- engine: the faster-whisper engine loaded in this process, transcribing the decoded PCM
  (the same engine, model and options the job uses);
- pipeline: the file uploaded through the resumable-upload service (encrypted staging,
  ffprobe), then from the moment its job is enqueued to the moment the transcript is stored,
  handled by the production GPU worker process (`python -m workers --queues gpu`), warmed
  by one short job first so model loading is not counted (the worker keeps it loaded).
Target: pipeline / engine <= 1.10 for a 10-minute file. Exit status 1 when missed.

    .venv/bin/python bench/pipeline.py [--minutes 10] [--model tiny-random]
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import start_services  # noqa: E402
from tests.services import Postgres  # noqa: E402
from tests.speech import load_pcm, make_speech  # noqa: E402

TARGET = 1.10
TEXT = (
    "Good morning everyone, and thank you for joining the quarterly review. "
    "We will start with the numbers, then look at what the teams shipped, "
    "and finish with questions from the floor."
)


def long_audio(out: Path, minutes: float) -> Path:
    clip = make_speech(TEXT, out, "wav")
    target = out / f"speech-{minutes:g}min.mp3"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-stream_loop",
            "-1",
            "-i",
            str(clip),
            "-t",
            str(minutes * 60),
            "-ac",
            "1",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "64k",
            str(target),
        ],
        check=True,
        timeout=600,
    )
    return target


def env_for(pg: Postgres, redis_url: str, staging: str, model: str) -> dict[str, str]:
    return {
        "VERBATIM_ENV": "production",
        "VERBATIM_SECRET_KEY": "bench-secret-key-not-for-production",
        "VERBATIM_DATABASE_URL": pg.app_url,
        "VERBATIM_MIGRATION_DATABASE_URL": pg.owner_url,
        "VERBATIM_REDIS_URL": redis_url,
        "VERBATIM_STAGING_DIR": staging,
        "VERBATIM_MODELS_DIR": str(ROOT / "tests" / "fixtures" / "models"),
        "VERBATIM_HUB_MODELS": "",
        "VERBATIM_ALLOW_MODEL_DOWNLOAD": "false",
        "VERBATIM_DEFAULT_MODEL": model,
    }


def engine_seconds(path: Path, model: str, env: dict[str, str]) -> float:
    from app.config import load_settings
    from app.transcripts.engines import engine_env
    from workers.engines.base import TranscribeOptions
    from workers.engines.faster_whisper import FasterWhisperEngine

    loaded = FasterWhisperEngine().load(model, engine_env(load_settings()))
    pcm = load_pcm(path)
    started = time.perf_counter()
    loaded.transcribe(pcm, TranscribeOptions(), lambda _f, _s: None)
    return time.perf_counter() - started


def upload(app, ws_id: uuid.UUID, user_id: uuid.UUID, path: Path) -> tuple[uuid.UUID, float]:
    """Returns the transcript id and the wall-clock time its job was enqueued."""
    from app.ingest import uploads
    from app.tenants.context import workspace_scope

    data = path.read_bytes()
    with app.app_context(), workspace_scope(ws_id):
        up = uploads.create(filename=path.name, size=len(data), options={}, user_id=user_id)
        _, created = uploads.append(up.id, 0, io.BytesIO(data), len(data))
        return created[0].id, time.time()  # enqueued on the commit just made


def wait_done(app, ws_id: uuid.UUID, tid: uuid.UUID, timeout: float) -> float:
    from app.extensions import db
    from app.tenants.context import workspace_scope
    from app.transcripts.models import Transcript

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with app.app_context(), workspace_scope(ws_id):
            t = db.session.get(Transcript, tid)
            status, finished = t.status, t.finished_at
            db.session.remove()
        if status == "completed":
            return finished.timestamp()
        if status in ("failed", "cancelled"):
            raise RuntimeError(f"transcript {status}")
        time.sleep(0.02)
    raise RuntimeError("timed out")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--model", default="tiny-random")
    args = parser.parse_args()
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="verbatim-bench-") as tmp:
        pg, rs = start_services(stack)
        env = env_for(pg, rs.url, str(Path(tmp) / "staging"), args.model)
        os.environ.update(env)
        from app import create_app
        from app.auth.services import sign_up
        from app.tenants.services import create_workspace
        from tests.conftest import migrate

        migrate(pg.owner_url, pg.app_url)
        app = create_app()
        with app.app_context():
            user = sign_up("pipeline-bench@example.test", "quiet lantern orbit meadow 77", "B")
            ws = create_workspace(user.id, "Pipeline Bench", "bench-pipeline-team")
            ws_id, user_id = ws.id, user.id
        audio = long_audio(Path(tmp), args.minutes)
        warm = make_speech("A short warm up.", Path(tmp), "mp3")

        worker = subprocess.Popen(
            [sys.executable, "-m", "workers", "--queues", "gpu"],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        stack.callback(worker.kill)
        tid, _ = upload(app, ws_id, user_id, warm)
        wait_done(app, ws_id, tid, 300)

        engine_s = engine_seconds(audio, args.model, env)
        tid, enqueued = upload(app, ws_id, user_id, audio)
        stored = wait_done(app, ws_id, tid, 3600)
        pipeline_s = stored - enqueued
        ratio = pipeline_s / engine_s
        verdict = "PASS" if ratio <= TARGET else "FAIL"
        print(f"audio {args.minutes:g} min, model {args.model}")
        print(f"engine alone (same process as the measurement): {engine_s:.2f} s")
        print(f"enqueue -> stored transcript (GPU worker process): {pipeline_s:.2f} s")
        print(f"ratio {ratio:.3f} (target <= {TARGET}): {verdict}")
        return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
