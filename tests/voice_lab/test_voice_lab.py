"""Voice Lab end to end: consent on the upload, the audio kept (encrypted) when the real job
completes, withdrawal before and after a release, the operators' release zip, the API, and
account deletion."""

from __future__ import annotations

import io
import json
import re
import uuid
import zipfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from markupsafe import escape
from sqlalchemy import select
from werkzeug.test import TestResponse

from app.audit.models import AuditEvent
from app.db import utcnow
from app.extensions import db
from app.ingest import staging
from app.ingest.models import StagedAudio
from app.privacy import voice_lab
from app.privacy.models import ContributionStatus, VoiceContribution, VoiceRelease
from app.transcripts.models import Status, Transcript, TranscriptSegment
from tests.integration.test_workspaces import database
from tests.private.support import make_keyring
from tests.speech import make_speech, supported_formats
from tests.transcripts import Team, api_caller, make_team
from tests.web import Web

PIECE = "application/offset+octet-stream"
CONSENT = {"voice_lab": True, "voice_lab_consent": voice_lab.CONSENT_VERSION}


# --- helpers ----------------------------------------------------------------------------------


def open_upload(team: Team, data: bytes, name: str = "voice.mp3", **extra: Any) -> TestResponse:
    return team.web.send(
        "POST", team.url("/uploads/"), json={"filename": name, "size": len(data), **extra}
    )


def upload(team: Team, data: bytes, **extra: Any) -> uuid.UUID:
    """The whole file through the browser's upload protocol; the transcript's id."""
    created = open_upload(team, data, **extra)
    assert created.status_code == 201, created.json
    resp = team.web.send(
        "PATCH",
        created.json["upload_url"],
        data=data,
        headers={"Upload-Offset": "0", "Content-Type": PIECE},
    )
    assert resp.status_code == 200, resp.json
    [made] = resp.json["transcripts"]
    return uuid.UUID(made["id"])


def contribution_for(app: Flask, transcript_id: uuid.UUID) -> VoiceContribution | None:
    with database(app) as s:
        c = s.scalar(
            select(VoiceContribution).where(VoiceContribution.transcript_id == transcript_id)
        )
        if c is not None:
            s.expunge(c)
        return c


def contribution(app: Flask, contribution_id: uuid.UUID) -> VoiceContribution:
    with database(app) as s:
        c = s.get(VoiceContribution, contribution_id)
        assert c is not None
        s.expunge(c)
        return c


def transcript(app: Flask, workspace_id: uuid.UUID, tid: uuid.UUID) -> Transcript:
    with database(app, workspace_id) as s:
        t = s.get(Transcript, tid)
        assert t is not None
        s.expunge(t)
        return t


def staged_gone(app: Flask, workspace_id: uuid.UUID, t: Transcript) -> bool:
    with database(app, workspace_id) as s:
        staged = s.get(StagedAudio, t.staged_audio_id)
        assert staged is not None
        return (
            staged.wrapped_key is None
            and staged.discarded_at is not None
            and not staging.path_of(staged).exists()
        )


def kept_audio(app: Flask, c: VoiceContribution) -> bytes:
    """The kept file, decrypted the way the release zip reads it."""
    with app.app_context(), voice_lab.reader(c) as source:
        return source.read_at(0, source.size)


def given(
    app: Flask, team: Team, speech: bytes, run_jobs: Callable[..., None]
) -> VoiceContribution:
    """A recording given with consent and transcribed by the real worker: HELD."""
    tid = upload(team, speech, **CONSENT)
    run_jobs("gpu")
    c = contribution_for(app, tid)
    assert c is not None and c.status == ContributionStatus.HELD, c and c.status
    return c


# --- giving -----------------------------------------------------------------------------------


def test_consented_upload_keeps_the_audio_encrypted_with_its_consent(
    app: Flask, team: Team, speech: bytes, run_jobs: Callable[..., None], voice_dir: Path
) -> None:
    before = utcnow()
    tid = upload(team, speech, **CONSENT)
    waiting = contribution_for(app, tid)
    assert waiting is not None
    assert waiting.status == ContributionStatus.WAITING
    assert waiting.user_id == team.user.id and waiting.workspace_id == team.workspace.id
    assert waiting.licence == "CC-BY-SA-4.0"
    assert waiting.consent_version == voice_lab.CONSENT_VERSION
    assert waiting.consent_sha256 == voice_lab.consent_sha256()
    assert len(waiting.consent_sha256) == 64
    assert before - timedelta(seconds=5) <= waiting.consented_at <= utcnow()
    assert waiting.file_name is None and waiting.file_key is None

    run_jobs("gpu")

    t = transcript(app, team.workspace.id, tid)
    assert t.status == Status.COMPLETED
    assert staged_gone(app, team.workspace.id, t)  # the staged copy goes, as always
    c = contribution(app, waiting.id)
    assert c.status == ContributionStatus.HELD
    assert c.file_name and c.file_name.startswith(c.id.hex) and c.file_name.endswith(".mp3.vlab")
    assert c.file_key is not None
    path = voice_dir / c.file_name
    assert path.is_file()
    assert list(voice_dir.iterdir()) == [path]
    stored = path.read_bytes()
    assert speech[:4096] not in stored and speech[-4096:] not in stored  # ciphertext at rest
    assert kept_audio(app, c) == speech
    assert c.duration_seconds == pytest.approx(t.duration_seconds)
    assert c.language == t.language
    with database(app, team.workspace.id) as s:
        texts = s.scalars(
            select(TranscriptSegment.text)
            .where(TranscriptSegment.transcript_id == tid)
            .order_by(TranscriptSegment.position)
        ).all()
        actions = s.scalars(select(AuditEvent.action)).all()
    assert c.text == " ".join(x.strip() for x in texts if x.strip())
    assert "voice_lab.contributed" in actions

    # The audio sweeper leaves Voice Lab alone, even a month on.
    with app.app_context():
        staging.sweep(now=utcnow() + timedelta(days=30))
    assert path.is_file()
    assert kept_audio(app, c) == speech

    # The person sees it on their page, with a way to withdraw it.
    page = team.web.get("/account/voice-lab").get_data(as_text=True)
    assert f'name="contribution_id" value="{c.id}"' in page
    assert "kept, not released yet" in page


def test_without_consent_the_audio_is_deleted_as_always(
    app: Flask, team: Team, speech: bytes, run_jobs: Callable[..., None], voice_dir: Path
) -> None:
    tid = upload(team, speech, voice_lab=False)
    run_jobs("gpu")
    t = transcript(app, team.workspace.id, tid)
    assert t.status == Status.COMPLETED
    assert staged_gone(app, team.workspace.id, t)
    assert contribution_for(app, tid) is None
    assert not voice_dir.exists() or list(voice_dir.iterdir()) == []


def test_consent_must_name_the_wording_shown(app: Flask, team: Team, speech: bytes) -> None:
    missing = open_upload(team, speech, voice_lab=True)
    assert missing.status_code == 422
    assert missing.json["field"] == "voice_lab_consent"
    stale = open_upload(team, speech, voice_lab=True, voice_lab_consent="0")
    assert stale.status_code == 422
    assert f'"{voice_lab.CONSENT_VERSION}"' in stale.json["message"]
    with database(app) as s:
        assert not s.scalars(
            select(VoiceContribution).where(VoiceContribution.user_id == team.user.id)
        ).all()


def test_a_private_transcript_cannot_be_given(app: Flask, team: Team, speech: bytes) -> None:
    make_keyring(app, team.user.id, default=True)
    # Asked for outright, and by default (the person's default is private).
    for extra in ({"private": True}, {}):
        resp = open_upload(team, speech, **CONSENT, **extra)
        assert resp.status_code == 409, resp.json
        assert "Private Transcript cannot be given to Voice Lab" in resp.json["message"]
    assert open_upload(team, speech, **CONSENT, private=False).status_code == 201


def test_a_cancelled_transcript_drops_its_contribution(
    app: Flask, team: Team, speech: bytes, voice_dir: Path
) -> None:
    tid = upload(team, speech, **CONSENT)
    waiting = contribution_for(app, tid)
    assert waiting is not None and waiting.status == ContributionStatus.WAITING
    resp = team.web.post(team.url(f"/transcripts/{tid}/cancel"))
    assert resp.status_code in (200, 302), resp.get_data(as_text=True)[:300]
    assert staged_gone(app, team.workspace.id, transcript(app, team.workspace.id, tid))
    c = contribution(app, waiting.id)
    assert c.status == ContributionStatus.DELETED
    assert c.file_name is None and c.file_key is None and c.text == ""
    assert not voice_dir.exists() or list(voice_dir.iterdir()) == []


def test_voice_lab_is_never_the_staging_directory(app: Flask, monkeypatch) -> None:
    cfg = app.extensions["verbatim.settings"]
    monkeypatch.setattr(cfg, "voice_lab_dir", cfg.staging_dir)
    with app.app_context(), pytest.raises(RuntimeError, match="staging"):
        voice_lab.root()


# --- withdrawing and releasing ----------------------------------------------------------------


def test_withdraw_before_release_deletes_audio_key_and_text(
    app: Flask, team: Team, speech: bytes, run_jobs: Callable[..., None], voice_dir: Path
) -> None:
    c = given(app, team, speech, run_jobs)
    path = voice_dir / str(c.file_name)
    assert path.is_file()
    resp = team.web.post(
        "/account/voice-lab/withdraw",
        {"contribution_id": str(c.id), "next": "/account/voice-lab"},
    )
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/account/voice-lab"
    gone = contribution(app, c.id)
    assert gone.status == ContributionStatus.DELETED
    assert gone.file_name is None and gone.file_key is None and gone.text == ""
    assert gone.withdrawn_at is not None
    assert not path.exists()
    page = team.web.get("/account/voice-lab").get_data(as_text=True)
    assert "The recording, its key and its text are deleted." in page
    assert str(c.id) not in page
    # Once gone it is gone: a second withdrawal finds nothing.
    again = team.web.post("/account/voice-lab/withdraw", {"contribution_id": str(c.id)})
    assert again.status_code == 302
    assert "No such contribution." in team.web.get("/account/voice-lab").get_data(as_text=True)


def test_someone_else_cannot_withdraw_a_contribution(
    app: Flask,
    team: Team,
    speech: bytes,
    run_jobs: Callable[..., None],
    web2: Web,
    voice_dir: Path,
) -> None:
    c = given(app, team, speech, run_jobs)
    other = make_team(app, web2, "Other Team")
    resp = other.web.post("/account/voice-lab/withdraw", {"contribution_id": str(c.id)})
    assert resp.status_code == 302
    assert contribution(app, c.id).status == ContributionStatus.HELD
    assert (voice_dir / str(c.file_name)).is_file()
    assert str(c.id) not in other.web.get("/account/voice-lab").get_data(as_text=True)


def test_release_zip_then_withdraw_after_release(
    app: Flask,
    team: Team,
    speech: bytes,
    run_jobs: Callable[..., None],
    voice_dir: Path,
    operator: Web,
) -> None:
    c = given(app, team, speech, run_jobs)
    page = operator.get("/operator/voice-lab")
    assert page.status_code == 200
    with database(app) as s:
        held = len(
            s.scalars(
                select(VoiceContribution).where(VoiceContribution.status == ContributionStatus.HELD)
            ).all()
        )
        last = s.scalar(select(VoiceRelease.number).order_by(VoiceRelease.number.desc()))
    number = (last or 0) + 1
    assert f'data-count="held">{held}<' in page.get_data(as_text=True)
    assert f"Cut release {number}" in page.get_data(as_text=True)

    cut = operator.post("/operator/voice-lab/releases")
    assert cut.status_code == 302
    released = contribution(app, c.id)
    assert released.status == ContributionStatus.RELEASED
    assert released.release_id is not None
    listing = operator.get("/operator/voice-lab").get_data(as_text=True)
    assert f"/operator/voice-lab/releases/{number}.zip" in listing

    resp = operator.get(f"/operator/voice-lab/releases/{number}.zip")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/zip"
    assert f"voice-lab-release-{number}.zip" in resp.headers["Content-Disposition"]
    assert resp.headers["Cache-Control"] == "private, no-store"
    body = resp.get_data()
    archive = zipfile.ZipFile(io.BytesIO(body))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["release"] == number
    assert manifest["licence"] == "CC-BY-SA-4.0"
    assert manifest["date"] == utcnow().date().isoformat()
    clip = next(x for x in manifest["clips"] if x["id"] == str(c.id))
    assert clip == {
        "id": str(c.id),
        "file": f"clips/{c.id}.mp3",
        "duration_seconds": round(c.duration_seconds, 3),
        "language": c.language or None,
        "text": c.text,
        "licence": "CC-BY-SA-4.0",
        "consent_version": voice_lab.CONSENT_VERSION,
        "consent_sha256": voice_lab.consent_sha256(),
        "consented_at": c.consented_at.date().isoformat(),
    }
    assert archive.read(f"clips/{c.id}.mp3") == speech  # decrypted, byte for byte
    assert manifest["withdrawn"] == [] or str(c.id) not in manifest["withdrawn"]
    assert set(archive.namelist()) == {"manifest.json", *(x["file"] for x in manifest["clips"])}
    consent_text = manifest["consent_texts"][voice_lab.CONSENT_VERSION]
    assert consent_text["sha256"] == voice_lab.consent_sha256()
    # Nothing in the zip names who gave it.
    for secret in (
        team.user.email,
        str(team.user.id),
        team.user.id.hex,
        str(team.workspace.id),
        team.slug,
        team.workspace.name,
        "Paula Pages",
    ):
        assert secret.encode() not in body, secret

    # Withdrawn after release: the audio goes here, the next release lists it.
    api = api_caller(team)
    out = api("POST", "/voice-lab/withdrawals", json={"contribution_id": str(c.id)})
    assert out.status_code == 200, out.json
    assert out.json["status"] == "withdrawn" and out.json["release"] == number
    withdrawn = contribution(app, c.id)
    assert withdrawn.status == ContributionStatus.WITHDRAWN
    assert withdrawn.file_key is None and withdrawn.text == ""
    assert not (voice_dir / str(c.file_name)).exists()
    again = api("POST", "/voice-lab/withdrawals", json={"contribution_id": str(c.id)})
    assert again.status_code == 409

    assert operator.post("/operator/voice-lab/releases").status_code == 302
    second = zipfile.ZipFile(
        io.BytesIO(operator.get(f"/operator/voice-lab/releases/{number + 1}.zip").get_data())
    )
    assert str(c.id) in json.loads(second.read("manifest.json"))["withdrawn"]
    # The first release, downloaded again, no longer carries it.
    first_again = zipfile.ZipFile(
        io.BytesIO(operator.get(f"/operator/voice-lab/releases/{number}.zip").get_data())
    )
    assert f"clips/{c.id}.mp3" not in first_again.namelist()
    ids = [x["id"] for x in json.loads(first_again.read("manifest.json"))["clips"]]
    assert str(c.id) not in ids

    # Nothing new to release: refused, and no empty release is made.
    assert operator.post("/operator/voice-lab/releases").status_code == 302
    with database(app) as s:
        assert s.scalar(select(VoiceRelease.number).order_by(VoiceRelease.number.desc())) == (
            number + 1
        )


def test_operator_pages_are_404_for_everyone_else(app: Flask, team: Team, monkeypatch) -> None:
    def refused() -> bool:
        return (
            team.web.get("/operator/voice-lab").status_code == 404
            and team.web.post("/operator/voice-lab/releases").status_code == 404
            and team.web.get("/operator/voice-lab/releases/1.zip").status_code == 404
        )

    assert refused()  # signed in, not an operator
    cfg = app.extensions["verbatim.settings"]
    monkeypatch.setattr(cfg, "operator_emails", team.user.email)
    assert refused()  # on the list, but the address is not verified
    assert Web(app, "10.77.0.10").get("/operator/voice-lab").status_code == 302  # sign in first


def test_unknown_release_is_404(operator: Web) -> None:
    assert operator.get("/operator/voice-lab/releases/987654.zip").status_code == 404


# --- the API ----------------------------------------------------------------------------------


def test_api_option_list_and_withdraw_within_the_keys_workspace(
    app: Flask,
    team: Team,
    speech: bytes,
    run_jobs: Callable[..., None],
    voice_dir: Path,
    web2: Web,
) -> None:
    api = api_caller(team)
    consent = api("GET", "/voice-lab/consent")
    assert consent.status_code == 200
    assert consent.json["version"] == voice_lab.CONSENT_VERSION
    assert consent.json["sha256"] == voice_lab.consent_sha256()
    assert consent.json["licence"] == "CC-BY-SA-4.0"
    spec = api("GET", "/api/v1/openapi.json").json
    assert {"voice_lab", "voice_lab_consent"} <= set(
        spec["components"]["schemas"]["UploadIn"]["properties"]
    )

    refused = api(
        "POST", "/uploads", json={"filename": "a.mp3", "size": len(speech), "voice_lab": True}
    )
    assert refused.status_code == 422
    created = api("POST", "/uploads", json={"filename": "a.mp3", "size": len(speech), **CONSENT})
    assert created.status_code == 201, created.json
    sent = api(
        "PATCH",
        created.json["upload_url"],
        data=speech,
        headers={"Upload-Offset": "0", "Content-Type": PIECE},
    )
    assert sent.status_code == 200, sent.json
    tid = sent.json["transcripts"][0]["id"]
    run_jobs("gpu")

    listed = api("GET", "/voice-lab/contributions")
    assert listed.status_code == 200
    [mine] = [x for x in listed.json["contributions"] if x["transcript_id"] == tid]
    assert mine["status"] == "held"
    assert mine["consent_version"] == voice_lab.CONSENT_VERSION

    # A key of another workspace (another person) neither sees nor withdraws it.
    other = api_caller(make_team(app, web2, "Elsewhere"))
    assert mine["id"] not in other("GET", "/voice-lab/contributions").get_data(as_text=True)
    foreign = other("POST", "/voice-lab/withdrawals", json={"contribution_id": mine["id"]})
    missing = other("POST", "/voice-lab/withdrawals", json={"contribution_id": str(uuid.uuid4())})
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json == missing.json
    assert contribution(app, uuid.UUID(mine["id"])).status == ContributionStatus.HELD

    out = api("POST", "/voice-lab/withdrawals", json={"contribution_id": mine["id"]})
    assert out.status_code == 200
    assert out.json["status"] == "deleted"
    assert contribution(app, uuid.UUID(mine["id"])).file_key is None
    assert not voice_dir.exists() or list(voice_dir.iterdir()) == []


# --- account deletion -------------------------------------------------------------------------


def test_account_deletion_takes_every_contribution_back(
    app: Flask, team: Team, speech: bytes, run_jobs: Callable[..., None], voice_dir: Path
) -> None:
    released = given(app, team, speech, run_jobs)
    with app.app_context():
        voice_lab.cut_release(None)
    held = given(app, team, speech, run_jobs)
    with app.app_context():
        assert voice_lab.on_account_deleted(team.user.id) == 2
        db.session.commit()
    a, b = contribution(app, held.id), contribution(app, released.id)
    assert a.status == ContributionStatus.DELETED
    assert b.status == ContributionStatus.WITHDRAWN
    for c in (a, b):
        assert c.user_id is None
        assert c.file_key is None and c.file_name is None and c.text == ""
        assert c.withdrawn_at is not None
        assert c.consent_sha256 == voice_lab.consent_sha256()  # the record that consent was given
    assert list(voice_dir.iterdir()) == []


# --- pages --------------------------------------------------------------------------------------


def test_upload_page_explains_and_asks_per_recording(app: Flask, team: Team) -> None:
    page = team.page("/transcripts/new")
    box = re.search(r'<input type="checkbox" id="opt-voice-lab"[^>]*>', page)
    assert box is not None
    assert f'data-consent-version="{voice_lab.CONSENT_VERSION}"' in box.group(0)
    assert "checked" not in box.group(0)  # off unless ticked
    assert 'form="link-form"' not in box.group(0)  # never sent with a link
    for paragraph in voice_lab.CONSENT_TEXTS[voice_lab.CONSENT_VERSION]:
        assert escape(paragraph) in page
    assert voice_lab.LICENCE_URL in page


def test_privacy_page_section(app: Flask, team: Team) -> None:
    for url in ("/account/voice-lab", "/account/privacy"):
        page = team.web.get(url)
        assert page.status_code == 200, url
        body = page.get_data(as_text=True)
        assert 'id="privacy-voice-lab"' in body
        assert "You have not given any recording to Voice Lab." in body


@pytest.mark.skipif("mp4" not in supported_formats(), reason="ffmpeg without libx264")
def test_a_video_is_not_taken(app: Flask, team: Team, tmp_path: Path, voice_dir: Path) -> None:
    video = make_speech("A video with a face in it.", tmp_path, "mp4").read_bytes()
    tid = upload(team, video, name="clip.mp4", **CONSENT)
    assert contribution_for(app, tid) is None


def test_stray_files_are_swept_live_ones_kept(
    app: Flask, team: Team, speech: bytes, run_jobs: Callable[..., None], voice_dir: Path
) -> None:
    c = given(app, team, speech, run_jobs)
    stray = voice_dir / f"{uuid.uuid4().hex}.mp3.vlab"
    stray.write_bytes(b"left by a copy whose transaction never committed")
    with app.app_context():
        assert voice_lab.sweep_strays() == 1
    assert not stray.exists()
    assert kept_audio(app, c) == speech
