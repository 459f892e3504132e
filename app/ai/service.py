"""The AI features: summaries, chat with a transcript, questions across the workspace.

Requests are checked and stored here (the workspace scope is the request's), then run on
the `ai` queue by workers/jobs/ai_summary.py and ai_answer.py, which call back into the
run_* functions below. Nothing reaches a provider for a Private (encrypted) transcript:
it is refused when asked and again when run.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from app.ai import citations, config, retrieval, sources, streams, templates, usage
from app.ai.models import AiConversation, AiMessage, AiSummary, RunStatus
from app.ai.provider import (
    AnswerTask,
    ProviderError,
    Source,
    SummaryTask,
    Template,
    Turn,
    estimate_tokens,
)
from app.db import utcnow
from app.errors import BadRequest, Conflict, NotFound
from app.extensions import db
from app.i18n import N_
from app.queue import enqueue, new_job_id, on_commit
from app.tenants.context import current_workspace_id
from app.tenants.models import Workspace
from app.transcripts import services as transcripts
from app.transcripts.models import Status, Transcript, status_name

log = logging.getLogger("verbatim.ai")

MAX_QUESTION_CHARS = 2000
HISTORY_TURNS = 6  # earlier turns sent with a question (each way), newest kept
HISTORY_SHARE = 0.2  # of the prompt budget, at most
WORKSPACE_SCOPE = "workspace"
# The English text (a catalogue msgid); refusals show _(PRIVATE_REFUSAL).
PRIVATE_REFUSAL = N_(
    "This is a Private Transcript: its text is encrypted in your browser, so the server "
    "cannot read it to summarise it or answer questions about it."
)
JOB_TIMEOUT = 30 * 60


def _workspace() -> Workspace:
    ws = db.session.get(Workspace, current_workspace_id())
    if ws is None:
        raise NotFound(_("No such workspace."))
    return ws


def ensure_readable(t: Transcript) -> None:
    """Refuse a transcript the AI may not read: encrypted (409) or without text yet."""
    if t.encrypted:
        raise Conflict(_(PRIVATE_REFUSAL))
    if t.status != Status.COMPLETED:
        raise Conflict(
            _(
                "The AI can read a transcript once it is completed; this one is %(status)s.",
                status=status_name(t.status),
            )
        )


def choice() -> config.Choice:
    """The current workspace's provider, as the UI names it."""
    return config.resolve()[2]


# Summaries.


def request_summary(transcript_id: uuid.UUID, template_key: str, user_id: uuid.UUID) -> AiSummary:
    t = transcripts.get(transcript_id)
    ensure_readable(t)
    template = templates.resolve(template_key)
    _cls, _cfg, chosen = config.resolve()
    usage.check(_workspace(), chosen.uses_language_model)
    pending = db.session.scalar(
        select(AiSummary).where(
            AiSummary.transcript_id == t.id,
            AiSummary.template_key == template.key,
            AiSummary.revision == t.revision,
            AiSummary.status.in_([RunStatus.QUEUED, RunStatus.RUNNING]),
        )
    )
    if pending is not None:  # a second click while it runs: the same run, paid once
        return pending
    row = AiSummary(
        transcript_id=t.id,
        template_key=template.key,
        template_title=template.title,
        prompt=template.instructions,
        revision=t.revision,
        provider=chosen.name,
        model=chosen.model,
        created_by_id=user_id,
        rq_job_id=new_job_id(t.workspace_id),
    )
    db.session.add(row)
    db.session.flush()
    _enqueue("workers.jobs.ai_summary.ai_summary", row.id, t.workspace_id, row.rq_job_id)
    db.session.commit()
    return row


def _enqueue(func: str, row_id: uuid.UUID, workspace_id: uuid.UUID, job_id: str | None) -> None:
    def push() -> None:
        enqueue(
            func,
            str(row_id),
            str(workspace_id),
            queue_name="ai",
            retries=1,
            intervals=[15],
            timeout=JOB_TIMEOUT,
            workspace_id=workspace_id,
            job_id=job_id,
        )

    on_commit(db.session, push)


def summaries(transcript_id: uuid.UUID) -> list[AiSummary]:
    """Every summary of the transcript, newest first."""
    t = transcripts.get(transcript_id)
    return list(
        db.session.scalars(
            select(AiSummary)
            .where(AiSummary.transcript_id == t.id)
            .order_by(AiSummary.created_at.desc())
        )
    )


def latest_summaries(transcript_id: uuid.UUID, *, completed: bool = False) -> list[AiSummary]:
    """The newest summary of each template (of those completed, if asked), in the order
    templates are listed."""
    latest: dict[str, AiSummary] = {}
    for s in summaries(transcript_id):
        if not completed or s.status == RunStatus.COMPLETED:
            latest.setdefault(s.template_key, s)
    order = {tpl.key: i for i, tpl in enumerate(templates.all_templates())}
    return sorted(
        latest.values(), key=lambda s: (order.get(s.template_key, len(order)), s.template_title)
    )


def get_summary(transcript_id: uuid.UUID, summary_id: uuid.UUID) -> AiSummary:
    row = db.session.get(AiSummary, summary_id)
    if row is None or row.transcript_id != transcript_id:
        raise NotFound(_("No such summary."))
    return row


def delete_summary(transcript_id: uuid.UUID, summary_id: uuid.UUID) -> None:
    row = get_summary(transcript_id, summary_id)
    db.session.delete(row)
    db.session.commit()


def _claim(model: type[AiSummary] | type[AiMessage], row_id: uuid.UUID) -> bool:
    # A retry after a crash finds it running and takes over; a finished run is left alone.
    claimed = db.session.execute(
        update(model)
        .where(model.id == row_id, model.status.in_([RunStatus.QUEUED, RunStatus.RUNNING]))
        .values(status=RunStatus.RUNNING)
    )
    db.session.commit()
    return claimed.rowcount == 1  # type: ignore[attr-defined]


def run_summary(summary_id: uuid.UUID) -> str:
    """The job's work: read, call the provider outside any transaction, store."""
    if not _claim(AiSummary, summary_id):
        return "not claimable"
    row = db.session.get(AiSummary, summary_id)
    t = db.session.get(Transcript, row.transcript_id) if row else None
    if row is None or t is None:
        return "gone"
    try:
        ensure_readable(t)
        provider, chosen = config.build()
        lines = sources.lines_of(t)
        task = SummaryTask(
            # The prompt as it was asked for, even if the template was edited since.
            template=Template(
                row.template_key,
                row.template_title,
                row.prompt,
                builtin=row.template_key in templates.BUILTIN,
            ),
            title=t.title,
            language=t.language,
            duration=t.duration_seconds,
            lines=tuple(lines),
            speakers=sources.speakers_in_order(lines),
        )
        revision = t.revision
        db.session.rollback()  # no transaction open while the provider works
        result = provider.summarize(task)
    except (ProviderError, Conflict, NotFound) as e:
        return _fail(AiSummary, summary_id, e.message)
    except Exception:
        log.exception("summary %s failed", summary_id)
        return _fail(AiSummary, summary_id, _("The summary failed unexpectedly; try again."))
    row = db.session.get(AiSummary, summary_id)
    if row is None:
        return "deleted meanwhile"
    checked = citations.Resolver.for_transcript(str(t.id), lines).check(result.text)
    _finish(row, result.text, checked, chosen, result)
    row.revision = revision
    usage.record("summary", chosen.name, row.model, result.usage, row.created_by_id)
    db.session.commit()
    return f"completed: {result.usage.calls} calls"


def _finish(
    row, text: str, checked: list[citations.Citation], chosen: config.Choice, result
) -> None:  # type: ignore[no-untyped-def]
    row.status = RunStatus.COMPLETED
    row.content = text
    row.citations = [c.as_json() for c in checked]
    row.provider = chosen.name
    row.model = result.model or chosen.model
    row.calls = result.usage.calls
    row.prompt_tokens = result.usage.prompt_tokens
    row.completion_tokens = result.usage.completion_tokens
    row.error = ""
    row.finished_at = utcnow()


def _fail(model: type[AiSummary] | type[AiMessage], row_id: uuid.UUID, message: str) -> str:
    db.session.rollback()
    db.session.execute(
        update(model)
        .where(model.id == row_id)
        .values(status=RunStatus.FAILED, error=message[:1000], finished_at=utcnow())
    )
    db.session.commit()
    return f"failed: {message}"


# Conversations: chat with a transcript, questions across the workspace.


def conversation(user_id: uuid.UUID, transcript_id: uuid.UUID | None) -> AiConversation:
    """The person's conversation with one transcript (or the workspace), made on first use."""
    scope = transcript_id.hex if transcript_id else WORKSPACE_SCOPE
    found = db.session.scalar(
        select(AiConversation).where(
            AiConversation.user_id == user_id, AiConversation.scope == scope
        )
    )
    if found is not None:
        return found
    row = AiConversation(user_id=user_id, transcript_id=transcript_id, scope=scope)
    db.session.add(row)
    try:
        db.session.commit()
    except IntegrityError:  # made by a parallel request of the same person
        db.session.rollback()
        return conversation(user_id, transcript_id)
    return row


def messages(conv: AiConversation) -> list[AiMessage]:
    return list(
        db.session.scalars(
            select(AiMessage)
            .where(AiMessage.conversation_id == conv.id)
            .order_by(AiMessage.created_at, AiMessage.role.desc())
        )
    )


def transcript_conversation(
    transcript_id: uuid.UUID, user_id: uuid.UUID
) -> tuple[Transcript, AiConversation]:
    t = transcripts.get(transcript_id)
    ensure_readable(t)
    return t, conversation(user_id, t.id)


def workspace_conversation(user_id: uuid.UUID) -> AiConversation:
    return conversation(user_id, None)


FILTER_NAMES = ("date_from", "date_to", "speaker", "language", "tag", "folder")


@dataclass(frozen=True)
class Asked:
    question: AiMessage
    answer: AiMessage


def ask(
    user_id: uuid.UUID,
    question: str,
    *,
    transcript_id: uuid.UUID | None = None,
    filters: Mapping[str, str] | None = None,
) -> Asked:
    """Store a question and queue its answer. With a transcript: chat with it; without:
    a question across the workspace (filters as on the search page)."""
    text = " ".join((question or "").split())
    if not text:
        raise BadRequest(_("Write a question first."), field="question")
    if len(text) > MAX_QUESTION_CHARS:
        raise BadRequest(
            _(
                "Ask in at most %(max)s characters (this was %(given)s).",
                max=f"{MAX_QUESTION_CHARS:,}",
                given=f"{len(text):,}",
            ),
            field="question",
        )
    applied: dict[str, str] = {}
    if transcript_id is not None:
        t, conv = transcript_conversation(transcript_id, user_id)
        revision: int | None = t.revision
    else:
        applied = {k: str(v).strip() for k, v in (filters or {}).items() if k in FILTER_NAMES and v}
        _check_filters(applied)
        conv, revision = workspace_conversation(user_id), None
    _cls, _cfg, chosen = config.resolve()
    usage.check(_workspace(), chosen.uses_language_model)
    busy = db.session.scalar(
        select(AiMessage.id).where(
            AiMessage.conversation_id == conv.id,
            AiMessage.status.in_([RunStatus.QUEUED, RunStatus.RUNNING]),
        )
    )
    if busy is not None:
        raise Conflict(_("The previous answer is still being written; wait for it first."))
    now = utcnow()
    q = AiMessage(
        conversation_id=conv.id,
        role="user",
        content=text,
        status=RunStatus.COMPLETED,
        finished_at=now,
        created_at=now,
        revision=revision,
        filters=applied,
    )
    a = AiMessage(
        conversation_id=conv.id,
        role="assistant",
        status=RunStatus.QUEUED,
        created_at=now,
        revision=revision,
        filters=applied,
        provider=chosen.name,
        model=chosen.model,
        rq_job_id=new_job_id(conv.workspace_id),
    )
    db.session.add_all([q, a])
    db.session.flush()
    _enqueue("workers.jobs.ai_answer.ai_answer", a.id, conv.workspace_id, a.rq_job_id)
    db.session.commit()
    return Asked(q, a)


def _check_filters(applied: Mapping[str, str]) -> None:
    """Bad filter values are the asker's error (400), as on the search page."""
    from app.search import query as search_query

    search_query.parse(sources.tuple_args(applied), current_workspace_id() or uuid.uuid4())


def clear(conv: AiConversation) -> int:
    ids = [m.id for m in messages(conv)]
    for message_id in ids:
        streams.drop(message_id)
    db.session.execute(delete(AiMessage).where(AiMessage.conversation_id == conv.id))
    db.session.commit()
    return len(ids)


def get_message(message_id: uuid.UUID, user_id: uuid.UUID) -> tuple[AiMessage, AiConversation]:
    """One of the person's own messages (another member's is as missing as a wrong id)."""
    m = db.session.get(AiMessage, message_id)
    conv = db.session.get(AiConversation, m.conversation_id) if m else None
    if m is None or conv is None or conv.user_id != user_id:
        raise NotFound(_("No such message."))
    return m, conv


def run_answer(message_id: uuid.UUID) -> str:
    if not _claim(AiMessage, message_id):
        return "not claimable"
    a = db.session.get(AiMessage, message_id)
    conv = db.session.get(AiConversation, a.conversation_id) if a else None
    if a is None or conv is None:
        return "gone"
    publisher = streams.Publisher(message_id)
    try:
        provider, chosen = config.build()
        history, question = _history(conv, a)
        budget = getattr(provider, "context_tokens", None)
        if budget is not None:
            budget -= sum(estimate_tokens(t.content) for t in history) + estimate_tokens(question)
        if conv.transcript_id is not None:
            t = db.session.get(Transcript, conv.transcript_id)
            if t is None:
                raise NotFound(_("The transcript was deleted."))
            ensure_readable(t)
            lines = sources.lines_of(t)
            ctx = retrieval.for_transcript(lines, question, budget)
            source = Source("", str(t.id), t.title, "", tuple(ctx.lines))
            task = AnswerTask(question, history, (source,), tuple(ctx.ranked))
            resolver = citations.Resolver.for_transcript(str(t.id), lines)
            revision: int | None = t.revision
        else:
            found = sources.for_workspace(conv.workspace_id, question, a.filters or {}, budget)
            task = AnswerTask(
                question, history, tuple(found.sources), tuple(found.ranked), across_workspace=True
            )
            resolver = citations.Resolver(found.sources)
            revision = None
        db.session.rollback()
        result = provider.answer(task, publisher.delta)
    except (ProviderError, Conflict, NotFound, BadRequest) as e:
        publisher.fail(e.message)
        return _fail(AiMessage, message_id, e.message)
    except Exception:
        log.exception("answer %s failed", message_id)
        message = _("The answer failed unexpectedly; try again.")
        publisher.fail(message)
        return _fail(AiMessage, message_id, message)
    a = db.session.get(AiMessage, message_id)
    if a is None:  # the conversation was cleared meanwhile
        publisher.done()
        return "cleared meanwhile"
    _finish(a, result.text, resolver.check(result.text), chosen, result)
    a.revision = revision
    feature = "ask" if conv.transcript_id is None else "chat"
    usage.record(feature, chosen.name, a.model, result.usage, conv.user_id)
    db.session.commit()
    publisher.done()
    return f"completed: {len(result.text)} characters"


def _history(conv: AiConversation, answer: AiMessage) -> tuple[tuple[Turn, ...], str]:
    """The question being answered, and the completed turns before it (newest kept)."""
    earlier = [m for m in messages(conv) if m.created_at <= answer.created_at]
    question = next(
        (
            m.content
            for m in reversed(earlier)
            if m.role == "user" and m.created_at == answer.created_at
        ),
        "",
    )
    done = [
        m
        for m in earlier
        if m.created_at < answer.created_at and m.status == RunStatus.COMPLETED and m.content
    ]
    turns = [Turn(m.role, m.content) for m in done][-2 * HISTORY_TURNS :]
    return tuple(turns), question


def stream(message_id: uuid.UUID, user_id: uuid.UUID, after: str = "") -> Iterator[streams.Event]:
    """Events of an answer being written, for the SSE relay: the pieces after `after`,
    then done/error; a finished answer gives done at once."""
    m, _conv = get_message(message_id, user_id)
    if m.role != "assistant":
        raise NotFound(_("No such answer."))
    db.session.rollback()  # the relay may wait minutes: hold no transaction meanwhile
    idle = 0
    while True:
        db.session.expire_all()
        current = db.session.get(AiMessage, message_id)
        if current is None:
            yield streams.Event(after, "error", _("The conversation was cleared."))
            return
        state = current.state
        db.session.rollback()
        got_any = False
        for event in streams.read(message_id, after, block_ms=None if state.terminal else 5000):
            if event.kind == "wait":
                break
            got_any = True
            after = event.id
            yield event
            if event.kind in ("done", "error"):
                return
        if state.terminal and not got_any:
            # Finished, and its stream already expired (or was never read): the record says.
            yield streams.Event(
                after, "done" if state == RunStatus.COMPLETED else "error", current.error
            )
            return
        if not got_any:
            idle += 1
            yield streams.Event(after, "wait", "")
            if idle > 12 * 30:  # half an hour without a word: the worker is gone
                return
