"""Privacy's heavy operations at 1,000 transcripts (issue 9): exporting all of a person's
data and deleting their account, each as a ratio to reading those rows once.

Starts throwaway PostgreSQL and Redis, migrates, and runs the services in this process
(the job's work is app.privacy.exports.run_export, called directly). Machines here are
noisy, so each measure is a ratio to a baseline run in the same process:
- baseline: a plain SELECT of the person's transcripts and of their segments (all
  columns, rows fetched), in the workspace's context: reading the data once.
- export, JSON only: run_export on a fresh request (claim, every transcript's JSON through
  the exporter, summaries, usage, keys, the zip deflated and encrypted to disk, the mail
  queued). And the same with TXT and SRT added.
- deletion: app.privacy.deletion.erase_user on a person seeded the same way (a fresh one
  per round, seeding untimed).
The person is a member of a team (owned by someone else) holding `--transcripts`
transcripts of `--segments` segments each (about 10 words per segment, with word
timings), an AI summary and a usage record per transcript. Rounds interleave the
variants; medians. No fixed target in the issue: the ratios are reported as they are.

    .venv/bin/python bench/privacy.py [--transcripts 1000] [--segments 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import start_services  # noqa: E402
from tests.services import Postgres  # noqa: E402

PASSWORD = "quiet lantern orbit meadow 77"
_SENTENCE = (
    "the roadmap for next quarter starts with pricing and ends with a launch in May "
    "while support keeps the backlog small and everyone writes down what they decided"
)
WORDS = _SENTENCE.split(" ")


def env_for(pg: Postgres, redis_url: str, tmp: str) -> dict[str, str]:
    return {
        "VERBATIM_ENV": "test",
        "VERBATIM_SECRET_KEY": "bench-secret-" + "x" * 40,
        "VERBATIM_DATABASE_URL": pg.app_url,
        "VERBATIM_MIGRATION_DATABASE_URL": pg.owner_url,
        "VERBATIM_REDIS_URL": redis_url,
        "VERBATIM_STAGING_DIR": str(Path(tmp) / "staging"),
        "VERBATIM_EXPORT_DIR": str(Path(tmp) / "exports"),
        "VERBATIM_MODELS_DIR": str(ROOT / "tests" / "fixtures" / "models"),
        "VERBATIM_HUB_MODELS": "",
        "VERBATIM_ALLOW_MODEL_DOWNLOAD": "false",
        "VERBATIM_DEFAULT_MODEL": "tiny-random",
    }


def seed(app: Any, workspace_id: uuid.UUID, n: int, segments: int, tag: str) -> uuid.UUID:
    """A member of the team with `n` completed transcripts of `segments` segments, an AI
    summary and a usage record each. Returns the person's id."""
    from app.ai.models import AiSummary, RunStatus
    from app.auth.services import sign_up
    from app.billing.models import UsageRecord, UsageState
    from app.extensions import db
    from app.tenants.context import workspace_scope
    from app.tenants.models import Membership
    from app.transcripts.models import Status, Transcript, TranscriptSegment, TranscriptSpeaker

    with app.app_context():
        user = sign_up(f"privacy-bench-{tag}@example.test", PASSWORD, f"Bench {tag}")
        user_id = user.id
        with workspace_scope(workspace_id):
            db.session.add(Membership(user_id=user_id, role="member"))
            db.session.commit()
            for start in range(0, n, 100):
                for i in range(start, min(n, start + 100)):
                    t = Transcript(
                        id=uuid.uuid4(),
                        title=f"Weekly meeting {i}",
                        uploader_id=user_id,
                        status=Status.COMPLETED,
                        engine="faster-whisper",
                        model="tiny-random",
                        duration_seconds=segments * 5.0,
                        language="en",
                        speaker_count=2,
                    )
                    db.session.add(t)
                    # No relationship orders these inserts after the transcript's.
                    db.session.flush()
                    for p in range(segments):
                        words = [WORDS[(i + p + k) % len(WORDS)] for k in range(10)]
                        at = p * 5.0
                        db.session.add(
                            TranscriptSegment(
                                transcript_id=t.id,
                                position=p,
                                start=at,
                                end=at + 4.5,
                                text=" ".join(words),
                                speaker=f"S{p % 2}",
                                words=[
                                    [w, at + k * 0.45, at + k * 0.45 + 0.4, 0.9]
                                    for k, w in enumerate(words)
                                ],
                            )
                        )
                    db.session.add_all(
                        [
                            TranscriptSpeaker(transcript_id=t.id, label="S0", name="Ana"),
                            TranscriptSpeaker(transcript_id=t.id, label="S1", name="Ben"),
                            AiSummary(
                                transcript_id=t.id,
                                template_key="overview",
                                template_title="Overview",
                                prompt="Write a short overview.",
                                revision=1,
                                content="- " + " ".join(WORDS[:30]),
                                status=RunStatus.COMPLETED,
                                provider="extractive",
                                model="extractive-1",
                                created_by_id=user_id,
                            ),
                            UsageRecord(
                                transcript_id=t.id,
                                user_id=user_id,
                                state=UsageState.CHARGED,
                                seconds=segments * 5.0,
                                model="faster-whisper:tiny-random",
                            ),
                        ]
                    )
                db.session.commit()
        db.session.remove()
    return user_id


def read_once(app: Any, workspace_id: uuid.UUID, user_id: uuid.UUID, *, words: bool = True) -> int:
    """The baseline: the person's transcripts and segments, every column, fetched. Without
    `words`, the segments' word timings (JSON, most of the decoding) are left out."""
    from sqlalchemy import select

    from app.extensions import db
    from app.tenants.context import workspace_scope
    from app.transcripts.models import Transcript, TranscriptSegment

    t, s = Transcript.__table__, TranscriptSegment.__table__
    columns = list(s.c) if words else [c for c in s.c if c.name != "words"]
    with app.app_context(), workspace_scope(workspace_id):
        transcripts = db.session.execute(select(t).where(t.c.uploader_id == user_id)).all()
        segments = db.session.execute(
            select(*columns)
            .join(t, t.c.id == s.c.transcript_id)
            .where(t.c.uploader_id == user_id)
            .order_by(s.c.transcript_id, s.c.position)
        ).all()
        db.session.commit()
        db.session.remove()
    return len(transcripts) + len(segments)


def export_once(app: Any, user_id: uuid.UUID, formats: list[str]) -> dict[str, Any]:
    """A fresh request (made directly: the daily limit is for people, not benchmarks),
    then the job's work, timed."""
    from datetime import timedelta

    from app.db import utcnow
    from app.extensions import db
    from app.privacy import exports
    from app.privacy.models import PrivacyRequest, RequestKind, RequestStatus

    with app.app_context():
        req = PrivacyRequest(
            kind=RequestKind.EXPORT,
            user_id=user_id,
            subject=exports.subject_of(user_id),
            due_at=utcnow() + timedelta(days=30),
            formats=",".join(formats),
        )
        db.session.add(req)
        db.session.commit()
        request_id = req.id
        db.session.remove()
        began = time.perf_counter()
        outcome = exports.run_export(request_id)
        took = time.perf_counter() - began
        row = db.session.get(PrivacyRequest, request_id)
        assert row is not None and row.status == RequestStatus.READY, outcome
        size = row.file_size
        # Not kept: the next round writes its own.
        exports.discard_user_exports(user_id)
        db.session.commit()
        db.session.remove()
    return {"s": took, "bytes": size, "detail": outcome}


def erase_once(app: Any, user_id: uuid.UUID) -> tuple[float, dict[str, int]]:
    from app.extensions import db
    from app.privacy.deletion import erase_user

    with app.app_context():
        began = time.perf_counter()
        counts = erase_user(user_id)
        took = time.perf_counter() - began
        db.session.remove()
    return took, counts


def median_s(fn: Callable[[], Any], repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--transcripts", type=int, default=1000)
    parser.add_argument("--segments", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--read-repeat", type=int, default=5)
    args = parser.parse_args()
    began = time.perf_counter()

    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        pg, rs = start_services(stack)
        (Path(tmp) / "staging").mkdir()
        os.environ.update(env_for(pg, rs.url, tmp))

        from app import create_app
        from app.auth.services import sign_up
        from app.extensions import db
        from app.tenants.services import create_workspace
        from tests.conftest import migrate

        migrate(pg.owner_url, pg.app_url)
        app = create_app()
        with app.app_context():
            owner = sign_up("privacy-bench-owner@example.test", PASSWORD, "Team Owner")
            ws_id = create_workspace(owner.id, "Privacy Bench", "privacy-bench").id
            db.session.remove()

        try:
            from app.privacy.deletion import erase_user  # noqa: F401

            can_erase = True
        except ImportError:
            can_erase = False

        seeded = time.perf_counter()
        person = seed(app, ws_id, args.transcripts, args.segments, "main")
        seed_s = time.perf_counter() - seeded
        rows = read_once(app, ws_id, person)
        reads: list[float] = []
        lean_reads: list[float] = []
        json_runs: list[dict[str, Any]] = []
        txt_srt_runs: list[dict[str, Any]] = []
        erasures: list[float] = []
        erase_reads: list[float] = []
        erase_counts: dict[str, int] = {}
        export_once(app, person, [])  # warm: imports, exporters, pools
        for r in range(args.rounds):
            reads.append(median_s(lambda: read_once(app, ws_id, person), args.read_repeat))
            lean_reads.append(
                median_s(lambda: read_once(app, ws_id, person, words=False), args.read_repeat)
            )
            variants = [[], ["txt", "srt"]]
            for formats in variants if r % 2 == 0 else variants[::-1]:
                (txt_srt_runs if formats else json_runs).append(export_once(app, person, formats))
            if can_erase:
                victim = seed(app, ws_id, args.transcripts, args.segments, f"erase-{r}")
                erase_reads.append(
                    median_s(lambda v=victim: read_once(app, ws_id, v), args.read_repeat)
                )
                took, erase_counts = erase_once(app, victim)
                erasures.append(took)

    read_ms = statistics.median(reads) * 1000
    json_ms = statistics.median(x["s"] for x in json_runs) * 1000
    both_ms = statistics.median(x["s"] for x in txt_srt_runs) * 1000
    print(
        f"# A person with {args.transcripts:,} transcripts x {args.segments} segments "
        f"({rows:,} rows read by the baseline), a summary and a usage record each; "
        f"{args.rounds} rounds, medians (seeding took {seed_s:.0f} s)\n"
    )
    print("| operation | median ms | x read once | zip MB |")
    print("|---|---:|---:|---:|")
    lean_ms = statistics.median(lean_reads) * 1000
    print(f"| read once: SELECT transcripts + segments | {read_ms:.0f} | 1.0 | |")
    print(
        f"| (for reference: the same without the words column) | {lean_ms:.0f} | "
        f"{lean_ms / read_ms:.2f} | |"
    )
    mb_json = statistics.median(x["bytes"] for x in json_runs) / 1e6
    mb_both = statistics.median(x["bytes"] for x in txt_srt_runs) / 1e6
    print(
        f"| export, JSON only (the job's work) | {json_ms:.0f} | {json_ms / read_ms:.1f} | "
        f"{mb_json:.1f} |"
    )
    print(f"| export, JSON + TXT + SRT | {both_ms:.0f} | {both_ms / read_ms:.1f} | {mb_both:.1f} |")
    ok = True
    if can_erase and erasures:
        erase_ms = statistics.median(erasures) * 1000
        erase_read_ms = statistics.median(erase_reads) * 1000
        print(
            f"| delete the account (erase_user) | {erase_ms:.0f} | "
            f"{erase_ms / erase_read_ms:.1f} (its own read: {erase_read_ms:.0f} ms) | |"
        )
        print(f"\nerase_user counts (last round): {erase_counts}")
    else:
        print("\napp.privacy.deletion.erase_user is not there yet: deletion not measured")
        ok = False
    print(f"\nexport detail (last JSON run): {json_runs[-1]['detail']}")
    print(f"(run time {time.perf_counter() - began:.0f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
