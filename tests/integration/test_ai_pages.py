"""The AI pages end to end: the transcript page's panel (summaries, chat), questions across
the workspace, the answers' event streams and the AI settings, through the Flask test
client on real PostgreSQL and Redis, with a real RQ worker on the `ai` queue. The tests
run the quick start's provider (extractive: no VERBATIM_AI_PROVIDER, no OpenAI key)."""

from __future__ import annotations

import html
import json
import re
import uuid
from typing import Any

from flask import Flask
from redis import Redis
from sqlalchemy import func, select, update

from app.ai.models import AiMessage, AiSettings, AiSummary, AiTemplate
from app.ai.service import PRIVATE_REFUSAL
from tests.ai.support import MEETING, NAMES, STARTS, spend
from tests.integration.test_workspaces import add_member, database
from tests.private.support import document, make_keyring, make_private_transcript
from tests.transcripts import Team, drain_index, make_transcript
from tests.web import Web, make_user

HTMX = {"HX-Request": "true"}
_CITE = re.compile(
    r'<a class="cite" href="([^"]*)" data-seek="([0-9.]+)">\[(?:T\d+ )?[0-9:]+\]</a>'
)
_STREAM = re.compile(r'data-ai-stream="([^"]+)"')
# Markup that would run: a script not of the app's own (its strings' JSON block is data,
# never run), an image, an event handler or a javascript: link.
_LIVE = re.compile(
    r'<script\b(?![^>]*\ssrc="/static/)(?! type="application/json" id="i18n-strings">)'
    r'|<img\b|<[a-z][^>]*\s(on[a-z]+=|href="?javascript:)',
    re.I,
)


# --- helpers ---------------------------------------------------------------------------------


def meeting(team: Team, title: str = "Pricing meeting", **fields: Any) -> uuid.UUID:
    return make_transcript(
        team.web.app,
        team.workspace.id,
        title,
        segments=MEETING,
        speakers=NAMES,
        duration=48.0,
        language="en",
        **fields,
    )


def panel(team: Team, tid: uuid.UUID, web: Web | None = None) -> str:
    """The panel as the transcript page loads it (htmx)."""
    resp = (web or team.web).get(team.url(f"/transcripts/{tid}/ai"), headers=HTMX)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    return resp.get_data(as_text=True)


def act(team: Team, path: str, data: dict[str, str] | None = None, **kw: Any):  # type: ignore[no-untyped-def]
    return team.web.post(team.url(path), data or {}, **kw)


def cites(page: str) -> list[tuple[str, float]]:
    return [(href, float(seek)) for href, seek in _CITE.findall(page)]


def articles(page: str) -> dict[str, str]:
    """Summary articles of a panel by template key: {key: status}."""
    found = re.findall(r'class="ai-summary" data-status="(\w+)" data-template="([^"]+)"', page)
    return {key: status for status, key in found}


def queued_jobs(redis_conn: Redis, team: Team) -> list[str]:
    """Jobs of the team's workspace waiting on the `ai` queue (ids carry the workspace)."""
    prefix = f"w{team.workspace.id.hex}_"
    return [
        j.decode() for j in redis_conn.lrange("rq:queue:ai", 0, -1) if j.decode().startswith(prefix)
    ]


def events(body: str) -> list[tuple[str, dict]]:
    """(event, data) pairs of a server-sent event stream."""
    found = []
    for block in body.split("\n\n"):
        kind = re.search(r"^event: (\w+)$", block, re.MULTILINE)
        data = re.search(r"^data: (.*)$", block, re.MULTILINE)
        if kind and data:
            found.append((kind.group(1), json.loads(data.group(1))))
    return found


def count(team: Team, model: type) -> int:
    with database(team.web.app, team.workspace.id) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def member(app: Flask, team: Team, role: str, web: Web) -> Web:
    user = make_user(app)
    add_member(app, team.workspace.id, user, role)
    web.login(user)
    return web


# --- summaries -------------------------------------------------------------------------------


def test_a_summary_is_generated_shown_with_real_citations_and_downloaded(app, team, run_jobs):
    tid = meeting(team)
    page = team.page(f"/transcripts/{tid}")
    # The transcript page loads its panel after itself; without scripts, a link opens it.
    assert f'hx-get="/w/{team.slug}/transcripts/{tid}/ai"' in page
    assert 'src="/static/js/ai.js"' in page
    assert f'href="/w/{team.slug}/ask"' in page  # the Ask tab next to Search

    first = panel(team, tid)
    assert "Extractive (no language model)" in first  # labelled: not a language model
    for title in ("Overview", "Key points", "Action items", "Chapters", "Meeting minutes"):
        assert f">{title}</button>" in first
    assert "No summaries yet" in first

    resp = act(team, f"/transcripts/{tid}/ai/summaries", {"template": "action_items"}, htmx=True)
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    assert articles(body) == {"action_items": "queued"}
    poll = re.search(r'hx-get="([^"]+)" hx-trigger="every 1s"', body)
    assert poll, "a queued summary polls for itself"
    assert "Waiting for its turn" in body

    run_jobs("ai")
    done = team.web.get(html.unescape(poll.group(1)), headers=HTMX).get_data(as_text=True)
    assert 'data-status="completed"' in done
    assert "hx-trigger" not in done  # finished: polling stops
    assert "By Extractive (no language model)" in done
    found = cites(done)
    assert found, done
    for href, seek in found:  # each citation is a segment's real start, on this page
        assert seek in STARTS
        assert href == f"#t={seek:.2f}"
    assert "Ben will update the pricing page" in done
    assert "List every action item" in done  # the prompt, under "Prompt"
    assert '<pre class="ai-source" hidden>' in done  # what Copy copies
    assert articles(panel(team, tid)) == {"action_items": "completed"}

    sid = re.search(r'id="ai-summary-([0-9a-f-]{36})"', done).group(1)
    md = team.web.get(team.url(f"/transcripts/{tid}/ai/summaries/{sid}.md"))
    assert md.status_code == 200 and md.mimetype == "text/markdown"
    assert md.headers["Content-Disposition"].startswith("attachment;")
    assert "Pricing meeting - Action items.md" in md.headers["Content-Disposition"]
    text = md.get_data(as_text=True)
    assert text.startswith("# Action items: Pricing meeting")
    with database(app, team.workspace.id) as s:
        stored = s.get(AiSummary, uuid.UUID(sid))
    assert stored.content.strip() in text
    txt = team.web.get(team.url(f"/transcripts/{tid}/ai/summaries/{sid}.txt"))
    assert txt.status_code == 200 and txt.mimetype == "text/plain"
    plain = txt.get_data(as_text=True)
    assert "**" not in plain and not plain.startswith("#")
    assert re.search(r"\[\d\d:\d\d\]", plain)  # citations stay, as written
    assert team.web.get(team.url(f"/transcripts/{tid}/ai/summaries/{sid}.pdf")).status_code == 404

    # Without scripts: the same panel as a page, whose citations open the transcript.
    whole = team.page(f"/transcripts/{tid}/ai")
    assert "<h1>Summaries and chat</h1>" in whole
    assert all(h == f"/w/{team.slug}/transcripts/{tid}#t={s:.2f}" for h, s in cites(whole))


def test_an_edit_makes_a_summary_stale_until_it_is_regenerated(app, team, run_jobs):
    tid = meeting(team)
    act(team, f"/transcripts/{tid}/ai/summaries", {"template": "overview"}, htmx=True)
    run_jobs("ai")
    assert "Stale" not in panel(team, tid)

    renamed = act(team, f"/transcripts/{tid}/speakers/S1", {"name": "Benedict"})
    assert renamed.status_code == 302
    stale = panel(team, tid)
    assert "Stale: written from revision 1 of the transcript" in stale
    assert "it is at revision 2" in stale
    assert re.search(r'value="overview" class="small">Regenerate</button>', stale)

    again = act(team, f"/transcripts/{tid}/ai/summaries", {"template": "overview"}, htmx=True)
    assert articles(again.get_data(as_text=True)) == {"overview": "queued"}
    run_jobs("ai")
    fresh = panel(team, tid)
    assert articles(fresh) == {"overview": "completed"}
    assert "Stale" not in fresh
    assert "Benedict" in fresh or "Ana" in fresh  # written from the renamed transcript
    assert count(team, AiSummary) == 2  # the earlier one is kept, the newest shown

    # Deleting the shown one brings the earlier one back into view.
    sid = re.search(r'id="ai-summary-([0-9a-f-]{36})"', fresh).group(1)
    gone = act(team, f"/transcripts/{tid}/ai/summaries/{sid}/delete", htmx=True)
    assert gone.status_code == 200
    assert "was deleted" in gone.get_data(as_text=True)
    assert count(team, AiSummary) == 1
    assert "Stale" in panel(team, tid)


# --- chat ------------------------------------------------------------------------------------


def test_a_chat_answer_is_streamed_then_shown_with_citations(app, team, run_jobs, web2):
    tid = meeting(team)
    question = "Who will update the pricing page, and by when?"
    resp = act(team, f"/transcripts/{tid}/ai/chat", {"question": question}, htmx=True)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    body = resp.get_data(as_text=True)
    assert html.escape(question, quote=False) in body
    stream = _STREAM.search(body)
    assert stream, "the new answer's placeholder names its stream"
    assert "Writing the answer" in body

    # A second question while the first is written is refused, in the panel.
    busy = act(team, f"/transcripts/{tid}/ai/chat", {"question": "And then?"}, htmx=True)
    assert busy.status_code == 409
    assert "still being written" in busy.get_data(as_text=True)

    run_jobs("ai")
    sse = team.web.get(html.unescape(stream.group(1)))
    assert sse.status_code == 200 and sse.mimetype == "text/event-stream"
    got = events(sse.get_data(as_text=True))
    kinds = [k for k, _d in got]
    assert kinds[-1] == "done" and "delta" in kinds
    streamed = "".join(d["text"] for k, d in got if k == "delta")
    done = got[-1][1]
    assert done["status"] == "completed" and streamed == done["content"]
    assert "Ben will update the pricing page" in streamed
    assert cites(done["html"]) and all(s in STARTS for _h, s in cites(done["html"]))

    shown = panel(team, tid)
    assert "data-ai-stream" not in shown  # finished: nothing left to follow
    answer_cites = cites(shown.split('id="ai-conversation"')[1])
    assert answer_cites
    assert all(href == f"#t={s:.2f}" and s in STARTS for href, s in answer_cites)

    # Another member cannot follow someone else's answer.
    other = member(app, team, "member", web2)
    assert other.get(html.unescape(stream.group(1))).status_code == 404

    cleared = act(team, f"/transcripts/{tid}/ai/chat/clear", htmx=True)
    assert cleared.status_code == 200
    assert "The conversation was cleared." in cleared.get_data(as_text=True)
    assert count(team, AiMessage) == 0

    # Without scripts: a question posts, then the page comes back with a flash.
    plain = act(team, f"/transcripts/{tid}/ai/chat", {"question": "What is still open?"})
    assert plain.status_code == 302
    assert plain.headers["Location"] == f"/w/{team.slug}/transcripts/{tid}/ai"
    empty = act(team, f"/transcripts/{tid}/ai/chat", {"question": "   "}, htmx=True)
    assert empty.status_code == 400
    assert "Write a question first." in empty.get_data(as_text=True)
    run_jobs("ai")


def test_script_in_a_transcript_or_an_answer_never_runs(app, team, run_jobs):
    hostile = [
        (0.0, 6.0, "The budget is <script>alert(1)</script> approved for March.", "S0"),
        (
            6.0,
            12.0,
            "Ben will send <img src=x onerror=alert(1)> the budget report by Friday.",
            "S1",
        ),
        (12.0, 18.0, "The budget report goes to [the board](javascript:alert(1)) next.", "S0"),
    ]
    tid = make_transcript(
        app,
        team.workspace.id,
        "Budget <script>alert(1)</script>",
        segments=hostile,
        speakers=NAMES,
        duration=18.0,
    )
    act(team, f"/transcripts/{tid}/ai/summaries", {"template": "key_points"}, htmx=True)
    act(
        team, f"/transcripts/{tid}/ai/chat", {"question": "Who sends the budget report?"}, htmx=True
    )
    run_jobs("ai")

    with database(app, team.workspace.id) as s:
        answer = s.scalar(select(AiMessage).where(AiMessage.role == "assistant"))
        summary = s.scalar(select(AiSummary))
    assert summary.status == "completed" and answer.status == "completed"
    assert "alert(1)" in summary.content and "alert(1)" in answer.content  # quoted
    # A language model may answer with raw HTML where the extractive one escapes it.
    raw = (
        "Ben sends it [00:06]. <script>alert(1)</script> <img src=x onerror=alert(1)> "
        '[link](javascript:alert(1)) <a href="javascript:alert(1)">x</a> [00:12]'
    )
    with database(app, team.workspace.id) as s:
        s.execute(update(AiMessage).where(AiMessage.id == answer.id).values(content=raw))
        s.commit()

    stream = team.web.get(team.url(f"/ai/messages/{answer.id}/stream")).get_data(as_text=True)
    pages = {
        "panel": panel(team, tid),
        "page": team.page(f"/transcripts/{tid}/ai"),
        "transcript": team.page(f"/transcripts/{tid}"),
        "stream html": events(stream)[-1][1]["html"],
    }
    for name, body in pages.items():
        assert "<script>alert" not in body, name
        assert not _LIVE.search(body), (name, _LIVE.search(body))
    for name in ("panel", "page"):
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[name], name
        assert "&lt;img src=x onerror=alert(1)&gt;" in pages[name], name
    # The only links in an answer are the citations this app wrote.
    answer_html = pages["stream html"]
    assert answer_html.count("<a ") == len(cites(answer_html)) == 2


def test_a_spent_allowance_is_said_where_the_person_asked(app, team, redis_conn):
    tid = meeting(team)
    with database(app, team.workspace.id) as s:
        s.add(AiSettings(provider="openai", model="house-model"))
        s.commit()
    spend(app, team.workspace.id, 150_000, 50_000, model="house-model")
    assert "house-model" in panel(team, tid)  # a language model: named with its model
    for path, data, part in (
        ("summaries", {"template": "overview"}, 'id="ai-summaries"'),
        ("chat", {"question": "What was decided?"}, 'id="ai-conversation"'),
    ):
        resp = act(team, f"/transcripts/{tid}/ai/{path}", data, htmx=True)
        assert resp.status_code == 429
        body = resp.get_data(as_text=True)
        assert part in body and "used its 200,000 AI tokens for this month" in body
    assert queued_jobs(redis_conn, team) == []
    page = team.page("/settings/ai")
    assert "200,000 language-model tokens used of 200,000 on the Free plan (0 left" in page
    assert "<td>150,000</td><td>50,000</td>" in page


# --- Private Transcripts, roles ----------------------------------------------------------------


def test_a_private_transcript_is_refused_with_the_reason(app, team, redis_conn):
    keys = make_keyring(app, team.user.id)
    doc = document(MEETING, NAMES, duration=48.0)
    tid = make_private_transcript(app, team.workspace.id, keys, doc, "Private talk")
    page = team.page(f"/transcripts/{tid}")
    assert PRIVATE_REFUSAL in page
    assert f"/transcripts/{tid}/ai" not in page  # no panel to load, no controls
    shown = panel(team, tid)
    assert PRIVATE_REFUSAL in shown
    assert "<form" not in shown and "Generate" not in shown

    for path, data in (
        ("summaries", {"template": "overview"}),
        ("chat", {"question": "What was decided?"}),
    ):
        for htmx in (True, False):
            resp = act(team, f"/transcripts/{tid}/ai/{path}", data, htmx=htmx)
            assert resp.status_code == 409, (path, htmx)
            assert PRIVATE_REFUSAL in resp.get_data(as_text=True)
    assert queued_jobs(redis_conn, team) == []
    assert count(team, AiSummary) == 0
    assert count(team, AiMessage) == 0


def test_viewers_read_summaries_but_cannot_generate_or_ask(app, team, run_jobs, web2):
    tid = meeting(team)
    act(team, f"/transcripts/{tid}/ai/summaries", {"template": "overview"}, htmx=True)
    run_jobs("ai")
    viewer = member(app, team, "viewer", web2)

    shown = panel(team, tid, viewer)
    assert articles(shown) == {"overview": "completed"}
    assert cites(shown)
    assert "ai.generate" not in shown and '/ai/summaries"' not in shown
    assert "Regenerate" not in shown and "Delete" not in shown
    assert "asking questions needs the member role" in shown
    assert 'name="question"' not in shown
    sid = re.search(r'id="ai-summary-([0-9a-f-]{36})"', shown).group(1)
    assert viewer.get(team.url(f"/transcripts/{tid}/ai/summaries/{sid}.md")).status_code == 200

    for path, data in (
        (f"/transcripts/{tid}/ai/summaries", {"template": "overview"}),
        (f"/transcripts/{tid}/ai/summaries/{sid}/delete", {}),
        (f"/transcripts/{tid}/ai/chat", {"question": "What was decided?"}),
        (f"/transcripts/{tid}/ai/chat/clear", {}),
        ("/ask", {"question": "What was decided?"}),
        ("/settings/ai/templates", {"name": "Mine", "instructions": "Summarise."}),
    ):
        assert viewer.post(team.url(path), data, htmx=True).status_code == 403, path
    assert viewer.get(team.url("/settings/ai")).status_code == 403
    ask = viewer.get(team.url("/ask")).get_data(as_text=True)
    assert "asking questions needs the member role" in ask
    assert count(team, AiSummary) == 1 and count(team, AiMessage) == 0


# --- questions across the workspace -------------------------------------------------------------


def test_a_question_across_the_workspace_cites_transcripts_by_link(app, team, run_jobs):
    tid = meeting(team)
    drain_index(app)
    page = team.page("/ask")
    assert "Ask across Pages Team" in page
    assert "Extractive (no language model)" in page
    assert 'name="date_from"' in page and ">Ana</option>" in page  # filters from the search's

    bad = team.web.post(
        team.url("/ask"), {"question": "pricing?", "date_from": "yesterday"}, htmx=True
    )
    assert bad.status_code == 400
    assert count(team, AiMessage) == 0

    question = "What did customers say about the Pro plan pricing?"
    resp = team.web.post(team.url("/ask"), {"question": question, "speaker": "Ben"}, htmx=True)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    body = resp.get_data(as_text=True)
    assert _STREAM.search(body) and "(speaker Ben)" in body
    assert 'value="Ben" selected' in body  # the filters stay set for the next question
    run_jobs("ai")

    shown = team.page("/ask")
    found = cites(shown)
    assert found, shown
    for href, seek in found:
        assert href == f"/w/{team.slug}/transcripts/{tid}#t={seek:.2f}"
        assert seek in STARTS

    cleared = team.web.post(team.url("/ask/clear"))
    assert cleared.status_code == 302
    assert count(team, AiMessage) == 0


# --- settings ------------------------------------------------------------------------------------


def test_ai_settings_are_for_admins_and_refuse_a_private_address(app, team, web2):
    page = team.page("/settings/ai")
    assert "Extractive (no language model)" in page
    assert "Nothing yet this month." in page
    assert "0 language-model tokens used of 200,000 on the Free plan" in page
    assert f'href="/w/{team.slug}/settings/ai"' in team.page("/settings")

    refused = act(
        team,
        "/settings/ai",
        {"provider": "openai", "model": "local-model", "base_url": "http://127.0.0.1:8000/v1",
         "api_key": "sk-never-stored-123"},
    )  # fmt: skip
    assert refused.status_code == 422
    body = refused.get_data(as_text=True)
    assert "That AI server address is not allowed" in body
    assert 'value="local-model"' in body  # what was typed stays, the key does not
    assert "sk-never-stored-123" not in body
    assert count(team, AiSettings) == 0  # nothing stored, the valid fields included

    saved = act(team, "/settings/ai", {"provider": "", "model": "", "api_key": "sk-kept-456"})
    assert saved.status_code == 302
    again = team.page("/settings/ai")
    assert "A key is set" in again and "sk-kept-456" not in again
    assert count(team, AiSettings) == 1

    someone = member(app, team, "member", web2)
    assert someone.get(team.url("/settings/ai")).status_code == 403
    assert someone.post(team.url("/settings/ai"), {"provider": "extractive"}).status_code == 403


def test_summary_templates_are_managed_on_the_settings_page(app, team):
    made = act(
        team,
        "/settings/ai/templates",
        {"name": "Sales recap", "instructions": "The customer's needs and the next steps."},
    )
    assert made.status_code == 302
    page = team.page("/settings/ai")
    assert "Sales recap" in page and "The customer&#39;s needs and the next steps." in page
    with database(app, team.workspace.id) as s:
        template_id = s.scalar(select(AiTemplate.id).where(AiTemplate.name == "Sales recap"))

    tid = meeting(team)
    assert f'value="custom:{template_id}"' in panel(team, tid)  # offered on every transcript

    twin = act(team, "/settings/ai/templates", {"name": "sales RECAP", "instructions": "Again."})
    assert twin.status_code == 409
    assert "already has a template called" in twin.get_data(as_text=True)
    blank = act(team, "/settings/ai/templates", {"name": "", "instructions": "No name."})
    assert blank.status_code == 400 and "Name the template." in blank.get_data(as_text=True)

    renamed = act(
        team,
        f"/settings/ai/templates/{template_id}",
        {"name": "Sales call recap", "instructions": "Needs, objections, next steps."},
    )
    assert renamed.status_code == 302
    page = team.page("/settings/ai")
    assert "Sales call recap" in page and "Needs, objections, next steps." in page

    gone = act(team, f"/settings/ai/templates/{template_id}/delete")
    assert gone.status_code == 302
    assert count(team, AiTemplate) == 0
    assert act(team, f"/settings/ai/templates/{template_id}/delete").status_code == 404
