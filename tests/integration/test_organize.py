"""Folders, tags and moving transcripts between workspaces, through the pages and the API,
on real PostgreSQL (row-level security on)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.db import utcnow
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
from tests.transcripts import Team, api_caller, make_transcript
from tests.web import make_user

TWO = [(0.0, 2.0, "hello there", "SPEAKER_00"), (2.0, 4.0, "general kenobi", "SPEAKER_01")]


def _transcript(team: Team, title: str = "Weekly sync", **fields: Any) -> uuid.UUID:
    return make_transcript(
        team.web.app,
        team.workspace.id,
        title,
        segments=TWO,
        speakers={"SPEAKER_00": "Ana", "SPEAKER_01": "Ben"},
        **fields,
    )


def _folders(team: Team) -> dict[str, uuid.UUID]:
    with database(team.web.app, team.workspace.id) as s:
        return {f.name: f.id for f in s.scalars(select(Folder))}


def _row(team: Team, tid: uuid.UUID) -> Transcript:
    with database(team.web.app) as s:
        t = s.get(Transcript, tid)
        assert t is not None
        return t


def _listed(team: Team, **query: str) -> str:
    return team.page("/transcripts/", query_string=query)


# --- Folders -------------------------------------------------------------------------------


def test_folders_are_made_renamed_filled_filtered_and_deleted(team: Team) -> None:
    a, b, c = (_transcript(team, f"Call {n}") for n in "ABC")
    resp = team.web.post(team.url("/folders"), {"name": "  Customer   calls "})
    assert resp.status_code == 302
    assert list(_folders(team)) == ["Customer calls"]  # spaces tidied

    # The same name in another case is refused, and nothing is added.
    again = team.web.post(team.url("/folders"), {"name": "customer CALLS"})
    assert again.status_code == 422
    assert "already a folder called" in again.get_data(as_text=True)
    empty = team.web.post(team.url("/folders"), {"name": "   "})
    assert empty.status_code == 422
    assert len(_folders(team)) == 1

    folder = _folders(team)["Customer calls"]
    filed = team.web.post(
        team.url("/transcripts/organize"),
        {"ids": [str(a), str(b)], "action": "file", "folder": str(folder)},
    )
    assert filed.status_code == 302
    assert _row(team, a).folder_id == folder and _row(team, c).folder_id is None

    inside = _listed(team, folder=str(folder))
    assert "Call A" in inside and "Call B" in inside and "Call C" not in inside
    outside = _listed(team, folder="none")
    assert "Call C" in outside and "Call A" not in outside
    assert "Customer calls (2)" in _listed(team)  # the filter names the count
    assert "Customer calls" in team.page("/folders")

    renamed = team.web.post(team.url(f"/folders/{folder}/rename"), {"name": "Clients"})
    assert renamed.status_code == 302
    assert list(_folders(team)) == ["Clients"]

    gone = team.web.post(team.url(f"/folders/{folder}/delete"), {})
    assert gone.status_code == 302
    assert _folders(team) == {}
    assert _row(team, a).folder_id is None and _row(team, a).title == "Call A"  # kept


def test_a_transcript_is_filed_from_its_page_and_a_bad_folder_changes_nothing(
    team: Team,
) -> None:
    tid = _transcript(team)
    team.web.post(team.url("/folders"), {"name": "Board"})
    folder = _folders(team)["Board"]
    page = team.page(f"/transcripts/{tid}")
    assert f'<option value="{folder}"' in page
    assert team.web.post(team.url(f"/transcripts/{tid}/folder"), {"folder": str(folder)})
    assert _row(team, tid).folder_id == folder
    missing = team.web.post(team.url(f"/transcripts/{tid}/folder"), {"folder": str(uuid.uuid4())})
    assert missing.status_code == 404
    assert _row(team, tid).folder_id == folder
    out = team.web.post(team.url(f"/transcripts/{tid}/folder"), {"folder": "none"})
    assert out.status_code == 302
    assert _row(team, tid).folder_id is None


# --- Tags ----------------------------------------------------------------------------------


def test_tags_are_tidied_filtered_exactly_and_bad_ones_refused(team: Team) -> None:
    a = _transcript(team, "Interview one")
    b = _transcript(team, "Interview two")
    resp = team.web.post(
        team.url(f"/transcripts/{a}/tags"), {"tags": " Interview , Q3,interview,  réunion , 会议"}
    )
    assert resp.status_code == 302
    assert _row(team, a).tags == ["interview", "q3", "réunion", "会议"]

    bad = team.web.post(team.url(f"/transcripts/{a}/tags"), {"tags": "ok, <script>"})
    assert bad.status_code == 422
    body = bad.get_data(as_text=True)
    assert "is not a tag" in body and "<script>" not in body  # escaped in the message
    too_many = ",".join(f"t{n}" for n in range(21))
    assert team.web.post(team.url(f"/transcripts/{a}/tags"), {"tags": too_many}).status_code == 422
    assert _row(team, a).tags == ["interview", "q3", "réunion", "会议"]  # unchanged

    tagged = team.web.post(
        team.url("/transcripts/organize"), {"ids": [str(b)], "action": "tag", "tag": "Inter"}
    )
    assert tagged.status_code == 302
    assert _row(team, b).tags == ["inter"]

    # Exact: "inter" does not match "interview", and non-Latin tags filter too.
    assert "Interview two" in _listed(team, tag="inter")
    assert "Interview one" not in _listed(team, tag="inter")
    assert "Interview one" in _listed(team, tag="interview")
    assert "Interview two" not in _listed(team, tag="interview")
    assert "Interview one" in _listed(team, tag="会议")
    assert "Interview one" in _listed(team, tag="réunion")
    assert 'class="tag"' in _listed(team)


def test_a_selection_action_with_nothing_selected_or_no_action_is_refused(team: Team) -> None:
    _transcript(team)
    nothing = team.web.post(team.url("/transcripts/organize"), {"action": "tag", "tag": "x"})
    assert nothing.status_code == 422
    assert "Choose at least one transcript" in nothing.get_data(as_text=True)
    tid = _transcript(team, "Other")
    what = team.web.post(team.url("/transcripts/organize"), {"ids": [str(tid)]})
    assert what.status_code == 422
    assert _row(team, tid).tags == []


def test_viewers_see_folders_and_tags_but_cannot_change_them(app: Flask, team: Team, web2) -> None:
    tid = _transcript(team)
    team.web.post(team.url("/folders"), {"name": "Shared"})
    viewer = make_user(app, name="Vera Viewer")
    add_member(app, team.workspace.id, viewer, "viewer")
    web2.login(viewer)
    assert web2.get(team.url("/folders")).status_code == 200
    assert "Shared" in web2.get(team.url("/folders")).get_data(as_text=True)
    assert web2.post(team.url("/folders"), {"name": "Mine"}).status_code == 403
    assert web2.post(team.url(f"/transcripts/{tid}/tags"), {"tags": "x"}).status_code == 403
    assert list(_folders(team)) == ["Shared"]
    assert _row(team, tid).tags == []


# --- Moving --------------------------------------------------------------------------------


def _with_history_and_link(team: Team, tid: uuid.UUID) -> None:
    with database(team.web.app, team.workspace.id) as s:
        s.add(
            TranscriptRevision(
                transcript_id=tid, number=1, kind="original", summary="", snapshot=b"x"
            )
        )
        s.add(ShareLink(transcript_id=tid, token_hash=uuid.uuid4().hex * 2))
        s.commit()


def _count(app: Flask, model: type, **where: Any) -> int:
    with database(app) as s:
        query = select(func.count()).select_from(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return s.scalar(query) or 0


def test_an_admin_of_both_moves_a_transcript_with_its_history(app: Flask, team: Team) -> None:
    tid = _transcript(team, "Moving day", tags=["keep"])
    _with_history_and_link(team, tid)
    team.web.post(team.url("/folders"), {"name": "Old folder"})
    team.web.post(
        team.url(f"/transcripts/{tid}/folder"), {"folder": str(_folders(team)["Old folder"])}
    )
    other = create_team(team.web, "Destination")
    page = team.page(f"/transcripts/{tid}")
    assert f'<option value="{other.slug}">Destination</option>' in page

    resp = team.web.post(team.url(f"/transcripts/{tid}/move"), {"workspace": other.slug})
    assert resp.status_code == 302
    assert resp.headers["Location"] == f"/w/{other.slug}/transcripts/{tid}"
    assert team.web.get(team.url(f"/transcripts/{tid}")).status_code == 404
    moved = team.web.get(f"/w/{other.slug}/transcripts/{tid}").get_data(as_text=True)
    assert ">kenobi<" in moved and "Ana" in moved

    t = _row(team, tid)
    assert t.workspace_id == other.id and t.folder_id is None and t.tags == ["keep"]
    for model in (TranscriptSegment, TranscriptSpeaker, TranscriptRevision):
        assert _count(app, model, transcript_id=tid, workspace_id=other.id) > 0
        assert _count(app, model, transcript_id=tid, workspace_id=team.workspace.id) == 0
    assert _count(app, ShareLink, transcript_id=tid) == 0  # public links do not follow
    with database(app, team.workspace.id) as s:
        assert s.scalar(select(AuditEvent.id).where(AuditEvent.action == "transcript.moved_out"))
    with database(app, other.id) as s:
        assert s.scalar(select(AuditEvent.id).where(AuditEvent.action == "transcript.moved_in"))


def test_moving_is_refused_without_admin_rights_on_both_sides(app: Flask, team: Team, web2) -> None:
    tid = _transcript(team)
    # The destination's owner is someone else; our owner is only a member there.
    stranger = make_user(app, name="Sam Stranger")
    web2.login(stranger)
    theirs = create_team(web2, "Their team")
    add_member(app, theirs.id, team.user, "member")
    refused = team.web.post(team.url(f"/transcripts/{tid}/move"), {"workspace": theirs.slug})
    assert refused.status_code == 403
    assert "not an admin of" in refused.get_data(as_text=True)
    # A workspace the person does not belong to reads as not a destination at all.
    alone = create_team(web2, "Private team")
    unknown = team.web.post(team.url(f"/transcripts/{tid}/move"), {"workspace": alone.slug})
    assert unknown.status_code == 422
    assert "Choose a workspace you belong to" in unknown.get_data(as_text=True)
    assert _row(team, tid).workspace_id == team.workspace.id

    # A member of the source cannot move either.
    add_member(app, team.workspace.id, stranger, "member")
    assert (
        web2.post(team.url(f"/transcripts/{tid}/move"), {"workspace": theirs.slug}).status_code
        == 403
    )
    assert _row(team, tid).workspace_id == team.workspace.id


def test_a_running_transcript_is_not_moved(team: Team) -> None:
    tid = _transcript(team, status=Status.PROCESSING, started_at=utcnow())
    other = create_team(team.web, "Elsewhere")
    resp = team.web.post(team.url(f"/transcripts/{tid}/move"), {"workspace": other.slug})
    assert resp.status_code == 422
    assert "Wait until the transcript is finished" in resp.get_data(as_text=True)
    assert _row(team, tid).workspace_id == team.workspace.id


# --- Deleting reaches every store -----------------------------------------------------------


def test_deleting_a_transcript_removes_its_rows_history_and_links(app: Flask, team: Team) -> None:
    tid = _transcript(team)
    _with_history_and_link(team, tid)
    assert team.web.post(team.url(f"/transcripts/{tid}/delete"), {}).status_code == 302
    for model in (TranscriptSegment, TranscriptSpeaker, TranscriptRevision, ShareLink):
        assert _count(app, model, transcript_id=tid) == 0, model.__name__
    assert _count(app, Transcript, id=tid) == 0


# --- The API -------------------------------------------------------------------------------


def test_the_api_manages_folders_tags_and_moves(team: Team) -> None:
    call = api_caller(team)
    tid = _transcript(team, "API filed")
    made = call("POST", "/folders", json={"name": "Podcasts"})
    assert made.status_code == 201, made.json
    folder = made.json["id"]
    assert made.json == {"id": folder, "name": "Podcasts", "count": 0}
    assert call("POST", "/folders", json={"name": "podcasts"}).status_code == 422

    filed = call("PUT", f"/transcripts/{tid}/folder", json={"folder_id": folder})
    assert filed.status_code == 200, filed.json
    listed = call("GET", "/folders").json["folders"]
    assert listed == [{"id": folder, "name": "Podcasts", "count": 1}]

    tagged = call("PUT", f"/transcripts/{tid}/tags", json={"tags": ["Season 2", "audio"]})
    assert tagged.status_code == 200
    assert _row(team, tid).tags == ["audio", "season 2"]
    bad = call("PUT", f"/transcripts/{tid}/tags", json={"tags": ["<b>"]})
    assert bad.status_code == 422 and bad.json["field"] == "tags"
    assert _row(team, tid).tags == ["audio", "season 2"]

    renamed = call("PATCH", f"/folders/{folder}", json={"name": "Shows"})
    assert renamed.json["name"] == "Shows"
    assert call("DELETE", f"/folders/{folder}").json == {"released": 1}
    assert call("GET", "/folders").json == {"folders": []}

    other = create_team(team.web, "API destination")
    moved = call("POST", f"/transcripts/{tid}/move", json={"workspace": other.slug})
    assert moved.status_code == 200, moved.json
    assert moved.json == {"id": str(tid), "workspace": other.slug}
    assert call("GET", f"/transcripts/{tid}").status_code == 404  # out of this key's reach
    assert _row(team, tid).workspace_id == other.id
