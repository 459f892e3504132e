"""API: the AI features. Summaries of a transcript from templates, chat with a transcript,
questions across the workspace, the workspace's own templates, the provider and usage.

The work runs on the `ai` queue: a request answers 202 with the stored row, which the
caller polls (or, for answers, streams as server-sent events). Conversations belong to a
person: a key acts for whoever made it. Citations in `html` link to the transcript's page
at the cited moment, as absolute URLs, so they work wherever the HTML is shown.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import g, request, url_for
from flask_babel import gettext as _

from app.ai import render, service, sse, template_admin, templates, usage
from app.ai.citations import Citation
from app.ai.models import AiConversation, AiMessage, AiSummary, AiTemplate
from app.api import ai_schemas as s
from app.api.blueprint import api_blueprint
from app.api.transcript_schemas import ProblemOut
from app.api.transcripts import problem
from app.billing import entitlements
from app.errors import BadRequest, Conflict, Forbidden, NotFound, ServiceError
from app.extensions import db
from app.settings import settings
from app.transcripts import services as transcripts
from app.transcripts.models import Transcript

bp = api_blueprint(
    "api_ai", __name__, "AI: summaries, chat with a transcript, questions across the workspace"
)

_T = "/transcripts/<uuid:transcript_id>"
_MESSAGE = "/ai/messages/<uuid:message_id>"
_PRIVATE = "A Private (encrypted) transcript: the server cannot read it"


def _errors(*pairs: tuple[int, str]) -> Any:
    """Document refusals (all JSON problems) in one decorator."""

    def decorate(view: Any) -> Any:
        for status, description in reversed(pairs):
            view = bp.alt_response(status, schema=ProblemOut, description=description)(view)
        return view

    return decorate


# --- helpers ---------------------------------------------------------------------------------


def _person() -> uuid.UUID:
    # A conversation is one person's; a key speaks for the person who made it.
    person = g.api_key.created_by_id
    if person is None:
        raise Forbidden(
            _(
                "This key's maker has left the workspace; conversations belong to a person, "
                "so make a new key."
            )
        )
    return person


def _absolute(path: str) -> str:
    return settings().base_url.rstrip("/") + path


def page_link(cite: Citation) -> str:
    """A citation as the transcript's page at that moment (absolute)."""
    path = url_for("transcripts.show", slug=g.workspace.slug, transcript_id=cite.transcript_id)
    return f"{_absolute(path)}#t={cite.start:.2f}"


def _transcript(transcript_id: uuid.UUID) -> Transcript:
    """The transcript, refused (409) when Private: nothing of its AI is served either."""
    t = transcripts.get(transcript_id)
    if t.encrypted:
        raise Conflict(_(service.PRIVATE_REFUSAL))
    return t


def _run(row: AiSummary | AiMessage) -> dict[str, Any]:
    return {
        "id": row.id,
        "status": row.status,
        "content": row.content,
        "html": str(render.result_html(row.content, row.citations, page_link)),
        "citations": row.citations,
        "provider": row.provider,
        "model": row.model,
        "calls": row.calls,
        "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens,
        "error": row.error,
        "created_at": row.created_at,
        "finished_at": row.finished_at,
    }


def summary_out(row: AiSummary, t: Transcript) -> dict[str, Any]:
    return _run(row) | {
        "transcript_id": row.transcript_id,
        "template_key": row.template_key,
        "template_title": row.template_title,
        "prompt": row.prompt,
        "revision": row.revision,
        "stale": row.revision != t.revision,
    }


def message_out(m: AiMessage, conv: AiConversation) -> dict[str, Any]:
    stream = (
        _absolute(url_for("api_ai.stream_message", message_id=m.id))
        if m.role == "assistant"
        else None
    )
    return _run(m) | {
        "role": m.role,
        "transcript_id": conv.transcript_id,
        "revision": m.revision,
        "filters": m.filters or {},
        "url": _absolute(url_for("api_ai.get_message", message_id=m.id)),
        "stream_url": stream,
    }


def _asked(asked: service.Asked) -> dict[str, Any]:
    conv = db.session.get(AiConversation, asked.answer.conversation_id)
    answer = message_out(asked.answer, conv)
    return {
        "question": message_out(asked.question, conv),
        "answer": answer,
        "stream_url": answer["stream_url"],
    }


def template_out(key: str, row: AiTemplate | None = None) -> dict[str, Any]:
    tpl = templates.as_template(row) if row is not None else templates.BUILTIN[key]
    return {
        "key": tpl.key,
        "id": row.id if row else None,
        "title": tpl.title,
        "instructions": tpl.instructions,
        "builtin": row is None,
        "created_at": row.created_at if row else None,
        "updated_at": row.updated_at if row else None,
    }


# --- the provider and usage ------------------------------------------------------------------


@bp.get("/ai")
@bp.response(200, s.AiOut)
@_errors((503, "The workspace's provider is not available here"))
def get_ai() -> Any:
    """The provider the workspace's AI features use, and this month's token usage against
    the plan's allowance. The extractive provider uses no language model and costs nothing."""
    try:
        chosen = service.choice()
    except ServiceError as e:
        return problem(e)
    used = usage.tokens_this_month()
    allowance = entitlements.limit(g.workspace, "ai_tokens_per_month")
    return {
        "provider": {
            "name": chosen.name,
            "title": chosen.title,
            "uses_language_model": chosen.uses_language_model,
            "model": chosen.model,
            "label": chosen.label,
            "overridden": chosen.overridden,
        },
        "usage": {
            "since": usage.month_start(),
            "tokens_used": used,
            "allowance": allowance,
            "remaining": None if allowance is None else max(0, allowance - used),
            "by_feature": usage.summary(),
        },
    }


# --- templates -------------------------------------------------------------------------------


@bp.get("/ai/templates")
@bp.response(200, s.TemplateOut(many=True))
def list_templates() -> Any:
    """The built-in templates, then the workspace's own by name."""
    return [template_out(key) for key in templates.BUILTIN] + [
        template_out("", row) for row in template_admin.list_templates()
    ]


@bp.post("/ai/templates")
@bp.arguments(s.TemplateIn)
@bp.response(201, s.TemplateOut)
@_errors(
    (400, "An empty or too long name or instructions"),
    (403, "Not an admin"),
    (409, "The workspace already has a template with that name"),
)
def create_template(body: dict[str, Any]) -> Any:
    """Add a template of the workspace's own (admins). Its `key` is what a summary asks for."""
    try:
        row = template_admin.create(body["name"], body["instructions"], g.api_key.created_by_id)
    except ServiceError as e:
        return problem(e)
    return template_out("", row)


@bp.patch("/ai/templates/<uuid:template_id>")
@bp.arguments(s.TemplatePatchIn)
@bp.response(200, s.TemplateOut)
@_errors(
    (400, "An empty or too long name or instructions"),
    (403, "Not an admin"),
    (404, "No such template"),
    (409, "The workspace already has a template with that name"),
)
def update_template(body: dict[str, Any], template_id: uuid.UUID) -> Any:
    """Rename it or rewrite its instructions (admins). Summaries made with it keep the
    title and prompt they were made with."""
    try:
        row = template_admin.update(template_id, body.get("name"), body.get("instructions"))
    except ServiceError as e:
        return problem(e)
    return template_out("", row)


@bp.delete("/ai/templates/<uuid:template_id>")
@bp.response(204)
@_errors((403, "Not an admin"), (404, "No such template"))
def delete_template(template_id: uuid.UUID) -> Any:
    """Delete it (admins); summaries made with it stay."""
    try:
        template_admin.delete(template_id)
    except ServiceError as e:
        return problem(e)
    return None


# --- summaries -------------------------------------------------------------------------------


@bp.get(f"{_T}/summaries")
@bp.response(200, s.SummaryOut(many=True), description=s.LINKS)
@_errors((404, "No such transcript"), (409, _PRIVATE))
def list_summaries(transcript_id: uuid.UUID) -> Any:
    """Every summary of the transcript, newest first. `stale`: the transcript was edited
    after the summary read it."""
    try:
        t = _transcript(transcript_id)
        return [summary_out(row, t) for row in service.summaries(t.id)]
    except ServiceError as e:
        return problem(e)


@bp.post(f"{_T}/summaries")
@bp.arguments(s.SummaryIn)
@bp.response(202, s.SummaryOut)
@_errors(
    (400, "No template given"),
    (404, "No such transcript, or no such template"),
    (409, f"{_PRIVATE}; or the transcript is not completed"),
    (429, "The workspace has used this month's AI tokens"),
    (503, "The workspace's provider is not available here"),
)
def request_summary(body: dict[str, Any], transcript_id: uuid.UUID) -> Any:
    """Summarise the transcript with a template; the summary is written on the `ai` queue
    (poll GET …/summaries/{summary_id} until `status` is completed or failed). Asking again
    while the same one is being written returns that one."""
    try:
        t = _transcript(transcript_id)
        if not body["template"].strip():
            raise BadRequest(
                _("Choose a template (see GET /api/v1/ai/templates)."), field="template"
            )
        row = service.request_summary(t.id, body["template"].strip(), g.api_key.created_by_id)
        return summary_out(row, t)
    except ServiceError as e:
        return problem(e)


@bp.get(f"{_T}/summaries/<uuid:summary_id>")
@bp.response(200, s.SummaryOut, description=s.LINKS)
@_errors((404, "No such transcript or summary"), (409, _PRIVATE))
def get_summary(transcript_id: uuid.UUID, summary_id: uuid.UUID) -> Any:
    try:
        t = _transcript(transcript_id)
        return summary_out(service.get_summary(t.id, summary_id), t)
    except ServiceError as e:
        return problem(e)


@bp.delete(f"{_T}/summaries/<uuid:summary_id>")
@bp.response(204)
@_errors((404, "No such transcript or summary"), (409, _PRIVATE))
def delete_summary(transcript_id: uuid.UUID, summary_id: uuid.UUID) -> Any:
    try:
        t = _transcript(transcript_id)
        service.delete_summary(t.id, summary_id)
    except ServiceError as e:
        return problem(e)
    return None


# --- chat with a transcript ------------------------------------------------------------------


_ASK_ERRORS = (
    (400, "An empty or too long question, or a bad filter"),
    (403, "The key's maker has left the workspace"),
    (409, "The previous answer is still being written"),
    (429, "The workspace has used this month's AI tokens"),
    (503, "The workspace's provider is not available here"),
)


@bp.get(f"{_T}/chat")
@bp.response(200, s.MessageOut(many=True), description=s.LINKS)
@_errors(
    (403, "The key's maker has left the workspace"),
    (404, "No such transcript"),
    (409, f"{_PRIVATE}; or the transcript is not completed"),
)
def get_chat(transcript_id: uuid.UUID) -> Any:
    """The key maker's conversation with the transcript, oldest first."""
    try:
        _transcript(transcript_id)
        _t, conv = service.transcript_conversation(transcript_id, _person())
        return [message_out(m, conv) for m in service.messages(conv)]
    except ServiceError as e:
        return problem(e)


@bp.post(f"{_T}/chat")
@bp.arguments(s.QuestionIn)
@bp.response(202, s.AskedOut)
@_errors(
    _ASK_ERRORS[0],
    _ASK_ERRORS[1],
    (404, "No such transcript"),
    (409, f"{_PRIVATE}; the transcript is not completed; or an answer is still being written"),
    *_ASK_ERRORS[3:],
)
def ask_transcript(body: dict[str, Any], transcript_id: uuid.UUID) -> Any:
    """Ask about the transcript. The answer is written on the `ai` queue and cites the
    moments it relies on as [mm:ss]; read it as it is written from `stream_url`, or poll
    the answer's `url`. Earlier turns of the conversation are taken into account."""
    try:
        _transcript(transcript_id)
        asked = service.ask(_person(), body["question"], transcript_id=transcript_id)
        return _asked(asked)
    except ServiceError as e:
        return problem(e)


@bp.delete(f"{_T}/chat")
@bp.response(204)
@_errors(
    (403, "The key's maker has left the workspace"), (404, "No such transcript"), (409, _PRIVATE)
)
def clear_chat(transcript_id: uuid.UUID) -> Any:
    """Forget the conversation with the transcript."""
    try:
        _transcript(transcript_id)
        _t, conv = service.transcript_conversation(transcript_id, _person())
        service.clear(conv)
    except ServiceError as e:
        return problem(e)
    return None


# --- questions across the workspace ----------------------------------------------------------


@bp.get("/ask")
@bp.response(200, s.MessageOut(many=True), description=s.LINKS)
@_errors((403, "The key's maker has left the workspace"))
def get_questions() -> Any:
    """The key maker's questions across the workspace and their answers, oldest first."""
    try:
        conv = service.workspace_conversation(_person())
        return [message_out(m, conv) for m in service.messages(conv)]
    except ServiceError as e:
        return problem(e)


@bp.post("/ask")
@bp.arguments(s.AskIn)
@bp.response(202, s.AskedOut)
@_errors(*_ASK_ERRORS)
def ask_workspace(body: dict[str, Any]) -> Any:
    """Ask across every transcript of the workspace: the search finds the passages, and the
    answer cites them as [T1 mm:ss] (T1: the first transcript it read). Private
    transcripts are never read. Filters narrow what is searched, as on the search page."""
    try:
        filters = body["filters"] or {}
        unknown = sorted(set(filters) - set(service.FILTER_NAMES))
        if unknown:
            raise BadRequest(
                _(
                    "Unknown filter %(unknown)s: filter by %(names)s.",
                    unknown=", ".join(unknown),
                    names=", ".join(service.FILTER_NAMES),
                ),
                field="filters",
            )
        asked = service.ask(_person(), body["question"], filters=filters)
        return _asked(asked)
    except ServiceError as e:
        return problem(e)


@bp.delete("/ask")
@bp.response(204)
@_errors((403, "The key's maker has left the workspace"))
def clear_questions() -> Any:
    """Forget the questions across the workspace and their answers."""
    try:
        service.clear(service.workspace_conversation(_person()))
    except ServiceError as e:
        return problem(e)
    return None


# --- one message: poll or stream -------------------------------------------------------------


@bp.get(_MESSAGE)
@bp.response(200, s.MessageOut, description=s.LINKS)
@_errors((403, "The key's maker has left the workspace"), (404, "No such message"))
def get_message(message_id: uuid.UUID) -> Any:
    """One message of the key maker's conversations (poll an answer until `status` is
    completed or failed)."""
    try:
        m, conv = service.get_message(message_id, _person())
        return message_out(m, conv)
    except ServiceError as e:
        return problem(e)


STREAM_DOC = (
    'Server-sent events of an answer as it is written: `delta` {"text"} pieces, then one '
    '`done` {"status", "content", "html", "citations", "error"} or `error` {"message"}; '
    "comment lines keep the connection alive. Each event's id is its place in the stream: "
    "reconnect with `Last-Event-ID` to get only what came after. A finished answer gives "
    "`done` at once. " + s.LINKS
)


@bp.get(f"{_MESSAGE}/stream")
@bp.doc(
    responses={
        "200": {
            "description": STREAM_DOC,
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    },
    parameters=[
        {
            "in": "header",
            "name": "Last-Event-ID",
            "required": False,
            "schema": {"type": "string"},
            "description": "The id of the last event received, to resume after it",
        }
    ],
)
@_errors((403, "The key's maker has left the workspace"), (404, "No such answer"))
def stream_message(message_id: uuid.UUID) -> Any:
    try:
        person = _person()
        m, _conv = service.get_message(message_id, person)
        if m.role != "assistant":
            raise NotFound(_("No such answer."))
        resp = sse.response(message_id, person, request.headers.get("Last-Event-ID", ""), page_link)
    except ServiceError as e:
        return problem(e)
    return resp
