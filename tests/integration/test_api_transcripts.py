"""/api/v1 transcripts, engines and resumable uploads, end to end: real PostgreSQL and
Redis, real ffmpeg-made audio, a real forking RQ worker running the tiny test model."""

from __future__ import annotations

import io
import json
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from openapi_spec_validator import validate
from sqlalchemy import func, select
from werkzeug.test import EnvironBuilder, TestResponse

from app import create_app
from app.auth.models import User
from app.ingest.models import StagedAudio, Upload
from app.plugins.api import PluginInfo
from app.plugins.hookspecs import hookimpl
from app.tenants.models import Workspace
from app.transcripts.models import Transcript, TranscriptSegment, TranscriptSpeaker
from tests.integration.test_api import new_key
from tests.integration.test_workspaces import create_team, database
from tests.speech import duration_of, make_speech
from tests.transcripts import ApiCaller
from tests.web import Web, make_user
from workers.engines.base import EngineCapabilities, EngineEnv, EngineError

PIECE = "application/offset+octet-stream"


# --- audio made here with ffmpeg and espeak-ng ----------------------------------------------


def tone(directory: Path, seconds: float, name: str = "tone.mp3") -> bytes:
    out = directory / name
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=300:duration={seconds}",
            str(out),
        ],
        check=True,
    )
    return out.read_bytes()


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A few seconds of synthetic speech as mp3, so voice detection finds something."""
    return make_speech(
        "Hello there. This is a short test of the transcription service. Thank you.",
        tmp_path_factory.mktemp("speech"),
        "mp3",
    ).read_bytes()


# --- a workspace with an API key ----------------------------------------------------------


@dataclass
class Caller(ApiCaller):
    """An API caller that also knows its workspace, and can send bodies as they are."""

    team: Workspace = field(kw_only=True)

    def raw(
        self,
        method: str,
        path: str,
        body: Any,
        length: int | None,
        headers: dict[str, str],
        query: dict[str, Any] | None = None,
    ) -> TestResponse:
        """A request whose body is `body` as it is (not read or measured by the test client)
        and whose Content-Length is `length`, or absent when None."""
        url = path if path.startswith("/api/") else f"/api/v1{path}"
        builder = EnvironBuilder(
            url,
            method=method,
            query_string=query,
            headers={"Authorization": f"Bearer {self.raw_key}", **headers},
        )
        request = builder.get_request()
        request.environ["wsgi.input"] = body
        request.environ.pop("CONTENT_LENGTH", None)
        if length is not None:
            request.environ["CONTENT_LENGTH"] = str(length)
        return self.web.client.open(request)

    def count(self, model: type) -> int:
        with database(self.web.app, self.team.id) as s:
            return s.scalar(select(func.count(model.id))) or 0


@pytest.fixture
def owner(app: Flask, web: Web) -> User:
    user = make_user(app, name="Tess Transcriber")
    web.login(user)
    return user


@pytest.fixture
def api(web: Web, owner: User) -> Caller:
    team = create_team(web, "Transcripts Team")
    return Caller(web, new_key(web, team.slug), team=team)


def upload_file(api: Caller, data: bytes, **query: Any) -> TestResponse:
    query.setdefault("filename", "tone.mp3")
    return api(
        "POST",
        "/transcripts/file",
        query_string=query,
        data=data,
        headers={"Content-Type": "audio/mpeg"},
    )


def queued_from_file(api: Caller, data: bytes, **query: Any) -> dict[str, Any]:
    resp = upload_file(api, data, **query)
    assert resp.status_code == 202, resp.json
    [t] = resp.json["transcripts"]
    return t


def patch_piece(api: Caller, url: str, offset: int, piece: bytes, **kw: Any) -> TestResponse:
    headers = {"Upload-Offset": str(offset), "Content-Type": PIECE, **kw.pop("headers", {})}
    return api("PATCH", url, data=piece, headers=headers, **kw)


class WatchedStream(io.RawIOBase):
    """A request body that records whether anyone read it."""

    def __init__(self) -> None:
        self.reads = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        self.reads += 1
        return 0


def settings_of(app: Flask) -> Any:
    return app.extensions["verbatim.settings"]


def staged_file(app: Flask, staged_id: uuid.UUID) -> Path:
    return Path(settings_of(app).staging_dir) / f"{staged_id.hex}.vba"


# --- engines ------------------------------------------------------------------------------


def test_engines_lists_installed_models_and_defaults(api: Caller) -> None:
    resp = api("GET", "/engines")
    assert resp.status_code == 200
    engines = {e["name"]: e for e in resp.json["engines"]}
    assert resp.json["default_engine"] in engines
    assert resp.json["default_model"] == "tiny-random"
    default = engines[resp.json["default_engine"]]
    assert "tiny-random" in default["models"]
    assert set(default["capabilities"]) == {"diarization", "alignment", "batched", "gpu"}
    assert all(isinstance(v, bool) for v in default["capabilities"].values())
    assert default["title"]


def test_api_needs_a_key(web: Web) -> None:
    for method, path in [("GET", "/engines"), ("GET", "/transcripts"), ("POST", "/uploads")]:
        resp = web.client.open(f"/api/v1{path}", method=method)
        assert resp.status_code == 401
        assert resp.json["error"] == "unauthorized"


# --- the full flow: resumable upload to finished transcript --------------------------------


def test_resumable_upload_to_finished_transcript(
    app: Flask, api: Caller, speech: bytes, run_jobs: Any, tmp_path: Path
) -> None:
    created = api(
        "POST",
        "/uploads",
        json={
            "filename": "interview.mp3",
            "size": len(speech),
            "title": " Interview ",
            "language": "en",
        },
    )
    assert created.status_code == 201, created.json
    up = created.json
    assert up["offset"] == 0
    assert up["size"] == len(speech)
    assert up["chunk_size"] == settings_of(app).upload_chunk_max_bytes
    assert up["upload_url"] == f"/api/v1/uploads/{up['id']}"

    third = len(speech) // 3
    pieces = [speech[:third], speech[third : 2 * third], speech[2 * third :]]
    first = patch_piece(api, up["upload_url"], 0, pieces[0])
    assert first.status_code == 200, first.json
    assert first.json == {"offset": third, "complete": False, "transcripts": []}
    assert first.headers["Upload-Offset"] == str(third)

    # A client that lost the reply sends the first piece again: told where to resume.
    again = patch_piece(api, up["upload_url"], 0, pieces[0])
    assert again.status_code == 409
    assert again.json["offset"] == third
    assert again.headers["Upload-Offset"] == str(third)
    assert str(third) in again.json["message"]
    status = api("GET", f"/uploads/{up['id']}")
    assert status.status_code == 200
    assert status.json == {
        "id": up["id"],
        "offset": third,
        "size": len(speech),
        "status": "open",
        "error": None,
    }
    assert status.headers["Upload-Offset"] == str(third)

    second = patch_piece(api, up["upload_url"], third, pieces[1])
    assert second.json["offset"] == 2 * third
    assert second.json["transcripts"] == []
    last = patch_piece(api, up["upload_url"], 2 * third, pieces[2])
    assert last.status_code == 200, last.json
    assert last.json["offset"] == len(speech)
    assert last.json["complete"] is True
    [t] = last.json["transcripts"]
    assert t["status"] == "queued"
    assert t["title"] == "Interview"
    assert t["language_requested"] == "en"
    assert t["model"] == "tiny-random"
    assert t["source"] == "upload"
    assert api("GET", f"/uploads/{up['id']}").json["status"] == "done"

    shown = api("GET", f"/transcripts/{t['id']}")
    assert shown.status_code == 200
    assert shown.json["status"] == "queued"
    assert isinstance(shown.json["queue_position"], int)
    assert shown.json["queue_position"] >= 0
    assert shown.json["eta_seconds"] > 0
    early = api("GET", f"/transcripts/{t['id']}/content")
    assert early.status_code == 409
    assert "queued" in early.json["message"]
    with database(app, api.team.id) as s:
        staged_id = s.get(Transcript, uuid.UUID(t["id"])).staged_audio_id
    assert staged_file(app, staged_id).exists()

    run_jobs("gpu")

    done = api("GET", f"/transcripts/{t['id']}")
    assert done.json["status"] == "completed", done.json
    assert done.json["queue_position"] is None
    assert done.json["language"] == "en"
    expected = duration_of(speech, tmp_path)
    assert done.json["duration_seconds"] == pytest.approx(expected, abs=0.2)
    assert not staged_file(app, staged_id).exists()  # the audio went when it ended

    content = api("GET", f"/transcripts/{t['id']}/content")
    assert content.status_code == 200
    assert content.json["language"] == "en"
    assert content.json["speakers"] == []
    segments = content.json["segments"]
    assert segments, "the model produced no segments"
    words = [w for s in segments for w in s["words"]]
    assert words, "no word timings"
    for s in segments:
        assert 0 <= s["start"] <= s["end"] <= expected + 0.5
        assert isinstance(s["text"], str)
        assert s["speaker"] is None and s["speaker_name"] is None
    for w in words:
        assert 0 <= w["start"] <= w["end"] <= expected + 0.5
        assert isinstance(w["text"], str)
        assert w["probability"] is None or 0 <= w["probability"] <= 1

    # Speakers: a label as a diarizing engine leaves it, then named through the API.
    with database(app, api.team.id) as s:
        tid = uuid.UUID(t["id"])
        s.add(TranscriptSpeaker(transcript_id=tid, label="SPEAKER_00", name="Speaker 1"))
        first_segment = s.scalar(
            select(TranscriptSegment).where(
                TranscriptSegment.transcript_id == tid, TranscriptSegment.position == 0
            )
        )
        first_segment.speaker = "SPEAKER_00"
        s.commit()
    renamed = api("PATCH", f"/transcripts/{t['id']}/speakers/SPEAKER_00", json={"name": " Ada  L "})
    assert renamed.status_code == 200
    assert renamed.json == {"label": "SPEAKER_00", "name": "Ada L"}
    content = api("GET", f"/transcripts/{t['id']}/content").json
    assert content["speakers"] == [{"label": "SPEAKER_00", "name": "Ada L"}]
    assert content["segments"][0]["speaker"] == "SPEAKER_00"
    assert content["segments"][0]["speaker_name"] == "Ada L"
    blank = api("PATCH", f"/transcripts/{t['id']}/speakers/SPEAKER_00", json={"name": "  "})
    assert blank.status_code == 422
    assert blank.json["field"] == "name"
    unknown = api("PATCH", f"/transcripts/{t['id']}/speakers/SPEAKER_09", json={"name": "Bo"})
    assert unknown.status_code == 404

    # Finished: neither cancel nor retry applies.
    cancel = api("POST", f"/transcripts/{t['id']}/cancel")
    assert cancel.status_code == 422
    assert "already completed" in cancel.json["message"]
    retry = api("POST", f"/transcripts/{t['id']}/retry")
    assert retry.status_code == 422
    assert "Only a failed or cancelled transcript" in retry.json["message"]


# --- the whole file in one request ------------------------------------------------------------


def test_whole_file_in_one_request(app: Flask, api: Caller, tmp_path: Path) -> None:
    data = tone(tmp_path, 2)
    resp = upload_file(api, data, title="Quick tone", language="de", filename="x.mp3")
    assert resp.status_code == 202, resp.json
    [t] = resp.json["transcripts"]
    assert t["status"] == "queued"
    assert t["title"] == "Quick tone"
    assert t["language_requested"] == "de"
    assert t["duration_seconds"] == pytest.approx(2.0, abs=0.2)
    assert isinstance(t["queue_position"], int)
    shown = api("GET", f"/transcripts/{t['id']}").json
    assert shown["status"] == "queued"
    with database(app, api.team.id) as s:
        upload = s.scalar(select(Upload))
        assert upload.status == "done"
        assert upload.received == upload.size == len(data)

    # Without a title the file's name gives one.
    untitled = queued_from_file(api, data, filename="board meeting.mp3")
    assert untitled["title"] == "board meeting"


def test_whole_file_refuses_multipart_and_missing_length(api: Caller, tmp_path: Path) -> None:
    data = tone(tmp_path, 1)
    multipart = api(
        "POST",
        "/transcripts/file",
        data={"file": (io.BytesIO(data), "tone.mp3")},
        content_type="multipart/form-data",
    )
    assert multipart.status_code == 415
    assert "multipart" in multipart.json["message"]
    text = api("POST", "/transcripts/file", data=b"hello", headers={"Content-Type": "text/plain"})
    assert text.status_code == 415
    no_length = api.raw(
        "POST",
        "/transcripts/file",
        io.BytesIO(data),
        None,
        {"Content-Type": "application/octet-stream"},
    )
    assert no_length.status_code == 411
    assert "Content-Length" in no_length.json["message"]
    assert api.count(Upload) == 0
    assert api.count(StagedAudio) == 0


def test_whole_file_cut_short_resumes_through_uploads(api: Caller, tmp_path: Path) -> None:
    data = tone(tmp_path, 2)
    cut = len(data) // 2
    resp = api.raw(
        "POST",
        "/transcripts/file",
        io.BytesIO(data[:cut]),  # the connection drops halfway
        len(data),
        {"Content-Type": "audio/mpeg"},
        query={"filename": "cut.mp3"},
    )
    assert resp.status_code == 400
    assert resp.json["offset"] == cut
    upload_id = resp.json["id"]
    assert upload_id in resp.json["message"]
    assert api.count(Transcript) == 0
    assert api("GET", f"/uploads/{upload_id}").json["offset"] == cut
    rest = patch_piece(api, f"/uploads/{upload_id}", cut, data[cut:])
    assert rest.status_code == 200, rest.json
    assert rest.json["complete"] is True
    [t] = rest.json["transcripts"]
    assert t["title"] == "cut"
    assert t["status"] == "queued"


def test_whole_file_over_the_limit_is_refused_before_reading(app: Flask, api: Caller) -> None:
    body = WatchedStream()
    resp = api.raw(
        "POST",
        "/transcripts/file",
        body,
        settings_of(app).upload_max_bytes + 1,
        {"Content-Type": "application/octet-stream"},
    )
    assert resp.status_code == 413
    assert "limit" in resp.json["message"]
    assert body.reads == 0
    assert api.count(Upload) == 0
    assert api.count(StagedAudio) == 0


# --- resumable uploads: refusals ------------------------------------------------------------


def test_declared_size_over_the_limit_is_413_and_creates_nothing(app: Flask, api: Caller) -> None:
    too_big = settings_of(app).upload_max_bytes + 1
    resp = api("POST", "/uploads", json={"filename": "huge.wav", "size": too_big})
    assert resp.status_code == 413
    assert resp.json["error"] == "toolarge"
    assert "the limit is" in resp.json["message"]
    empty = api("POST", "/uploads", json={"filename": "empty.wav", "size": 0})
    assert empty.status_code == 422
    assert empty.json["field"] == "size"
    missing = api("POST", "/uploads", json={"filename": "what.wav"})
    assert missing.status_code == 422
    assert "size" in missing.json["message"]
    assert api.count(Upload) == 0
    assert api.count(StagedAudio) == 0


def test_piece_over_the_chunk_limit_is_refused_before_reading(app: Flask, api: Caller) -> None:
    chunk_max = settings_of(app).upload_chunk_max_bytes
    up = api("POST", "/uploads", json={"filename": "long.mp3", "size": chunk_max * 3}).json
    body = WatchedStream()
    resp = api.raw(
        "PATCH",
        up["upload_url"],
        body,
        chunk_max + 1,
        {"Upload-Offset": "0", "Content-Type": PIECE},
    )
    assert resp.status_code == 413
    assert f"{chunk_max:,} bytes" in resp.json["message"]
    assert body.reads == 0
    assert api("GET", f"/uploads/{up['id']}").json["offset"] == 0


def test_piece_needs_offset_type_and_length(api: Caller) -> None:
    up = api("POST", "/uploads", json={"filename": "a.mp3", "size": 100}).json
    for bad in (None, "", "-1", "ten", "1.5", "³"):
        headers = {"Content-Type": PIECE}
        if bad is not None:
            headers["Upload-Offset"] = bad
        resp = api("PATCH", up["upload_url"], data=b"x" * 10, headers=headers)
        assert resp.status_code == 400, bad
        assert "Upload-Offset" in resp.json["message"]
    wrong_type = patch_piece(
        api, up["upload_url"], 0, b"x" * 10, headers={"Content-Type": "audio/mpeg"}
    )
    assert wrong_type.status_code == 415
    no_length = api.raw(
        "PATCH",
        up["upload_url"],
        io.BytesIO(b"x" * 10),
        None,
        {"Upload-Offset": "0", "Content-Type": PIECE},
    )
    assert no_length.status_code == 411
    past_end = patch_piece(api, up["upload_url"], 0, b"x" * 101)
    assert past_end.status_code == 413
    assert api("GET", f"/uploads/{up['id']}").json["offset"] == 0


def test_abort_upload_deletes_what_arrived(app: Flask, api: Caller) -> None:
    up = api("POST", "/uploads", json={"filename": "a.mp3", "size": 100}).json
    assert patch_piece(api, up["upload_url"], 0, b"x" * 40).json["offset"] == 40
    with database(app, api.team.id) as s:
        staged_id = s.get(Upload, uuid.UUID(up["id"])).staged_audio_id
    assert staged_file(app, staged_id).exists()
    assert api("DELETE", f"/uploads/{up['id']}").status_code == 204
    assert not staged_file(app, staged_id).exists()
    shown = api("GET", f"/uploads/{up['id']}").json
    assert shown["status"] == "failed"
    assert shown["error"] == "Cancelled."
    late = patch_piece(api, up["upload_url"], 40, b"x" * 60)
    assert late.status_code == 409
    assert "failed" in late.json["message"]
    assert api("DELETE", f"/uploads/{up['id']}").status_code == 409


def _assert_not_audio_refused(app: Flask, api: Caller, resp: TestResponse) -> None:
    assert resp.status_code == 422, resp.json
    assert "not audio" in resp.json["message"].lower()
    assert api.count(Transcript) == 0
    with database(app, api.team.id) as s:
        [upload] = s.scalars(select(Upload)).all()
        assert upload.status == "failed"
        staged = s.get(StagedAudio, upload.staged_audio_id)
        assert staged.wrapped_key is None
    assert not staged_file(app, staged.id).exists()


def test_text_named_mp3_is_not_audio_through_uploads(app: Flask, api: Caller) -> None:
    text = b"Dear diary, today I pretended to be an mp3 file.\n" * 40
    up = api("POST", "/uploads", json={"filename": "notes.mp3", "size": len(text)}).json
    resp = patch_piece(api, up["upload_url"], 0, text)
    _assert_not_audio_refused(app, api, resp)
    shown = api("GET", f"/uploads/{up['id']}").json
    assert shown["status"] == "failed"
    assert "not audio" in shown["error"].lower()


def test_text_named_mp3_is_not_audio_in_one_request(app: Flask, api: Caller) -> None:
    text = b"Dear diary, today I pretended to be an mp3 file.\n" * 40
    resp = upload_file(api, text, filename="notes.mp3")
    _assert_not_audio_refused(app, api, resp)


# --- options --------------------------------------------------------------------------------


def _engine_without_diarization(api: Caller) -> str:
    engines = api("GET", "/engines").json["engines"]
    names = [e["name"] for e in engines if not e["capabilities"]["diarization"]]
    assert names, "every installed engine diarizes"
    return names[0]


BAD_OPTIONS = [
    ({"engine": "no-such-engine"}, "engine", "not available"),
    ({"model": "no-such-model"}, "model", "not installed"),
    ({"diarize": True, "engine": "{plain}"}, "diarize", "cannot tell speakers apart"),
    ({"language": "english please"}, "language", "code such as en"),
    ({"diarize": True, "min_speakers": 0}, "min_speakers", "between 1 and"),
    ({"min_speakers": 2}, "min_speakers", "need speaker detection"),
]


def _fill(options: dict[str, Any], plain: str) -> dict[str, Any]:
    return {k: (v.format(plain=plain) if isinstance(v, str) else v) for k, v in options.items()}


@pytest.mark.parametrize(("options", "field", "message"), BAD_OPTIONS)
@pytest.mark.parametrize("endpoint", ["uploads", "link", "file"])
def test_bad_options_are_422_with_field_and_create_nothing(
    api: Caller, tmp_path: Path, endpoint: str, options: dict, field: str, message: str
) -> None:
    options = _fill(options, _engine_without_diarization(api))
    if endpoint == "uploads":
        resp = api("POST", "/uploads", json={"filename": "a.mp3", "size": 1000, **options})
    elif endpoint == "link":
        resp = api("POST", "/transcripts", json={"url": "https://example.test/a.mp3", **options})
    else:
        query = {k: str(v).lower() if isinstance(v, bool) else v for k, v in options.items()}
        resp = upload_file(api, tone(tmp_path, 1), **query)
    assert resp.status_code == 422, resp.json
    assert resp.json["field"] == field
    assert message in resp.json["message"]
    assert api.count(Upload) == 0
    assert api.count(StagedAudio) == 0
    assert api.count(Transcript) == 0


def test_options_of_the_wrong_type_are_422(api: Caller) -> None:
    resp = api(
        "POST",
        "/uploads",
        json={"filename": "a.mp3", "size": 10, "min_speakers": "two", "surprise": 1},
    )
    assert resp.status_code == 422
    assert resp.json["error"] == "invalid"
    assert "min_speakers" in resp.json["message"]
    assert "surprise: Unknown field." in resp.json["message"]
    size_text = api("POST", "/uploads", json={"filename": "a.mp3", "size": "10"})
    assert size_text.status_code == 422
    assert api.count(Upload) == 0


# --- links ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["ftp://example.test/a.mp3", "file:///etc/passwd", "not a link", "http://example.test/a"]
)
def test_link_refused_is_422_on_url(api: Caller, url: str) -> None:
    resp = api("POST", "/transcripts", json={"url": url})
    assert resp.status_code == 422, resp.json
    assert resp.json["field"] == "url"
    assert resp.json["message"]
    assert api.count(Transcript) == 0


def test_link_is_queued_for_download_then_cancel_and_retry(api: Caller) -> None:
    resp = api(
        "POST", "/transcripts", json={"url": "https://example.test/talk.mp3", "title": "Talk"}
    )
    assert resp.status_code == 202, resp.json
    [t] = resp.json["transcripts"]
    assert t["status"] == "fetching"
    assert t["source"] == "url"
    assert t["title"] == "Talk"
    assert "url" not in t and "source_url" not in t

    cancelled = api("POST", f"/transcripts/{t['id']}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json["status"] == "cancelled"
    assert cancelled.json["id"] == t["id"]
    retry = api("POST", f"/transcripts/{t['id']}/retry")
    assert retry.status_code == 422
    assert "upload the file again" in retry.json["message"]
    assert api("GET", f"/transcripts/{t['id']}").json["status"] == "cancelled"


def test_cancel_then_retry_after_the_audio_is_gone(app: Flask, api: Caller, tmp_path: Path) -> None:
    t = queued_from_file(api, tone(tmp_path, 1))
    with database(app, api.team.id) as s:
        staged_id = s.get(Transcript, uuid.UUID(t["id"])).staged_audio_id
    assert staged_file(app, staged_id).exists()

    cancelled = api("POST", f"/transcripts/{t['id']}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json["status"] == "cancelled"
    assert cancelled.json["queue_position"] is None
    assert not staged_file(app, staged_id).exists()  # cancelling deletes the audio
    twice = api("POST", f"/transcripts/{t['id']}/cancel")
    assert twice.status_code == 422
    assert "already cancelled" in twice.json["message"]

    retry = api("POST", f"/transcripts/{t['id']}/retry")
    assert retry.status_code == 422
    assert "audio of this transcript was deleted" in retry.json["message"]
    content = api("GET", f"/transcripts/{t['id']}/content")
    assert content.status_code == 409
    assert "cancelled" in content.json["message"]


# --- change, delete, list --------------------------------------------------------------------


def test_rename_transcript(api: Caller, tmp_path: Path) -> None:
    t = queued_from_file(api, tone(tmp_path, 1))
    resp = api("PATCH", f"/transcripts/{t['id']}", json={"title": "  Board   call  "})
    assert resp.status_code == 200
    assert resp.json["title"] == "Board call"
    assert api("GET", f"/transcripts/{t['id']}").json["title"] == "Board call"
    # Sending back the whole transcript read earlier changes only its title.
    whole = api("PATCH", f"/transcripts/{t['id']}", json={**t, "title": "Board call 2"})
    assert whole.status_code == 200
    assert whole.json["title"] == "Board call 2"
    assert whole.json["status"] == "queued"
    for body, field_or_text in [
        ({"title": "   "}, "title"),
        ({"title": "x" * 301}, "title"),
    ]:
        bad = api("PATCH", f"/transcripts/{t['id']}", json=body)
        assert bad.status_code == 422
        assert bad.json["field"] == field_or_text
    missing = api("PATCH", f"/transcripts/{t['id']}", json={})
    assert missing.status_code == 422
    assert "title: Missing data" in missing.json["message"]
    assert api("GET", f"/transcripts/{t['id']}").json["title"] == "Board call 2"


def test_delete_transcript(app: Flask, api: Caller, tmp_path: Path) -> None:
    t = queued_from_file(api, tone(tmp_path, 1))
    with database(app, api.team.id) as s:
        staged_id = s.get(Transcript, uuid.UUID(t["id"])).staged_audio_id
    resp = api("DELETE", f"/transcripts/{t['id']}")
    assert resp.status_code == 204
    assert resp.data == b""
    assert api("GET", f"/transcripts/{t['id']}").status_code == 404
    assert api("DELETE", f"/transcripts/{t['id']}").status_code == 404
    assert api.count(Transcript) == 0
    assert not staged_file(app, staged_id).exists()


def test_list_search_sort_filter_and_pages(api: Caller, tmp_path: Path) -> None:
    made = {}
    for title, seconds in [("Alpha meeting", 1), ("beta call", 3), ("Gamma Meeting", 2)]:
        made[title] = queued_from_file(api, tone(tmp_path, seconds), title=title)
    api("POST", f"/transcripts/{made['beta call']['id']}/cancel")

    def titles(**query: Any) -> list[str]:
        resp = api("GET", "/transcripts", query_string=query)
        assert resp.status_code == 200, resp.json
        return [t["title"] for t in resp.json]

    assert titles() == ["Gamma Meeting", "beta call", "Alpha meeting"]  # newest first
    assert titles(sort="oldest") == ["Alpha meeting", "beta call", "Gamma Meeting"]
    assert titles(sort="title") == ["Alpha meeting", "beta call", "Gamma Meeting"]
    assert titles(sort="duration") == ["beta call", "Gamma Meeting", "Alpha meeting"]
    assert titles(q="MEETING", sort="title") == ["Alpha meeting", "Gamma Meeting"]
    assert titles(q="nothing like it") == []
    assert titles(status="cancelled") == ["beta call"]
    assert titles(status="queued", sort="title") == ["Alpha meeting", "Gamma Meeting"]
    assert titles(status="active", sort="title") == ["Alpha meeting", "Gamma Meeting"]
    assert titles(status="completed") == []

    listed = api("GET", "/transcripts", query_string={"status": "queued"}).json
    assert all(isinstance(t["queue_position"], int) for t in listed)

    first = api("GET", "/transcripts", query_string={"sort": "title", "page_size": 2})
    assert [t["title"] for t in first.json] == ["Alpha meeting", "beta call"]
    pagination = json.loads(first.headers["X-Pagination"])
    assert pagination["total"] == 3
    assert pagination["total_pages"] == 2
    second = api("GET", "/transcripts", query_string={"sort": "title", "page_size": 2, "page": 2})
    assert [t["title"] for t in second.json] == ["Gamma Meeting"]

    for query, name in [({"sort": "loudest"}, "sort"), ({"status": "done"}, "status")]:
        bad = api("GET", "/transcripts", query_string=query)
        assert bad.status_code == 422
        assert bad.json["error"] == "invalid"
        assert name in bad.json["message"]


# --- another workspace's ids -----------------------------------------------------------------


def test_another_workspaces_ids_answer_like_missing_ones(
    app: Flask, api: Caller, web2: Web, tmp_path: Path
) -> None:
    t = queued_from_file(api, tone(tmp_path, 1), title="Private")
    up = api("POST", "/uploads", json={"filename": "a.mp3", "size": 100}).json

    other = make_user(app)
    web2.login(other)
    team_y = create_team(web2, "Other Team")
    spy = Caller(web2, new_key(web2, team_y.slug), team=team_y)
    assert spy("GET", "/transcripts").json == []

    for foreign_id, missing_id, calls in [
        (
            t["id"],
            str(uuid.uuid4()),
            [
                ("GET", "/transcripts/{}", {}),
                ("PATCH", "/transcripts/{}", {"json": {"title": "Mine now"}}),
                ("GET", "/transcripts/{}/content", {}),
                ("POST", "/transcripts/{}/cancel", {}),
                ("POST", "/transcripts/{}/retry", {}),
                ("PATCH", "/transcripts/{}/speakers/SPEAKER_00", {"json": {"name": "X"}}),
                ("DELETE", "/transcripts/{}", {}),
            ],
        ),
        (
            up["id"],
            str(uuid.uuid4()),
            [
                ("GET", "/uploads/{}", {}),
                (
                    "PATCH",
                    "/uploads/{}",
                    {"data": b"x" * 10, "headers": {"Upload-Offset": "0", "Content-Type": PIECE}},
                ),
                ("DELETE", "/uploads/{}", {}),
            ],
        ),
    ]:
        for method, path, kw in calls:
            foreign = spy(method, path.format(foreign_id), **kw)
            missing = spy(method, path.format(missing_id), **kw)
            assert foreign.status_code == missing.status_code == 404, (method, path)
            assert foreign.json == missing.json
            assert foreign.json["message"]

    shown = api("GET", f"/transcripts/{t['id']}").json
    assert shown["title"] == "Private"
    assert shown["status"] == "queued"
    assert api("GET", f"/uploads/{up['id']}").json == {
        "id": up["id"],
        "offset": 0,
        "size": 100,
        "status": "open",
        "error": None,
    }


# --- a third-party engine that can diarize: speaker counts and model comparison -------------


class ListedOnlyEngine:
    """Offered for choosing, never run here: option checks are all these tests need."""

    name = "test-diarizer"
    title = "Test Diarizer"
    capabilities = EngineCapabilities(diarization=True, alignment=True)

    def installed_models(self, env: EngineEnv) -> list[str]:
        return ["small-test", "large-test"]

    def load(self, model: str, env: EngineEnv) -> Any:
        raise EngineError("This test engine does not run.")


class DiarizerPlugin:
    @hookimpl
    def verbatim_plugin_info(self) -> PluginInfo:
        return PluginInfo("test-diarizer", "Test Diarizer", "A diarizing engine for tests")

    @hookimpl
    def verbatim_transcription_engines(self) -> list[Any]:
        return [ListedOnlyEngine()]


@pytest.fixture(scope="module")
def diarizer_app(app: Flask) -> Iterator[Flask]:
    """A second app of the same installation with the plugin installed (the shared app's
    plugin list stays as other tests expect it)."""
    second = create_app()
    second.extensions["verbatim.plugins"].register(DiarizerPlugin(), first_party=False)
    yield second
    second.extensions["verbatim.engine"].dispose()


@pytest.fixture
def diarizer_api(diarizer_app: Flask, owner: User, web: Web) -> Caller:
    client = Web(diarizer_app, remote_addr=web.client.environ_base["REMOTE_ADDR"])
    client.login(owner)
    team = create_team(client, "Diarizing Team")
    assert (
        client.post(f"/w/{team.slug}/plugins/test-diarizer", {"enabled": "on"}).status_code == 302
    )
    return Caller(client, new_key(client, team.slug), team=team)


def test_engine_of_an_enabled_plugin_is_offered_only_there(
    diarizer_api: Caller, api: Caller
) -> None:
    engines = {e["name"]: e for e in diarizer_api("GET", "/engines").json["engines"]}
    assert engines["test-diarizer"]["models"] == ["small-test", "large-test"]
    assert engines["test-diarizer"]["capabilities"]["diarization"] is True
    assert engines["test-diarizer"]["title"] == "Test Diarizer"
    # The same installation, a workspace without the plugin on: not offered, not accepted.
    plain = Caller(Web(diarizer_api.web.app, "10.9.9.9"), api.raw_key, team=api.team)
    assert "test-diarizer" not in {e["name"] for e in plain("GET", "/engines").json["engines"]}
    resp = plain(
        "POST", "/uploads", json={"filename": "a.mp3", "size": 10, "engine": "test-diarizer"}
    )
    assert resp.status_code == 422
    assert resp.json["field"] == "engine"


def test_speaker_counts_are_checked(diarizer_api: Caller) -> None:
    base = {"filename": "a.mp3", "size": 1000, "engine": "test-diarizer", "diarize": True}
    resp = diarizer_api("POST", "/uploads", json={**base, "min_speakers": 4, "max_speakers": 2})
    assert resp.status_code == 422
    assert resp.json["field"] == "min_speakers"
    assert "above the maximum" in resp.json["message"]
    over = diarizer_api("POST", "/uploads", json={**base, "max_speakers": 99})
    assert over.status_code == 422
    assert over.json["field"] == "max_speakers"
    assert diarizer_api.count(Upload) == 0

    ok = diarizer_api("POST", "/uploads", json={**base, "min_speakers": 2, "max_speakers": 4})
    assert ok.status_code == 201, ok.json
    with database(diarizer_api.web.app, diarizer_api.team.id) as s:
        upload = s.get(Upload, uuid.UUID(ok.json["id"]))
        assert upload.options["engine"] == "test-diarizer"
        assert upload.options["model"] == "small-test"
        assert upload.options["diarize"] is True
        assert (upload.options["min_speakers"], upload.options["max_speakers"]) == (2, 4)
    assert diarizer_api("DELETE", f"/uploads/{ok.json['id']}").status_code == 204


def test_link_compared_across_two_models(diarizer_api: Caller) -> None:
    body = {"url": "https://example.test/panel.mp3", "title": "Panel", "engine": "test-diarizer"}
    same = diarizer_api("POST", "/transcripts", json={**body, "compare_model": "small-test"})
    assert same.status_code == 422
    assert same.json["field"] == "compare_model"
    resp = diarizer_api("POST", "/transcripts", json={**body, "compare_model": "large-test"})
    assert resp.status_code == 202, resp.json
    pair = resp.json["transcripts"]
    assert [t["model"] for t in pair] == ["small-test", "large-test"]
    assert pair[0]["compare_group"] == pair[1]["compare_group"] is not None
    assert {t["status"] for t in pair} == {"fetching"}
    for t in pair:  # nothing is left to download from a test domain
        assert diarizer_api("POST", f"/transcripts/{t['id']}/cancel").status_code == 200


# --- OpenAPI ------------------------------------------------------------------------------------


def test_openapi_describes_raw_bodies_and_stays_valid(web: Web) -> None:
    spec = web.get("/api/v1/openapi.json").json
    validate(spec)
    paths = spec["paths"]
    whole = paths["/api/v1/transcripts/file"]["post"]
    assert "application/octet-stream" in whole["requestBody"]["content"]
    assert {"202", "413", "415", "422"} <= set(whole["responses"])
    assert {"filename", "title", "engine", "model", "diarize"} <= {
        p["name"] for p in whole["parameters"] if p["in"] == "query"
    }
    piece = paths["/api/v1/uploads/{upload_id}"]["patch"]
    assert PIECE in piece["requestBody"]["content"]
    assert any(p["name"] == "Upload-Offset" and p["in"] == "header" for p in piece["parameters"])
    assert {"200", "400", "409", "413"} <= set(piece["responses"])
    listing = paths["/api/v1/transcripts"]["get"]
    assert {"q", "sort", "status", "page", "page_size"} <= {
        p["name"] for p in listing["parameters"]
    }
    link = paths["/api/v1/transcripts"]["post"]
    assert "requestBody" in link and "422" in link["responses"]
