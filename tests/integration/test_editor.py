"""The editor: every change through the pages and the API, history, restore, the review
pass, conflicts between people (and between threads on PostgreSQL), and bad input that is
refused with a clear message and changes nothing."""

from __future__ import annotations

import re
import threading
import time
import uuid
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.extensions import db
from app.tenants.context import workspace_scope
from app.transcripts import editing
from app.transcripts.models import (
    Status,
    Transcript,
    TranscriptRevision,
    TranscriptSegment,
    TranscriptSpeaker,
)
from tests.integration.test_workspaces import add_member, database
from tests.transcripts import Team, api_caller, make_team, make_transcript
from tests.web import Web, make_user

LINES = [
    (0.0, 2.0, "hello teh world", "SPEAKER_00"),
    (2.5, 4.5, "second line here now", "SPEAKER_01"),
    (5.0, 7.0, "third teh end", "SPEAKER_00"),
]
NAMES = {"SPEAKER_00": "Speaker 1", "SPEAKER_01": "Speaker 2"}


def transcript(app: Flask, team: Team, **fields: Any) -> uuid.UUID:
    fields.setdefault("language", "en")
    fields.setdefault("diarize", True)
    return make_transcript(
        app, team.workspace.id, "Edited", segments=LINES, speakers=NAMES, duration=10.0, **fields
    )


def ids(app: Flask, team: Team, tid: uuid.UUID) -> list[uuid.UUID]:
    with database(app, team.workspace.id) as s:
        return list(
            s.scalars(
                select(TranscriptSegment.id)
                .where(TranscriptSegment.transcript_id == tid)
                .order_by(TranscriptSegment.position)
            )
        )


def state(app: Flask, team: Team, tid: uuid.UUID) -> dict[str, Any]:
    """Everything an edit could change, to compare before and after a refusal."""
    with database(app, team.workspace.id) as s:
        t = s.get(Transcript, tid)
        return {
            "revision": t.revision,
            "speaker_count": t.speaker_count,
            "segments": [
                (r.id, r.position, r.start, r.end, r.text, r.speaker, r.words, r.changed_in)
                for r in s.scalars(
                    select(TranscriptSegment)
                    .where(TranscriptSegment.transcript_id == tid)
                    .order_by(TranscriptSegment.position)
                )
            ],
            "speakers": sorted(
                (r.label, r.name)
                for r in s.scalars(
                    select(TranscriptSpeaker).where(TranscriptSpeaker.transcript_id == tid)
                )
            ),
            "revisions": [
                (r.number, r.kind, r.summary, r.author_id)
                for r in s.scalars(
                    select(TranscriptRevision)
                    .where(TranscriptRevision.transcript_id == tid)
                    .order_by(TranscriptRevision.number)
                )
            ],
        }


def texts(app: Flask, team: Team, tid: uuid.UUID) -> list[str]:
    return [s[4] for s in state(app, team, tid)["segments"]]


def seg_url(team: Team, tid: uuid.UUID, sid: uuid.UUID, action: str = "") -> str:
    return team.url(f"/transcripts/{tid}/segments/{sid}{action}")


def set_probabilities(app: Flask, team: Team, tid: uuid.UUID, low: dict[str, float]) -> None:
    """Give words of the transcript the engine's doubt (make_transcript gives 0.9)."""
    with database(app, team.workspace.id) as s:
        for seg in s.scalars(
            select(TranscriptSegment).where(TranscriptSegment.transcript_id == tid)
        ):
            seg.words = [[w[0], w[1], w[2], low.get(w[0], w[3])] for w in seg.words]
        s.commit()


def second_member(app: Flask, team: Team, web2: Web, role: str = "member") -> Any:
    user = make_user(app, name="Ada Second")
    add_member(app, team.workspace.id, user, role)
    web2.login(user)
    return user


# --- one segment ----------------------------------------------------------------------------


def test_edit_text_in_place_keeps_timings_and_coalesces_autosaves(app: Flask, team: Team) -> None:
    tid = transcript(app, team)
    first, second, _third = ids(app, team, tid)
    page = team.page(f"/transcripts/{tid}")
    assert 'data-revision="1"' in page and "data-editor" in page
    assert f'id="seg-{first}"' in page and "js/editor.js" in page

    resp = team.web.post(
        seg_url(team, tid, first), {"text": "hello the world", "base_revision": "1"}, htmx=True
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.headers["X-Revision"] == "2"
    body = resp.get_data(as_text=True)
    assert body.lstrip().startswith(f'<div class="segment" id="seg-{first}"')
    assert 'data-rev="2"' in body
    # Unchanged words keep timing and confidence; the fixed word is a person's (no data-p).
    assert (
        '<span class="w" data-start="0.00" data-end="0.30" data-i="0" data-p="0.90">hello</span>'
        in body
    )
    assert '<span class="w" data-start="0.40" data-end="0.70" data-i="1">the</span>' in body

    # Autosave of the same segment by the same person: one revision, the counter still moves.
    again = team.web.post(
        seg_url(team, tid, first), {"text": "hello the world!", "base_revision": "2"}, htmx=True
    )
    assert again.headers["X-Revision"] == "3"
    now = state(app, team, tid)
    assert now["revision"] == 3
    assert [(n, kind, summary) for n, kind, summary, _a in now["revisions"]] == [
        (1, "original", "Transcribed with tiny-random"),
        (3, "edit", "Edited segment 1"),
    ]
    # Another segment is another revision; saving the same text again is no revision at all.
    other = team.web.post(
        seg_url(team, tid, second), {"text": "second line", "base_revision": "3"}, htmx=True
    )
    assert other.headers["X-Revision"] == "4"
    same = team.web.post(
        seg_url(team, tid, second), {"text": " second   line ", "base_revision": "4"}, htmx=True
    )
    assert same.status_code == 200 and same.headers["X-Revision"] == "4"
    assert [r[0] for r in state(app, team, tid)["revisions"]] == [1, 3, 4]
    assert texts(app, team, tid) == ["hello the world!", "second line", "third teh end"]

    # Without scripts: a plain form, back to the transcript at the segment.
    plain = team.web.post(seg_url(team, tid, first), {"text": "Hello world", "base_revision": "4"})
    assert plain.status_code == 302
    assert plain.headers["Location"].endswith(f"/transcripts/{tid}#seg-{first}")
    assert "Edited segment 1." in team.page(f"/transcripts/{tid}")


def test_split_merge_times_and_speaker_through_the_page(app: Flask, team: Team) -> None:
    tid = transcript(app, team)
    first, second, third = ids(app, team, tid)

    panel = team.web.get(seg_url(team, tid, second) + "?base=1", headers={"HX-Request": "true"})
    assert panel.status_code == 200
    tools = panel.get_data(as_text=True)
    assert tools.lstrip().startswith(f'<div class="seg-tools" id="tools-{second}"')
    assert f'name="next_id" value="{third}"' in tools and 'name="base_revision" value="1"' in tools
    assert 'title="Split before “line”"' in tools

    split = team.web.post(
        seg_url(team, tid, second, "/split"), {"word_index": "2", "base_revision": "1"}, htmx=True
    )
    assert split.status_code == 200, split.get_data(as_text=True)
    body = split.get_data(as_text=True)
    assert (
        body.count('class="segment"') == 2
        and f'<div id="tools-{second}" hx-swap-oob="delete">' in body
    )
    assert texts(app, team, tid) == ["hello teh world", "second line", "here now", "third teh end"]
    rows = state(app, team, tid)["segments"]
    assert [r[1] for r in rows] == [0, 1, 2, 3]
    assert rows[1][3] == rows[2][2] == 3.3  # cut where "here" starts
    assert rows[2][5] == "SPEAKER_01" and rows[1][0] == second

    merge = team.web.post(
        seg_url(team, tid, second, "/merge"),
        {"next_id": str(rows[2][0]), "base_revision": "2"},
        htmx=True,
    )
    assert merge.status_code == 200, merge.get_data(as_text=True)
    assert f'<div id="seg-{rows[2][0]}" hx-swap-oob="delete">' in merge.get_data(as_text=True)
    assert texts(app, team, tid) == ["hello teh world", "second line here now", "third teh end"]
    after = state(app, team, tid)["segments"]
    assert (after[1][2], after[1][3]) == (2.5, 4.5) and [r[1] for r in after] == [0, 1, 2]

    times = team.web.post(
        seg_url(team, tid, third, "/times"),
        {"start": "0:05.5", "end": "7.25", "base_revision": "3"},
        htmx=True,
    )
    assert times.status_code == 200, times.get_data(as_text=True)
    assert state(app, team, tid)["segments"][2][2:4] == (5.5, 7.25)

    existing = team.web.post(
        seg_url(team, tid, first, "/speaker"),
        {"speaker": "SPEAKER_01", "base_revision": "4"},
        htmx=True,
    )
    assert existing.status_code == 200
    assert '<span class="speaker">Speaker 2</span>' in existing.get_data(as_text=True)
    made = team.web.post(
        seg_url(team, tid, third, "/speaker"),
        {"speaker": "new", "name": "Grace", "base_revision": "5"},
        htmx=True,
    )
    assert made.status_code == 200
    answer = made.get_data(as_text=True)
    assert '<span class="speaker">Grace</span>' in answer
    assert '<section class="speakers" id="speakers" hx-swap-oob="true">' in answer
    now = state(app, team, tid)
    assert now["speakers"] == [
        ("SPEAKER_00", "Speaker 1"),
        ("SPEAKER_01", "Speaker 2"),
        ("SPEAKER_02", "Grace"),
    ]
    assert now["speaker_count"] == 3 and now["segments"][2][5] == "SPEAKER_02"
    assert [r[1:3] for r in now["revisions"]] == [
        ("original", "Transcribed with tiny-random"),
        ("split", "Split segment 2 at 0:03.30"),
        ("merge", "Merged segments 2 and 3"),
        ("times", "Set segment 3 to 0:05.50 to 0:07.25"),
        ("speaker", "Gave segment 1 the speaker: Speaker 2"),
        ("speaker", "Gave segment 3 a new speaker: Grace"),
    ]

    # The tools also work as a page of their own, without scripts.
    page = team.page(f"/transcripts/{tid}/segments/{first}")
    assert '<textarea name="text"' in page and "hx-post" not in page
    plain = team.web.post(
        seg_url(team, tid, first, "/split"), {"word_index": "1", "base_revision": "6"}
    )
    assert plain.status_code == 302 and plain.headers["Location"].endswith(f"#seg-{first}")
    assert texts(app, team, tid)[:2] == ["hello", "teh world"]


def test_segment_changes_through_the_api(app: Flask, team: Team) -> None:
    tid = transcript(app, team)
    first, second, third = ids(app, team, tid)
    api = api_caller(team)
    path = f"/transcripts/{tid}/segments"

    edited = api("PATCH", f"{path}/{first}", json={"text": "Hello the world", "base_revision": 1})
    assert edited.status_code == 200, edited.json
    assert edited.headers["X-Revision"] == "2"
    out = edited.json
    assert out["revision"] == 2 and out["changed"] and out["summary"] == "Edited segment 1"
    seg = out["segments"][0]
    assert seg["id"] == str(first) and seg["text"] == "Hello the world" and seg["changed_in"] == 2
    assert seg["words"][1] == {"text": "the", "start": 0.4, "end": 0.7, "probability": None}

    both = api(
        "PATCH",
        f"{path}/{second}",
        json={"start": 2.6, "end": 4.4, "new_speaker": "", "base_revision": 2},
    )
    assert both.status_code == 200, both.json
    assert both.json["speaker"] == {"label": "SPEAKER_02", "name": "Speaker 3"}
    assert both.json["summary"] == "Edited segment 2 (times, speaker)"

    split = api("POST", f"{path}/{third}/split", json={"offset": 6, "base_revision": 3})
    assert split.status_code == 200, split.json
    assert [s["text"] for s in split.json["segments"]] == ["third", "teh end"]
    new_id = split.json["segments"][1]["id"]
    merged = api("POST", f"{path}/{third}/merge", json={"next_id": new_id, "base_revision": 4})
    assert merged.status_code == 200 and merged.json["removed"] == [new_id]
    assert merged.json["segments"][0]["text"] == "third teh end"

    last = api("POST", f"{path}/{third}/merge", json={"base_revision": 5})
    assert last.status_code == 422 and "last segment" in last.json["message"]
    nothing = api("PATCH", f"{path}/{first}", json={"base_revision": 5})
    assert nothing.status_code == 422 and nothing.json["message"].startswith("Nothing to change")
    assert api("GET", f"/transcripts/{tid}/revisions").json["revision"] == 5


# --- bad input ---------------------------------------------------------------------------------


def test_refused_changes_say_why_and_change_nothing(app: Flask, team: Team) -> None:
    tid = transcript(app, team)
    first, second, third = ids(app, team, tid)
    api = api_caller(team)
    before = state(app, team, tid)
    web_cases = [
        (seg_url(team, tid, first), {"text": "   ", "base_revision": "1"}, "cannot be empty"),
        (
            seg_url(team, tid, first),
            {"text": "x" * 10_001, "base_revision": "1"},
            "at most 10,000 characters",
        ),
        (seg_url(team, tid, first), {"text": "fine"}, "base_revision"),
        (seg_url(team, tid, first), {"text": "fine", "base_revision": "7"}, "does not exist yet"),
        (seg_url(team, tid, first), {"text": "fine", "base_revision": "one"}, "whole number"),
        (
            seg_url(team, tid, second, "/times"),
            {"start": "4", "end": "3", "base_revision": "1"},
            "must be before the end",
        ),
        (
            seg_url(team, tid, second, "/times"),
            {"start": "4.5", "end": "4.5", "base_revision": "1"},
            "must be before the end",
        ),
        (
            seg_url(team, tid, second, "/times"),
            {"start": "1.5", "base_revision": "1"},
            "before segment 1 ends (0:02.00)",
        ),
        (
            seg_url(team, tid, second, "/times"),
            {"end": "5.5", "base_revision": "1"},
            "after segment 3 starts (0:05.00)",
        ),
        (
            seg_url(team, tid, third, "/times"),
            {"end": "11", "base_revision": "1"},
            "after the recording does (0:10.00)",
        ),
        (
            seg_url(team, tid, first, "/times"),
            {"start": "-1", "base_revision": "1"},
            "Write the start as seconds",
        ),
        (
            seg_url(team, tid, first, "/times"),
            {"start": "soon", "base_revision": "1"},
            "Write the start as seconds",
        ),
        (
            seg_url(team, tid, first, "/split"),
            {"word_index": "0", "base_revision": "1"},
            "Split before a word from 2 to 3",
        ),
        (
            seg_url(team, tid, first, "/split"),
            {"word_index": "3", "base_revision": "1"},
            "Split before a word from 2 to 3",
        ),
        (
            seg_url(team, tid, first, "/split"),
            {"offset": "0", "base_revision": "1"},
            "both parts keep some of it",
        ),
        (seg_url(team, tid, first, "/split"), {"base_revision": "1"}, "Say where to split"),
        (seg_url(team, tid, third, "/merge"), {"base_revision": "1"}, "nothing after it to merge"),
        (
            seg_url(team, tid, first, "/merge"),
            {"next_id": str(third), "base_revision": "1"},
            "not next to each other",
        ),
        (
            seg_url(team, tid, first, "/speaker"),
            {"speaker": "SPEAKER_09", "base_revision": "1"},
            "no speaker SPEAKER_09",
        ),
        (
            seg_url(team, tid, first, "/speaker"),
            {"speaker": "new", "name": "n" * 121, "base_revision": "1"},
            "1 to 120 characters",
        ),
        (
            team.url(f"/transcripts/{tid}/replace"),
            {"find": "  ", "replace": "x", "base_revision": "1"},
            "Type what to find",
        ),
        (
            team.url(f"/transcripts/{tid}/replace"),
            {"find": "zebra", "replace": "x", "base_revision": "1"},
            "Nothing matches",
        ),
        (
            team.url(f"/transcripts/{tid}/replace"),
            {"find": "teh", "replace": "teh", "match_case": "1", "base_revision": "1"},
            "the same as what it replaces",
        ),
        (
            team.url(f"/transcripts/{tid}/replace"),
            {"find": "hello teh world", "replace": "", "base_revision": "1"},
            "leave segment 1 empty",
        ),
        (
            team.url(f"/transcripts/{tid}/history/1/restore"),
            {"base_revision": "1"},
            "the current version",
        ),
        (
            team.url(f"/transcripts/{tid}/review"),
            {"action": "dance", "base_revision": "1"},
            "Choose accept, fix or fix all",
        ),
        (
            team.url(f"/transcripts/{tid}/review"),
            {"action": "accept", "segment_id": str(first), "index": "9", "base_revision": "1"},
            "has no word 9",
        ),
        (
            team.url(f"/transcripts/{tid}/review"),
            {
                "action": "accept",
                "segment_id": str(first),
                "index": "1",
                "word": "tea",
                "base_revision": "1",
            },
            "is “teh”, not “tea”",
        ),
        (
            team.url(f"/transcripts/{tid}/review"),
            {"action": "fix_all", "word": "", "text": "x", "base_revision": "1"},
            "Say which word",
        ),
    ]
    for url, data, message in web_cases:
        for htmx in (True, False):
            resp = team.web.post(url, data, htmx=htmx)
            assert resp.status_code == 422, (url, data, resp.status_code)
            assert message in resp.get_data(as_text=True), (url, data, message)
    assert state(app, team, tid) == before

    path = f"/transcripts/{tid}/segments"
    api_cases = [
        ("PATCH", f"{path}/{first}", {"text": "", "base_revision": 1}, "text"),
        ("PATCH", f"{path}/{first}", {"text": "ok"}, "base_revision"),
        ("PATCH", f"{path}/{second}", {"start": 4.0, "end": 3.0, "base_revision": 1}, "end"),
        ("PATCH", f"{path}/{second}", {"start": 1.0, "base_revision": 1}, "start"),
        (
            "PATCH",
            f"{path}/{first}",
            {"speaker": "SPEAKER_00", "new_speaker": "Bo", "base_revision": 1},
            "speaker",
        ),
        ("POST", f"{path}/{first}/split", {"word_index": 1, "offset": 3, "base_revision": 1}, None),
        ("POST", f"/transcripts/{tid}/replace", {"find": "", "base_revision": 1}, "find"),
        (
            "POST",
            f"/transcripts/{tid}/review",
            {"action": "fix", "segment_id": str(first), "index": 1, "base_revision": 1},
            "text",
        ),
    ]
    for method, url, body, field in api_cases:
        resp = api(method, url, json=body)
        assert resp.status_code == 422, (url, body, resp.json)
        assert resp.json["message"] and resp.json.get("field") == field, resp.json
    bad_threshold = api("GET", f"/transcripts/{tid}/review?threshold=2")
    assert bad_threshold.status_code == 422 and bad_threshold.json["field"] == "threshold"
    nan = api("PATCH", f"{path}/{first}", json={"start": "NaN", "base_revision": 1})
    assert nan.status_code == 422
    assert state(app, team, tid) == before


def test_payloads_over_the_limits_are_refused(app: Flask, team: Team) -> None:
    tid = transcript(app, team)
    first = ids(app, team, tid)[0]
    api = api_caller(team)
    before = state(app, team, tid)
    huge = "word " * 2_000_000  # 10 MB
    form = team.web.post(seg_url(team, tid, first), {"text": huge, "base_revision": "1"}, htmx=True)
    assert form.status_code == 413
    assert "too large" in form.get_data(as_text=True)
    plain = team.web.post(seg_url(team, tid, first), {"text": huge, "base_revision": "1"})
    assert plain.status_code == 413
    resp = api(
        "PATCH", f"/transcripts/{tid}/segments/{first}", json={"text": huge, "base_revision": 1}
    )
    assert resp.status_code == 413
    assert resp.is_json and resp.json["message"]
    long = api(
        "PATCH",
        f"/transcripts/{tid}/segments/{first}",
        json={"text": "x" * 20_000, "base_revision": 1},
    )
    assert (
        long.status_code == 422
        and "at most 10,000 characters (20,000 given)" in long.json["message"]
    )
    assert state(app, team, tid) == before


def test_only_completed_transcripts_can_be_edited(app: Flask, team: Team) -> None:
    tid = make_transcript(
        app,
        team.workspace.id,
        "Busy",
        status=Status.PROCESSING,
        segments=[(0.0, 1.0, "partial", None)],
    )
    first = ids(app, team, tid)[0]
    resp = team.web.post(
        seg_url(team, tid, first), {"text": "changed", "base_revision": "1"}, htmx=True
    )
    assert resp.status_code == 422 and "it can be edited once it is completed" in resp.get_data(
        as_text=True
    )
    assert texts(app, team, tid) == ["partial"]
    assert "data-editor" not in team.page(f"/transcripts/{tid}")


def test_markup_is_stored_as_text_and_always_escaped(app: Flask, team: Team) -> None:
    tid = transcript(app, team)
    first, second, _ = ids(app, team, tid)
    script = '<script>alert("x")</script> & <b>bold</b>'
    assert (
        team.web.post(
            seg_url(team, tid, first), {"text": script, "base_revision": "1"}, htmx=True
        ).status_code
        == 200
    )
    named = team.web.post(
        seg_url(team, tid, second, "/speaker"),
        {"speaker": "new", "name": '<img src=x onerror="alert(1)">', "base_revision": "2"},
        htmx=True,
    )
    assert named.status_code == 200
    renamed = team.web.post(
        team.url(f"/transcripts/{tid}/speakers/SPEAKER_00"),
        {"name": "<i>Ada</i>", "base_revision": "3"},
        htmx=True,
    )
    assert renamed.status_code == 200
    assert texts(app, team, tid)[0] == script  # stored as typed
    pages = [
        team.page(f"/transcripts/{tid}"),
        team.page(f"/transcripts/{tid}/history"),
        team.page(f"/transcripts/{tid}/history/2"),
        team.page(f"/transcripts/{tid}/history/4"),
        team.page(f"/transcripts/{tid}/segments/{second}"),
        named.get_data(as_text=True),
        renamed.get_data(as_text=True),
    ]
    for page in pages:
        assert "<script>alert" not in page and "<img src=x" not in page and "<i>Ada</i>" not in page
        assert "<b>bold</b>" not in page
    assert '>&lt;script&gt;alert("x")&lt;/script&gt;</span>' in pages[0]  # a word of its own
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in pages[0]
    assert "&lt;i&gt;Ada&lt;/i&gt;" in pages[0]


# --- two people, one transcript ------------------------------------------------------------------


def test_stale_base_is_refused_only_where_it_touches_what_changed(
    app: Flask, team: Team, web2: Web
) -> None:
    tid = transcript(app, team)
    first, second, third = ids(app, team, tid)
    second_member(app, team, web2)
    theirs = Team(web2, team.workspace, team.user)  # same workspace, the second person's browser

    # Both opened the page at revision 1. Paula saves segment 1; Ada saves segment 2: both apply.
    assert (
        team.web.post(
            seg_url(team, tid, first), {"text": "hello the world", "base_revision": "1"}, htmx=True
        ).status_code
        == 200
    )
    other = theirs.web.post(
        seg_url(team, tid, second), {"text": "second line", "base_revision": "1"}, htmx=True
    )
    assert other.status_code == 200 and other.headers["X-Revision"] == "3"

    # Ada then saves segment 1 on her stale copy: refused, naming who saved and when.
    before = state(app, team, tid)
    refused = theirs.web.post(
        seg_url(team, tid, first), {"text": "HELLO world", "base_revision": "1"}, htmx=True
    )
    assert refused.status_code == 409
    assert refused.headers["X-Revision"] == "3"
    html = refused.get_data(as_text=True)
    assert re.search(
        r"Paula Pages changed this segment at \d{4}-\d\d-\d\d \d\d:\d\d UTC \(revision 2\)", html
    )
    assert '<div class="theirs"><strong>Saved version</strong><p>hello the world</p></div>' in html
    assert 'data-conflict="mine"' in html and 'data-conflict="theirs"' in html
    assert f'<template data-theirs><div class="segment" id="seg-{first}"' in html
    assert 'data-rev="3"' in html
    assert state(app, team, tid) == before

    # Without scripts the segment page shows both versions and keeps her text in the box.
    plain = theirs.web.post(
        seg_url(team, tid, first), {"text": "HELLO world", "base_revision": "1"}
    )
    assert plain.status_code == 409
    page = plain.get_data(as_text=True)
    assert "HELLO world</textarea>" in page and "<p>hello the world</p>" in page
    assert 'name="base_revision" value="3"' in page

    # "Keep mine": saved again on the revision she has now seen.
    mine = theirs.web.post(
        seg_url(team, tid, first), {"text": "HELLO world", "base_revision": "3"}, htmx=True
    )
    assert mine.status_code == 200 and texts(app, team, tid)[0] == "HELLO world"

    # Through the API the refusal carries the current state.
    api = api_caller(team)
    stale = api(
        "PATCH",
        f"/transcripts/{tid}/segments/{first}",
        json={"text": "api text", "base_revision": 2},
    )
    assert stale.status_code == 409
    body = stale.json
    assert (
        body["error"] == "conflict" and body["revision"] == 4 and body["saved_by"] == "Ada Second"
    )
    assert body["segments"][0]["text"] == "HELLO world" and body["segments"][0]["id"] == str(first)
    assert body["saved_at"] and "Ada Second changed this segment" in body["message"]
    # A merge touches the next segment too; a split the segment itself.
    merged = api("POST", f"/transcripts/{tid}/segments/{second}/merge", json={"base_revision": 2})
    assert merged.status_code == 409
    fine = api(
        "POST",
        f"/transcripts/{tid}/segments/{third}/split",
        json={"word_index": 1, "base_revision": 2},
    )
    assert fine.status_code == 200

    # Whole-transcript changes need the current revision.
    replace = team.web.post(
        team.url(f"/transcripts/{tid}/replace"),
        {"find": "teh", "replace": "the", "base_revision": "4"},
        htmx=True,
    )
    assert replace.status_code == 409 and "reload, then try again" in replace.get_data(as_text=True)
    restore = api("POST", f"/transcripts/{tid}/revisions/1/restore", json={"base_revision": 4})
    assert restore.status_code == 409 and restore.json["revision"] == 5
    assert state(app, team, tid)["revision"] == 5

    # A segment merged away meanwhile: refused as a conflict, not "not found".
    gone_id = fine.json["segments"][1]["id"]
    assert (
        api(
            "POST", f"/transcripts/{tid}/segments/{third}/merge", json={"base_revision": 5}
        ).status_code
        == 200
    )
    late = team.web.post(
        seg_url(team, tid, uuid.UUID(gone_id)), {"text": "late", "base_revision": "5"}, htmx=True
    )
    assert late.status_code == 409 and "removed this segment" in late.get_data(as_text=True)


def test_rename_speaker_is_a_revision_and_stale_renames_conflict(
    app: Flask, team: Team, web2: Web
) -> None:
    tid = transcript(app, team)
    second_member(app, team, web2)
    url = team.url(f"/transcripts/{tid}/speakers/SPEAKER_00")
    page = team.page(f"/transcripts/{tid}")
    assert 'name="base_revision" value="1" data-page-revision' in page

    ok = team.web.post(url, {"name": "Ada", "base_revision": "1"}, htmx=True)
    assert ok.status_code == 200 and ok.headers["X-Revision"] == "2"
    assert state(app, team, tid)["revisions"][-1][1:3] == ("rename", "Renamed Speaker 1 to Ada")
    # Renaming another speaker on the stale page is fine; this one again is a conflict.
    other = web2.post(
        team.url(f"/transcripts/{tid}/speakers/SPEAKER_01"),
        {"name": "Bo", "base_revision": "1"},
        htmx=True,
    )
    assert other.status_code == 200
    before = state(app, team, tid)
    clash = web2.post(url, {"name": "Grace", "base_revision": "1"}, htmx=True)
    assert clash.status_code == 409
    assert "renamed this speaker to “Ada”" in clash.get_data(as_text=True)
    assert state(app, team, tid) == before

    api = api_caller(team)
    renamed = api(
        "PATCH",
        f"/transcripts/{tid}/speakers/SPEAKER_00",
        json={"name": "Ada L", "base_revision": 3},
    )
    assert renamed.status_code == 200 and renamed.json == {"label": "SPEAKER_00", "name": "Ada L"}
    assert renamed.headers["X-Revision"] == "4"
    stale = api(
        "PATCH", f"/transcripts/{tid}/speakers/SPEAKER_00", json={"name": "X", "base_revision": 2}
    )
    assert stale.status_code == 409 and stale.json["error"] == "conflict"


def _edit_in_thread(
    app: Flask, team: Team, tid: uuid.UUID, sid: uuid.UUID, text: str, base: int, results: list
) -> threading.Thread:
    def run() -> None:
        with app.app_context(), workspace_scope(team.workspace.id):
            try:
                saved = editing.edit_text(
                    tid, sid, text, base_revision=base, author_id=team.user.id
                )
                results.append(("saved", saved.revision))
            except editing.EditConflict as e:
                results.append(("conflict", e.revision))
            finally:
                db.session.remove()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_save_waits_for_the_one_in_progress_and_then_sees_it(app: Flask, team: Team) -> None:
    """Another connection is mid-save (it holds the transcript's row and has changed the
    segment, not committed yet). A save of the same segment on the same base must wait for
    it, then be refused: without the lock both would pass the check and one would be lost."""
    tid = transcript(app, team)
    first = ids(app, team, tid)[0]
    with app.app_context(), workspace_scope(team.workspace.id):
        # A session of its own (its own connection), with the workspace's row-level security.
        other = Session(db.engine)
        try:
            other.execute(select(Transcript.id).where(Transcript.id == tid).with_for_update())
            other.execute(
                update(TranscriptSegment)
                .where(TranscriptSegment.id == first)
                .values(text="theirs", changed_in=2)
            )
            other.execute(update(Transcript).where(Transcript.id == tid).values(revision=2))
            results: list = []
            thread = _edit_in_thread(app, team, tid, first, "mine", 1, results)
            time.sleep(0.8)
            assert thread.is_alive() and results == []  # waiting on the lock
            other.commit()
        finally:
            other.close()
    thread.join(10)
    assert results == [("conflict", 2)]
    assert texts(app, team, tid)[0] == "theirs"


def test_concurrent_saves_of_one_segment_let_exactly_one_through(app: Flask, team: Team) -> None:
    tid = transcript(app, team)
    first, second, third = ids(app, team, tid)
    results: list = []
    threads = [_edit_in_thread(app, team, tid, first, f"version {n}", 1, results) for n in range(4)]
    for thread in threads:
        thread.join(20)
    assert sorted(kind for kind, _ in results) == ["conflict", "conflict", "conflict", "saved"]
    assert texts(app, team, tid)[0].startswith("version ")

    # Different segments on the same stale base: all apply, one revision each.
    results.clear()
    threads = [
        _edit_in_thread(app, team, tid, sid, f"line {n}", 1, results)
        for n, sid in enumerate((second, third))
    ]
    for thread in threads:
        thread.join(20)
    assert sorted(results) == [("saved", 3), ("saved", 4)]
    now = state(app, team, tid)
    assert now["revision"] == 4 and [r[0] for r in now["revisions"]] == [1, 2, 3, 4]
    assert sorted(s[7] for s in now["segments"]) == [2, 3, 4]


# --- history ------------------------------------------------------------------------------------


def test_history_diff_and_restore(app: Flask, team: Team) -> None:
    tid = transcript(app, team)
    first, second, third = ids(app, team, tid)
    web = team.web
    # Before any edit the history is the engine's transcript, readable but not written yet.
    assert "Transcribed with tiny-random" in team.page(f"/transcripts/{tid}/history")
    assert state(app, team, tid)["revisions"] == []
    original = team.page(f"/transcripts/{tid}/history/1")
    assert "The transcript as the engine made it." in original and "hello teh world" in original

    web.post(
        seg_url(team, tid, first), {"text": "hello the big world", "base_revision": "1"}, htmx=True
    )
    web.post(
        seg_url(team, tid, third, "/speaker"),
        {"speaker": "new", "name": "Grace", "base_revision": "2"},
        htmx=True,
    )
    web.post(
        team.url(f"/transcripts/{tid}/speakers/SPEAKER_00"),
        {"name": "Ada", "base_revision": "3"},
        htmx=True,
    )
    web.post(
        seg_url(team, tid, second, "/split"), {"word_index": "2", "base_revision": "4"}, htmx=True
    )

    history = team.page(f"/transcripts/{tid}/history")
    rows = re.findall(
        r"<tr(?: class=\"current\")?>\s*<td class=\"num\"><a [^>]*>(\d+)</a>", history
    )
    assert rows == ["5", "4", "3", "2", "1"]
    for summary in (
        "Split segment 2 at 0:03.30",
        "Renamed Speaker 1 to Ada",
        "Gave segment 3 a new speaker: Grace",
        "Edited segment 1",
    ):
        assert summary in history
    assert history.count("Paula Pages") == 4 and "The transcription engine" in history
    assert history.count(">Restore</button>") == 4  # not the current one

    diff = team.page(f"/transcripts/{tid}/history/2")
    assert "Changes from revision 1" in diff and "2 segments unchanged, not shown." in diff
    assert "hello <del>teh</del> <ins>the big</ins> world" in diff
    speakers = team.page(f"/transcripts/{tid}/history/3")
    assert "<ins>New speaker Grace</ins>" in speakers and "speaker Speaker 1 → Grace" in speakers
    assert "<del>Speaker 1</del> → <ins>Ada</ins>" in team.page(f"/transcripts/{tid}/history/4")
    split = team.page(f"/transcripts/{tid}/history/5")
    assert "Added segment 3" in split and "<ins>here now</ins>" in split
    assert web.get(team.url(f"/transcripts/{tid}/history/9")).status_code == 404

    # Restore the engine's version: a new revision; segments and speakers as they were.
    restored = web.post(team.url(f"/transcripts/{tid}/history/1/restore"), {"base_revision": "5"})
    assert restored.status_code == 302
    assert "Restored revision 1: it is now revision 6." in team.page(f"/transcripts/{tid}")
    now = state(app, team, tid)
    assert [s[4] for s in now["segments"]] == [line[2] for line in LINES]
    assert [s[0] for s in now["segments"]] == [first, second, third]  # the same segments
    assert now["speakers"] == [("SPEAKER_00", "Speaker 1"), ("SPEAKER_01", "Speaker 2")]
    assert now["speaker_count"] == 2
    assert now["revisions"][-1][1:3] == ("restore", "Restored revision 1")
    # Restoring a revision that has the split back: the cut-off segment returns, same id.
    api = api_caller(team)
    again = api("POST", f"/transcripts/{tid}/revisions/5/restore", json={"base_revision": 6})
    assert again.status_code == 200 and again.json["revision"] == 7
    assert texts(app, team, tid) == [
        "hello the big world",
        "second line",
        "here now",
        "third teh end",
    ]
    assert state(app, team, tid)["speakers"][0] == ("SPEAKER_00", "Ada")


def test_revisions_through_the_api(app: Flask, team: Team) -> None:
    tid = transcript(app, team)
    first = ids(app, team, tid)[0]
    api = api_caller(team)
    empty = api("GET", f"/transcripts/{tid}/revisions").json
    assert empty["revision"] == 1
    assert [(r["number"], r["kind"], r["author_name"]) for r in empty["revisions"]] == [
        (1, "original", None)
    ]

    api(
        "PATCH",
        f"/transcripts/{tid}/segments/{first}",
        json={"text": "hello the world", "base_revision": 1},
    )
    listed = api("GET", f"/transcripts/{tid}/revisions").json
    assert [(r["number"], r["kind"], r["author_name"]) for r in listed["revisions"]] == [
        (2, "edit", "Paula Pages"),
        (1, "original", None),
    ]
    detail = api("GET", f"/transcripts/{tid}/revisions/2").json
    assert detail["previous"] == 1 and detail["revision"] == 2
    assert detail["snapshot"]["segments"][0]["text"] == "hello the world"
    assert detail["snapshot"]["speakers"] == [
        {"label": "SPEAKER_00", "name": "Speaker 1"},
        {"label": "SPEAKER_01", "name": "Speaker 2"},
    ]
    change = detail["diff"]["segments"][0]
    assert change["status"] == "changed" and change["id"] == str(first) and change["text"]
    assert change["chunks"] == [
        {"op": "same", "text": "hello"},
        {"op": "del", "text": "teh"},
        {"op": "add", "text": "the"},
        {"op": "same", "text": "world"},
    ]
    assert detail["diff"]["unchanged"] == 2
    assert api("GET", f"/transcripts/{tid}/revisions/1").json["diff"] is None
    assert api("GET", f"/transcripts/{tid}/revisions/7").status_code == 404
    current = api("POST", f"/transcripts/{tid}/revisions/2/restore", json={"base_revision": 2})
    assert current.status_code == 422 and "current version" in current.json["message"]


# --- find and replace -----------------------------------------------------------------------------


def test_find_and_replace_across_the_transcript(app: Flask, team: Team) -> None:
    tid = transcript(app, team)
    url = team.url(f"/transcripts/{tid}/replace")
    preview = team.web.post(
        url, {"find": "TEH", "whole_words": "1", "action": "preview"}, htmx=True
    )
    assert preview.status_code == 200
    shown = preview.get_data(as_text=True)
    assert "<strong>2</strong> matches in 2 segments." in shown
    assert "…hello <mark>teh</mark> world…" in shown
    case = team.web.post(url, {"find": "TEH", "match_case": "1", "action": "preview"}, htmx=True)
    assert "No matches." in case.get_data(as_text=True)
    assert state(app, team, tid)["revision"] == 1  # a preview changes nothing

    done = team.web.post(
        url,
        {
            "find": "teh",
            "replace": "the",
            "whole_words": "1",
            "base_revision": "1",
            "action": "replace",
        },
        htmx=True,
    )
    assert done.status_code == 200 and done.headers["X-Revision"] == "2"
    body = done.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="transcript-body" data-revision="2"')
    assert "Replaced &#39;teh&#39; with &#39;the&#39; (2 times)." in body
    assert texts(app, team, tid) == ["hello the world", "second line here now", "third the end"]
    assert state(app, team, tid)["revisions"][-1][1:3] == (
        "replace",
        "Replaced 'teh' with 'the' (2 times)",
    )

    # Whole words: "he" inside "hello" and "here" is left alone without it.
    api = api_caller(team)
    whole = api(
        "POST",
        f"/transcripts/{tid}/replace",
        json={"find": "he", "whole_words": True, "preview": True},
    )
    assert whole.status_code == 200 and whole.json["count"] == 0
    parts = api("POST", f"/transcripts/{tid}/replace", json={"find": "he", "preview": True})
    assert (
        parts.json["count"] == 4
        and parts.json["segments_matched"] == 3
        and not parts.json["changed"]
    )
    assert parts.json["matches"][0] == {
        "segment_id": str(ids(app, team, tid)[0]),
        "number": 1,
        "before": "",
        "found": "he",
        "after": "llo the world",
    }
    replaced = api(
        "POST",
        f"/transcripts/{tid}/replace",
        json={"find": "line here", "replace": "row", "base_revision": 2},
    )
    assert (
        replaced.status_code == 200
        and replaced.json["count"] == 1
        and replaced.json["revision"] == 3
    )
    assert replaced.json["segments"][0]["text"] == "second row now"
    plain = team.web.post(url, {"find": "row", "replace": "line", "base_revision": "3"})
    assert plain.status_code == 302
    assert "Replaced &#39;row&#39; with &#39;line&#39; (1 time)." in team.page(
        f"/transcripts/{tid}"
    )


# --- review pass -------------------------------------------------------------------------------


def test_review_pass_accept_fix_and_fix_all(app: Flask, team: Team) -> None:
    tid = transcript(app, team)
    first, second, _third = ids(app, team, tid)
    set_probabilities(app, team, tid, {"teh": 0.2, "line": 0.3, "now": 0.45})
    page = team.page(f"/transcripts/{tid}")
    assert '<span class="badge warn">4</span>' in page
    assert (
        'class="w low" data-start="0.40" data-end="0.70" data-i="1" data-p="0.20">teh</span>'
        in page
    )

    listed = team.page(f"/transcripts/{tid}/review")
    assert "<strong>4</strong> words below 50% confidence." in listed
    assert 'hello <mark class="word">teh</mark> world <small>20% sure</small>' in listed
    assert listed.count(">Fix all 2</button>") == 2  # "teh" twice
    assert "20% sure" in listed

    url = team.url(f"/transcripts/{tid}/review")
    accept = team.web.post(
        url,
        {
            "action": "accept",
            "segment_id": str(second),
            "index": "1",
            "word": "line",
            "base_revision": "1",
        },
        htmx=True,
    )
    assert accept.status_code == 200
    html = accept.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="review-list" data-revision="2"')
    assert "Accepted 1 word." in html and "<strong>3</strong> words" in html
    assert state(app, team, tid)["segments"][1][6][1] == ["line", 2.9, pytest.approx(3.2), 1.0]
    # Accepting again in a row folds into the same revision.
    team.web.post(
        url,
        {
            "action": "accept",
            "segment_id": str(second),
            "index": "3",
            "word": "now",
            "base_revision": "2",
        },
        htmx=True,
    )
    now = state(app, team, tid)
    assert now["revision"] == 3 and now["revisions"][-1][1:3] == ("accept", "Accepted 2 words")

    fix = team.web.post(
        url,
        {
            "action": "fix",
            "segment_id": str(first),
            "index": "1",
            "word": "teh",
            "text": "the",
            "base_revision": "3",
        },
        htmx=True,
    )
    assert (
        fix.status_code == 200
        and "Fixed &#39;teh&#39; to &#39;the&#39; in segment 1." in fix.get_data(as_text=True)
    )
    assert texts(app, team, tid)[0] == "hello the world"
    assert state(app, team, tid)["segments"][0][6][1] == ["the", 0.4, pytest.approx(0.7), None]

    api = api_caller(team)
    review = api("GET", f"/transcripts/{tid}/review?threshold=0.95").json
    assert review["revision"] == 4 and review["threshold"] == 0.95
    assert [(w["text"], w["number"], w["index"], w["same"]) for w in review["words"]][:2] == [
        ("hello", 1, 0, 1),
        ("world", 1, 2, 1),
    ]
    low = api("GET", f"/transcripts/{tid}/review").json
    assert [(w["text"], w["probability"], w["before"], w["after"]) for w in low["words"]] == [
        ("teh", 0.2, "third", "end"),
    ]
    fixed_all = api(
        "POST",
        f"/transcripts/{tid}/review",
        json={"action": "fix_all", "word": "TEH", "text": "the", "base_revision": 4},
    )
    assert fixed_all.status_code == 200 and fixed_all.json["count"] == 1
    assert fixed_all.json["summary"] == "Fixed 'TEH' to 'the' everywhere (1 time)"
    assert api("GET", f"/transcripts/{tid}/review").json["total"] == 0
    assert texts(app, team, tid)[2] == "third the end"


def test_fix_all_keeps_punctuation_and_capitals(app: Flask, team: Team) -> None:
    tid = make_transcript(
        app,
        team.workspace.id,
        "Caps",
        language="en",
        segments=[(0.0, 3.0, "Teh cat, teh dog.", None), (3.0, 6.0, "(teh) end", None)],
    )
    saved = team.web.post(
        team.url(f"/transcripts/{tid}/review"),
        {"action": "fix_all", "word": "teh", "text": "the", "base_revision": "1"},
        htmx=True,
    )
    assert saved.status_code == 200
    assert "Fixed &#39;teh&#39; to &#39;the&#39; everywhere (3 times)." in saved.get_data(
        as_text=True
    )
    assert texts(app, team, tid) == ["The cat, the dog.", "(the) end"]
    url = team.url(f"/transcripts/{tid}/review")
    capital = team.web.post(
        url, {"action": "fix_all", "word": "cat", "text": "Cat", "base_revision": "2"}
    )
    assert capital.status_code == 302 and texts(app, team, tid)[0] == "The Cat, the dog."
    again = team.web.post(
        url, {"action": "fix_all", "word": "cat", "text": "Cat", "base_revision": "3"}
    )
    assert again.status_code == 422
    assert "Every one of them already reads like the fix." in again.get_data(as_text=True)


# --- who may edit -------------------------------------------------------------------------------


def test_viewers_read_but_cannot_edit(app: Flask, team: Team, web2: Web) -> None:
    tid = transcript(app, team)
    first = ids(app, team, tid)[0]
    second_member(app, team, web2, role="viewer")
    viewer = Team(web2, team.workspace, team.user)
    before = state(app, team, tid)
    page = viewer.page(f"/transcripts/{tid}")
    assert "data-editor" not in page and "Find and replace" not in page
    assert "History" in page and 'name="base_revision"' not in page
    assert "Restore</button>" not in viewer.page(f"/transcripts/{tid}/history")
    assert "Accept</button>" not in viewer.page(f"/transcripts/{tid}/review")
    assert web2.get(seg_url(team, tid, first)).status_code == 403
    for url, data in [
        (seg_url(team, tid, first), {"text": "mine now"}),
        (seg_url(team, tid, first, "/times"), {"start": "0.5"}),
        (seg_url(team, tid, first, "/split"), {"word_index": "1"}),
        (seg_url(team, tid, first, "/merge"), {}),
        (seg_url(team, tid, first, "/speaker"), {"speaker": "SPEAKER_01"}),
        (team.url(f"/transcripts/{tid}/replace"), {"find": "teh", "replace": "x"}),
        (team.url(f"/transcripts/{tid}/history/1/restore"), {}),
        (
            team.url(f"/transcripts/{tid}/review"),
            {"action": "accept", "segment_id": str(first), "index": "0"},
        ),
        (team.url(f"/transcripts/{tid}/speakers/SPEAKER_00"), {"name": "Viewer was here"}),
    ]:
        for htmx in (False, True):
            resp = web2.post(url, {**data, "base_revision": "1"}, htmx=htmx)
            assert resp.status_code == 403, (url, resp.status_code)
    assert state(app, team, tid) == before


def test_another_workspaces_ids_answer_like_missing_ones(app: Flask, team: Team, web2: Web) -> None:
    tid = transcript(app, team)
    first = ids(app, team, tid)[0]
    other = make_team(app, web2, "Other Team")
    foreign_tid = make_transcript(
        app, other.workspace.id, "Theirs", segments=[(0.0, 1.0, "their words", None)]
    )
    foreign_seg = ids(app, other, foreign_tid)[0]
    before_theirs = state(app, other, foreign_tid)
    api = api_caller(team)
    for sid in (foreign_seg, uuid.uuid4()):
        # Our transcript, their segment: the same 404 as a segment that does not exist.
        for action, data in [
            ("", {"text": "x"}),
            ("/split", {"word_index": "1"}),
            ("/merge", {}),
            ("/times", {"start": "0"}),
            ("/speaker", {"speaker": "SPEAKER_00"}),
        ]:
            resp = team.web.post(
                seg_url(team, tid, sid, action), {**data, "base_revision": "1"}, htmx=True
            )
            assert resp.status_code == 404, (action, resp.status_code)
            assert "No such segment in this transcript." in resp.get_data(as_text=True)
        assert team.web.get(seg_url(team, tid, sid)).status_code == 404
        patched = api(
            "PATCH", f"/transcripts/{tid}/segments/{sid}", json={"text": "x", "base_revision": 1}
        )
        assert (
            patched.status_code == 404
            and patched.json["message"] == "No such segment in this transcript."
        )
        review = api(
            "POST",
            f"/transcripts/{tid}/review",
            json={"action": "accept", "segment_id": str(sid), "index": 0, "base_revision": 1},
        )
        assert review.status_code == 404
    # Their transcript id with our key or our pages: not found, as if it did not exist.
    for path in (
        f"/transcripts/{foreign_tid}/revisions",
        f"/transcripts/{foreign_tid}/review",
        f"/transcripts/{foreign_tid}/revisions/1",
    ):
        assert (
            api("GET", path).json
            == api("GET", path.replace(str(foreign_tid), str(uuid.uuid4()))).json
        )
    assert team.web.get(team.url(f"/transcripts/{foreign_tid}/history")).status_code == 404
    assert state(app, other, foreign_tid) == before_theirs
    assert texts(app, team, tid)[0] == "hello teh world"
    assert first


def test_a_refused_tool_shows_the_saved_version_in_the_page(
    app: Flask, team: Team, web2: Web
) -> None:
    tid = transcript(app, team)
    first = ids(app, team, tid)[0]
    second_member(app, team, web2)
    web2.post(
        seg_url(team, tid, first), {"text": "hello there world", "base_revision": "1"}, htmx=True
    )
    stale = team.web.post(
        seg_url(team, tid, first, "/split"), {"word_index": "1", "base_revision": "1"}, htmx=True
    )
    assert stale.status_code == 409
    assert stale.headers["HX-Retarget"] == f"#tools-{first}"
    panel = stale.get_data(as_text=True)
    assert "Ada Second changed this segment" in panel
    assert f'<div class="segment" id="seg-{first}"' in panel and 'hx-swap-oob="true"' in panel
    assert ">there</span>" in panel and 'name="base_revision" value="2"' in panel
    assert texts(app, team, tid)[0] == "hello there world"


def test_review_accept_and_fix_through_the_api(app: Flask, team: Team) -> None:
    tid = transcript(app, team)
    first = ids(app, team, tid)[0]
    set_probabilities(app, team, tid, {"hello": 0.1, "teh": 0.2})
    api = api_caller(team)
    words = api("GET", f"/transcripts/{tid}/review?limit=1").json
    assert words["total"] == 3 and len(words["words"]) == 1
    assert words["words"][0] | {"segment_id": None} == {
        "segment_id": None,
        "number": 1,
        "index": 0,
        "text": "hello",
        "probability": 0.1,
        "start": 0.0,
        "end": 0.3,
        "before": "",
        "after": "teh world",
        "same": 1,
        "more_before": False,
        "more_after": False,
    }
    accepted = api(
        "POST",
        f"/transcripts/{tid}/review",
        json={
            "action": "accept",
            "segment_id": str(first),
            "index": 0,
            "word": "hello",
            "base_revision": 1,
        },
    )
    assert accepted.status_code == 200 and accepted.json["summary"] == "Accepted 1 word"
    assert accepted.json["segments"][0]["words"][0]["probability"] == 1.0
    fixed = api(
        "POST",
        f"/transcripts/{tid}/review",
        json={
            "action": "fix",
            "segment_id": str(first),
            "index": 1,
            "text": "the",
            "base_revision": 2,
        },
    )
    assert fixed.status_code == 200 and fixed.json["revision"] == 3
    assert fixed.json["segments"][0]["text"] == "hello the world"
    stale = api(
        "POST",
        f"/transcripts/{tid}/review",
        json={"action": "accept", "segment_id": str(first), "index": 2, "base_revision": 1},
    )
    assert stale.status_code == 409 and stale.json["segments"][0]["text"] == "hello the world"
    assert api("GET", f"/transcripts/{tid}/review").json["total"] == 1  # "teh" in segment 3
