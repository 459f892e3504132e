"""The AI features through /api/v1: summaries, chat with streamed answers, questions across
the workspace, templates; refusals as JSON problems; the OpenAPI description.

Real PostgreSQL and Redis; the `ai` queue is drained by a real RQ worker; the provider is
the installation's default, `extractive` (no language model), as in the quick start.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from typing import Any

import jsonschema
from flask import Flask
from openapi_spec_validator import validate
from redis import Redis
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from rq import Queue
from sqlalchemy import select, update

from app.ai import service
from app.ai.citations import label
from app.ai.models import AiMessage, AiSettings, AiSummary
from app.ai.templates import BUILTIN
from app.auth.models import ApiKey
from app.billing import entitlements, periods
from app.db import utcnow
from app.transcripts.models import TranscriptSegment
from tests.ai.meeting import MEETING
from tests.ai.support import spend
from tests.integration.test_workspaces import database
from tests.transcripts import ApiCaller, Team, api_caller, drain_index, make_team, make_transcript
from tests.web import Web

BASE = "http://localhost"
CRASH_FIX = "I'll fix the login crash on Android by Wednesday."
_LINK = re.compile(r'<a class="cite" href="([^"]+)#t=([0-9.]+)" data-seek="([0-9.]+)">([^<]+)</a>')


# --- helpers ---------------------------------------------------------------------------------


def meeting(team: Team, title: str = "Product sync", **fields: Any) -> uuid.UUID:
    """The product meeting of tests/ai/meeting.py: pricing, then the mobile release."""
    labels = {name: f"SPEAKER_{i:02d}" for i, name in enumerate(("Alice", "Bob", "Carol"))}
    return make_transcript(
        team.web.app,
        team.workspace.id,
        title,
        language="en",
        duration=MEETING[-1].end + 1,
        segments=[(ln.start, ln.end, ln.text, labels[ln.speaker]) for ln in MEETING],
        speakers={label_: name for name, label_ in labels.items()},
        **fields,
    )


def segment_starts(app: Flask, workspace_id: uuid.UUID, tid: uuid.UUID) -> set[float]:
    with database(app, workspace_id) as s:
        return set(
            s.scalars(select(TranscriptSegment.start).where(TranscriptSegment.transcript_id == tid))
        )


def ok(resp: Any, status: int = 200) -> Any:
    assert resp.status_code == status, resp.get_data(as_text=True)[:800]
    return resp.get_json()


def refused(resp: Any, status: int, field: str | None = None) -> dict[str, Any]:
    assert resp.status_code == status, resp.get_data(as_text=True)[:800]
    body = resp.get_json()
    assert body["message"]
    if field is not None:
        assert body.get("field") == field, body
    return body


def local(url: str) -> str:
    assert url.startswith(BASE + "/api/v1/"), url
    return url.removeprefix(BASE)


def events(call: ApiCaller, stream_url: str, last_id: str = "") -> list[tuple[str, str, Any]]:
    """The server-sent events of an answer, read to the end: (id, event, data)."""
    headers = {"Last-Event-ID": last_id} if last_id else {}
    resp = call("GET", local(stream_url), headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    assert resp.mimetype == "text/event-stream"
    assert resp.headers["Cache-Control"] == "no-store"
    out = []
    for block in resp.get_data(as_text=True).split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if not line.startswith(":")
        )
        if "event" in fields:
            out.append((fields["id"], fields["event"], json.loads(fields["data"])))
    return out


def ai_jobs(redis_conn: Redis, workspace_id: uuid.UUID) -> list[str]:
    """The workspace's jobs waiting on the `ai` queue (ids carry the workspace)."""
    prefix = f"w{workspace_id.hex}_"
    return [j for j in Queue("ai", connection=redis_conn).job_ids if j.startswith(prefix)]


def rows(team: Team) -> tuple[int, int]:
    return team.count(AiSummary), team.count(AiMessage)


def spec_of(web: Web) -> dict[str, Any]:
    spec = web.get("/api/v1/openapi.json").get_json()
    validate(spec)
    return spec


def conforms(spec: dict[str, Any], path: str, method: str, status: str, instance: Any) -> None:
    """Validate an answer against the response schema the OpenAPI description gives."""
    where = ["paths", path.replace("/", "~1"), method, "responses", status]
    pointer = "/".join(["#", *where, "content", "application~1json", "schema"])
    registry = Registry().with_resource("urn:spec", DRAFT202012.create_resource(spec))
    jsonschema.Draft202012Validator({"$ref": f"urn:spec{pointer}"}, registry=registry).validate(
        instance
    )


def cites(html: str, page: str, starts: set[float]) -> list[tuple[float, str]]:
    """The citation links in `html`: every one opens `page` at a real segment's start."""
    found = []
    for href, at, seek, shown in _LINK.findall(html):
        assert href == page, href
        assert at == seek
        assert float(at) in {round(s, 2) for s in starts}, (at, sorted(starts))
        assert shown == label(float(at)) or shown.endswith(f" {label(float(at))[1:]}")
        found.append((float(at), shown))
    return found


# --- the provider and usage ------------------------------------------------------------------


def test_the_provider_is_named_and_usage_counted_against_the_plan(team: Team) -> None:
    call = api_caller(team)
    body = ok(call("GET", "/ai"))
    conforms(spec_of(team.web), "/api/v1/ai", "get", "200", body)
    assert body["provider"] == {
        "name": "extractive",
        "title": "Extractive (no language model)",
        "uses_language_model": False,
        "model": "",
        "label": "Extractive (no language model)",
        "overridden": False,
    }
    allowance = entitlements.limit(team.workspace, "ai_tokens_per_month")
    assert allowance and allowance > 0
    usage = body["usage"]
    assert (usage["tokens_used"], usage["allowance"], usage["remaining"]) == (
        0,
        allowance,
        allowance,
    )
    assert usage["by_feature"] == []
    # The AI allowance renews on the billing date, like minutes: a new workspace's billing
    # month began when it was made.
    began = periods.current(team.workspace.created_at, utcnow()).start
    assert datetime.fromisoformat(usage["since"]) == began


# --- summaries -------------------------------------------------------------------------------


def test_a_summary_is_queued_written_by_the_worker_read_and_deleted(
    team: Team, run_jobs: Any, redis_conn: Redis
) -> None:
    call = api_caller(team)
    tid = meeting(team)
    path = f"/transcripts/{tid}/summaries"
    spec = spec_of(team.web)

    queued = ok(call("POST", path, json={"template": "action_items"}), 202)
    conforms(spec, "/api/v1/transcripts/{transcript_id}/summaries", "post", "202", queued)
    assert queued["status"] == "queued"
    assert (queued["template_key"], queued["template_title"]) == ("action_items", "Action items")
    assert queued["prompt"] == BUILTIN["action_items"].instructions
    assert (queued["revision"], queued["stale"], queued["provider"]) == (1, False, "extractive")
    assert queued["content"] == "" and queued["finished_at"] is None
    assert len(ai_jobs(redis_conn, team.workspace.id)) == 1
    # Asked again while it is being written: the same summary, not a second run.
    again = ok(call("POST", path, json={"template": "action_items"}), 202)
    assert again["id"] == queued["id"]
    assert len(ai_jobs(redis_conn, team.workspace.id)) == 1

    run_jobs("ai")
    done = ok(call("GET", f"{path}/{queued['id']}"))
    conforms(spec, "/api/v1/transcripts/{transcript_id}/summaries/{summary_id}", "get", "200", done)
    assert done["status"] == "completed", done["error"]
    assert done["finished_at"] and not done["error"]
    assert (done["provider"], done["model"], done["stale"]) == ("extractive", "extractive-1", False)
    # Action items name their owners, each with the moment it was agreed.
    assert "Bob" in done["content"] and "Friday" in done["content"]
    starts = segment_starts(team.web.app, team.workspace.id, tid)
    links = cites(done["html"], f"{BASE}/w/{team.slug}/transcripts/{tid}", starts)
    assert links and len(links) == len(done["citations"])
    assert all(c["valid"] and c["transcript_id"] == str(tid) for c in done["citations"])
    assert "<script" not in done["html"]

    listed = ok(call("GET", path))
    conforms(spec, "/api/v1/transcripts/{transcript_id}/summaries", "get", "200", listed)
    assert [s["id"] for s in listed] == [queued["id"]]
    assert listed[0]["content"] == done["content"]

    assert call("DELETE", f"{path}/{queued['id']}").status_code == 204
    refused(call("GET", f"{path}/{queued['id']}"), 404)
    refused(call("DELETE", f"{path}/{queued['id']}"), 404)
    assert ok(call("GET", path)) == []


def test_a_summary_goes_stale_when_the_transcript_is_edited_and_can_be_regenerated(
    team: Team, run_jobs: Any
) -> None:
    call = api_caller(team)
    tid = meeting(team)
    path = f"/transcripts/{tid}/summaries"
    first = ok(call("POST", path, json={"template": "overview"}), 202)
    run_jobs("ai")
    with database(team.web.app, team.workspace.id) as s:
        segment_id = s.scalar(
            select(TranscriptSegment.id).where(
                TranscriptSegment.transcript_id == tid, TranscriptSegment.position == 0
            )
        )
    edit = call(
        "PATCH",
        f"/transcripts/{tid}/segments/{segment_id}",
        json={"text": "Okay, let's begin. Pricing first.", "base_revision": 1},
    )
    assert ok(edit)["revision"] == 2

    old = ok(call("GET", f"{path}/{first['id']}"))
    assert (old["status"], old["revision"], old["stale"]) == ("completed", 1, True)

    fresh = ok(call("POST", path, json={"template": "overview"}), 202)
    assert fresh["id"] != first["id"]
    assert (fresh["revision"], fresh["stale"]) == (2, False)
    run_jobs("ai")
    listed = ok(call("GET", path))
    assert [(s["id"], s["stale"]) for s in listed] == [(fresh["id"], False), (first["id"], True)]
    assert listed[0]["status"] == "completed"


def test_a_template_of_the_workspace_makes_summaries_that_keep_its_prompt(
    team: Team, run_jobs: Any
) -> None:
    call = api_caller(team)
    tid = meeting(team)
    made = ok(
        call(
            "POST",
            "/ai/templates",
            json={"name": "Decisions", "instructions": "List the decisions made."},
        ),
        201,
    )
    conforms(spec_of(team.web), "/api/v1/ai/templates", "post", "201", made)
    assert made["key"] == f"custom:{made['id']}" and made["builtin"] is False
    listed = ok(call("GET", "/ai/templates"))
    assert [t["key"] for t in listed] == [*BUILTIN, made["key"]]
    assert all(t["builtin"] and t["id"] is None for t in listed[:-1])

    summary = ok(call("POST", f"/transcripts/{tid}/summaries", json={"template": made["key"]}), 202)
    assert (summary["template_title"], summary["prompt"]) == (
        "Decisions",
        "List the decisions made.",
    )
    run_jobs("ai")
    renamed = ok(
        call("PATCH", f"/ai/templates/{made['id']}", json={"name": "Decisions made"}),
    )
    assert (renamed["title"], renamed["instructions"]) == (
        "Decisions made",
        "List the decisions made.",
    )
    assert call("DELETE", f"/ai/templates/{made['id']}").status_code == 204
    refused(call("PATCH", f"/ai/templates/{made['id']}", json={"name": "x"}), 404)
    kept = ok(call("GET", f"/transcripts/{tid}/summaries/{summary['id']}"))
    assert (kept["status"], kept["template_title"]) == ("completed", "Decisions")
    assert kept["content"]
    # Gone from the menu: asking for it again is a missing template.
    refused(call("POST", f"/transcripts/{tid}/summaries", json={"template": made["key"]}), 404)


def test_template_refusals_through_the_api(team: Team) -> None:
    call = api_caller(team)
    body = {"name": "Weekly", "instructions": "Summarise the week."}
    ok(call("POST", "/ai/templates", json=body), 201)
    refused(call("POST", "/ai/templates", json=body | {"name": "weekly"}), 409, "name")
    refused(call("POST", "/ai/templates", json=body | {"name": "x" * 121}), 400, "name")
    refused(call("POST", "/ai/templates", json=body | {"instructions": " "}), 400, "instructions")
    assert call("POST", "/ai/templates", json={"name": "No instructions"}).status_code == 422
    assert [t["title"] for t in ok(call("GET", "/ai/templates")) if not t["builtin"]] == ["Weekly"]


# --- chat with a transcript ------------------------------------------------------------------


def test_chat_answers_stream_and_cite_real_moments(
    team: Team, run_jobs: Any, redis_conn: Redis
) -> None:
    call = api_caller(team)
    tid = meeting(team)
    chat = f"/transcripts/{tid}/chat"
    spec = spec_of(team.web)
    assert ok(call("GET", chat)) == []

    asked = ok(call("POST", chat, json={"question": "  Who will fix the login crash?  "}), 202)
    conforms(spec, "/api/v1/transcripts/{transcript_id}/chat", "post", "202", asked)
    q, a = asked["question"], asked["answer"]
    assert (q["role"], q["status"], q["content"]) == (
        "user",
        "completed",
        "Who will fix the login crash?",
    )
    assert q["stream_url"] is None
    assert (a["role"], a["status"], a["transcript_id"], a["revision"]) == (
        "assistant",
        "queued",
        str(tid),
        1,
    )
    assert asked["stream_url"] == a["stream_url"] == f"{BASE}/api/v1/ai/messages/{a['id']}/stream"
    assert a["url"] == f"{BASE}/api/v1/ai/messages/{a['id']}"
    # One answer at a time: the next question waits for this one.
    busy = refused(call("POST", chat, json={"question": "And when?"}), 409)
    assert "still being written" in busy["message"]
    assert len(ok(call("GET", chat))) == 2

    run_jobs("ai")
    got = events(call, asked["stream_url"])
    kinds = [kind for _id, kind, _data in got]
    assert kinds[-1] == "done" and set(kinds[:-1]) == {"delta"}, kinds
    written = "".join(data["text"] for _id, kind, data in got if kind == "delta")
    done = got[-1][2]
    assert done["status"] == "completed" and done["content"] == written
    assert CRASH_FIX in written
    starts = segment_starts(team.web.app, team.workspace.id, tid)
    links = cites(done["html"], f"{BASE}/w/{team.slug}/transcripts/{tid}", starts)
    fix_start = next(ln.start for ln in MEETING if ln.text == CRASH_FIX)
    assert (round(fix_start, 2), label(fix_start)) in links
    # A reconnect with the last id seen gets only what came after it.
    resumed = events(call, asked["stream_url"], last_id=got[0][0])
    assert [e[0] for e in resumed] == [e[0] for e in got[1:]]

    polled = ok(call("GET", local(a["url"])))
    conforms(spec, "/api/v1/ai/messages/{message_id}", "get", "200", polled)
    assert (polled["status"], polled["content"], polled["html"]) == (
        "completed",
        written,
        done["html"],
    )
    history = ok(call("GET", chat))
    conforms(spec, "/api/v1/transcripts/{transcript_id}/chat", "get", "200", history)
    assert [(m["role"], m["status"]) for m in history] == [
        ("user", "completed"),
        ("assistant", "completed"),
    ]
    # The question itself has no stream.
    refused(call("GET", f"/ai/messages/{q['id']}/stream"), 404)

    assert call("DELETE", chat).status_code == 204
    assert ok(call("GET", chat)) == []
    refused(call("GET", local(a["url"])), 404)
    refused(call("GET", local(a["stream_url"])), 404)
    assert ai_jobs(redis_conn, team.workspace.id) == []


def test_another_members_conversation_is_missing_to_your_key(
    app: Flask, team: Team, web2: Web, run_jobs: Any
) -> None:
    """A key speaks for the person who made it; a colleague's key sees none of it."""
    from tests.integration.test_api import new_key
    from tests.integration.test_workspaces import add_member
    from tests.web import make_user

    call = api_caller(team)
    tid = meeting(team)
    asked = ok(call("POST", f"/transcripts/{tid}/chat", json={"question": "pricing?"}), 202)
    colleague = make_user(app, name="Cole League")
    add_member(app, team.workspace.id, colleague, "admin")
    web2.login(colleague)
    theirs = ApiCaller(web2, new_key(web2, team.slug, "Cole's key"))
    assert ok(theirs("GET", f"/transcripts/{tid}/chat")) == []
    for url in (asked["answer"]["url"], asked["stream_url"]):
        missing = theirs("GET", local(url))
        assert missing.status_code == 404
        assert missing.get_json() == theirs("GET", f"/ai/messages/{uuid.uuid4()}").get_json()
    run_jobs("ai")


def test_a_key_whose_maker_is_gone_cannot_hold_a_conversation(team: Team) -> None:
    call = api_caller(team)
    tid = meeting(team)
    with database(team.web.app, team.workspace.id) as s:
        s.execute(update(ApiKey).values(created_by_id=None))
        s.commit()
    for method, path, body in (
        ("GET", f"/transcripts/{tid}/chat", None),
        ("POST", f"/transcripts/{tid}/chat", {"question": "pricing?"}),
        ("GET", "/ask", None),
        ("POST", "/ask", {"question": "pricing?"}),
    ):
        assert "maker" in refused(call(method, path, json=body), 403)["message"]
    assert rows(team) == (0, 0)


# --- questions across the workspace ----------------------------------------------------------


def _harbour(team: Team, title: str, at: float) -> uuid.UUID:
    return make_transcript(
        team.web.app,
        team.workspace.id,
        title,
        language="en",
        segments=[
            (0.0, 3.5, "Welcome to the harbour committee.", "SPEAKER_00"),
            (
                at,
                at + 4.0,
                "The lighthouse keeper retires in March after forty years.",
                "SPEAKER_00",
            ),
            (at + 5.0, at + 8.0, "We will need someone new by the spring.", "SPEAKER_01"),
        ],
        speakers={"SPEAKER_00": "Ana", "SPEAKER_01": "Ben"},
    )


def _answer(call: ApiCaller, run_jobs: Any, question: str, **filters: str) -> dict[str, Any]:
    asked = ok(call("POST", "/ask", json={"question": question, "filters": filters}), 202)
    run_jobs("ai")
    *_deltas, (_id, kind, done) = events(call, asked["stream_url"])
    assert kind == "done" and done["status"] == "completed", done
    return done


def test_a_question_across_the_workspace_cites_only_its_own_transcripts(
    app: Flask, team: Team, web2: Web, run_jobs: Any
) -> None:
    other = make_team(app, web2, "Other Harbour")
    mine = _harbour(team, "Harbour committee", 4.0)
    theirs = _harbour(other, "Their harbour committee", 30.0)
    drain_index(app)
    call, other_call = api_caller(team), api_caller(other)
    question = "When does the lighthouse keeper retire?"

    done = _answer(call, run_jobs, question)
    assert "lighthouse keeper retires in March" in done["content"]
    assert {c["transcript_id"] for c in done["citations"]} == {str(mine)}
    assert all(c["valid"] and c["source"] == "T1" for c in done["citations"])
    links = cites(
        done["html"],
        f"{BASE}/w/{team.slug}/transcripts/{mine}",
        segment_starts(app, team.workspace.id, mine),
    )
    assert (4.0, "[T1 00:04]") in links
    assert str(theirs) not in json.dumps(done) and other.slug not in done["html"]
    assert "Their harbour committee" not in done["content"]

    theirs_done = _answer(other_call, run_jobs, question)
    assert {c["transcript_id"] for c in theirs_done["citations"]} == {str(theirs)}
    assert f"/w/{other.slug}/transcripts/{theirs}#t=30.00" in theirs_done["html"]
    assert str(mine) not in json.dumps(theirs_done)

    history = ok(call("GET", "/ask"))
    conforms(spec_of(team.web), "/api/v1/ask", "get", "200", history)
    assert [(m["role"], m["transcript_id"]) for m in history] == [
        ("user", None),
        ("assistant", None),
    ]
    assert call("DELETE", "/ask").status_code == 204
    assert ok(call("GET", "/ask")) == []
    assert len(ok(other_call("GET", "/ask"))) == 2


def test_filters_narrow_a_question_and_are_kept_with_it(
    app: Flask, team: Team, run_jobs: Any
) -> None:
    call = api_caller(team)
    _harbour(team, "Harbour committee", 4.0)
    drain_index(app)
    done = _answer(call, run_jobs, "When does the lighthouse keeper retire?", language="fr")
    assert done["citations"] == []
    assert "None of the recordings searched" in done["content"]
    answer = ok(call("GET", "/ask"))[-1]
    assert answer["filters"] == {"language": "fr"}


# --- refusals --------------------------------------------------------------------------------


def test_a_private_transcript_is_refused_by_every_ai_endpoint_and_nothing_is_queued(
    team: Team, redis_conn: Redis
) -> None:
    call = api_caller(team)
    tid = meeting(team, "Private sync", encrypted=True)
    t = f"/transcripts/{tid}"
    for method, path, body in (
        ("GET", f"{t}/summaries", None),
        ("POST", f"{t}/summaries", {"template": "overview"}),
        ("POST", f"{t}/summaries", {}),
        ("GET", f"{t}/summaries/{uuid.uuid4()}", None),
        ("DELETE", f"{t}/summaries/{uuid.uuid4()}", None),
        ("GET", f"{t}/chat", None),
        ("POST", f"{t}/chat", {"question": "What was decided?"}),
        ("POST", f"{t}/chat", {"question": ""}),
        ("DELETE", f"{t}/chat", None),
    ):
        body_ = refused(call(method, path, json=body), 409)
        assert body_["message"] == service.PRIVATE_REFUSAL, (method, path)
    assert ai_jobs(redis_conn, team.workspace.id) == []
    assert rows(team) == (0, 0)


def test_bad_inputs_are_400_and_store_nothing(team: Team, redis_conn: Redis) -> None:
    call = api_caller(team)
    tid = meeting(team)
    too_long = "why " * (service.MAX_QUESTION_CHARS // 4 + 1)
    for method, path, body, field in (
        ("POST", f"/transcripts/{tid}/chat", {"question": ""}, "question"),
        ("POST", f"/transcripts/{tid}/chat", {"question": " \n\t "}, "question"),
        ("POST", f"/transcripts/{tid}/chat", {}, "question"),
        ("POST", f"/transcripts/{tid}/chat", {"question": too_long}, "question"),
        ("POST", "/ask", {"question": ""}, "question"),
        ("POST", "/ask", {"question": too_long}, "question"),
        ("POST", "/ask", {"question": "pricing?", "filters": {"date_from": "May"}}, "date_from"),
        (
            "POST",
            "/ask",
            {
                "question": "pricing?",
                "filters": {"date_from": "2026-05-02", "date_to": "2026-05-01"},
            },
            "date_from",
        ),
        ("POST", "/ask", {"question": "pricing?", "filters": {"folder": "nope"}}, "folder"),
        ("POST", "/ask", {"question": "pricing?", "filters": {"uploader": "x"}}, "filters"),
        ("POST", f"/transcripts/{tid}/summaries", {}, "template"),
        ("POST", f"/transcripts/{tid}/summaries", {"template": "  "}, "template"),
    ):
        refused(call(method, path, json=body), 400, field)
    refused(call("POST", f"/transcripts/{tid}/summaries", json={"template": "novel"}), 404)
    # Wrong types are the schema's 422, as everywhere in the API.
    assert call("POST", "/ask", json={"question": 5}).status_code == 422
    assert call("POST", "/ask", json={"question": "x", "filters": "all"}).status_code == 422
    assert rows(team) == (0, 0)
    assert ai_jobs(redis_conn, team.workspace.id) == []


def test_unknown_and_unfinished_transcripts(team: Team) -> None:
    from app.transcripts.models import Status

    call = api_caller(team)
    missing = uuid.uuid4()
    for method, path in (
        ("GET", f"/transcripts/{missing}/summaries"),
        ("GET", f"/transcripts/{missing}/chat"),
        ("POST", f"/transcripts/{missing}/chat"),
    ):
        assert refused(call(method, path, json={"question": "q"}), 404)["message"] == (
            "No such transcript."
        )
    queued = make_transcript(team.web.app, team.workspace.id, "Later", status=Status.QUEUED)
    assert ok(call("GET", f"/transcripts/{queued}/summaries")) == []
    body = refused(
        call("POST", f"/transcripts/{queued}/summaries", json={"template": "overview"}), 409
    )
    assert "completed" in body["message"]
    assert rows(team) == (0, 0)


def _use_a_language_model(team: Team, provider: str, tokens: int = 0) -> None:
    with database(team.web.app, team.workspace.id) as s:
        s.add(AiSettings(provider=provider, model="gpt-test"))
        s.commit()
    if tokens:
        spend(team.web.app, team.workspace.id, tokens, model="gpt-test", provider=provider)


def test_a_spent_allowance_is_429_and_nothing_is_stored(team: Team, redis_conn: Redis) -> None:
    call = api_caller(team)
    tid = meeting(team)
    allowance = entitlements.limit(team.workspace, "ai_tokens_per_month")
    assert allowance is not None
    _use_a_language_model(team, "openai", tokens=allowance)
    body = ok(call("GET", "/ai"))
    assert body["provider"]["uses_language_model"] is True
    assert body["provider"]["label"] == "OpenAI-compatible · gpt-test"
    assert (body["usage"]["tokens_used"], body["usage"]["remaining"]) == (allowance, 0)
    assert body["usage"]["by_feature"][0]["feature"] == "summary"
    for method, path, payload in (
        ("POST", f"/transcripts/{tid}/summaries", {"template": "overview"}),
        ("POST", f"/transcripts/{tid}/chat", {"question": "What was decided?"}),
        ("POST", "/ask", {"question": "What was decided?"}),
    ):
        assert "tokens" in refused(call(method, path, json=payload), 429)["message"]
    assert rows(team) == (0, 0)
    assert ai_jobs(redis_conn, team.workspace.id) == []


def test_a_provider_that_is_not_installed_is_503(team: Team, redis_conn: Redis) -> None:
    call = api_caller(team)
    tid = meeting(team)
    _use_a_language_model(team, "no-such-provider")
    refused(call("GET", "/ai"), 503)
    for method, path, payload in (
        ("POST", f"/transcripts/{tid}/summaries", {"template": "overview"}),
        ("POST", f"/transcripts/{tid}/chat", {"question": "What was decided?"}),
        ("POST", "/ask", {"question": "What was decided?"}),
    ):
        assert "no-such-provider" in refused(call(method, path, json=payload), 503)["message"]
    assert rows(team) == (0, 0)
    assert ai_jobs(redis_conn, team.workspace.id) == []


# --- the description -------------------------------------------------------------------------

ENDPOINTS = {
    "/api/v1/ai": {"get": {"200", "503"}},
    "/api/v1/ai/templates": {"get": {"200"}, "post": {"201", "400", "403", "409", "422"}},
    "/api/v1/ai/templates/{template_id}": {
        "patch": {"200", "400", "403", "404", "409"},
        "delete": {"204", "403", "404"},
    },
    "/api/v1/transcripts/{transcript_id}/summaries": {
        "get": {"200", "404", "409"},
        "post": {"202", "400", "404", "409", "429", "503"},
    },
    "/api/v1/transcripts/{transcript_id}/summaries/{summary_id}": {
        "get": {"200", "404", "409"},
        "delete": {"204", "404", "409"},
    },
    "/api/v1/transcripts/{transcript_id}/chat": {
        "get": {"200", "404", "409"},
        "post": {"202", "400", "404", "409", "429", "503"},
        "delete": {"204", "404", "409"},
    },
    "/api/v1/ask": {
        "get": {"200"},
        "post": {"202", "400", "409", "429", "503"},
        "delete": {"204"},
    },
    "/api/v1/ai/messages/{message_id}": {"get": {"200", "404"}},
    "/api/v1/ai/messages/{message_id}/stream": {"get": {"200", "404"}},
}


def test_the_openapi_description_lists_every_ai_endpoint(web: Web) -> None:
    spec = spec_of(web)
    for path, methods in ENDPOINTS.items():
        assert path in spec["paths"], path
        for method, statuses in methods.items():
            operation = spec["paths"][path][method]
            assert statuses <= set(operation["responses"]), (path, method)
    stream = spec["paths"]["/api/v1/ai/messages/{message_id}/stream"]["get"]
    assert list(stream["responses"]["200"]["content"]) == ["text/event-stream"]
    assert "Last-Event-ID" in {p["name"] for p in stream["parameters"]}
    assert "delta" in stream["responses"]["200"]["description"]
    ask = spec["paths"]["/api/v1/ask"]["post"]
    body = ask["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    filters = spec["components"]["schemas"][body]["properties"]["filters"]
    name = (filters.get("$ref") or filters["allOf"][0]["$ref"]).rsplit("/", 1)[-1]
    assert set(spec["components"]["schemas"][name]["properties"]) == set(service.FILTER_NAMES)
    summary = spec["components"]["schemas"]["SummaryOut"]["properties"]
    assert {"stale", "prompt", "model", "revision", "html", "citations"} <= set(summary)
    assert "#t=" in summary["html"]["description"]
