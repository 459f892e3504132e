"""Transcript pages under /w/<slug>/transcripts/: list, start, watch, read, compare, change.

Routes parse, authorize and render; app.transcripts.services does the work. The helpers at
the bottom only format what a page shows (clock times, estimates, the compare layout).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.billing import metering
from app.errors import NotFound, ServiceError, refusal_status
from app.extensions import db
from app.forms import field as form_field
from app.private import contents
from app.private.transcript_routes import page as private_page
from app.settings import settings
from app.tenants.models import Role
from app.tenants.web import is_htmx, require_role, workspace_blueprint
from app.transcripts import engines, organizing, render, review, services, words
from app.transcripts.models import ACTIVE, Status, Transcript, TranscriptSegment
from app.transcripts.render import seconds, stamp
from app.transcripts.segment_view import rows

bp: Blueprint = workspace_blueprint("transcripts", __name__, "/transcripts")

PAGE = 50
BLANK_FILTERS = {"q": "", "sort": "newest", "status": "", "folder": "", "tag": ""}
STATUS_FILTERS = ("active", *(s.value for s in Status))
# Offered first; any other code can be typed in (engines accept ISO 639 codes).
LANGUAGES = (
    ("en", "English"),
    ("es", "Spanish"),
    ("fr", "French"),
    ("de", "German"),
    ("it", "Italian"),
    ("pt", "Portuguese"),
    ("nl", "Dutch"),
    ("pl", "Polish"),
    ("sv", "Swedish"),
    ("da", "Danish"),
    ("no", "Norwegian"),
    ("fi", "Finnish"),
    ("cs", "Czech"),
    ("el", "Greek"),
    ("tr", "Turkish"),
    ("ru", "Russian"),
    ("uk", "Ukrainian"),
    ("ar", "Arabic"),
    ("he", "Hebrew"),
    ("hi", "Hindi"),
    ("id", "Indonesian"),
    ("vi", "Vietnamese"),
    ("th", "Thai"),
    ("ja", "Japanese"),
    ("ko", "Korean"),
    ("zh", "Chinese"),
)


# App-wide: the editor, export, share and organise pages render these templates too.
@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    role = g.get("role")
    return {
        "can_edit": bool(role and role.at_least(Role.MEMBER)),
        "hms": hms,
        "stamp": stamp,
        "eta": eta,
        "seconds": seconds,
        "ACTIVE": ACTIVE,
        "low_confidence": review.DEFAULT_THRESHOLD,
        "joiner": words.joiner,
        "words_html": render.words_html,
        "stored_text": stored_text,
    }


def stored_text(text: str | None) -> str:
    """Text stored in English at job time (a failure reason), in the reader's language when
    it is a catalogue message as it stands; anything else (it names a file, a number) as
    stored. Python's gettext, not the template's `_()`: that one %-formats every string."""
    return _(text) if text else ""


# --- The listing -------------------------------------------------------------------------


@bp.get("/")
def index() -> Any:
    args = {
        "q": request.args.get("q", "").strip()[:200],
        "sort": request.args.get("sort", "newest"),
        "status": request.args.get("status", ""),
        "folder": request.args.get("folder", "").strip()[:40],
        "tag": request.args.get("tag", "").strip()[:80],
    }
    page = max(1, request.args.get("page", 1, type=int) or 1)
    return _listing(args, page)


def _listing(args: Mapping[str, str], page: int, *, error: ServiceError | None = None) -> Any:
    try:
        result = services.listing(**args, offset=(page - 1) * PAGE, limit=PAGE)
    except ServiceError as e:  # an unknown sort or status: say so over an empty table
        db.session.rollback()
        error, result = e, services.Listing((), 0)
    infos = {t.id: services.queue_info(t) for t in result.items if t.status in ACTIVE}
    full = not is_htmx()
    template = "transcripts/index.html" if full else "transcripts/_table.html"
    return render_template(
        template,
        folders=organizing.folders() if full else (),
        tags=organizing.tag_counts() if full else (),
        items=result.items,
        total=result.total,
        infos=infos,
        args=args,
        page=page,
        pages=max(1, math.ceil(result.total / PAGE)),
        per_page=PAGE,
        any_active=bool(infos),
        sorts=list(services.SORTS),
        status_filters=STATUS_FILTERS,
        error=error,
    ), (refusal_status(error) if error else 200)


@bp.post("/delete")
@require_role(Role.MEMBER)
def bulk_delete() -> Any:
    ids = [_uuid_or_404(raw) for raw in request.form.getlist("ids")]
    try:
        count = services.delete(ids)
    except NotFound:
        raise
    except ServiceError as e:
        db.session.rollback()
        return _listing(BLANK_FILTERS, 1, error=e)
    flash(
        ngettext(
            "Deleted %(num)d transcript for good.", "Deleted %(num)d transcripts for good.", count
        ),
        "success",
    )
    return redirect(url_for("transcripts.index"))


# --- Starting one --------------------------------------------------------------------------


@bp.get("/new")
def new() -> Any:
    return _new_page()


def _new_page(status: int = 200, *, error: ServiceError | None = None, form: Any = None) -> Any:
    cfg = settings()
    no_engine = None
    choices: list[engines.EngineChoice] = []
    selected = ""
    try:
        choices = engines.available()
        engine, model = engines.defaults(choices)
        selected = f"{engine}:{model}"
    except ServiceError as e:
        no_engine = e.message
    form = form or {}
    selected = form.get("model") or selected
    chosen = next((c for c in choices if selected.startswith(f"{c.name}:")), None)
    # What the workspace may still transcribe this month, next to the upload control.
    minutes = metering.minutes(g.workspace)
    return render_template(
        "transcripts/new.html",
        choices=choices,
        selected=selected,
        chosen=chosen,
        languages=[(code, language_name(code, english)) for code, english in LANGUAGES],
        no_engine=no_engine,
        error=error,
        form=form,
        keyring=contents.keyring_of(current_user.id),
        max_upload=human_bytes(cfg.upload_max_bytes),
        # The plan's longest file (never more than the installation takes).
        max_duration=span(minutes.max_file),
        minutes=minutes,
        human_minutes=metering.human,
    ), status


@bp.post("/link")
@require_role(Role.MEMBER)
def create_from_link() -> Any:
    try:
        options = engines.parse_options(job_options(request.form))
        created = services.start_from_url(
            form_field("url"),
            options,
            title=form_field("title") or None,
            uploader_id=current_user.id,
            # A form says "not private" by leaving the box out.
            private=bool(request.form.get("private")),
        )
    except NotFound:
        raise
    except ServiceError as e:
        db.session.rollback()  # a refused link leaves nothing behind
        return _new_page(refusal_status(e), error=e, form=request.form)
    flash(_("The link is queued: it is downloaded first, then transcribed."), "success")
    if len(created) > 1 and created[0].compare_group and not created[0].encrypted:
        return redirect(url_for("transcripts.compare", group_id=created[0].compare_group))
    return redirect(url_for("transcripts.show", transcript_id=created[0].id))


def job_options(form: Mapping[str, Any]) -> dict[str, Any]:
    """The form's fields as engines.parse_options reads them.

    The model select carries "engine:model" pairs, so the choice works without scripts;
    a language typed in wins over the list of common ones.
    """
    engine = (form.get("engine") or "").strip()
    model = (form.get("model") or "").strip()
    if ":" in model:
        engine, model = model.split(":", 1)
    typed = (form.get("language_code") or "").strip()
    return {
        "engine": engine,
        "model": model,
        "language": typed or (form.get("language") or "").strip(),
        "diarize": form.get("diarize"),
        "min_speakers": form.get("min_speakers"),
        "max_speakers": form.get("max_speakers"),
        "compare_model": form.get("compare_model"),
    }


# --- One transcript ------------------------------------------------------------------------


@bp.get("/<uuid:transcript_id>")
def show(transcript_id: uuid.UUID) -> Any:
    t = services.get(transcript_id)
    if t.encrypted:  # its text is drawn by the owner's browser (app/private/)
        return private_page(t)
    return _show_page(t)


def _show_page(t: Transcript, status: int = 200, **extra: Any) -> Any:
    return render_template("transcripts/show.html", **_show_context(t), **extra), status


def _show_context(t: Transcript) -> dict[str, Any]:
    # Rows rather than ORM objects: a 3-hour transcript has ~1,700 segments to show.
    speakers = services.speakers(t)
    segments = rows(t)
    return {
        "t": t,
        "info": services.queue_info(t) if t.status in ACTIVE else None,
        "segments": segments,
        "speakers": speakers,
        "names": {label: s.name for label, s in speakers.items()},
        # The editor's tools offer the review pass with this count.
        "low_count": review.low_count(segments),
    }


@bp.get("/<uuid:transcript_id>/status")
def status(transcript_id: uuid.UUID) -> Any:
    t = services.get(transcript_id)
    contents.require_access(t)
    info = services.queue_info(t) if t.status in ACTIVE else None
    compact = bool(request.args.get("compact"))
    template = "transcripts/_badge_poll.html" if compact else "transcripts/_status.html"
    resp = make_response(render_template(template, t=t, info=info, poll=True))
    if request.args.get("poll") and is_htmx() and Status(t.status).terminal:
        # The page was showing a running transcript: reload it whole, text and all.
        resp.headers["HX-Refresh"] = "true"
    return resp


def _act(transcript_id: uuid.UUID, action: Any, success: str) -> Any:
    try:
        action()
    except NotFound:
        raise
    except ServiceError as e:
        db.session.rollback()
        t = services.get(transcript_id)
        if t.encrypted:  # its page is drawn by the browser: the app's error page says why
            raise
        return _show_page(t, refusal_status(e), error=e)
    flash(success, "success")
    return redirect(url_for("transcripts.show", transcript_id=transcript_id))


@bp.post("/<uuid:transcript_id>/cancel")
@require_role(Role.MEMBER)
def cancel(transcript_id: uuid.UUID) -> Any:
    # Compare runs share one file: it goes when the last of them ends.
    shared = services.get(transcript_id).compare_group is not None
    return _act(
        transcript_id,
        lambda: services.cancel(transcript_id),
        _("Cancelled. The audio is deleted once the other model's run ends too.")
        if shared
        else _("Cancelled. Its audio was deleted."),
    )


@bp.post("/<uuid:transcript_id>/retry")
@require_role(Role.MEMBER)
def retry(transcript_id: uuid.UUID) -> Any:
    return _act(transcript_id, lambda: services.retry(transcript_id), _("Queued again."))


@bp.post("/<uuid:transcript_id>/rename")
@require_role(Role.MEMBER)
def rename(transcript_id: uuid.UUID) -> Any:
    title = form_field("title")
    return _act(transcript_id, lambda: services.rename(transcript_id, title), _("Renamed."))


@bp.post("/<uuid:transcript_id>/delete")
@require_role(Role.MEMBER)
def delete(transcript_id: uuid.UUID) -> Any:
    services.delete([transcript_id])
    flash(_("The transcript was deleted for good."), "success")
    return redirect(url_for("transcripts.index"))


@bp.post("/<uuid:transcript_id>/speakers/<label>")
@require_role(Role.MEMBER)
def rename_speaker(transcript_id: uuid.UUID, label: str) -> Any:
    """Rename a speaker everywhere, as a revision (app.transcripts.editing); the form's
    base_revision makes a stale rename of a speaker someone renamed meanwhile a conflict."""
    name = form_field("name")
    # Its speakers are inside the ciphertext: the owner's browser renames them.
    contents.refuse(services.get(transcript_id), _("Renaming speakers on the server"))
    try:
        speaker = services.rename_speaker(
            transcript_id,
            label,
            name,
            base_revision=form_field("base_revision") or None,
            author_id=current_user.id,
        )
    except NotFound:
        raise
    except ServiceError as e:
        db.session.rollback()
        t = services.get(transcript_id)
        if is_htmx():
            # The transcript's body carries the message; the rest of the page stays.
            body = render_template("transcripts/_body.html", **_show_context(t), error=e)
            return body, refusal_status(e), {"X-Revision": str(t.revision)}
        return _show_page(t, refusal_status(e), error=e)
    notice = _("%(label)s is now called %(name)s.", label=label, name=speaker.name)
    if is_htmx():
        t = services.get(transcript_id)
        body = render_template("transcripts/_body.html", **_show_context(t), notice=notice)
        return body, 200, {"X-Revision": str(t.revision)}
    flash(notice, "success")
    return redirect(url_for("transcripts.show", transcript_id=transcript_id))


# --- Compare -------------------------------------------------------------------------------


@bp.get("/compare/<uuid:group_id>")
def compare(group_id: uuid.UUID) -> Any:
    group = _compare_group(group_id)
    if not group:
        raise NotFound(_("No such comparison."))
    for t in group:
        contents.refuse(t, _("The side-by-side comparison"))
    columns = [services.segments(t) for t in group]
    return render_template(
        "transcripts/compare.html",
        group=group,
        rows=align(columns),
        names=[services.speaker_names(t) for t in group],
        infos={t.id: services.queue_info(t) for t in group if t.status in ACTIVE},
        any_active=any(t.status in ACTIVE for t in group),
    )


def _compare_group(group_id: uuid.UUID) -> list[Transcript]:
    # services.compare_siblings starts from one transcript; this page starts from the
    # group's id. The ORM filters by workspace, so another workspace's group is empty.
    return list(
        db.session.scalars(
            select(Transcript)
            .where(Transcript.compare_group == group_id)
            .order_by(Transcript.created_at, Transcript.model)
        )
    )


# --- Presentation helpers ------------------------------------------------------------------


def _uuid_or_404(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        abort(404)


def hms(value: float | None) -> str:
    """A duration as h:mm:ss; a dash when it is not known yet."""
    if not value or value < 0:
        return "—"
    total = round(value)
    return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


def eta(value: float | None) -> str:
    if value is None:
        return ""
    if value < 60:
        return _("under a minute")
    minutes = round(value / 60)
    if minutes < 60:
        return _("about %(minutes)d min", minutes=minutes)
    return _(
        "about %(hours)d h %(minutes)s min", hours=minutes // 60, minutes=f"{minutes % 60:02d}"
    )


def span(value: float) -> str:
    """A limit in words: "4 hours", "90 minutes"."""
    minutes = round(value / 60)
    if minutes >= 60 and minutes % 60 == 0:
        hours = minutes // 60
        return ngettext("%(num)d hour", "%(num)d hours", hours)
    return ngettext("%(num)d minute", "%(num)d minutes", minutes)


def human_bytes(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return f"{n:.1f} TB"


def language_name(code: str, english: str) -> str:
    """A language's name in the reader's language (Babel's CLDR names; English as given)."""
    from babel import Locale, UnknownLocaleError

    locale = str(get_locale() or "en")
    if locale == "en":
        return english
    try:
        name = Locale.parse(code).get_display_name(locale) or english
    except (ValueError, UnknownLocaleError):
        return english
    return name[:1].upper() + name[1:]


@dataclass
class CompareRow:
    start: float
    end: float
    cells: list[list[TranscriptSegment]] = field(default_factory=list)


def align(columns: Sequence[Sequence[TranscriptSegment]]) -> list[CompareRow]:
    """Rows of segments that cover the same stretch of audio, one cell per transcript.

    Segments are taken in time order; one joins the current row when at least half of it
    lies inside the row's span, so slightly different boundaries between models do not
    chain the whole recording into one row.
    """
    tagged = sorted(
        ((s, i) for i, column in enumerate(columns) for s in column),
        key=lambda item: (item[0].start, item[1]),
    )
    rows: list[CompareRow] = []
    for seg, col in tagged:
        length = max(seg.end - seg.start, 0.0)
        inside = (min(seg.end, rows[-1].end) - seg.start) if rows else -1.0
        if not rows or inside <= 0 or inside < length / 2:
            rows.append(CompareRow(seg.start, seg.end, [[] for _ in columns]))
        rows[-1].end = max(rows[-1].end, seg.end)
        rows[-1].cells[col].append(seg)
    return rows
