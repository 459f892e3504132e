"""`make run`'s program, as a user meets it: one process, SQLite, in-process queue and
worker; the printed demo sign-in works and background jobs run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time

import requests

from app import ROOT
from tests.services import free_port
from tests.speech import make_speech

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def test_quick_start_serves_and_signs_in_the_demo_user(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERBATIM_")}
    env.update(VERBATIM_VAR_DIR=str(tmp_path), VERBATIM_PORT=str(free_port()), PYTHONUNBUFFERED="1")
    # The tiny test model stands in for the hub models a user with internet would get.
    env.update(
        VERBATIM_MODELS_DIR=str(ROOT / "tests" / "fixtures" / "models"),
        VERBATIM_HUB_MODELS="",
        VERBATIM_DEFAULT_MODEL="tiny-random",
        VERBATIM_ENGINE_TEMPERATURES="0",  # repeatable output from the random-weight model
    )
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "quickstart.py")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    threading.Thread(
        target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True
    ).start()
    try:
        deadline = time.monotonic() + 60
        while not any("Demo sign-in" in line for line in lines):
            assert proc.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "".join(lines)
            time.sleep(0.1)
        output = "".join(lines)
        url = re.search(r"running at (http://\S+)", output).group(1)
        email, password = re.search(r"Demo sign-in: (\S+) / (\S+)", output).groups()
        assert (tmp_path / "verbatim.db").exists()

        s = requests.Session()
        token = _TOKEN.search(s.get(f"{url}/login").text).group(1)
        resp = s.post(
            f"{url}/login", data={"email": email, "password": password, "csrf_token": token}
        )
        assert resp.status_code == 200 and "/w/" in resp.url, resp.text[:500]
        assert "Seats used" in resp.text

        # A background job (the password-reset mail) runs on the in-process worker; with no
        # SMTP server configured, mail goes to the log.
        token = _TOKEN.search(s.get(f"{url}/forgot").text).group(1)
        s.post(f"{url}/forgot", data={"email": email, "csrf_token": token})
        deadline = time.monotonic() + 20
        while f"to={email}" not in "".join(lines) or "/reset/" not in "".join(lines):
            assert time.monotonic() < deadline, "".join(lines)[-2000:]
            time.sleep(0.2)

        # A recording uploaded through the browser's protocol is transcribed by the
        # in-process worker with the CPU engine, and its audio is gone afterwards.
        slug = re.search(r"/w/([^/]+)/", resp.url).group(1)
        (tmp_path / "audio").mkdir()
        audio = make_speech("Testing the quick start.", tmp_path / "audio", "webm")
        data = audio.read_bytes()
        page = s.get(f"{url}/w/{slug}/transcripts/new").text
        csrf = {"X-CSRFToken": _TOKEN.search(page).group(1), "Referer": f"{url}/"}
        created = s.post(
            f"{url}/w/{slug}/uploads/",
            json={"filename": audio.name, "size": len(data), "source": "recording"},
            headers=csrf,
        )
        assert created.status_code == 201, created.text
        done = s.patch(
            f"{url}/w/{slug}/uploads/{created.json()['id']}",
            data=data,
            headers=csrf
            | {"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
        )
        assert done.status_code == 200 and done.json()["complete"], done.text
        transcript_url = url + done.json()["transcripts"][0]["url"]
        deadline = time.monotonic() + 60
        while 'class="badge status-completed"' not in (page := s.get(transcript_url).text):
            assert "status-failed" not in page, page[-3000:]
            assert time.monotonic() < deadline, "".join(lines)[-2000:]
            time.sleep(0.3)
        staged = list((tmp_path / "staging").glob("*"))
        assert staged == [], staged

        # An edit is indexed by the in-process worker: search (SQLite FTS5) finds the new
        # word and links to the moment it was said.
        segment = re.search(r'data-id="([0-9a-f-]{36})" data-start="([0-9.]+)"', page)
        assert segment is not None, page[-3000:]
        edited = s.post(
            f"{transcript_url}/segments/{segment.group(1)}",
            data={"text": "the lighthouse keeper", "base_revision": "1"},
            headers=csrf,
        )
        assert edited.status_code == 200, edited.text[-2000:]
        deadline = time.monotonic() + 30
        while 'class="hit"' not in (
            found := s.get(f"{url}/w/{slug}/search", params={"q": "lighthou"}).text
        ):
            assert time.monotonic() < deadline, found[-3000:]
            time.sleep(0.3)
        assert "<mark>lighthouse</mark>" in found
        assert f'#t={float(segment.group(2)):g}"' in found

        # With no key configured the AI is the extractive provider, labelled as such, and
        # the in-process worker writes a summary that cites the edited moment.
        panel = s.get(f"{transcript_url}/ai").text
        assert "Extractive (no language model)" in panel
        asked = s.post(
            f"{transcript_url}/ai/summaries", data={"template": "overview"}, headers=csrf
        )
        assert asked.status_code == 200, asked.text[-2000:]
        deadline = time.monotonic() + 30
        while 'class="cite"' not in (panel := s.get(f"{transcript_url}/ai").text):
            assert time.monotonic() < deadline, panel[-3000:]
            time.sleep(0.3)
        assert "lighthouse" in panel
    finally:
        proc.terminate()
        proc.wait(10)
