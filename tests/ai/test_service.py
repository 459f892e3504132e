"""The AI service end to end: requests stored, run by a real RQ worker on the `ai` queue,
against a local Chat Completions server (through the official client) or the extractive
provider; real PostgreSQL and Redis."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from app.ai import service, templates
from app.ai.models import AiMessage, AiSummary, AiUsage, RunStatus
from app.ai.usage import QuotaExceeded
from app.errors import Conflict, NotFound
from app.extensions import db
from app.ingest import uploads
from app.tenants.context import workspace_scope
from app.tenants.models import Workspace
from app.tenants.services import create_workspace
from app.transcripts.models import Status, Transcript
from tests.ai.support import MEETING, NAMES, STARTS, spend, use_server
from tests.fakes.chat_completions_server import DEFAULT_MODEL, ChatCompletionsServer, Reply
from tests.integration.test_pipeline import _worker as gpu_worker
from tests.integration.test_workspaces import database
from tests.speech import make_speech
from tests.transcripts import make_transcript
from tests.web import make_user, unique_email


@pytest.fixture
def owner(app: Flask) -> tuple[uuid.UUID, uuid.UUID]:
    user = make_user(app, unique_email("ai"))
    with app.app_context():
        ws = create_workspace(user.id, "AI Team", f"ai-{uuid.uuid4().hex[:8]}")
        return ws.id, user.id


@pytest.fixture
def llm(monkeypatch: pytest.MonkeyPatch) -> Iterator[ChatCompletionsServer]:
    # The work horse builds its app from the environment: loopback is allowed there so it
    # may call this local server (the web app under test keeps refusing it).
    monkeypatch.setenv("VERBATIM_OUTBOUND_ALLOW_PRIVATE", "true")
    with ChatCompletionsServer(api_key="sk-workspace") as server:
        yield server


def meeting(app: Flask, ws_id: uuid.UUID, title: str = "Roadmap", **fields) -> uuid.UUID:  # type: ignore[no-untyped-def]
    return make_transcript(
        app, ws_id, title, segments=MEETING, speakers=NAMES, duration=48.0, **fields
    )


def summarise(
    app: Flask, ws_id: uuid.UUID, user_id: uuid.UUID, tid: uuid.UUID, key: str
) -> uuid.UUID:
    with database(app, ws_id):
        return service.request_summary(tid, key, user_id).id


def summary(app: Flask, ws_id: uuid.UUID, sid: uuid.UUID) -> AiSummary:
    with database(app, ws_id) as s:
        return s.get(AiSummary, sid)


def answer_of(app: Flask, ws_id: uuid.UUID, mid: uuid.UUID) -> AiMessage:
    with database(app, ws_id) as s:
        return s.get(AiMessage, mid)


def test_openai_summary_is_stored_with_model_prompt_revision_and_usage(app, owner, llm, run_jobs):
    ws_id, user_id = owner
    use_server(app, ws_id, llm)
    tid = meeting(app, ws_id)
    sid = summarise(app, ws_id, user_id, tid, "action_items")
    run_jobs("ai")
    row = summary(app, ws_id, sid)
    assert row.status == RunStatus.COMPLETED, row.error
    assert (row.provider, row.model, row.revision) == ("openai", DEFAULT_MODEL, 1)
    assert row.prompt == templates.BUILTIN["action_items"].instructions
    assert row.calls == 1 and len(llm.chat_requests) == 1
    assert row.citations and all(c["valid"] for c in row.citations)
    assert {c["start"] for c in row.citations} <= STARTS
    # The transcript went as data: fenced by a marker the text cannot forge.
    sent = llm.chat_requests[0].messages
    nonce = re.search(r"<<<DATA ([0-9a-f]{16})>>>", sent[0]["content"]).group(1)
    body = sent[-1]["content"]
    inside = body.split(f"<<<DATA {nonce}>>>")[1].split(f"<<<END DATA {nonce}>>>")[0]
    assert "[00:25] Ana: Ben will update the pricing page and the checkout by Friday." in inside
    with database(app, ws_id) as s:
        used = s.execute(select(AiUsage.feature, AiUsage.calls, AiUsage.prompt_tokens)).one()
    assert (
        used.feature == "summary"
        and used.calls == 1
        and used.prompt_tokens == row.prompt_tokens > 0
    )


def test_long_transcript_is_map_reduced_and_its_citations_stay_valid(
    app, owner, llm, run_jobs, monkeypatch
):
    monkeypatch.setenv("VERBATIM_AI_CONTEXT_TOKENS", "3000")
    monkeypatch.setenv("VERBATIM_AI_MAX_OUTPUT_TOKENS", "300")
    ws_id, user_id = owner
    use_server(app, ws_id, llm)
    segments = [
        (
            i * 6.0,
            i * 6.0 + 5.5,
            f"Segment {i} talks about topic {i % 13} and the plan for it.",
            "S0",
        )
        for i in range(600)
    ]
    tid = make_transcript(
        app, ws_id, "Long", segments=segments, speakers={"S0": "Ana"}, duration=3600.0
    )
    sid = summarise(app, ws_id, user_id, tid, "key_points")
    run_jobs("ai")
    row = summary(app, ws_id, sid)
    assert row.status == RunStatus.COMPLETED, row.error
    calls = llm.chat_requests
    maps = [r for r in calls if "this is part" in r.messages[-1]["content"]]
    assert len(maps) >= 3 and len(calls) == row.calls == len(maps) + 1  # one final reduce
    for r in calls:  # every call fits the model's window
        assert sum(len(m["content"]) for m in r.messages) / 4 < 3000
    assert row.citations and all(c["valid"] for c in row.citations)
    # The final call read notes on every part, each citing moments of its own part.
    final = calls[-1].messages[-1]["content"]
    cited = set(re.findall(r"\[(\d+:\d{2}(?::\d{2})?)\]", final))
    assert len(cited) >= len(maps) and max(map(_seconds, cited)) > 600


def _seconds(stamp: str) -> int:
    total = 0
    for part in stamp.split(":"):
        total = total * 60 + int(part)
    return total


def _seconds(stamp: str) -> int:
    total = 0
    for part in stamp.split(":"):
        total = total * 60 + int(part)
    return total


def test_private_transcripts_are_refused_and_nothing_reaches_the_provider(
    app, owner, llm, run_jobs, redis_conn
):
    ws_id, user_id = owner
    use_server(app, ws_id, llm)
    canary = "periwinkle-canary-7731"
    segs = [(0.0, 5.0, f"The secret word is {canary} and pricing.", "S0")]
    private = make_transcript(app, ws_id, "Private", segments=segs, speakers=NAMES, encrypted=True)
    queued_before = redis_conn.llen("rq:queue:ai")
    with database(app, ws_id), pytest.raises(Conflict) as refused:
        service.request_summary(private, "overview", user_id)
    assert refused.value.status == 409 and "Private Transcript" in refused.value.message
    with database(app, ws_id), pytest.raises(Conflict):
        service.ask(user_id, "What is the secret word?", transcript_id=private)
    assert redis_conn.llen("rq:queue:ai") == queued_before

    # Made private after a summary was queued: the worker refuses it too.
    tid = meeting(app, ws_id, "Soon private")
    sid = summarise(app, ws_id, user_id, tid, "overview")
    with database(app, ws_id) as s:
        s.execute(update(Transcript).where(Transcript.id == tid).values(encrypted=True))
        s.commit()
    run_jobs("ai")
    row = summary(app, ws_id, sid)
    assert row.status == RunStatus.FAILED and "Private Transcript" in row.error

    # A question across the workspace cannot retrieve it either (never indexed).
    run_jobs("index")
    with database(app, ws_id):
        asked = service.ask(user_id, "What is the secret word? And the pricing?")
    run_jobs("ai")
    assert answer_of(app, ws_id, asked.answer.id).status == RunStatus.COMPLETED
    assert llm.chat_requests  # the question itself went (about the other transcript)
    assert all(canary not in str(r.body) for r in llm.requests)
    assert all(str(private) not in str(r.body) for r in llm.requests)


def test_questions_across_the_workspace_read_only_that_workspace(app, llm, run_jobs):
    sides = {}
    for tag in ("x", "y"):
        user = make_user(app, unique_email(f"ask{tag}"))
        with app.app_context():
            ws = create_workspace(user.id, f"Ask {tag}", f"ask-{tag}-{uuid.uuid4().hex[:8]}")
        segs = [
            (0.0, 5.0, "Welcome to the quarterly review.", "S0"),
            (
                5.0,
                11.0,
                f"Pricing for the enterprise tier stays flat, said marker{tag}marker.",
                "S1",
            ),
        ]
        tid = make_transcript(app, ws.id, f"Review {tag}", segments=segs, speakers=NAMES)
        use_server(app, ws.id, llm)
        sides[tag] = (ws.id, user.id, tid)
    run_jobs("index")
    ws_x, user_x, tid_x = sides["x"]
    with database(app, ws_x):
        asked = service.ask(user_x, "What did they say about enterprise pricing?")
    run_jobs("ai")
    answer = answer_of(app, ws_x, asked.answer.id)
    assert answer.status == RunStatus.COMPLETED, answer.error
    sent = " ".join(m["content"] for r in llm.chat_requests for m in r.messages)
    assert "markerxmarker" in sent and "markerymarker" not in sent
    assert answer.citations and all(c["valid"] for c in answer.citations)
    assert {c["transcript_id"] for c in answer.citations} == {str(tid_x)}


def test_chat_streams_its_answer_then_stores_it(app, owner, llm, run_jobs):
    ws_id, user_id = owner
    use_server(app, ws_id, llm)
    tid = meeting(app, ws_id)
    llm.script(
        Reply.say("It moves to forty nine dollars [00:18], the page by Friday [00:25].", chunks=6)
    )
    with database(app, ws_id):
        asked = service.ask(user_id, "What price was agreed?", transcript_id=tid)
    run_jobs("ai")
    with database(app, ws_id):
        events = list(service.stream(asked.answer.id, user_id))
    deltas = [e.data for e in events if e.kind == "delta"]
    assert "".join(deltas) == "It moves to forty nine dollars [00:18], the page by Friday [00:25]."
    assert events[-1].kind == "done"
    answer = answer_of(app, ws_id, asked.answer.id)
    assert answer.content == "".join(deltas) and [c["start"] for c in answer.citations] == [
        18.5,
        25.0,
    ]
    # The next question carries the conversation so far.
    with database(app, ws_id):
        service.ask(user_id, "And who sends it?", transcript_id=tid)
    run_jobs("ai")
    roles = [m["role"] for m in llm.chat_requests[-1].messages]
    assert roles == ["system", "user", "assistant", "user"]
    # Another member cannot read this person's answer.
    other = make_user(app, unique_email("other"))
    with database(app, ws_id), pytest.raises(NotFound):
        list(service.stream(asked.answer.id, other.id))


def test_provider_failure_is_stored_and_streamed_as_an_error(
    app, owner, llm, run_jobs, monkeypatch
):
    monkeypatch.setenv("VERBATIM_AI_MAX_RETRIES", "1")
    ws_id, user_id = owner
    use_server(app, ws_id, llm)
    tid = meeting(app, ws_id)
    llm.script(Reply.server_error(503), Reply.server_error(503))
    with database(app, ws_id):
        asked = service.ask(user_id, "What was decided?", transcript_id=tid)
    run_jobs("ai")
    answer = answer_of(app, ws_id, asked.answer.id)
    assert answer.status == RunStatus.FAILED and answer.error
    assert len(llm.chat_requests) == 2  # the first try and one retry
    with database(app, ws_id):
        events = list(service.stream(asked.answer.id, user_id))
    assert events[-1].kind == "error" and events[-1].data == answer.error


def test_a_workspace_server_never_receives_the_installation_key(app, owner, run_jobs, monkeypatch):
    monkeypatch.setenv("VERBATIM_OUTBOUND_ALLOW_PRIVATE", "true")
    monkeypatch.setenv("VERBATIM_OPENAI_API_KEY", "sk-installation-secret")
    ws_id, user_id = owner
    with ChatCompletionsServer(api_key="sk-installation-secret") as collector:
        use_server(app, ws_id, collector, key="")
        sid = summarise(app, ws_id, user_id, meeting(app, ws_id), "overview")
        run_jobs("ai")
        assert collector.requests and not any(r.authorized for r in collector.requests)
    assert summary(app, ws_id, sid).status == RunStatus.FAILED


def test_the_monthly_token_allowance_stops_language_models_only(app, owner, llm):
    ws_id, user_id = owner
    tid = meeting(app, ws_id)
    with database(app, ws_id) as s:
        assert s.get(Workspace, ws_id).plan in ("free", "")
    spend(app, ws_id, 199_000, 1_000)
    with database(app, ws_id):  # the extractive default costs nothing: still allowed
        assert service.request_summary(tid, "overview", user_id).status == RunStatus.QUEUED
    use_server(app, ws_id, llm)
    with database(app, ws_id), pytest.raises(QuotaExceeded) as spent:
        service.request_summary(tid, "chapters", user_id)
    assert spent.value.status == 429 and "200,000" in spent.value.message
    with database(app, ws_id) as s:
        assert s.scalar(select(func.count(AiSummary.id))) == 1


def test_extractive_provider_on_a_transcript_made_by_the_pipeline(
    app, app_env, owner, run_jobs, tmp_path
):
    ws_id, user_id = owner
    path = make_speech("We agreed the price. Dana will send the sheet by Friday.", tmp_path, "mp3")
    data = path.read_bytes()
    with app.app_context(), workspace_scope(ws_id):
        upload = uploads.create(
            filename=path.name, size=len(data), options={"language": "en"}, user_id=user_id
        )
        _, created = uploads.append(upload.id, 0, io.BytesIO(data), len(data))
        tid = created[0].id
        db.session.remove()  # nothing cached from before the worker ran
    worker = gpu_worker(app_env)  # the production worker entry point, as in test_pipeline
    with database(app, ws_id) as s:
        status = s.scalar(select(Transcript.status).where(Transcript.id == tid))
    assert status == Status.COMPLETED, worker.output[-2000:]
    sids = [summarise(app, ws_id, user_id, tid, key) for key in templates.BUILTIN]
    with database(app, ws_id):
        asked = service.ask(user_id, "What was agreed?", transcript_id=tid)
    run_jobs("ai")
    for sid in sids:
        row = summary(app, ws_id, sid)
        assert row.status == RunStatus.COMPLETED, row.error
        assert row.provider == "extractive" and row.calls == 0 and row.content
        assert all(c["valid"] for c in row.citations)
    answer = answer_of(app, ws_id, asked.answer.id)
    assert answer.status == RunStatus.COMPLETED and answer.content
