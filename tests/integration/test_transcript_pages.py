"""Transcript pages and the browser's upload protocol, end to end: real PostgreSQL and
Redis, audio made with espeak-ng and ffmpeg, a real forking RQ worker with the tiny model."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.test import TestResponse

from app.ingest.models import StagedAudio, Upload
from app.transcripts.models import Status, Transcript, TranscriptSegment
from tests.integration.test_workspaces import add_member, database
from tests.speech import duration_of, make_speech
from tests.transcripts import Team, make_transcript
from tests.web import Web, make_user

PIECE = "application/offset+octet-stream"


# --- audio --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A few seconds of synthetic speech as mp3, so voice detection finds something."""
    return make_speech(
        "Good morning. This recording checks the upload page of the service.",
        tmp_path_factory.mktemp("speech"),
        "mp3",
    ).read_bytes()


def hms(seconds: float) -> str:
    total = round(seconds)
    return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


# --- a team and its people ----------------------------------------------------------------


def open_upload(team: Team, name: str, size: int, **extra: Any) -> TestResponse:
    return team.web.send(
        "POST", team.url("/uploads/"), json={"filename": name, "size": size, **extra}
    )


def patch(team: Team, url: str, offset: int, piece: bytes, **kw: Any) -> TestResponse:
    headers = {"Upload-Offset": str(offset), "Content-Type": PIECE, **kw.pop("headers", {})}
    return team.web.send("PATCH", url, data=piece, headers=headers, **kw)


def upload(team: Team, data: bytes, name: str = "tone.mp3", **extra: Any) -> dict[str, Any]:
    """The whole file through the browser protocol in one piece; the last reply."""
    created = open_upload(team, name, len(data), **extra)
    assert created.status_code == 201, created.json
    resp = patch(team, created.json["upload_url"], 0, data)
    assert resp.status_code == 200, resp.json
    return resp.json


class UnreadBody(io.RawIOBase):
    """A request body of `size` bytes that counts reads and holds no bytes at all."""

    def __init__(self, size: int) -> None:
        self.size, self.pos, self.reads = size, 0, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.pos = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence] + offset
        return self.pos

    def tell(self) -> int:
        return self.pos

    def readinto(self, b: Any) -> int:
        self.reads += 1
        n = min(len(b), self.size - self.pos)
        b[:n] = b"\0" * n
        self.pos += n
        return n


def staged_path(app: Flask, staged_id: uuid.UUID) -> Path:
    return Path(app.extensions["verbatim.settings"].staging_dir) / f"{staged_id.hex}.vba"


def status_of(app: Flask, workspace_id: uuid.UUID, transcript_id: uuid.UUID) -> str | None:
    with database(app, workspace_id) as s:
        t = s.get(Transcript, transcript_id)
        return t.status if t else None


def row_of(page: str, title: str) -> str:
    """The listing's table row that holds `title`."""
    for row in re.findall(r"<tr id=\"row-.*?</tr>", page, flags=re.S):
        if f">{title}</a>" in row:
            return row
    raise AssertionError(f"no row for {title!r}")


# --- the upload protocol, start to finish ---------------------------------------------------


def test_upload_in_three_pieces_then_transcribed(
    app: Flask, team: Team, speech: bytes, run_jobs: Callable[..., None], tmp_path: Path
) -> None:
    created = open_upload(team, "Standup notes.mp3", len(speech), source="upload")
    assert created.status_code == 201, created.json
    up = created.json
    assert up["offset"] == 0
    assert up["upload_url"] == team.url(f"/uploads/{up['id']}")
    assert 0 < up["chunk_size"] <= app.extensions["verbatim.settings"].upload_chunk_max_bytes

    third = len(speech) // 3
    first = patch(team, up["upload_url"], 0, speech[:third])
    assert first.status_code == 200, first.json
    assert first.json == {
        "offset": third,
        "complete": False,
        "transcripts": [],
        "compare_url": None,
    }
    head = team.web.send("HEAD", up["upload_url"])
    assert head.status_code == 204
    assert head.headers["Upload-Offset"] == str(third)
    assert head.headers["Upload-Length"] == str(len(speech))
    assert head.headers["Cache-Control"] == "no-store"
    second = patch(team, up["upload_url"], third, speech[third : 2 * third])
    assert second.json["offset"] == 2 * third
    assert second.json["complete"] is False
    last = patch(team, up["upload_url"], 2 * third, speech[2 * third :])
    assert last.status_code == 200, last.json
    assert last.json["offset"] == len(speech)
    assert last.json["complete"] is True
    [made] = last.json["transcripts"]
    assert made["url"] == team.url(f"/transcripts/{made['id']}")

    # Queued in the listing, titled after the file, with the probed duration.
    row = row_of(team.page("/transcripts/"), "Standup notes")
    assert "status-queued" in row
    assert re.search(r"in line|waiting", row)
    assert hms(duration_of(speech, tmp_path)) in row
    assert 'hx-trigger="every 2s"' in team.page("/transcripts/")  # it polls while active
    page = team.page(f"/transcripts/{made['id']}")
    assert 'id="status"' in page
    assert 'hx-trigger="every 2s"' in page

    run_jobs("gpu")

    page = team.page(f"/transcripts/{made['id']}")
    assert "status-completed" in page
    assert 'hx-trigger="every 2s"' not in page  # done: no more polling
    assert page.count('class="segment"') >= 1
    assert re.search(r'class="w[^"]*" data-start="\d+\.\d\d" data-end="\d+\.\d\d"', page)
    assert re.search(r'<span class="ts">\[\d\d:\d\d\]</span>', page)
    assert "tiny-random" in page
    listing = team.page("/transcripts/")
    assert "status-completed" in row_of(listing, "Standup notes")
    assert 'hx-trigger="every 2s"' not in listing  # nothing active: the table stops polling


def test_not_audio_is_refused_and_leaves_nothing(app: Flask, team: Team) -> None:
    text = b"Dear diary, today I pretended to be an mp3 file.\n" * 40
    created = open_upload(team, "notes.mp3", len(text))
    assert created.status_code == 201
    resp = patch(team, created.json["upload_url"], 0, text)
    assert resp.status_code == 422, resp.json
    assert "not audio" in resp.json["message"].lower()
    assert resp.json["error"]
    assert "field" in resp.json
    assert team.count(Transcript) == 0
    with database(app, team.workspace.id) as s:
        [up] = s.scalars(select(Upload)).all()
        staged = s.get(StagedAudio, up.staged_audio_id)
    assert up.status == "failed"
    assert staged.wrapped_key is None
    assert not staged_path(app, staged.id).exists()
    assert "notes" not in team.page("/transcripts/")


def test_piece_over_the_chunk_limit_is_413_before_reading(app: Flask, team: Team) -> None:
    limit = app.extensions["verbatim.settings"].upload_chunk_max_bytes
    up = open_upload(team, "long.mp3", limit * 3).json

    body = UnreadBody(limit + 1)
    resp = team.web.send(
        "PATCH",
        up["upload_url"],
        input_stream=body,
        headers={"Upload-Offset": "0", "Content-Type": PIECE},
    )
    assert resp.status_code == 413
    assert resp.json["error"] == "toolarge"
    assert "per request" in resp.json["message"]
    assert body.reads == 0
    head = team.web.send("HEAD", up["upload_url"])
    assert head.headers["Upload-Offset"] == "0"


def test_pieces_above_the_form_limit_are_taken(app: Flask, team: Team) -> None:
    """Forms stop at 1 MiB app-wide; an upload's pieces get their own, larger limit."""
    assert app.config["MAX_CONTENT_LENGTH"] < 2 * 1024 * 1024
    up = open_upload(team, "big.wav", 3 * 1024 * 1024).json
    resp = patch(team, up["upload_url"], 0, b"\0" * (2 * 1024 * 1024))
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert resp.json["offset"] == 2 * 1024 * 1024
    assert team.web.send("DELETE", up["upload_url"]).status_code == 204


def test_wrong_offset_is_409_with_the_servers_offset(app: Flask, team: Team) -> None:
    up = open_upload(team, "a.mp3", 100).json
    assert patch(team, up["upload_url"], 0, b"x" * 40).json["offset"] == 40
    # A client that lost the reply sends the same piece again.
    again = patch(team, up["upload_url"], 0, b"x" * 40)
    assert again.status_code == 409
    assert again.json["offset"] == 40
    assert again.json["upload_status"] == "open"
    ahead = patch(team, up["upload_url"], 60, b"x" * 40)
    assert ahead.status_code == 409
    assert ahead.json["offset"] == 40
    for bad in ("", "-1", "ten", "³"):
        resp = patch(team, up["upload_url"], 0, b"x", headers={"Upload-Offset": bad})
        assert resp.status_code == 400, bad
    wrong_type = patch(team, up["upload_url"], 40, b"x", headers={"Content-Type": "audio/mpeg"})
    assert wrong_type.status_code == 415

    with database(app, team.workspace.id) as s:
        staged_id = s.get(Upload, uuid.UUID(up["id"])).staged_audio_id
    assert staged_path(app, staged_id).exists()
    assert team.web.send("DELETE", up["upload_url"]).status_code == 204
    assert not staged_path(app, staged_id).exists()
    late = patch(team, up["upload_url"], 40, b"x" * 60)
    assert late.status_code == 409
    assert late.json["upload_status"] == "failed"
    missing = team.url(f"/uploads/{uuid.uuid4()}")
    assert patch(team, missing, 0, b"x").status_code == 404
    assert team.web.send("HEAD", missing).status_code == 404


def test_refused_options_are_422_json_and_create_nothing(team: Team) -> None:
    resp = open_upload(team, "a.mp3", 100, model="no-such-model")
    assert resp.status_code == 422
    assert resp.json["field"] == "model"
    assert "not installed" in resp.json["message"]
    bad_size = open_upload(team, "a.mp3", "100")
    assert bad_size.status_code == 422
    assert bad_size.json["field"] == "size"
    too_big = open_upload(team, "a.mp3", 10**15)
    assert too_big.status_code == 413
    assert "limit" in too_big.json["message"]
    not_json = team.web.send("POST", team.url("/uploads/"), data="size=5")
    assert not_json.status_code == 422
    assert team.count(Upload) == 0
    assert team.count(StagedAudio) == 0


def test_viewer_reads_but_cannot_upload_or_change(app: Flask, team: Team, web2: Web) -> None:
    tid = make_transcript(app, team.workspace.id, "Board meeting")
    viewer = make_user(app)
    add_member(app, team.workspace.id, viewer, "viewer")
    web2.login(viewer)
    url = team.url
    assert (
        web2.send("POST", url("/uploads/"), json={"filename": "a.mp3", "size": 10}).status_code
        == 403
    )
    assert web2.post(url("/transcripts/link"), {"url": "https://example.test/a"}).status_code == 403
    assert web2.post(url("/transcripts/delete"), {"ids": str(tid)}).status_code == 403
    assert web2.post(url(f"/transcripts/{tid}/rename"), {"title": "Mine"}).status_code == 403
    assert web2.post(url(f"/transcripts/{tid}/delete")).status_code == 403
    assert team.count(Upload) == 0
    assert status_of(app, team.workspace.id, tid) == "completed"

    listing = web2.get(url("/transcripts/")).get_data(as_text=True)
    assert "Board meeting" in listing
    # A viewer may tick rows to export them, but gets none of the changing actions.
    assert 'id="export-selection"' in listing
    assert 'id="bulk"' not in listing and "Delete selected" not in listing
    assert "New transcript" not in listing
    new = web2.get(url("/transcripts/new"))
    assert new.status_code == 200
    page = new.get_data(as_text=True)
    assert "needs the member role" in page
    assert re.search(r'<fieldset id="job-options"[^>]*disabled', page)
    assert "js/upload.js" not in page
    shown = web2.get(url(f"/transcripts/{tid}")).get_data(as_text=True)
    assert "Board meeting" in shown
    assert "/rename" not in shown
    assert "Delete transcript" not in shown


# --- the listing ------------------------------------------------------------------------------


def test_listing_search_sort_filter_and_partial(app: Flask, team: Team) -> None:
    ws = team.workspace.id
    make_transcript(app, ws, "Alpha interview", duration=30)
    make_transcript(app, ws, "beta podcast", duration=3725)
    make_transcript(
        app, ws, "Gamma interview", duration=90, status=Status.FAILED, error="No speech."
    )

    page = team.page("/transcripts/")
    assert (
        page.index("Gamma interview") < page.index("beta podcast") < page.index("Alpha interview")
    )
    assert "1:02:05" in row_of(page, "beta podcast")
    assert "No speech." in row_of(page, "Gamma interview")
    assert 'hx-trigger="input changed delay:300ms, search"' in page
    assert 'hx-trigger="every 2s"' not in page  # nothing is running

    found = team.page("/transcripts/?q=INTERVIEW&sort=title")
    assert found.index("Alpha interview") < found.index("Gamma interview")
    assert "beta podcast" not in found
    by_length = team.page("/transcripts/?sort=duration")
    assert by_length.index("beta podcast") < by_length.index("Gamma interview")
    assert by_length.index("Gamma interview") < by_length.index("Alpha interview")
    failed = team.page("/transcripts/?status=failed")
    assert "Gamma interview" in failed
    assert "Alpha interview" not in failed
    none = team.page("/transcripts/?q=nothing-like-this")
    assert "No transcript matches." in none

    # htmx asks for the table only; a search box typing in gets no page around it.
    partial = team.page("/transcripts/?q=beta", headers={"HX-Request": "true"})
    assert partial.lstrip().startswith('<div id="transcript-table"')
    assert "<html" not in partial
    assert "beta podcast" in partial
    assert "Alpha interview" not in partial

    bad = team.web.get(team.url("/transcripts/?sort=loudest"))
    assert bad.status_code == 422
    assert "Sort by one of" in bad.get_data(as_text=True)


def test_listing_polls_while_a_row_is_active_and_pages(app: Flask, team: Team) -> None:
    ws = team.workspace.id
    running = make_transcript(
        app, ws, "Still running", status=Status.PROCESSING, progress=0.42, stage="transcribing"
    )
    page = team.page("/transcripts/?q=running")
    assert 'hx-trigger="every 2s"' in page
    assert re.search(r'hx-get="[^"]*q=running', page)  # the poll keeps the search
    row = row_of(page, "Still running")
    assert '<progress class="job" max="100" value="42"' in row
    assert "transcribing" in row
    with database(app, ws) as s:
        s.get(Transcript, running).status = Status.COMPLETED
        s.commit()
    assert 'hx-trigger="every 2s"' not in team.page("/transcripts/?q=running")

    for n in range(51):
        make_transcript(app, ws, f"Bulk {n:02d}")
    first = team.page("/transcripts/?q=bulk&sort=title")
    assert first.count('name="ids"') == 50
    assert "1\u201350 of 51" in first
    assert "page=2" in first
    second = team.page("/transcripts/?q=bulk&sort=title&page=2")
    assert "Bulk 50" in second
    assert second.count('name="ids"') == 1


def test_bulk_delete(app: Flask, team: Team) -> None:
    ws = team.workspace.id
    keep = make_transcript(app, ws, "Keep me")
    gone = [make_transcript(app, ws, f"Delete me {n}") for n in range(2)]
    page = team.page("/transcripts/")
    assert 'id="bulk"' in page
    assert 'data-confirm="Delete the selected transcripts for good?' in page

    # One id that is not here (another workspace's answers the same): nothing is deleted.
    resp = team.web.post(
        team.url("/transcripts/delete"), {"ids": [str(gone[0]), str(uuid.uuid4())]}
    )
    assert resp.status_code == 404
    assert status_of(app, ws, gone[0]) == "completed"
    empty = team.web.post(team.url("/transcripts/delete"), {})
    assert empty.status_code == 422
    assert "Choose at least one transcript." in empty.get_data(as_text=True)

    resp = team.web.post(team.url("/transcripts/delete"), {"ids": [str(t) for t in gone]})
    assert resp.status_code == 302
    assert resp.headers["Location"] == team.url("/transcripts/")
    assert all(status_of(app, ws, t) is None for t in gone)
    assert status_of(app, ws, keep) == "completed"
    assert "Deleted 2 transcripts for good." in team.page("/transcripts/")


# --- one transcript -------------------------------------------------------------------------


def test_rename_speaker_changes_every_line(app: Flask, team: Team) -> None:
    tid = make_transcript(
        app,
        team.workspace.id,
        "Two voices",
        segments=[
            (0.0, 2.0, "hello there", "SPEAKER_00"),
            (2.0, 4.5, "hi how are you", "SPEAKER_01"),
            (65.0, 67.0, "fine thanks", "SPEAKER_00"),
        ],
        speakers={"SPEAKER_00": "Speaker 1", "SPEAKER_01": "Speaker 2"},
        diarize=True,
    )
    page = team.page(f"/transcripts/{tid}")
    assert page.count('<span class="speaker">Speaker 1</span>') == 2
    assert "[01:05]" in page
    first = '<span class="w" data-start="2.00" data-end="2.30" data-i="0" data-p="0.90">hi</span>'
    assert first + ' <span class="w"' in page  # words are spaced apart (English)

    url = team.url(f"/transcripts/{tid}/speakers/SPEAKER_00")
    swapped = team.web.post(url, {"name": "  Ada   Lovelace "}, htmx=True)
    assert swapped.status_code == 200
    body = swapped.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="transcript-body"')
    assert body.count('<span class="speaker">Ada Lovelace</span>') == 2
    assert body.count('<span class="speaker">Speaker 2</span>') == 1
    assert "SPEAKER_00 is now called Ada Lovelace." in body
    with database(app, team.workspace.id) as s:
        labels = s.scalars(
            select(TranscriptSegment.speaker).where(TranscriptSegment.transcript_id == tid)
        ).all()
    assert sorted(labels) == ["SPEAKER_00", "SPEAKER_00", "SPEAKER_01"]  # labels stay

    refused = team.web.post(url, {"name": "   "}, htmx=True)
    assert refused.status_code == 422
    assert "1 to 120 characters" in refused.get_data(as_text=True)
    plain = team.web.post(team.url(f"/transcripts/{tid}/speakers/SPEAKER_01"), {"name": "Grace"})
    assert plain.status_code == 302
    assert '<span class="speaker">Grace</span>' in team.page(f"/transcripts/{tid}")
    unknown = team.web.post(team.url(f"/transcripts/{tid}/speakers/SPEAKER_09"), {"name": "X"})
    assert unknown.status_code == 404


def test_rename_and_delete_one(app: Flask, team: Team) -> None:
    tid = make_transcript(app, team.workspace.id, "Old title")
    resp = team.web.post(team.url(f"/transcripts/{tid}/rename"), {"title": " New   title "})
    assert resp.status_code == 302
    assert '<h1 id="transcript-title">New title</h1>' in team.page(f"/transcripts/{tid}")
    empty = team.web.post(team.url(f"/transcripts/{tid}/rename"), {"title": ""})
    assert empty.status_code == 422
    assert "A title cannot be empty." in empty.get_data(as_text=True)
    gone = team.web.post(team.url(f"/transcripts/{tid}/delete"))
    assert gone.status_code == 302
    assert status_of(app, team.workspace.id, tid) is None
    assert team.web.get(team.url(f"/transcripts/{tid}")).status_code == 404


def test_show_page_says_warnings_errors_and_metadata(app: Flask, team: Team) -> None:
    ws = team.workspace.id
    tid = make_transcript(
        app,
        ws,
        "Warned",
        segments=[(0.0, 1.5, "some words", None)],
        warnings=["Word alignment failed; timings approximate."],
        timings={"load": 0.5, "transcribe": 2.25},
        language="de",
        language_probability=0.93,
        container="mp3",
    )
    page = team.page(f"/transcripts/{tid}")
    assert "Word alignment failed; timings approximate." in page
    assert "93% sure" in page
    assert "transcribe: 2.2 s" in page or "transcribe: 2.3 s" in page
    assert "0:01:05" in page
    failed = make_transcript(
        app, ws, "Broken", status=Status.FAILED, error="The file has no sound."
    )
    page = team.page(f"/transcripts/{failed}")
    assert "The file has no sound." in page
    assert "/retry" in page
    assert "/cancel" not in page
    retried = team.web.post(team.url(f"/transcripts/{failed}/retry"))
    assert retried.status_code == 422  # the audio went when it failed, as promised
    assert "upload the file again" in retried.get_data(as_text=True)
    assert status_of(app, ws, failed) == "failed"


def test_status_partial_polls_then_reloads_the_page(app: Flask, team: Team) -> None:
    ws = team.workspace.id
    tid = make_transcript(
        app, ws, "Watch me", status=Status.PROCESSING, progress=0.5, stage="aligning"
    )
    partial = team.web.get(
        team.url(f"/transcripts/{tid}/status?poll=1"), headers={"HX-Request": "true"}
    )
    assert partial.status_code == 200
    body = partial.get_data(as_text=True)
    assert body.lstrip().startswith('<section id="status"')
    assert 'hx-trigger="every 2s"' in body
    assert "aligning" in body
    assert "HX-Refresh" not in partial.headers
    with database(app, ws) as s:
        s.get(Transcript, tid).status = Status.COMPLETED
        s.commit()
    done = team.web.get(
        team.url(f"/transcripts/{tid}/status?poll=1"), headers={"HX-Request": "true"}
    )
    assert done.headers["HX-Refresh"] == "true"
    assert 'hx-trigger="every 2s"' not in done.get_data(as_text=True)


def test_cancel_a_queued_transcript_deletes_its_audio(
    app: Flask, team: Team, speech: bytes
) -> None:
    [made] = upload(team, speech, "cancel me.mp3")["transcripts"]
    tid = uuid.UUID(made["id"])
    with database(app, team.workspace.id) as s:
        staged_id = s.get(Transcript, tid).staged_audio_id
    assert staged_path(app, staged_id).exists()
    assert "/cancel" in team.page(f"/transcripts/{tid}")
    resp = team.web.post(team.url(f"/transcripts/{tid}/cancel"))
    assert resp.status_code == 302
    assert resp.headers["Location"] == team.url(f"/transcripts/{tid}")
    assert status_of(app, team.workspace.id, tid) == "cancelled"
    assert not staged_path(app, staged_id).exists()
    page = team.page(f"/transcripts/{tid}")
    assert "Cancelled. Its audio was deleted." in page
    again = team.web.post(team.url(f"/transcripts/{tid}/cancel"))
    assert again.status_code == 422
    assert "already cancelled" in again.get_data(as_text=True)


# --- starting from a link, the new page ----------------------------------------------------


def test_link_form_refusals_rerender_and_change_nothing(app: Flask, team: Team) -> None:
    link = team.url("/transcripts/link")
    bad = team.web.post(link, {"url": "ftp://example.test/a.mp3", "title": "Kept title"})
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert 'class="flash error"' in page
    assert 'value="Kept title"' in page  # what was typed stays
    wrong_model = team.web.post(
        link, {"url": "https://www.youtube.com/watch?v=x", "model": "faster-whisper:nope"}
    )
    assert wrong_model.status_code == 422
    assert "not installed" in wrong_model.get_data(as_text=True)
    assert team.count(Transcript) == 0

    ok = team.web.post(
        link,
        {
            "url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
            "title": "A talk",
            "model": "faster-whisper:tiny-random",
            "language": "en",
            "language_code": "",
        },
    )
    assert ok.status_code == 302, ok.get_data(as_text=True)[:400]
    tid = uuid.UUID(ok.headers["Location"].rsplit("/", 1)[1])
    with database(app, team.workspace.id) as s:
        t = s.get(Transcript, tid)
        assert (t.title, t.status, t.language_requested) == ("A talk", "fetching", "en")
    page = team.page(f"/transcripts/{tid}")
    assert "Downloading the link" in page
    # Nothing can be downloaded here: stop it, so no job waits for a network.
    assert team.web.post(team.url(f"/transcripts/{tid}/cancel")).status_code == 302


def test_new_page_offers_installed_models_and_explains_diarization(team: Team) -> None:
    page = team.page("/transcripts/new")
    assert re.search(r'<option value="faster-whisper:tiny-random"\s+selected', page)
    assert 'id="file-input" multiple' in page
    assert "data-rec-start" in page
    assert 'action="' + team.url("/transcripts/link") + '"' in page
    # The CPU engine has no diarization: the box is off, and the page says why.
    assert re.search(r'<input type="checkbox" id="opt-diarize"[^>]*disabled', page)
    assert re.search(r'<p id="diarize-note" class="muted note"\s*>', page)
    assert "cannot tell speakers apart" in page
    for script in ("js/upload.js", "js/recorder.js", "js/transcripts.js"):
        assert script in page
    assert "<script>" not in page  # the CSP allows no inline script


# --- compare ----------------------------------------------------------------------------------


def test_compare_page_sets_two_models_side_by_side(app: Flask, team: Team) -> None:
    ws, group = team.workspace.id, uuid.uuid4()
    make_transcript(
        app,
        ws,
        "Panel (tiny-random)",
        compare_group=group,
        segments=[(0.0, 5.2, "first part", None), (5.2, 10.0, "second part", None)],
    )
    make_transcript(
        app,
        ws,
        "Panel (small)",
        compare_group=group,
        segments=[(0.1, 5.5, "erste teil", None), (5.5, 10.0, "zweite teil", None)],
    )
    page = team.page(f"/transcripts/compare/{group}")
    assert page.count("<th>") >= 2
    rows = re.findall(r"<tr>\s*<td class=\"ts\">.*?</tr>", page, flags=re.S)
    assert len(rows) == 2  # boundaries a little apart still line up
    assert "first part" in rows[0] and "erste teil" in rows[0]
    assert "second part" in rows[1] and "zweite teil" in rows[1]
    shown = team.page(f"/transcripts/{_id_of(app, ws, 'Panel (small)')}")
    assert f"/transcripts/compare/{group}" in shown
    assert team.web.get(team.url(f"/transcripts/compare/{uuid.uuid4()}")).status_code == 404


def _id_of(app: Flask, workspace_id: uuid.UUID, title: str) -> uuid.UUID:
    with database(app, workspace_id) as s:
        return s.scalar(select(Transcript.id).where(Transcript.title == title))
