"""Export all of my data (issue 9): only my data, every format readable, one file per
request however often the job runs, a link that expires, nobody else's download."""

from __future__ import annotations

import base64
import io
import json
import uuid
import zipfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import docx
import pytest
from flask import Flask
from sqlalchemy import delete, select

from app.ai.models import AiConversation, AiMessage, AiSummary, AiUsage, RunStatus
from app.auth.api_keys import create_api_key
from app.auth.models import User
from app.billing.models import UsageRecord, UsageState
from app.db import as_utc, utcnow
from app.errors import Conflict
from app.extensions import db
from app.privacy import exports
from app.privacy.models import PrivacyRequest, RequestStatus
from app.transcripts.models import Status
from tests.integration.test_api_ai import conforms, spec_of
from tests.integration.test_workspaces import add_member, database
from tests.private.support import document, make_keyring, make_private_transcript, stored_envelope
from tests.transcripts import ApiCaller, Team, api_caller, make_transcript
from tests.web import make_user, unique_email

A_TEXT = "Alpha quarterly planning starts with the roadmap."
B_TEXT = "Bravo confidential salary numbers for the board."
B_NAME = "Bertha Otherperson"
B_TITLE = "Bertha private interview"


@dataclass
class Pair:
    """Two members of one team, each with their own transcripts, AI results, usage and key."""

    team: Team
    b: User
    a_transcripts: list[uuid.UUID]
    a_failed: uuid.UUID
    a_private: uuid.UUID
    a_summary: str
    b_transcript: uuid.UUID
    b_key_prefix: str
    b_key: str  # B is an admin: B's key acts for B


def _ai(app: Flask, ws: uuid.UUID, transcript_id: uuid.UUID, user_id: uuid.UUID, tag: str):
    done = {"status": RunStatus.COMPLETED, "provider": "extractive", "model": "extractive-1"}
    with database(app, ws) as s:
        s.add(
            AiSummary(
                transcript_id=transcript_id,
                template_key="overview",
                template_title="Overview",
                prompt="Write a short overview.",
                revision=1,
                content=f"{tag} summary",
                created_by_id=user_id,
                finished_at=utcnow(),
                **done,
            )
        )
        chat = AiConversation(user_id=user_id, transcript_id=transcript_id, scope=transcript_id.hex)
        s.add(chat)
        s.flush()
        s.add(AiMessage(conversation_id=chat.id, role="user", content=f"{tag} question", **done))
        s.add(AiMessage(conversation_id=chat.id, role="assistant", content=f"{tag} answer", **done))
        s.add(
            UsageRecord(
                transcript_id=transcript_id,
                user_id=user_id,
                state=UsageState.CHARGED,
                seconds=65.0,
                model=f"{tag}-model",
            )
        )
        s.add(AiUsage(user_id=user_id, feature="summary", provider="extractive", model=f"{tag}-ai"))
        s.commit()


@pytest.fixture
def pair(app: Flask, team: Team) -> Pair:
    ws = team.workspace.id
    a = team.user
    b = make_user(app, unique_email("bertha"), name=B_NAME)
    add_member(app, ws, b, "admin")
    segments = [(0.0, 4.0, A_TEXT, "S0"), (4.0, 8.0, "Then we ship it in May.", "S1")]
    a_ids = [
        make_transcript(
            app,
            ws,
            f"Alpha meeting {n}",
            segments=segments,
            speakers={"S0": "Ana", "S1": "Al"},
            uploader_id=a.id,
        )
        for n in range(2)
    ]
    a_failed = make_transcript(
        app, ws, "Alpha upload that failed", status=Status.FAILED, uploader_id=a.id
    )
    keys = make_keyring(app, a.id)
    a_private = make_private_transcript(
        app, ws, keys, document([(0.0, 2.0, "sealed words", None)]), title="Alpha private"
    )
    b_id = make_transcript(
        app,
        ws,
        B_TITLE,
        segments=[(0.0, 5.0, B_TEXT, "S0")],
        speakers={"S0": "Bo"},
        uploader_id=b.id,
    )
    _ai(app, ws, a_ids[0], a.id, "Alpha")
    _ai(app, ws, b_id, b.id, "Bertha")
    with database(app, ws) as s:
        # A summary B asked for of A's transcript is A's data; B's name stays out.
        s.add(
            AiSummary(
                transcript_id=a_ids[1],
                template_key="actions",
                template_title="Action items",
                prompt="List the actions.",
                revision=1,
                content="Alpha action items",
                created_by_id=b.id,
                status=RunStatus.COMPLETED,
            )
        )
        s.commit()
        b_key, b_raw = create_api_key("Bertha key", b.id)
    return Pair(team, b, a_ids, a_failed, a_private, "Alpha summary", b_id, b_key.prefix, b_raw)


def _ready(app: Flask, run_jobs, request_id: uuid.UUID) -> PrivacyRequest:  # type: ignore[no-untyped-def]
    run_jobs("default")
    with database(app) as s:
        req = s.get(PrivacyRequest, request_id)
    assert req is not None and req.status == RequestStatus.READY, (req.status, req.detail)
    return req


def _latest(app: Flask, user_id: uuid.UUID) -> PrivacyRequest:
    with database(app) as s:
        return s.scalars(
            select(PrivacyRequest)
            .where(PrivacyRequest.user_id == user_id)
            .order_by(PrivacyRequest.created_at.desc())
        ).first()


def _zip(body: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


def test_my_export_holds_all_of_my_data_and_nothing_of_another_member(
    app, pair, run_jobs, mailbox, own_mail_only
):
    team, a = pair.team, pair.team.user
    resp = team.web.post(
        "/account/privacy/exports", {"formats": ["txt", "srt", "vtt", "docx", "pdf"]}
    )
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("/account/privacy#privacy-export")
    req = _latest(app, a.id)
    assert req.status == RequestStatus.PENDING
    assert req.subject == exports.subject_of(a.id) and a.email not in req.subject
    assert as_utc(req.due_at) - as_utc(req.created_at) == timedelta(days=30)
    req = _ready(app, run_jobs, req.id)
    assert req.expires_at is not None and req.file_size > 0
    # Encrypted at rest: the file on disk is not a zip and holds no text of it.
    on_disk = (Path(app.extensions["verbatim.settings"].export_dir) / req.file_name).read_bytes()
    assert not on_disk.startswith(b"PK") and b"account.json" not in on_disk

    resp = team.web.get(f"/account/privacy/exports/{req.id}/download")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert resp.headers["Content-Type"] == "application/zip"
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    assert resp.headers["Cache-Control"] == "private, no-store"
    files = _zip(resp.data)

    account = json.loads(files["account.json"])
    assert account["email"] == a.email and account["id"] == str(a.id)
    assert [m["method"] for m in account["sign_in_methods"]] == ["password"]
    memberships = json.loads(files["memberships.json"])
    assert {m["workspace_slug"] for m in memberships} >= {team.slug}
    assert {m["role"] for m in memberships if m["workspace_slug"] == team.slug} == {"owner"}

    index = json.loads(files["transcripts.json"])
    mine = {*map(str, pair.a_transcripts), str(pair.a_failed), str(pair.a_private)}
    assert {t["id"] for t in index} == mine
    for tid in map(str, pair.a_transcripts):
        base = f"transcripts/{tid}/transcript"
        doc = json.loads(files[f"{base}.json"])
        assert doc["format"] == "verbatim.transcript"
        assert doc["segments"][0]["text"] == A_TEXT
        assert A_TEXT in files[f"{base}.txt"].decode()
        assert "00:00:00,000 --> " in files[f"{base}.srt"].decode()
        assert files[f"{base}.vtt"].decode().startswith("WEBVTT")
        opened = docx.Document(io.BytesIO(files[f"{base}.docx"]))
        assert any(A_TEXT in p.text for p in opened.paragraphs)
        assert files[f"{base}.pdf"].startswith(b"%PDF-")
    failed = json.loads(files[f"transcripts/{pair.a_failed}/transcript.json"])
    assert failed["transcript"]["status"] == "failed" and failed["segments"] == []
    private = json.loads(files[f"transcripts/{pair.a_private}/private.json"])
    stored = stored_envelope(app, team.workspace.id, pair.a_private)
    assert private["envelope"] == base64.b64encode(stored).decode()
    assert "sealed words" not in json.dumps(private)
    assert f"transcripts/{pair.a_private}/transcript.json" not in files

    summaries = json.loads(files["summaries.json"])
    assert sorted(s["text"] for s in summaries) == ["Alpha action items", "Alpha summary"]
    chats = json.loads(files["conversations.json"])
    assert [m["text"] for c in chats for m in c["messages"]] == ["Alpha question", "Alpha answer"]
    usage = json.loads(files["usage.json"])
    assert [u["model"] for u in usage["transcription"]] == ["Alpha-model"]
    assert [u["model"] for u in usage["ai"]] == ["Alpha-ai"]
    assert json.loads(files["api_keys.json"]) == []
    assert json.loads(files["voice_lab.json"]) == []
    assert "README.txt" in files and "errors.txt" not in files

    # Nothing of the other member, anywhere in the zip; no secrets of mine either.
    with database(app) as s:
        a_hash = s.scalar(select(User.password_hash).where(User.id == a.id))
    leaks = [
        pair.b.email,
        B_NAME,
        B_TITLE,
        B_TEXT,
        "Bertha",
        str(pair.b.id),
        str(pair.b_transcript),
        pair.b_key_prefix,
        a_hash,
    ]
    for name, body in files.items():
        text = body.decode("utf-8", errors="ignore") if not name.endswith((".docx", ".pdf")) else ""
        if name.endswith(".docx"):
            text = "\n".join(p.text for p in docx.Document(io.BytesIO(body)).paragraphs)
        for leak in leaks:
            assert leak not in text and leak.encode() not in body, (name, leak)

    with database(app) as s:
        assert s.get(PrivacyRequest, req.id).downloads == 1
    run_jobs("email")
    mail = mailbox.last(a.email, "data export is ready")
    assert mail.link().endswith("/account/privacy#privacy-export")


def test_api_flow_and_the_keys_i_made(app, pair, run_jobs):
    team = pair.team
    call = api_caller(team)
    assert call("POST", "/me/exports", json={"formats": ["rtf"]}).status_code == 422
    asked = call("POST", "/me/exports", json={"formats": ["srt", "json"]})
    assert asked.status_code == 202, asked.json
    assert asked.json["status"] == "pending" and asked.json["formats"] == ["json", "srt"]
    assert asked.json["download_url"] is None
    again = call("POST", "/me/exports", json={})
    assert again.status_code == 409 and "already being prepared" in again.json["message"]
    export_id = asked.json["id"]
    early = call("GET", f"/me/exports/{export_id}/download")
    assert early.status_code == 409

    run_jobs("default")
    status = call("GET", f"/me/exports/{export_id}")
    assert status.status_code == 200 and status.json["status"] == "ready"
    listed = call("GET", "/me/exports").json
    assert [e["id"] for e in listed["exports"]] == [export_id]
    # The answers are what the OpenAPI description says.
    spec = spec_of(team.web)
    conforms(spec, "/api/v1/me/exports", "post", "202", asked.json)
    conforms(spec, "/api/v1/me/exports/{export_id}", "get", "200", status.json)
    conforms(spec, "/api/v1/me/exports", "get", "200", listed)
    conforms(spec, "/api/v1/me/exports", "post", "409", again.json)
    got = call("GET", status.json["download_url"])
    assert got.status_code == 200 and got.headers["Content-Type"] == "application/zip"
    files = _zip(got.data)
    tid = pair.a_transcripts[0]
    assert "Ana: Alpha quarterly planning" in files[f"transcripts/{tid}/transcript.srt"].decode()
    assert f"transcripts/{tid}/transcript.txt" not in files
    keys = json.loads(files["api_keys.json"])
    assert [(k["workspace"], k["revoked_at"]) for k in keys] == [(team.slug, None)]
    assert all("hash" not in k for k in keys) and keys[0]["prefix"].startswith("vb_")
    # With what the key did before the export was made: metadata only.
    calls = [(r["method"], r["endpoint"], r["status"]) for r in keys[0]["requests"]]
    assert calls == [
        ("POST", "/api/v1/me/exports", 422),
        ("POST", "/api/v1/me/exports", 202),
        ("POST", "/api/v1/me/exports", 409),
        ("GET", "/api/v1/me/exports/<uuid:export_id>/download", 409),
    ]

    # Another member's key acts for that member: my export is not theirs.
    b_call = ApiCaller(team.web, pair.b_key)
    missing = b_call("GET", f"/me/exports/{uuid.uuid4()}")
    foreign = b_call("GET", f"/me/exports/{export_id}")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json == missing.json
    assert b_call("GET", f"/me/exports/{export_id}/download").status_code == 404
    assert b_call("GET", "/me/exports").json == {"exports": []}


def test_another_person_gets_404_and_an_expired_link_410(app, pair, run_jobs, web2):
    team, a = pair.team, pair.team.user
    with app.app_context():
        req = exports.request_export(db.session.get(User, a.id), ["txt"])
        request_id = req.id
        db.session.remove()
    req = _ready(app, run_jobs, request_id)
    url = f"/account/privacy/exports/{req.id}/download"

    web2.login(pair.b)
    other = web2.get(url)
    nobody = uuid.uuid4()
    missing = web2.get(f"/account/privacy/exports/{nobody}/download")
    assert other.status_code == missing.status_code == 404
    # The same page but for the URL itself (the language switcher links back to it).
    assert other.get_data(as_text=True).replace(str(req.id), "ID") == missing.get_data(
        as_text=True
    ).replace(str(nobody), "ID")

    path = Path(app.extensions["verbatim.settings"].export_dir) / req.file_name
    expires = as_utc(req.expires_at)
    with app.app_context():
        assert exports.expire_exports(now=expires - timedelta(minutes=1))["expired"] == 0
        db.session.remove()
    assert path.exists() and team.web.get(url).status_code == 200
    with app.app_context():
        counts = exports.expire_exports(now=expires + timedelta(seconds=1))
        again = exports.expire_exports(now=expires + timedelta(hours=1))
        db.session.remove()
    assert counts["expired"] >= 1 and counts["removed"] >= 1
    assert not path.exists()
    with database(app) as s:
        row = s.get(PrivacyRequest, req.id)
    assert row.status == RequestStatus.EXPIRED and row.file_name is None and row.file_key is None
    assert again == {"expired": 0, "removed": 0, "failed": 0}
    gone = team.web.get(url)
    assert gone.status_code == 410
    assert "has expired" in gone.get_data(as_text=True)


def test_the_job_run_twice_makes_one_file(app, team, export_dir):
    before = set(Path(export_dir).iterdir())
    with app.app_context():
        req = exports.request_export(db.session.get(User, team.user.id), [])
        request_id = req.id
        first = exports.run_export(request_id)
        second = exports.run_export(request_id)
        db.session.remove()
    assert "nothing to do (ready)" in second, (first, second)
    made = set(Path(export_dir).iterdir()) - before
    with database(app) as s:
        row = s.get(PrivacyRequest, request_id)
    assert [p.name for p in made] == [row.file_name]


def test_one_export_at_a_time_and_a_daily_limit(app, web):
    user = make_user(app)
    web.login(user)
    with app.app_context():
        first = exports.request_export(db.session.get(User, user.id), []).id
        with pytest.raises(Conflict, match="already being prepared"):
            exports.request_export(db.session.get(User, user.id), ["pdf"])
        db.session.remove()
    page = web.post("/account/privacy/exports", {"formats": ["txt"]})
    assert page.status_code == 302 and _count(app, user.id) == 1
    with app.app_context():
        exports.run_export(first)
        for _ in range(exports.MAX_PER_DAY - 1):
            exports.run_export(exports.request_export(db.session.get(User, user.id), []).id)
        with pytest.raises(exports.TooManyExports):
            exports.request_export(db.session.get(User, user.id), [])
        # A day later the person may ask again.
        later = exports.request_export(
            db.session.get(User, user.id), [], now=utcnow() + timedelta(days=1, minutes=1)
        )
        assert later.status == RequestStatus.PENDING
        db.session.remove()


def _count(app: Flask, user_id: uuid.UUID) -> int:
    with database(app) as s:
        return len(
            s.scalars(select(PrivacyRequest.id).where(PrivacyRequest.user_id == user_id)).all()
        )


def test_a_lost_job_fails_its_request_and_a_gone_person_loses_the_file(app, run_jobs):
    lost = make_user(app)
    gone = make_user(app)
    with app.app_context():
        waiting = exports.request_export(db.session.get(User, lost.id), [])
        done = exports.request_export(db.session.get(User, gone.id), [])
        waiting_id, done_id = waiting.id, done.id
        exports.run_export(done_id)
        db.session.remove()
    with database(app) as s:
        file_name = s.get(PrivacyRequest, done_id).file_name
    path = Path(app.extensions["verbatim.settings"].export_dir) / file_name
    assert path.exists()
    with database(app) as s:
        s.execute(delete(User).where(User.id == gone.id))
        s.commit()
    with app.app_context():
        counts = exports.expire_exports(now=utcnow() + exports.STALE_AFTER + timedelta(minutes=1))
        db.session.remove()
    assert counts["failed"] >= 1 and not path.exists()
    with database(app) as s:
        assert s.get(PrivacyRequest, waiting_id).status == RequestStatus.FAILED
        row = s.get(PrivacyRequest, done_id)
    assert row.status == RequestStatus.EXPIRED and row.user_id is None
    assert row.subject == exports.subject_of(gone.id)
    # Failed: the person can ask again.
    with app.app_context():
        assert exports.request_export(db.session.get(User, lost.id), []).status == "pending"
        db.session.remove()


def test_the_privacy_page_offers_the_export_and_then_the_download(app, team, run_jobs):
    page = team.web.get("/account/privacy")
    assert page.status_code == 200, page.get_data(as_text=True)[:300]
    body = page.get_data(as_text=True)
    assert 'id="privacy-export"' in body and 'name="formats" value="pdf"' in body
    team.web.post("/account/privacy/exports", {"formats": ["txt"]})
    assert "being prepared" in team.web.get("/account/privacy").get_data(as_text=True)
    req = _ready(app, run_jobs, _latest(app, team.user.id).id)
    body = team.web.get("/account/privacy").get_data(as_text=True)
    assert f"/account/privacy/exports/{req.id}/download" in body
