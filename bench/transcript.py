"""A 3-hour transcript (~30k words): page render, a save, and every export, each as a ratio to
serialising the same transcript as plain JSON in the same run.

Starts throwaway PostgreSQL and Redis, migrates, signs a user in through the real form, and
puts a transcript of `--hours` of speech into the database (segments of ~15 words with word
timings, four speakers). Then, each timed `--repeat` times and reported as the median:
- baseline: json.dumps of the transcript's segments, words and speakers (no web, no SQL);
- page: GET of the transcript page through the app (session, workspace, RLS, SQL, Jinja);
- save: one segment's text edited through the editor service (a new revision);
- export <fmt>: each export format rendered through the export service.
Targets: page / baseline <= 5 and page <= 300 ms. Exit status 1 when missed.

    .venv/bin/python bench/transcript.py [--hours 3] [--repeat 7]
"""

from __future__ import annotations

import argparse
import json
import os
import random
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

PAGE_RATIO_TARGET = 5.0
PAGE_MS_TARGET = 300.0
WORDS = [
    "we",
    "should",
    "look",
    "at",
    "the",
    "numbers",
    "again",
    "before",
    "the",
    "review",
    "and",
    "then",
    "decide",
    "what",
    "the",
    "team",
    "ships",
    "next",
    "quarter",
    "because",
    "the",
    "customers",
    "asked",
    "for",
    "faster",
    "exports",
    "and",
    "better",
    "search",
]
PASSWORD = "quiet lantern orbit meadow 77"


def median_seconds(fn: Callable[[], Any], repeat: int) -> float:
    fn()  # warm: imports, template compilation, pools
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def fake_segments(hours: float) -> list[dict[str, Any]]:
    rng = random.Random(7)
    segments, t = [], 0.0
    while t < hours * 3600:
        n = rng.randint(10, 20)
        words = []
        for _ in range(n):
            length = rng.uniform(0.2, 0.5)
            words.append([rng.choice(WORDS), round(t, 3), round(t + length, 3), rng.random()])
            t += length + 0.05
        segments.append(
            {
                "start": words[0][1],
                "end": words[-1][2],
                "text": " ".join(w[0] for w in words),
                "speaker": f"SPEAKER_0{len(segments) % 4}",
                "words": words,
            }
        )
        t += 0.4
    return segments


def env_for(pg: Postgres, redis_url: str, staging: str) -> dict[str, str]:
    return {
        "VERBATIM_ENV": "test",
        "VERBATIM_SECRET_KEY": "bench-secret-" + "x" * 40,
        "VERBATIM_DATABASE_URL": pg.app_url,
        "VERBATIM_MIGRATION_DATABASE_URL": pg.owner_url,
        "VERBATIM_REDIS_URL": redis_url,
        "VERBATIM_STAGING_DIR": staging,
        "VERBATIM_SECURE_COOKIES": "false",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hours", type=float, default=3.0)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        pg, rs = start_services(stack)
        os.environ.update(env_for(pg, rs.url, tmp))

        from app import create_app
        from app.auth.services import sign_up
        from app.extensions import db
        from app.tenants.context import workspace_scope
        from app.tenants.services import create_workspace
        from app.transcripts import editing, services
        from app.transcripts.exports import service as exports
        from app.transcripts.exports.options import ExportOptions
        from app.transcripts.models import (
            Status,
            Transcript,
            TranscriptSegment,
            TranscriptSpeaker,
        )
        from tests.conftest import migrate

        migrate(pg.owner_url, pg.app_url)
        app = create_app()
        segments = fake_segments(args.hours)
        word_count = sum(len(s["words"]) for s in segments)
        with app.app_context():
            user = sign_up("transcript-bench@example.test", PASSWORD, "Bench")
            ws = create_workspace(user.id, "Transcript Bench", "bench-transcript-team")
            ws_id, user_id = ws.id, user.id
            with workspace_scope(ws_id):
                t = Transcript(
                    id=uuid.uuid4(),
                    title="Three hours of meetings",
                    status=Status.COMPLETED,
                    engine="faster-whisper",
                    model="large-v3",
                    language="en",
                    duration_seconds=segments[-1]["end"] + 1,
                    speaker_count=4,
                )
                db.session.add(t)
                db.session.flush()
                db.session.add_all(
                    TranscriptSegment(transcript_id=t.id, position=i, **s)
                    for i, s in enumerate(segments)
                )
                db.session.add_all(
                    TranscriptSpeaker(transcript_id=t.id, label=f"SPEAKER_0{n}", name=f"P{n}")
                    for n in range(4)
                )
                db.session.commit()
                tid = t.id
            db.session.remove()

        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        signed_in = client.post(
            "/login",
            data={
                "email": "transcript-bench@example.test",
                "password": PASSWORD,
                "csrf_token": token,
            },
        )
        assert signed_in.status_code == 302, signed_in.status_code
        url = f"/w/bench-transcript-team/transcripts/{tid}"

        def baseline() -> None:
            json.dumps(
                {"speakers": {f"SPEAKER_0{n}": f"P{n}" for n in range(4)}, "segments": segments}
            )

        def render() -> None:
            resp = client.get(url)
            assert resp.status_code == 200 and resp.data.count(b'class="segment"') == len(segments)

        results: dict[str, float] = {"baseline": median_seconds(baseline, args.repeat)}
        results["page"] = median_seconds(render, args.repeat)

        with app.app_context(), workspace_scope(ws_id):
            middle = services.segments(services.get(tid))[len(segments) // 2].id
            state = {"n": 0}

            def save() -> None:
                current = services.get(tid).revision
                state["n"] += 1
                editing.edit_text(
                    tid,
                    middle,
                    f"edited {state['n']} " + " ".join(WORDS[:12]),
                    base_revision=current,
                    author_id=user_id,
                )
                db.session.remove()

            results["save"] = median_seconds(save, args.repeat)
            for fmt in exports.formats():
                name = fmt.name if hasattr(fmt, "name") else str(fmt)
                results[f"export {name}"] = median_seconds(
                    lambda name=name: exports.export_one(tid, name, ExportOptions()),
                    max(3, args.repeat // 2),
                )

        base = results["baseline"]
        print(f"transcript: {args.hours:g} h, {len(segments)} segments, {word_count} words")
        print(f"{'measure':<16}{'median ms':>12}{'x JSON':>10}")
        for name, secs in results.items():
            print(f"{name:<16}{secs * 1000:>12.1f}{secs / base:>10.2f}")
        page_ratio, page_ms = results["page"] / base, results["page"] * 1000
        ok = page_ratio <= PAGE_RATIO_TARGET and page_ms <= PAGE_MS_TARGET
        print(
            f"page: {page_ratio:.2f}x JSON (target <= {PAGE_RATIO_TARGET:g}), "
            f"{page_ms:.0f} ms (target <= {PAGE_MS_TARGET:g}): {'PASS' if ok else 'FAIL'}"
        )
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
