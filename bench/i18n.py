"""What the interface languages cost a page (issue 9): the same signed-in pages rendered in
German and in French, each as a ratio to English in the same process.

Starts throwaway PostgreSQL and Redis, migrates, signs a person in through the sign-in
form (the Flask test client, no network), seeds a team with `--transcripts` transcripts
and renders, in interleaved rounds, the transcript listing and the New transcript page
with Accept-Language en, de and fr. English has no catalogue (gettext returns the
msgid); German and French look every string up in theirs and carry the scripts' strings
as JSON. Medians of `--rounds` rounds of `--requests` requests each. No fixed target in
the issue: the ratios are reported as they are.

    .venv/bin/python bench/i18n.py [--transcripts 50] [--requests 40] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import start_services  # noqa: E402
from bench.privacy import env_for  # noqa: E402

LANGUAGES = ("en", "de", "fr")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--transcripts", type=int, default=50)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        pg, rs = start_services(stack)
        (Path(tmp) / "staging").mkdir()
        os.environ.update(env_for(pg, rs.url, tmp))

        from app import create_app
        from tests.conftest import migrate
        from tests.integration.test_workspaces import create_team
        from tests.transcripts import make_transcript
        from tests.web import Web, make_user

        migrate(pg.owner_url, pg.app_url)
        app = create_app()
        web = Web(app, "10.9.0.1")
        web.login(make_user(app, name="Bench Reader"))
        team = create_team(web, "Language Bench")
        for i in range(args.transcripts):
            make_transcript(app, team.id, f"Weekly meeting {i}")
        pages = {
            "listing": f"/w/{team.slug}/transcripts/",
            "new transcript": f"/w/{team.slug}/transcripts/new",
        }

        def render(path: str, language: str) -> float:
            began = time.perf_counter()
            for _ in range(args.requests):
                resp = web.get(path, headers={"Accept-Language": language})
                assert resp.status_code == 200, resp.status_code
            return (time.perf_counter() - began) / args.requests * 1000

        for path in pages.values():  # warm: catalogues, templates, caches
            for language in LANGUAGES:
                render(path, language)
        print(f"{args.transcripts} transcripts, {args.rounds} rounds x {args.requests} requests")
        for name, path in pages.items():
            times: dict[str, list[float]] = {lang: [] for lang in LANGUAGES}
            for _ in range(args.rounds):
                for language in LANGUAGES:
                    times[language].append(render(path, language))
            en = statistics.median(times["en"])
            line = f"{name:15} en {en:6.2f} ms"
            for language in LANGUAGES[1:]:
                ms = statistics.median(times[language])
                line += f" | {language} {ms:6.2f} ms ({ms / en:.3f}x)"
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
