"""AI pages: the panel on a transcript's page (summaries, chat), questions across the
workspace (/w/<slug>/ask), the answers' event streams, and the workspace's AI settings.

Routes parse, authorise, call app.ai.service (or config / template_admin) and render.
htmx asks for the parts it swaps; without scripts the same URLs answer whole pages, and
actions redirect with a flash. Stored results are rendered only through
app.ai.render.result_html: model text never reaches a page any other way.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    Response,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from app.ai import config, render, service, sse, template_admin, templates, usage
from app.ai.models import AiConversation, AiSummary, ProviderRun, RunStatus
from app.billing import entitlements
from app.errors import Conflict, NotFound, ServiceError, refusal_status
from app.extensions import db
from app.forms import field
from app.search import service as search_service
from app.settings import settings as app_settings
from app.tenants.models import Role
from app.tenants.web import is_htmx, require_role, workspace_blueprint
from app.transcripts import services as transcripts
from app.transcripts.exports.filenames import content_disposition, safe_stem
from app.transcripts.models import Transcript

bp: Blueprint = workspace_blueprint("ai", __name__)

PANEL = "/transcripts/<uuid:transcript_id>/ai"
SUMMARY = f"{PANEL}/summaries/<uuid:summary_id>"
DOWNLOADS = {"md": "text/markdown; charset=utf-8", "txt": "text/plain; charset=utf-8"}
SETTINGS_FIELDS = ("provider", "model", "base_url")  # the key is write-only: never echoed


# --- for the layout and the transcript page --------------------------------------------------


@bp.app_template_global("ai_private_refusal")
def ai_private_refusal() -> str:
    return _(service.PRIVATE_REFUSAL)


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {"made_by": made_by}


def made_by(row: ProviderRun) -> str:
    """What made a stored result, named as the UI names providers (the extractive one says
    it runs no language model)."""
    classes = g.get("ai_provider_classes")
    if classes is None:
        classes = g.ai_provider_classes = config.provider_classes()
    return config.made_by(row.provider, row.model, classes)


def _choice() -> tuple[config.Choice | None, str]:
    try:
        return service.choice(), ""
    except ServiceError as e:  # the configured provider is gone: say so where it would show
        db.session.rollback()
        return None, e.message


def _can_use() -> bool:
    """Generating and asking spend the workspace's allowance: members and above."""
    return bool(g.get("role") and g.role.at_least(Role.MEMBER))


def _standalone() -> bool:
    return bool(request.values.get("standalone"))


def _link(on_its_page: bool) -> render.Link:
    # On the transcript's own page a citation moves its player; anywhere else it opens the
    # transcript at the moment.
    return render.same_page if on_its_page else render.transcript_link(g.workspace.slug)


def _html_for(link: render.Link) -> Callable[[ProviderRun], Markup]:
    return lambda row: render.result_html(row.content, row.citations, link)


# --- the panel on a transcript's page ----------------------------------------------------------


@bp.get(PANEL)
def panel(transcript_id: uuid.UUID) -> Any:
    t = transcripts.get(transcript_id)
    return _panel(t, standalone=_standalone() or not is_htmx())


def _panel(
    t: Transcript, status: int = 200, *, standalone: bool, part: str = "", **extra: Any
) -> Any:
    """The panel (htmx), one of its parts (`summaries` or `conversation`, after an action),
    or the whole page without scripts."""
    refusal = ""
    try:
        service.ensure_readable(t)
    except Conflict as e:
        refusal = e.message
    can_use = _can_use()
    context: dict[str, Any] = {
        "t": t,
        "refusal": refusal,
        "can_use": can_use,
        "standalone": standalone,
        "html": _html_for(_link(not standalone)),
        "error": None,
        "error_in": part,  # which part shows the error (a whole page has both)
        "notice": "",
        "messages": [],
        **extra,
    }
    if not refusal:
        context["choice"], context["choice_error"] = _choice()
        if part in ("", "summaries"):
            context["templates"] = templates.all_templates()
            context["summaries"] = service.latest_summaries(t.id)
        if part in ("", "conversation") and can_use:
            _t, conv = service.transcript_conversation(t.id, current_user.id)
            context.update(_conversation_context(conv, t))
    if is_htmx():
        return render_template(f"ai/_{part or 'panel'}.html", **context), status
    return render_template("ai/transcript.html", **context), status


def _conversation_context(conv: AiConversation, t: Transcript | None) -> dict[str, Any]:
    if t is not None:
        post = url_for("ai.chat", transcript_id=t.id)
        clear = url_for("ai.clear_chat", transcript_id=t.id)
    else:
        post, clear = url_for("ai.ask"), url_for("ai.clear_ask")
    return {"messages": service.messages(conv), "post_url": post, "clear_url": clear}


def _done(t: Transcript, part: str, notice: str, anchor: str = "", *, shown: bool = False) -> Any:
    """After an action: the changed part for htmx, else back to the page with a flash.
    `shown`: the part shows the outcome itself (a queued summary, an answer being
    written), so htmx gets no notice that would outlive it."""
    if is_htmx():
        return _panel(t, standalone=_standalone(), part=part, notice="" if shown else notice)
    flash(notice, "success")
    return redirect(url_for("ai.panel", transcript_id=t.id, _anchor=anchor or None))


def _refused(t: Transcript, part: str, e: ServiceError, **extra: Any) -> Any:
    db.session.rollback()
    standalone = _standalone() or not is_htmx()
    return _panel(t, refusal_status(e), standalone=standalone, part=part, error=e, **extra)


@bp.post(f"{PANEL}/summaries")
@require_role(Role.MEMBER)
def generate(transcript_id: uuid.UUID) -> Any:
    t = transcripts.get(transcript_id)  # another workspace's id: 404 before the form is read
    try:
        row = service.request_summary(t.id, field("template"), current_user.id)
    except NotFound:
        raise
    except ServiceError as e:
        return _refused(t, "summaries", e)
    return _done(
        t,
        "summaries",
        _(
            "“%(title)s” is being written; it appears here when it is ready.",
            title=row.template_title,
        ),
        f"ai-summary-{row.id}",
        shown=True,
    )


@bp.get(SUMMARY)
def summary(transcript_id: uuid.UUID, summary_id: uuid.UUID) -> Any:
    """One summary: what the panel polls while it is being written."""
    t = transcripts.get(transcript_id)
    row = service.get_summary(t.id, summary_id)
    standalone = _standalone()
    if not is_htmx():
        return redirect(url_for("ai.panel", transcript_id=t.id, _anchor=f"ai-summary-{row.id}"))
    return render_template(
        "ai/_summary.html",
        t=t,
        s=row,
        can_use=_can_use(),
        standalone=standalone,
        html=_html_for(_link(not standalone)),
    )


@bp.get(f"{SUMMARY}.<fmt>")
def download(transcript_id: uuid.UUID, summary_id: uuid.UUID, fmt: str) -> Any:
    t = transcripts.get(transcript_id)
    row = service.get_summary(t.id, summary_id)
    if fmt not in DOWNLOADS:
        raise NotFound(_("No such format."))
    if row.state != RunStatus.COMPLETED:
        raise Conflict(_("This summary is not finished; download it once it is."))
    body = summary_text(t, row, markdown=fmt == "md")
    resp = Response(body, content_type=DOWNLOADS[fmt])
    name = f"{safe_stem(t.title)} - {safe_stem(row.template_title)}.{fmt}"
    resp.headers["Content-Disposition"] = content_disposition(name)
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


def summary_text(t: Transcript, row: AiSummary, *, markdown: bool) -> str:
    """A summary as a file: a short header saying what it is of and what made it, then the
    text (markdown as stored, or with the markup taken out)."""
    made = f"{made_by(row)}, {row.created_at.strftime('%Y-%m-%d %H:%M')} UTC"
    if markdown:
        head = f"# {row.template_title}: {t.title}\n\n_{made}; transcript revision {row.revision}._"
        return f"{head}\n\n{row.content.strip()}\n"
    head = f"{row.template_title}: {t.title}\n{made}; transcript revision {row.revision}."
    return f"{head}\n\n{plain_text(row.content)}\n"


_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+", re.MULTILINE)
_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1|(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?!\w)")
_CODE = re.compile(r"`([^`]*)`")


def plain_text(markdown: str) -> str:
    """Markdown as plain text: headings, emphasis and code marks dropped; lists, line
    breaks and [mm:ss] citations kept as written."""
    text = _HEADING.sub("", markdown.strip())
    text = _EMPHASIS.sub(lambda m: m.group(2) or m.group(3) or "", text)
    return _CODE.sub(r"\1", text)


@bp.post(f"{SUMMARY}/delete")
@require_role(Role.MEMBER)
def delete_summary(transcript_id: uuid.UUID, summary_id: uuid.UUID) -> Any:
    t = transcripts.get(transcript_id)
    row = service.get_summary(t.id, summary_id)
    title = row.template_title
    service.delete_summary(t.id, row.id)
    return _done(t, "summaries", _("The summary “%(title)s” was deleted.", title=title))


@bp.post(f"{PANEL}/chat")
@require_role(Role.MEMBER)
def chat(transcript_id: uuid.UUID) -> Any:
    t = transcripts.get(transcript_id)
    question = request.form.get("question", "")
    try:
        service.ask(current_user.id, question, transcript_id=t.id)
    except NotFound:
        raise
    except ServiceError as e:
        return _refused(t, "conversation", e, typed=question)
    return _done(
        t, "conversation", _("Your question is asked; the answer is being written."), shown=True
    )


@bp.post(f"{PANEL}/chat/clear")
@require_role(Role.MEMBER)
def clear_chat(transcript_id: uuid.UUID) -> Any:
    t = transcripts.get(transcript_id)
    try:
        _t, conv = service.transcript_conversation(t.id, current_user.id)
    except NotFound:
        raise
    except ServiceError as e:
        return _refused(t, "conversation", e)
    service.clear(conv)
    return _done(t, "conversation", _("The conversation was cleared."))


# --- questions across the workspace ------------------------------------------------------------


@bp.get("/ask")
def ask_page() -> Any:
    return _ask_page()


def _ask_page(status: int = 200, **extra: Any) -> Any:
    options = search_service.filter_options(g.workspace.id)
    context: dict[str, Any] = {
        "across": True,
        "can_use": _can_use(),
        "html": _html_for(_link(False)),
        "error": None,
        "error_in": "conversation",
        "notice": "",
        "messages": [],
        "filters": {},
        "options": options,
        "folder_names": {str(fid): name for fid, name in options.folders},
        **extra,
    }
    context["choice"], context["choice_error"] = _choice()
    if context["can_use"]:
        conv = service.workspace_conversation(current_user.id)
        context.update(_conversation_context(conv, None))
    template = "ai/_conversation.html" if is_htmx() else "ai/ask.html"
    return render_template(template, **context), status


def _filters() -> dict[str, str]:
    return {k: v for k in service.FILTER_NAMES if (v := field(k))}


@bp.post("/ask")
@require_role(Role.MEMBER)
def ask() -> Any:
    question = request.form.get("question", "")
    filters = _filters()
    try:
        service.ask(current_user.id, question, filters=filters)
    except ServiceError as e:
        db.session.rollback()
        return _ask_page(refusal_status(e), error=e, typed=question, filters=filters)
    if is_htmx():
        return _ask_page(filters=filters)
    flash(_("Your question is asked; the answer is being written."), "success")
    return redirect(url_for("ai.ask_page"))


@bp.post("/ask/clear")
@require_role(Role.MEMBER)
def clear_ask() -> Any:
    service.clear(service.workspace_conversation(current_user.id))
    if is_htmx():
        return _ask_page(notice=_("Your questions were cleared."))
    flash(_("Your questions were cleared."), "success")
    return redirect(url_for("ai.ask_page"))


# --- answers as they are written -----------------------------------------------------------------


@bp.get("/ai/messages/<uuid:message_id>/stream")
def stream(message_id: uuid.UUID) -> Response:
    """Server-sent events of one of the person's answers (chat or a question across the
    workspace); another person's message is as missing as a wrong id."""
    _m, conv = service.get_message(message_id, current_user.id)
    link = _link(conv.transcript_id is not None and not _standalone())
    last = request.headers.get("Last-Event-ID", "")
    return sse.response(message_id, current_user.id, last, link)


# --- the workspace's AI settings (admins) --------------------------------------------------------


@bp.get("/settings/ai")
@require_role(Role.ADMIN)
def settings() -> Any:
    return _settings_page()


def _settings_page(status: int = 200, **extra: Any) -> Any:
    row = config.workspace_row()
    form = extra.pop("form", None) or {
        "provider": row.provider if row else "",
        "model": row.model if row else "",
        "base_url": row.base_url if row else "",
    }
    cfg = app_settings()
    choice, choice_error = _choice()
    context: dict[str, Any] = {
        "row": row,
        "form": form,
        "key_set": bool(row and row.api_key_sealed),
        "choice": choice,
        "choice_error": choice_error,
        "providers": config.provider_classes(),
        "default_provider": config.default_name(),
        "default_model": cfg.openai_model,
        "own_endpoints": cfg.ai_workspace_endpoints,
        "ai_templates": template_admin.list_templates(),
        "usage_rows": usage.summary(),
        "used": usage.tokens_this_month(),
        "allowance": entitlements.limit(g.workspace, "ai_tokens_per_month"),
        "plan": entitlements.plan_title(g.workspace),
        "error": None,
        "template_error": None,
        "editing": None,
        **extra,
    }
    return render_template("ai/settings.html", **context), status


@bp.post("/settings/ai")
@require_role(Role.ADMIN)
def save_settings() -> Any:
    form = {name: field(name) for name in SETTINGS_FIELDS}
    try:
        config.save(
            current_user.id,
            provider=form["provider"],
            model=form["model"],
            base_url=form["base_url"],
            api_key=request.form.get("api_key") or None,
            clear_key=bool(request.form.get("clear_key")),
        )
    except ServiceError as e:
        db.session.rollback()  # a refused value stores nothing, the others included
        return _settings_page(refusal_status(e), error=e, form=form)
    flash(_("AI settings saved."), "success")
    return redirect(url_for("ai.settings"))


@bp.post("/settings/ai/templates")
@require_role(Role.ADMIN)
def create_template() -> Any:
    name, instructions = field("name"), request.form.get("instructions", "")
    try:
        row = template_admin.create(name, instructions, current_user.id)
    except ServiceError as e:
        db.session.rollback()
        typed = {"name": name, "instructions": instructions}
        return _settings_page(refusal_status(e), template_error=e, typed=typed)
    flash(_("The template “%(name)s” was added.", name=row.name), "success")
    return redirect(url_for("ai.settings", _anchor="ai-templates"))


@bp.post("/settings/ai/templates/<uuid:template_id>")
@require_role(Role.ADMIN)
def update_template(template_id: uuid.UUID) -> Any:
    template_admin.get(template_id)  # another workspace's: 404 before the form is read
    name, instructions = field("name"), request.form.get("instructions", "")
    try:
        row = template_admin.update(template_id, name, instructions)
    except NotFound:
        raise
    except ServiceError as e:
        db.session.rollback()
        typed = {"name": name, "instructions": instructions}
        return _settings_page(refusal_status(e), template_error=e, editing=template_id, typed=typed)
    flash(_("The template “%(name)s” was saved.", name=row.name), "success")
    return redirect(url_for("ai.settings", _anchor="ai-templates"))


@bp.post("/settings/ai/templates/<uuid:template_id>/delete")
@require_role(Role.ADMIN)
def delete_template(template_id: uuid.UUID) -> Any:
    row = template_admin.get(template_id)
    name = row.name
    template_admin.delete(row.id)
    flash(
        _("The template “%(name)s” was deleted; summaries made with it stay.", name=name), "success"
    )
    return redirect(url_for("ai.settings", _anchor="ai-templates"))
