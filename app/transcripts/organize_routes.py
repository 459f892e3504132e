"""Folders, tags, and moving a transcript to another workspace.

Members organise (folders, tags); moving to another workspace takes an admin of both.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from app.errors import NotFound, ServiceError, refusal_status
from app.extensions import db
from app.forms import field as form_field
from app.tenants.models import Role
from app.tenants.web import require_role, workspace_blueprint
from app.transcripts import organizing, services
from app.transcripts import routes as transcript_pages

bp: Blueprint = workspace_blueprint("organize", __name__)


@bp.app_context_processor
def _organize_helpers() -> dict[str, Any]:
    """For the transcript page's Organise box; called only where a template uses them."""

    def move_targets() -> list[organizing.Destination]:
        role = g.get("role")
        if not (role and role.at_least(Role.ADMIN) and current_user.is_authenticated):
            return []
        return organizing.destinations(current_user.id, g.workspace.id)

    return {"folder_choices": organizing.folders, "move_targets": move_targets}


def _uuid_or_404(raw: str | None) -> uuid.UUID:
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        raise NotFound(_("No such transcript.")) from None


def _back(transcript_id: uuid.UUID) -> Any:
    return redirect(url_for("transcripts.show", transcript_id=transcript_id))


def _refused(e: ServiceError, transcript_id: uuid.UUID) -> Any:
    """A refusal: the database is left as it was; the page says why (for a Private
    Transcript, whose page the browser draws, the app's error page does)."""
    db.session.rollback()
    t = services.get(transcript_id)
    if t.encrypted:
        raise e
    return transcript_pages._show_page(t, refusal_status(e), error=e)


# --- Folders -------------------------------------------------------------------------------


@bp.get("/folders")
def folders() -> Any:
    return _folders_page()


def _folders_page(status: int = 200, *, error: ServiceError | None = None) -> Any:
    return render_template(
        "transcripts/folders.html",
        folders=organizing.folders(),
        can_edit=g.role.at_least(Role.MEMBER),
        error=error,
    ), status


@bp.post("/folders")
@require_role(Role.MEMBER)
def create_folder() -> Any:
    try:
        folder = organizing.create_folder(form_field("name"))
    except NotFound:
        raise
    except ServiceError as e:
        db.session.rollback()
        return _folders_page(refusal_status(e), error=e)
    flash(_("Folder “%(name)s” created.", name=folder.name), "success")
    return redirect(url_for("organize.folders"))


@bp.post("/folders/<uuid:folder_id>/rename")
@require_role(Role.MEMBER)
def rename_folder(folder_id: uuid.UUID) -> Any:
    try:
        folder = organizing.rename_folder(folder_id, form_field("name"))
    except NotFound:
        raise
    except ServiceError as e:
        db.session.rollback()
        return _folders_page(refusal_status(e), error=e)
    flash(_("Folder renamed to “%(name)s”.", name=folder.name), "success")
    return redirect(url_for("organize.folders"))


@bp.post("/folders/<uuid:folder_id>/delete")
@require_role(Role.MEMBER)
def delete_folder(folder_id: uuid.UUID) -> Any:
    held = organizing.delete_folder(folder_id)
    flash(
        ngettext(
            "Folder deleted. Its %(num)d transcript stay, in no folder.",
            "Folder deleted. Its %(num)d transcripts stay, in no folder.",
            held,
        ),
        "success",
    )
    return redirect(url_for("organize.folders"))


# --- A selection of transcripts --------------------------------------------------------------


@bp.post("/transcripts/organize")
@require_role(Role.MEMBER)
def bulk() -> Any:
    ids = [_uuid_or_404(raw) for raw in request.form.getlist("ids")]
    action = request.form.get("action", "")
    try:
        if action == "file":
            folder = request.form.get("folder", "none")
            count = organizing.file_into(ids, None if folder == "none" else _uuid_or_404(folder))
            flash(
                ngettext("Filed %(num)d transcript.", "Filed %(num)d transcripts.", count),
                "success",
            )
        elif action == "tag":
            count = organizing.add_tag(ids, request.form.get("tag", ""))
            flash(
                ngettext("Tagged %(num)d transcript.", "Tagged %(num)d transcripts.", count),
                "success",
            )
        else:
            raise ServiceError(_("Choose what to do with the selection."))
    except NotFound:
        raise
    except ServiceError as e:
        db.session.rollback()
        return transcript_pages._listing(transcript_pages.BLANK_FILTERS, 1, error=e)
    return redirect(url_for("transcripts.index"))


# --- One transcript ------------------------------------------------------------------------


@bp.post("/transcripts/<uuid:transcript_id>/folder")
@require_role(Role.MEMBER)
def set_folder(transcript_id: uuid.UUID) -> Any:
    raw = request.form.get("folder", "none")
    try:
        organizing.file_into([transcript_id], None if raw == "none" else _uuid_or_404(raw))
    except NotFound:
        raise
    except ServiceError as e:
        return _refused(e, transcript_id)
    flash(_("Folder saved."), "success")
    return _back(transcript_id)


@bp.post("/transcripts/<uuid:transcript_id>/tags")
@require_role(Role.MEMBER)
def set_tags(transcript_id: uuid.UUID) -> Any:
    try:
        organizing.set_tags(transcript_id, request.form.get("tags", ""))
    except NotFound:
        raise
    except ServiceError as e:
        return _refused(e, transcript_id)
    flash(_("Tags saved."), "success")
    return _back(transcript_id)


@bp.post("/transcripts/<uuid:transcript_id>/move")
@require_role(Role.ADMIN)
def move(transcript_id: uuid.UUID) -> Any:
    try:
        target = organizing.move(transcript_id, form_field("workspace"), current_user.id)
    except NotFound:
        raise
    except ServiceError as e:
        return _refused(e, transcript_id)
    flash(_("Moved to “%(name)s”.", name=target.name), "success")
    return redirect(url_for("transcripts.show", slug=target.slug, transcript_id=transcript_id))
