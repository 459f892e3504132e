"""Editing a transcript: segments, speakers, find and replace, history, review pass.

Pages under /w/<slug>/transcripts/<id>/. The transcript page's editor (static/js/editor.js)
posts here with htmx headers and swaps the segments these routes render; every form also
works as a plain POST that redirects back. Each answer carries the transcript's revision
(X-Revision) after the change, so the page knows what its next save is based on.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.errors import NotFound, ServiceError, refusal_status
from app.extensions import db
from app.private import contents
from app.tenants.models import Role
from app.tenants.web import is_htmx, require_role, workspace_blueprint
from app.transcripts import editing, review, revisions, services, whole_edits
from app.transcripts import routes as pages
from app.transcripts.models import Transcript, TranscriptSegment
from app.transcripts.segment_view import segment_html, segments_html

bp: Blueprint = workspace_blueprint("editor", __name__, "/transcripts")
# The transcript page and the editor's answers draw segments with the same markup.
bp.add_app_template_global(segment_html, "segment_html")
bp.add_app_template_global(segments_html, "segments_html")

SEGMENT = "/<uuid:transcript_id>/segments/<uuid:segment_id>"


@bp.before_request
def _not_private() -> None:
    """Every route here reads or writes text the server holds; a Private Transcript's is
    ciphertext its owner's browser edits (app/private/), so each is refused with 409.
    Registered after the workspace is resolved (workspace_blueprint's hook runs first)."""
    transcript_id = (request.view_args or {}).get("transcript_id")
    if transcript_id is not None:
        contents.refuse(services.get(transcript_id), _("Editing on the server"))


def _author() -> uuid.UUID:
    return current_user.id


def _revised(body: str, revision: int, status: int = 200) -> Any:
    resp = make_response(body, status)
    resp.headers["X-Revision"] = str(revision)
    return resp


def _segment_or_404(t: Transcript, segment_id: uuid.UUID) -> TranscriptSegment:
    seg = db.session.scalar(
        select(TranscriptSegment).where(
            TranscriptSegment.id == segment_id, TranscriptSegment.transcript_id == t.id
        )
    )
    if seg is None:
        raise NotFound(_("No such segment in this transcript."))
    return seg


def _names(t: Transcript) -> dict[str, str]:
    return services.speaker_names(t)


def _current(t: Transcript, ids: list[uuid.UUID]) -> list[TranscriptSegment]:
    """Segments as they are now (after a refusal: what the other person saved)."""
    if not ids:
        return []
    return list(
        db.session.scalars(
            select(TranscriptSegment)
            .where(TranscriptSegment.transcript_id == t.id, TranscriptSegment.id.in_(ids))
            .order_by(TranscriptSegment.position)
        )
    )


# --- one segment -----------------------------------------------------------------------------


@bp.get(SEGMENT)
@require_role(Role.MEMBER)
def segment(transcript_id: uuid.UUID, segment_id: uuid.UUID) -> Any:
    """The segment's tools (split, merge, times, speaker): a panel for the page's editor, or
    a page of its own without scripts."""
    t = services.get(transcript_id)
    seg = _segment_or_404(t, segment_id)
    base = min(max(request.args.get("base", t.revision, type=int) or t.revision, 1), t.revision)
    return _tools(t, seg, base)


def _tools(
    t: Transcript,
    seg: TranscriptSegment,
    base: int,
    *,
    status: int = 200,
    error: ServiceError | None = None,
    typed: str | None = None,
    theirs: list[TranscriptSegment] | None = None,
) -> Any:
    context = {
        "t": t,
        "seg": seg,
        "base": base,
        "speakers": services.speakers(t),
        "names": _names(t),
        "next_seg": db.session.scalar(
            select(TranscriptSegment).where(
                TranscriptSegment.transcript_id == t.id,
                TranscriptSegment.position == seg.position + 1,
            )
        ),
        "error": error,
        "typed": typed,
        "theirs": theirs or [],
        "page": not is_htmx(),
    }
    if is_htmx():
        resp = _revised(render_template("editor/_tools.html", **context), t.revision, status)
        if status != 200:
            # Refusals show in the panel; the segment itself stays as it is.
            resp.headers["HX-Retarget"] = f"#tools-{seg.id}"
            resp.headers["HX-Reswap"] = "outerHTML"
        return resp
    return _revised(render_template("editor/segment.html", **context), t.revision, status)


def _act(
    transcript_id: uuid.UUID,
    segment_id: uuid.UUID,
    change: Callable[[], editing.Saved],
    *,
    typed: str | None = None,
) -> Any:
    """Run a change of one segment and answer: the changed segments (htmx), or back to the
    transcript; a refusal shows where the change was asked for, with nothing lost."""
    try:
        saved = change()
    except NotFound:
        raise
    except ServiceError as e:  # a conflict too
        return _refused(transcript_id, segment_id, e, typed)
    t = services.get(transcript_id)
    if not is_htmx():
        flash(f"{saved.summary}." if saved.changed else _("Nothing changed."), "success")
        first = saved.segments[0].id if saved.segments else segment_id
        return redirect(url_for("transcripts.show", transcript_id=t.id, _anchor=f"seg-{first}"))
    body = render_template(
        "editor/_changed.html",
        t=t,
        segments=saved.segments,
        names=_names(t),
        rev=saved.revision,
        removed=saved.removed,
        closed=segment_id,
        speakers=services.speakers(t) if saved.speaker is not None else None,
    )
    return _revised(body, saved.revision)


def _refused(
    transcript_id: uuid.UUID, segment_id: uuid.UUID, e: ServiceError, typed: str | None
) -> Any:
    db.session.rollback()
    t = services.get(transcript_id)
    conflict = e if isinstance(e, editing.EditConflict) else None
    theirs = _current(t, [s["id"] for s in conflict.segments]) if conflict else []
    seg = db.session.scalar(
        select(TranscriptSegment).where(
            TranscriptSegment.id == segment_id, TranscriptSegment.transcript_id == t.id
        )
    )
    if request.endpoint == "editor.edit_text" and is_htmx():
        # The in-place editor keeps the person's text in its box and shows this beside it.
        body = render_template(
            "editor/_refusal.html", t=t, error=e, theirs=theirs, names=_names(t), seg=seg
        )
        return _revised(body, t.revision, refusal_status(e))
    if seg is None:  # merged away by someone else: back to the transcript, saying so
        if is_htmx():
            body = render_template("errors/_inline.html", message=e.message)
            resp = _revised(body, t.revision, refusal_status(e))
            resp.headers.update({"HX-Retarget": "#flash-area", "HX-Reswap": "innerHTML"})
            return resp
        return pages._show_page(t, refusal_status(e), error=e)
    # After a conflict the tools are based on what the person now sees: the current text.
    asked = _int_or_zero(request.form.get("base_revision"))
    base = t.revision if conflict or not 1 <= asked <= t.revision else asked
    return _tools(
        t, seg, base, status=refusal_status(e), error=e, typed=typed, theirs=theirs or None
    )


def _form_base() -> str | None:
    return request.form.get("base_revision")


@bp.post(SEGMENT)
@require_role(Role.MEMBER)
def edit_text(transcript_id: uuid.UUID, segment_id: uuid.UUID) -> Any:
    """Save a segment's text (the editor autosaves here while the person types)."""
    services.get(transcript_id)
    typed = request.form.get("text")
    return _act(
        transcript_id,
        segment_id,
        lambda: editing.edit_text(
            transcript_id, segment_id, typed, base_revision=_form_base(), author_id=_author()
        ),
        typed=typed,
    )


@bp.post(f"{SEGMENT}/times")
@require_role(Role.MEMBER)
def set_times(transcript_id: uuid.UUID, segment_id: uuid.UUID) -> Any:
    services.get(transcript_id)

    def change() -> editing.Saved:
        start = editing.parse_clock(request.form.get("start"), "start")
        end = editing.parse_clock(request.form.get("end"), "end")
        return editing.update_segment(
            transcript_id,
            segment_id,
            base_revision=_form_base(),
            author_id=_author(),
            start=start,
            end=end,
        )

    return _act(transcript_id, segment_id, change)


@bp.post(f"{SEGMENT}/split")
@require_role(Role.MEMBER)
def split(transcript_id: uuid.UUID, segment_id: uuid.UUID) -> Any:
    services.get(transcript_id)

    def change() -> editing.Saved:
        return editing.split(
            transcript_id,
            segment_id,
            base_revision=_form_base(),
            author_id=_author(),
            word_index=_whole_number("word_index"),
            offset=_whole_number("offset"),
        )

    return _act(transcript_id, segment_id, change)


def _whole_number(name: str) -> int | None:
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ServiceError(_("%(name)s must be a whole number.", name=name), field=name) from None


@bp.post(f"{SEGMENT}/merge")
@require_role(Role.MEMBER)
def merge(transcript_id: uuid.UUID, segment_id: uuid.UUID) -> Any:
    services.get(transcript_id)

    def change() -> editing.Saved:
        raw_next = (request.form.get("next_id") or "").strip()
        try:
            next_id = uuid.UUID(raw_next) if raw_next else None
        except ValueError:
            raise ServiceError(_("next_id is not a segment id."), field="next_id") from None
        return editing.merge(
            transcript_id,
            segment_id,
            base_revision=_form_base(),
            author_id=_author(),
            next_id=next_id,
        )

    return _act(transcript_id, segment_id, change)


@bp.post(f"{SEGMENT}/speaker")
@require_role(Role.MEMBER)
def set_speaker(transcript_id: uuid.UUID, segment_id: uuid.UUID) -> Any:
    """Give the segment another existing speaker, or a new one ("new" and a name)."""
    services.get(transcript_id)
    choice = (request.form.get("speaker") or "").strip()

    def change() -> editing.Saved:
        if not choice:
            raise ServiceError(_("Choose a speaker."), field="speaker")
        is_new = choice == "new"
        return editing.update_segment(
            transcript_id,
            segment_id,
            base_revision=_form_base(),
            author_id=_author(),
            speaker=None if is_new else choice,
            new_speaker=(request.form.get("name") or "") if is_new else None,
        )

    return _act(transcript_id, segment_id, change)


# --- find and replace --------------------------------------------------------------------------


@bp.post("/<uuid:transcript_id>/replace")
@require_role(Role.MEMBER)
def replace(transcript_id: uuid.UUID) -> Any:
    """Preview (count and the first matches) or replace every match in one revision."""
    t = services.get(transcript_id)
    form = request.form
    options = {
        "match_case": bool(form.get("match_case")),
        "whole_words": bool(form.get("whole_words")),
    }
    find = form.get("find")
    try:
        if form.get("action") == "preview":
            found = whole_edits.preview_replace(transcript_id, find, **options)
            return render_template("editor/_replace_result.html", t=t, preview=found, find=find)
        saved = whole_edits.replace_all(
            transcript_id,
            find,
            form.get("replace"),
            **options,
            base_revision=_form_base(),
            author_id=_author(),
        )
    except NotFound:
        raise
    except ServiceError as e:
        db.session.rollback()
        t = services.get(transcript_id)
        if is_htmx():
            body = render_template("editor/_replace_result.html", t=t, error=e)
            resp = _revised(body, t.revision, refusal_status(e))
            resp.headers.update({"HX-Retarget": "#replace-result", "HX-Reswap": "innerHTML"})
            return resp
        return pages._show_page(t, refusal_status(e), error=e)
    notice = f"{saved.summary}."
    if not is_htmx():
        flash(notice, "success")
        return redirect(url_for("transcripts.show", transcript_id=transcript_id))
    t = services.get(transcript_id)
    body = render_template("transcripts/_body.html", **pages._show_context(t), notice=notice)
    return _revised(body, saved.revision)


# --- history -------------------------------------------------------------------------------------


@bp.get("/<uuid:transcript_id>/history")
def history(transcript_id: uuid.UUID) -> Any:
    t = services.get(transcript_id)
    return _history_page(t)


def _history_page(t: Transcript, status: int = 200, error: ServiceError | None = None) -> Any:
    body = render_template(
        "editor/history.html", t=t, items=revisions.history(t), error=error, current=t.revision
    )
    return _revised(body, t.revision, status)


@bp.get("/<uuid:transcript_id>/history/<int:number>")
def revision(transcript_id: uuid.UUID, number: int) -> Any:
    """One revision: what it changed from the one before (word by word), and its text."""
    t = services.get(transcript_id)
    info, snap = revisions.snapshot(t, number)
    before = revisions.previous(t, number)
    changes = revisions.diff(before[1], snap) if before else None
    body = render_template(
        "editor/revision.html",
        t=t,
        info=info,
        snap=snap,
        before=before[0] if before else None,
        diff=changes,
        current=t.revision,
    )
    return _revised(body, t.revision)


@bp.post("/<uuid:transcript_id>/history/<int:number>/restore")
@require_role(Role.MEMBER)
def restore(transcript_id: uuid.UUID, number: int) -> Any:
    services.get(transcript_id)
    try:
        saved = whole_edits.restore(
            transcript_id, number, base_revision=_form_base(), author_id=_author()
        )
    except NotFound:
        raise
    except ServiceError as e:
        db.session.rollback()
        return _history_page(services.get(transcript_id), refusal_status(e), e)
    flash(
        _(
            "Restored revision %(number)d: it is now revision %(revision)d.",
            number=number,
            revision=saved.revision,
        ),
        "success",
    )
    return redirect(url_for("transcripts.show", transcript_id=transcript_id))


# --- review pass ---------------------------------------------------------------------------------


def _review(
    transcript_id: uuid.UUID,
    *,
    threshold: Any,
    offset: int,
    status: int = 200,
    error: ServiceError | None = None,
    notice: str | None = None,
    page: bool | None = None,
) -> Any:
    t = services.get(transcript_id)
    try:
        value = review.parse_threshold(threshold)
    except ServiceError as e:
        value, error, status = review.DEFAULT_THRESHOLD, error or e, refusal_status(e)
    listed = review.pending(transcript_id, value, offset=offset)
    full = not is_htmx() if page is None else page
    body = render_template(
        "editor/review.html" if full else "editor/_review_list.html",
        t=t,
        review=listed,
        error=error,
        notice=notice,
        page_size=review.PAGE,
    )
    return _revised(body, t.revision, status)


@bp.get("/<uuid:transcript_id>/review")
def review_page(transcript_id: uuid.UUID) -> Any:
    """Words the engine was unsure of, in order, with context; members accept or fix them."""
    return _review(
        transcript_id,
        threshold=request.args.get("threshold"),
        offset=max(0, request.args.get("offset", 0, type=int) or 0),
    )


@bp.post("/<uuid:transcript_id>/review")
@require_role(Role.MEMBER)
def review_action(transcript_id: uuid.UUID) -> Any:
    services.get(transcript_id)
    form = request.form
    action = form.get("action", "")
    threshold = form.get("threshold")
    offset = max(0, _int_or_zero(form.get("offset")))
    try:
        saved = _review_change(transcript_id, action, form)
    except NotFound:
        raise
    except ServiceError as e:
        db.session.rollback()
        return _review(
            transcript_id,
            threshold=threshold,
            offset=offset,
            status=refusal_status(e),
            error=e,
        )
    notice = f"{saved.summary}." if saved.changed else _("Nothing changed.")
    if not is_htmx():
        flash(notice, "success")
        args = {"threshold": threshold} if threshold else {}
        return redirect(url_for("editor.review_page", transcript_id=transcript_id, **args))
    return _review(transcript_id, threshold=threshold, offset=offset, notice=notice)


def _int_or_zero(raw: str | None) -> int:
    try:
        return int(raw or 0)
    except ValueError:
        return 0


def _review_change(transcript_id: uuid.UUID, action: str, form: Any) -> editing.Saved:
    common = {"base_revision": form.get("base_revision"), "author_id": _author()}
    if action == "fix_all":
        return review.fix_all(transcript_id, form.get("word"), form.get("text"), **common)
    if action not in ("accept", "fix"):
        raise ServiceError(_("Choose accept, fix or fix all."), field="action")
    try:
        segment_id = uuid.UUID(form.get("segment_id") or "")
    except ValueError:
        raise ServiceError(_("Say which segment the word is in."), field="segment_id") from None
    index, word = form.get("index"), form.get("word")
    if action == "accept":
        return review.accept(transcript_id, segment_id, index, expected=word, **common)
    return review.fix(transcript_id, segment_id, index, form.get("text"), expected=word, **common)
