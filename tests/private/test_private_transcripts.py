"""Private Transcripts on the server, through the web pages and the API (real PostgreSQL,
row-level security on): choosing private at upload, the ciphertext routes, and every feature
that would need the text refusing with 409, written where each feature lives.

Envelopes are made with the Python reference (app/private/crypto.py), exactly as the worker
seals and the browser encrypts them.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.errors import ServiceError
from app.extensions import db
from app.ingest import uploads
from app.ingest.models import StagedAudio, Upload
from app.private import crypto
from app.private.models import PrivateContent, PrivateKeyring
from app.security.tokens import new_token
from app.tenants.context import workspace_scope
from app.transcripts.models import (
    Folder,
    ShareLink,
    Status,
    Transcript,
    TranscriptRevision,
    TranscriptSegment,
    TranscriptSpeaker,
)
from tests.integration.test_workspaces import add_member, create_team, database
from tests.private.support import (
    CANARY,
    Keys,
    document,
    make_keyring,
    make_private_transcript,
    stored_envelope,
)
from tests.speech import make_speech
from tests.transcripts import ApiCaller, Team, api_caller, drain_index, make_transcript
from tests.web import Web, make_user

DOC = document(
    [(0.0, 3.0, f"We agreed on {CANARY} today.", "SPEAKER_00"), (3.0, 6.0, "Fine.", None)],
    {"SPEAKER_00": "Speaker 1"},
)
EDITED = document([(0.0, 3.0, "An edit made in the browser.", "SPEAKER_00")], {"SPEAKER_00": "Ana"})
SAID = [(0.0, 2.0, "the lighthouse keeper waves", "SPEAKER_00")]


@dataclass
class Private:
    team: Team
    keys: Keys
    tid: uuid.UUID

    @property
    def app(self) -> Flask:
        return self.team.web.app

    @property
    def ws(self) -> uuid.UUID:
        return self.team.workspace.id

    def path(self, suffix: str = "") -> str:
        return self.team.url(f"/transcripts/{self.tid}{suffix}")

    def envelope(self) -> bytes:
        return stored_envelope(self.app, self.ws, self.tid)

    def content(self, doc: dict[str, Any] = EDITED) -> bytes:
        """A CONTENT envelope of `doc`, as the owner's browser writes it."""
        return crypto.encrypt_content(doc, self.keys.unlocked.data_key, str(self.ws), str(self.tid))

    def opened(self, envelope: bytes) -> Any:
        return crypto.open_envelope(
            envelope,
            str(self.ws),
            str(self.tid),
            data_key=self.keys.unlocked.data_key,
            private_key=self.keys.unlocked.private_key,
        )

    def row(self) -> Transcript:
        with database(self.app, self.ws) as s:
            t = s.get(Transcript, self.tid)
            assert t is not None
            return t


def private_setup(team: Team, title: str = "Board meeting") -> Private:
    keys = make_keyring(team.web.app, team.user.id)
    tid = make_private_transcript(team.web.app, team.workspace.id, keys, DOC, title=title)
    return Private(team, keys, tid)


def member_of(team: Team, web: Web, role: str = "member") -> Web:
    user = make_user(team.web.app, name=f"A {role}")
    add_member(team.web.app, team.workspace.id, user, role)
    web.login(user)
    return web


def put(web: Web, url: str, body: bytes, if_match: str | None) -> Any:
    headers = {"Content-Type": "application/octet-stream"}
    if if_match is not None:
        headers["If-Match"] = if_match
    return web.send("PUT", url, data=body, headers=headers)


def api_put(api: ApiCaller, tid: uuid.UUID, body: bytes, if_match: str | None) -> Any:
    headers = {"Content-Type": "application/octet-stream"}
    if if_match is not None:
        headers["If-Match"] = if_match
    return api("PUT", f"/transcripts/{tid}/private", data=body, headers=headers)


def count(app: Flask, ws: uuid.UUID, model: type, **where: Any) -> int:
    with database(app, ws) as s:
        query = select(func.count()).select_from(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return s.scalar(query) or 0


# --- the ciphertext routes ---------------------------------------------------------------------


def test_owner_reads_and_replaces_the_ciphertext_and_bad_writes_change_nothing(team: Team) -> None:
    p = private_setup(team)
    web, url = team.web, p.path("/private")

    got = web.get(url)
    assert got.status_code == 200
    assert got.mimetype == "application/octet-stream"
    assert got.headers["Cache-Control"] == "no-store"
    assert got.headers["X-Verbatim-Envelope"] == "sealed"
    assert got.headers["X-Verbatim-Revision"] == "1"
    assert got.data == p.envelope()
    assert p.opened(got.data) == DOC  # the worker's seal opens with the owner's private key

    saved = put(web, url, p.content(), '"1"')
    assert saved.status_code == 200, saved.get_data(as_text=True)
    assert saved.json == {"revision": 2}
    again = web.get(url)
    assert again.headers["X-Verbatim-Envelope"] == "content"
    assert again.headers["X-Verbatim-Revision"] == "2"
    assert p.opened(again.data) == EDITED
    assert p.row().revision == 2
    current = p.envelope()

    # A second tab still based on revision 1: refused, told the current revision.
    stale = put(web, url, p.content(DOC), '"1"')
    assert stale.status_code == 409
    assert stale.json["revision"] == 2 and "saved elsewhere" in stale.json["error"]
    # No If-Match, a malformed body, a SEALED envelope from the browser: 400.
    missing = put(web, url, p.content(DOC), None)
    assert missing.status_code == 400 and "If-Match" in missing.json["error"]
    assert put(web, url, b"\x01\x01not an envelope", '"2"').status_code == 400
    sealed = crypto.seal(DOC, p.keys.material.public_key, str(p.ws), str(p.tid))
    wrong_kind = put(web, url, sealed, '"2"')
    assert wrong_kind.status_code == 400 and "wrong kind" in wrong_kind.json["error"]
    assert put(web, url, b"\x09\x01" + bytes(40), '"2"').status_code == 400  # future version

    cfg = p.app.extensions["verbatim.settings"]
    before = cfg.private_max_bytes
    cfg.private_max_bytes = 64
    try:
        assert put(web, url, p.content(DOC), '"2"').status_code == 413
    finally:
        cfg.private_max_bytes = before
    assert p.envelope() == current and p.row().revision == 2

    # Still no text anywhere but the envelope.
    for model in (TranscriptSegment, TranscriptSpeaker, TranscriptRevision):
        assert count(p.app, p.ws, model, transcript_id=p.tid) == 0


def test_ciphertext_is_its_owners_alone(team: Team, web2: Web, app: Flask) -> None:
    p = private_setup(team)
    url = p.path("/private")
    ordinary = make_transcript(app, p.ws, "Open call", segments=SAID)
    assert team.web.get(team.url(f"/transcripts/{ordinary}/private")).status_code == 404
    assert (
        put(team.web, team.url(f"/transcripts/{ordinary}/private"), p.content(), '"1"').status_code
        == 404
    )

    with database(app, p.ws) as s:  # one still being transcribed has no text yet
        s.get(Transcript, p.tid).status = Status.PROCESSING
        s.commit()
    assert team.web.get(url).status_code == 409
    with database(app, p.ws) as s:
        s.get(Transcript, p.tid).status = Status.COMPLETED
        s.commit()

    other = member_of(team, web2, "member")
    refused = other.get(url)
    assert refused.status_code == 409 and "not shared with the team" in refused.json["error"]
    assert put(other, url, p.content(), '"1"').status_code == 409
    page = other.get(p.path())  # the page says why, without text
    assert page.status_code == 409
    assert CANARY not in page.get_data(as_text=True)
    assert p.opened(p.envelope()) == DOC

    viewer = member_of(team, Web(app, remote_addr="10.77.0.9"), "viewer")
    assert put(viewer, url, p.content(), '"1"').status_code == 403
    assert p.opened(p.envelope()) == DOC


def test_api_reads_and_replaces_the_ciphertext_for_the_key_maker(team: Team, app: Flask) -> None:
    p = private_setup(team)
    api = api_caller(team)  # made by the owner: it acts for them
    got = api("GET", f"/transcripts/{p.tid}/private")
    assert got.status_code == 200
    assert got.data == p.envelope() and got.headers["X-Verbatim-Envelope"] == "sealed"
    assert got.headers["X-Verbatim-Revision"] == "1"

    shown = api("GET", f"/transcripts/{p.tid}").json
    assert shown["private"] is True and shown["title"] == "Board meeting"
    assert not {"segments", "text", "speakers"} & set(shown)
    assert api("GET", f"/transcripts/{p.tid}/content").status_code == 409

    saved = api_put(api, p.tid, p.content(), '"1"')
    assert saved.status_code == 200 and saved.json == {"revision": 2}
    stale = api_put(api, p.tid, p.content(DOC), "1")
    assert stale.status_code == 409 and stale.json["revision"] == 2
    assert api_put(api, p.tid, p.content(DOC), None).status_code == 400
    assert api_put(api, p.tid, b"junk", '"2"').status_code == 400
    assert p.opened(p.envelope()) == EDITED

    ordinary = make_transcript(app, p.ws, "Open call", segments=SAID)
    assert api("GET", f"/transcripts/{ordinary}/private").status_code == 404
    assert api("GET", f"/transcripts/{ordinary}").json["private"] is False

    # The OpenAPI description documents both, and the upload option.
    spec = api("GET", "/api/v1/openapi.json").json
    route = spec["paths"]["/api/v1/transcripts/{transcript_id}/private"]
    assert {"get", "put"} <= set(route)
    assert "private" in spec["components"]["schemas"]["UploadIn"]["properties"]


def test_another_admins_key_cannot_read_it(team: Team, web2: Web, app: Flask) -> None:
    p = private_setup(team)
    admin = member_of(team, web2, "admin")
    their_key = api_caller(Team(admin, team.workspace, admin.user))  # made by the admin
    assert their_key("GET", f"/transcripts/{p.tid}/private").status_code == 409
    assert their_key("GET", f"/transcripts/{p.tid}").status_code == 409
    assert api_put(their_key, p.tid, p.content(), '"1"').status_code == 409
    listed = their_key("GET", "/transcripts").json
    assert str(p.tid) not in {t["id"] for t in listed}
    assert p.opened(p.envelope()) == DOC


# --- refusals where each feature lives ---------------------------------------------------------


def _conflict(resp: Any, *words: str) -> None:
    body = resp.get_data(as_text=True)
    assert resp.status_code == 409, (resp.status_code, body[:300])
    for word in words:
        assert word in body, body[:300]
    assert CANARY not in body


def test_every_text_feature_refuses_a_private_transcript(team: Team, app: Flask) -> None:
    p = private_setup(team)
    web, api = team.web, api_caller(team)
    seg = uuid.uuid4()
    base = {"base_revision": "1"}

    # Public links: making one, the panel, and the API.
    _conflict(web.get(p.path("/shares")), "public link")
    _conflict(web.post(p.path("/shares"), {"expiry": "days", "days": "7"}), "public link")
    _conflict(api("GET", f"/transcripts/{p.tid}/shares"))
    _conflict(api("POST", f"/transcripts/{p.tid}/shares", json={}))
    assert count(app, p.ws, ShareLink) == 0
    # A link that exists anyway (made before any of this) does not open: gone, like any other.
    raw, digest = new_token()
    with database(app, p.ws) as s:
        s.add(ShareLink(transcript_id=p.tid, token_hash=digest))
        s.commit()
    assert web.get(f"/s/{raw}").status_code == 404

    # Moving to another workspace: its ciphertext is bound to this one.
    elsewhere = create_team(web, "Elsewhere")
    _conflict(web.post(p.path("/move"), {"workspace": elsewhere.slug}), "Moving")
    _conflict(api("POST", f"/transcripts/{p.tid}/move", json={"workspace": elsewhere.slug}))
    assert p.row().workspace_id == p.ws

    # The editor on the server, page by page and in the API.
    for method, suffix, data in (
        ("GET", f"/segments/{seg}", None),
        ("POST", f"/segments/{seg}", {"text": "x", **base}),
        ("POST", f"/segments/{seg}/split", {"word_index": "1", **base}),
        ("POST", f"/segments/{seg}/merge", base),
        ("POST", f"/segments/{seg}/times", {"start": "0:01", **base}),
        ("POST", f"/segments/{seg}/speaker", {"speaker": "new", "name": "Ana", **base}),
        ("POST", "/replace", {"find": "agreed", "replace": "x", "action": "preview"}),
        ("POST", "/replace", {"find": "agreed", "replace": "x", **base}),
        ("GET", "/history", None),
        ("GET", "/history/1", None),
        ("POST", "/history/1/restore", base),
        ("GET", "/review", None),
        ("POST", "/review", {"action": "fix_all", "word": "a", "text": "b", **base}),
        ("POST", "/speakers/SPEAKER_00", {"name": "Ana", **base}),
    ):
        resp = web.get(p.path(suffix)) if method == "GET" else web.post(p.path(suffix), data)
        _conflict(resp, "Private Transcript")
        htmx = web.post(p.path(suffix), data, htmx=True) if data is not None else None
        if htmx is not None:
            assert htmx.status_code == 409
    for method, path, body in (
        ("PATCH", f"/segments/{seg}", {"text": "x", "base_revision": 1}),
        ("POST", f"/segments/{seg}/split", {"word_index": 1, "base_revision": 1}),
        ("POST", f"/segments/{seg}/merge", {"base_revision": 1}),
        ("POST", "/replace", {"find": "agreed", "replace": "x", "base_revision": 1}),
        ("POST", "/replace", {"find": "agreed", "preview": True}),
        ("GET", "/revisions", None),
        ("GET", "/revisions/1", None),
        ("POST", "/revisions/1/restore", {"base_revision": 1}),
        ("GET", "/review", None),
        ("POST", "/review", {"action": "fix_all", "word": "a", "text": "b", "base_revision": 1}),
        ("PATCH", "/speakers/SPEAKER_00", {"name": "Ana"}),
        ("GET", "/content", None),
        ("GET", "/export/txt", None),
    ):
        _conflict(api(method, f"/transcripts/{p.tid}{path}", json=body))
    for model in (TranscriptSegment, TranscriptSpeaker, TranscriptRevision):
        assert count(app, p.ws, model, transcript_id=p.tid) == 0
    assert p.row().revision == 1

    # Exports on the server: one, and a selection naming the private one.
    ordinary = make_transcript(app, p.ws, "Open call", segments=SAID)
    for fmt in ("txt", "srt", "json"):
        _conflict(web.get(p.path(f"/export/{fmt}")), "Board meeting", "your browser")
    selection = web.post(
        team.url("/transcripts/export"), {"ids": [str(ordinary), str(p.tid)], "format": "txt"}
    )
    _conflict(selection, "Board meeting")
    api_selection = api(
        "POST", "/transcripts/export", json={"ids": [str(ordinary), str(p.tid)], "format": "txt"}
    )
    _conflict(api_selection, "Board meeting")
    assert web.get(team.url(f"/transcripts/{ordinary}/export/txt")).status_code == 200

    # The side-by-side comparison.
    group = uuid.uuid4()
    twin = make_private_transcript(app, p.ws, p.keys, DOC, title="Board meeting (other model)")
    with database(app, p.ws) as s:
        for tid in (p.tid, twin):
            s.get(Transcript, tid).compare_group = group
        s.commit()
    _conflict(web.get(team.url(f"/transcripts/compare/{group}")), "comparison")

    # AI: the page's action and the API (app/ai refuses; checked here through its routes).
    _conflict(web.post(p.path("/ai/summaries"), {"template": "overview"}))
    _conflict(api("POST", f"/transcripts/{p.tid}/summaries", json={"template": "overview"}))

    # Search: never indexed, so never found, not even by its title (plaintext metadata the
    # server holds, but search is a team feature and the transcript is not the team's).
    make_transcript(app, p.ws, "Lighthouse notes", segments=SAID)
    with database(app, p.ws) as s:
        s.get(Transcript, p.tid).title = "Lighthouse board meeting"
        s.commit()
    drain_index(app)
    for q in ("lighthouse", "board", "agreed", CANARY.split()[0]):
        found = api("GET", "/search", query_string={"q": q}).json
        assert str(p.tid) not in {h["transcript_id"] for h in found["hits"]}, q
        page = web.get(team.url("/search"), query_string={"q": q}).get_data(as_text=True)
        assert str(p.tid) not in page


# --- another member of the team ----------------------------------------------------------------


def test_team_members_neither_see_nor_change_anothers_private_transcript(
    team: Team, web2: Web, app: Flask
) -> None:
    p = private_setup(team, "Owner's private call")
    ordinary = make_transcript(app, p.ws, "Team call", segments=SAID)
    with database(app, p.ws) as s:
        folder = Folder(name="Calls")
        s.add(folder)
        s.commit()
        folder_id = folder.id

    # The owner: listed with a Private badge; rename, tag, file; the compare link is not offered.
    listing = team.page("/transcripts/")
    assert "Owner&#39;s private call" in listing and 'class="badge private"' in listing
    assert team.web.post(p.path("/rename"), {"title": "Renamed privately"}).status_code == 302
    assert team.web.post(p.path("/tags"), {"tags": "board"}).status_code == 302
    assert team.web.post(p.path("/folder"), {"folder": str(folder_id)}).status_code == 302
    row = p.row()
    assert (row.title, row.tags, row.folder_id) == ("Renamed privately", ["board"], folder_id)

    other = member_of(team, web2, "member")
    listed = other.get(team.url("/transcripts/")).get_data(as_text=True)
    assert "Team call" in listed and "Renamed privately" not in listed
    assert str(p.tid) not in other.get(
        team.url("/transcripts/"), query_string={"tag": "board"}
    ).get_data(as_text=True)
    # Its tag is not offered as a filter, and the folder counts only what they see.
    assert '<option value="board"' in team.page("/transcripts/")
    assert '<option value="board"' not in listed
    assert f'<option value="{folder_id}" >Calls (1)</option>' in team.page("/transcripts/")
    assert f'<option value="{folder_id}" >Calls (0)</option>' in listed

    # Opening it: the 409 page; acting on it: 409, and nothing changes.
    assert other.get(p.path()).status_code == 409
    assert other.get(p.path("/status")).status_code == 409
    for suffix, data in (
        ("/rename", {"title": "Mine now"}),
        ("/tags", {"tags": "stolen"}),
        ("/folder", {"folder": "none"}),
        ("/delete", {}),
        ("/retry", {}),
    ):
        assert other.post(p.path(suffix), data).status_code == 409, suffix
    bulk = {"ids": [str(ordinary), str(p.tid)]}
    assert (
        other.post(
            team.url("/transcripts/organize"), {**bulk, "action": "tag", "tag": "x"}
        ).status_code
        == 409
    )
    assert other.post(team.url("/transcripts/delete"), bulk).status_code == 409
    row = p.row()
    assert (row.title, row.tags, row.folder_id) == ("Renamed privately", ["board"], folder_id)
    assert count(app, p.ws, Transcript, id=ordinary) == 1  # the bulk refusal deleted nothing

    # A workspace admin may delete it (keeping the workspace tidy needs no text), not read it.
    admin = member_of(team, Web(app, remote_addr="10.77.0.8"), "admin")
    assert admin.get(p.path("/private")).status_code == 409
    assert admin.post(p.path("/rename"), {"title": "Admin's now"}).status_code == 409
    assert admin.post(p.path("/delete")).status_code == 302
    assert count(app, p.ws, Transcript, id=p.tid) == 0
    assert count(app, p.ws, PrivateContent, transcript_id=p.tid) == 0

    # The owner deletes their own.
    mine = make_private_transcript(app, p.ws, p.keys, DOC, title="Another")
    assert team.web.post(team.url(f"/transcripts/{mine}/delete")).status_code == 302
    assert count(app, p.ws, Transcript, id=mine) == 0


# --- choosing private -------------------------------------------------------------------------


def _open_upload(web: Web, team: Team, **body: Any) -> Any:
    payload = {"filename": "call.mp3", "size": 1000, **body}
    return web.send("POST", team.url("/uploads/"), json=payload)


def test_private_needs_a_keyring_and_nothing_is_made_without_one(team: Team, app: Flask) -> None:
    form = team.page("/transcripts/new")
    assert (
        'id="opt-private"' in form and "disabled" in form.split('id="opt-private"')[1].split(">")[0]
    )
    assert "/account/private" in form

    refused = _open_upload(team.web, team, private=True)
    assert refused.status_code == 422
    assert (
        "Turn on Private Transcript" in refused.json["message"]
        and refused.json["field"] == "private"
    )
    link = team.web.post(
        team.url("/transcripts/link"), {"url": "https://example.com/a.mp3", "private": "on"}
    )
    assert link.status_code == 422 and "Turn on Private Transcript" in link.get_data(as_text=True)
    api = api_caller(team)
    assert (
        api("POST", "/uploads", json={"filename": "a.mp3", "size": 10, "private": True}).status_code
        == 422
    )
    assert (
        api(
            "POST", "/transcripts", json={"url": "https://example.com/a.mp3", "private": True}
        ).status_code
        == 422
    )
    assert (
        api(
            "POST",
            "/transcripts/file?private=true",
            data=b"x" * 10,
            headers={"Content-Type": "audio/mpeg"},
        ).status_code
        == 422
    )
    bad = _open_upload(team.web, team, private="maybe")
    assert bad.status_code == 422 and bad.json["field"] == "private"
    assert count(app, team.workspace.id, Upload) == 0
    assert count(app, team.workspace.id, Transcript) == 0
    assert count(app, team.workspace.id, PrivateContent) == 0

    # Not private (the box unticked) works as ever without a keyring.
    assert _open_upload(team.web, team, private=False).status_code == 201


def test_a_private_upload_makes_sealable_transcripts_for_its_owner(
    team: Team, app: Flask, tmp_path
) -> None:
    keys = make_keyring(app, team.user.id, default=True)
    form = team.page("/transcripts/new")
    box = form.split('id="opt-private"')[1].split(">")[0]
    assert "checked" in box and "disabled" not in box  # their default

    # Left out (as an API client may): their default applies; said false: not private.
    implicit = _open_upload(team.web, team)
    assert implicit.status_code == 201
    explicit = _open_upload(team.web, team, private=False)
    with database(app, team.workspace.id) as s:
        assert s.get(Upload, uuid.UUID(implicit.json["id"])).options["private"] is True
        assert s.get(Upload, uuid.UUID(explicit.json["id"])).options["private"] is False

    # A whole file, comparing two models: both transcripts private, each sealed to the owner.
    audio = make_speech("a short private note", tmp_path, "mp3").read_bytes()
    with app.app_context(), workspace_scope(team.workspace.id):
        upload = uploads.create(
            filename="note.mp3", size=len(audio), options={}, user_id=team.user.id, private=True
        )
        # A second model is named straight in the upload's options: only one is installed
        # here, and these transcripts are never run (cancelled below).
        upload.options = {**upload.options, "compare_model": "another-model"}
        db.session.commit()
        _, created = uploads.append(upload.id, 0, io.BytesIO(audio), len(audio))
        ids = [t.id for t in created]
        db.session.remove()
    assert len(ids) == 2
    with database(app, team.workspace.id) as s:
        for tid in ids:
            t = s.get(Transcript, tid)
            assert t.encrypted and t.uploader_id == team.user.id and t.status == Status.QUEUED
            c = s.scalar(select(PrivateContent).where(PrivateContent.transcript_id == tid))
            assert c.owner_id == team.user.id
            assert c.recipient_key == keys.material.public_key
            assert c.fingerprint == crypto.fingerprint(keys.material.public_key)
            assert c.envelope is None and c.kind is None

    # Through the API the key's maker is the owner.
    api = api_caller(team)
    up = api("POST", "/uploads", json={"filename": "a.mp3", "size": len(audio), "private": True})
    assert up.status_code == 201
    piece = api(
        "PATCH",
        up.json["upload_url"],
        data=audio,
        headers={"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
    )
    assert piece.status_code == 200, piece.json
    [made] = piece.json["transcripts"]
    assert made["private"] is True
    with database(app, team.workspace.id) as s:
        c = s.scalar(
            select(PrivateContent).where(PrivateContent.transcript_id == uuid.UUID(made["id"]))
        )
        assert c.owner_id == team.user.id
    # A link too: the transcript is made private before the download starts.
    linked = api(
        "POST", "/transcripts", json={"url": "https://example.test/a.mp3", "private": True}
    )
    assert linked.status_code == 202, linked.json
    [fetching] = linked.json["transcripts"]
    assert fetching["private"] is True and fetching["status"] == "fetching"
    with database(app, team.workspace.id) as s:
        c = s.scalar(
            select(PrivateContent).where(PrivateContent.transcript_id == uuid.UUID(fetching["id"]))
        )
        assert c.owner_id == team.user.id and c.recipient_key == keys.material.public_key
    made_ids = [*ids, uuid.UUID(made["id"]), uuid.UUID(fetching["id"])]
    for tid in made_ids:  # the queue entries find nothing to claim
        assert team.web.post(team.url(f"/transcripts/{tid}/cancel")).status_code == 302


def test_a_keyring_reset_while_the_file_arrives_queues_nothing(
    team: Team, app: Flask, tmp_path
) -> None:
    make_keyring(app, team.user.id)
    audio = make_speech("a note", tmp_path, "mp3").read_bytes()
    with app.app_context(), workspace_scope(team.workspace.id):
        upload = uploads.create(
            filename="note.mp3", size=len(audio), options={}, user_id=team.user.id, private=True
        )
        upload_id = upload.id
        db.session.remove()
    with database(app) as s:  # reset meanwhile (the account page's reset deletes the row)
        s.delete(s.get(PrivateKeyring, team.user.id))
        s.commit()
    with app.app_context(), workspace_scope(team.workspace.id):
        with pytest.raises(ServiceError, match="Turn on Private Transcript"):
            uploads.append(upload_id, 0, io.BytesIO(audio), len(audio))
        db.session.remove()
    with database(app, team.workspace.id) as s:
        upload = s.get(Upload, upload_id)
        assert upload.status == "failed" and "Turn on Private Transcript" in upload.error
        assert s.get(StagedAudio, upload.staged_audio_id).wrapped_key is None  # audio gone
    assert count(app, team.workspace.id, Transcript) == 0
