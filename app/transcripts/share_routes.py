"""Managing a transcript's public links (inside the workspace).

The transcript page loads the listing with htmx (templates/transcripts/_share_panel.html);
without scripts the same URLs answer whole pages. A new link's raw URL is in the response
that created it and nowhere else.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from flask import Blueprint, g, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from app.db import utcnow
from app.errors import NotFound, ServiceError, refusal_status
from app.extensions import db
from app.private import contents
from app.tenants.models import Role
from app.tenants.web import is_htmx, require_role, workspace_blueprint
from app.transcripts import services, sharing
from app.transcripts.models import Transcript
from app.transcripts.sharing import ShareOptions

bp: Blueprint = workspace_blueprint("shares", __name__, "/transcripts")

EXPIRY_CHOICES = ("days", "date", "never")


@bp.before_request
def _not_private() -> None:
    """A Private Transcript never has public links: its panel and actions answer 409 (the
    service refuses too; this keeps the answer the app's plain 409, not a panel)."""
    transcript_id = (request.view_args or {}).get("transcript_id")
    if transcript_id is not None:
        contents.refuse(services.get(transcript_id), _("A public link"))


@bp.get("/<uuid:transcript_id>/shares")
def index(transcript_id: uuid.UUID) -> Any:
    return _panel(services.get(transcript_id))


@bp.post("/<uuid:transcript_id>/shares")
@require_role(Role.MEMBER)
def create(transcript_id: uuid.UUID) -> Any:
    t = services.get(transcript_id)  # another workspace's id: 404 before reading the form
    try:
        new = sharing.create(t.id, options_from_form(request.form), created_by_id=current_user.id)
    except NotFound:
        raise
    except ServiceError as e:
        db.session.rollback()
        return _panel(t, refusal_status(e), error=e, form=request.form)
    return _panel(t, 201, new=new, new_url=sharing.public_url(new.token))


@bp.post("/<uuid:transcript_id>/shares/<uuid:share_id>/revoke")
@require_role(Role.MEMBER)
def revoke(transcript_id: uuid.UUID, share_id: uuid.UUID) -> Any:
    t = services.get(transcript_id)
    try:
        sharing.revoke(t.id, share_id)
    except NotFound:
        raise
    except ServiceError as e:
        db.session.rollback()
        return _panel(t, refusal_status(e), error=e)
    return _panel(t, notice=_("The link is revoked; it stops working now."))


def _panel(t: Transcript, status: int = 200, **extra: Any) -> Any:
    items = sharing.links(t.id)
    now = utcnow()
    role = g.get("role")
    context = {
        "t": t,
        "links": items,
        "states": {link.id: sharing.state(link, now) for link in items},
        "creators": sharing.creators(items),
        "rules": sharing.rules(),
        "can_edit": bool(role and role.at_least(Role.MEMBER)),
        "today": now.date(),
        "form": {},
        **extra,
    }
    template = "shares/_panel.html" if is_htmx() else "shares/page.html"
    return render_template(template, **context), status


def options_from_form(form: Mapping[str, str]) -> ShareOptions:
    """The create form's fields as ShareOptions.

    `expiry` says which of the inputs counts (days, date or never); without it (a form
    posted by hand) a filled-in date wins over days, and neither means the default.
    """
    mode = (form.get("expiry") or "").strip()
    raw_days = (form.get("days") or "").strip()
    raw_date = (form.get("date") or "").strip()
    if mode and mode not in EXPIRY_CHOICES:
        raise ServiceError(_("Choose when the link expires."), field="expiry")
    if not mode:
        mode = "date" if raw_date else "days" if raw_days else ""
    days = expires_at = None
    if mode == "days":
        days = _whole_days(raw_days)
    elif mode == "date":
        expires_at = _start_of(raw_date)
    return ShareOptions(
        password=form.get("password") or "",
        days=days,
        expires_at=expires_at,
        permanent=mode == "never",
        allow_download=(form.get("allow_download") or "") in ("on", "1", "true", "yes"),
    )


def _whole_days(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ServiceError(_("Enter the number of days as a whole number."), field="days") from None


def _start_of(raw: str) -> datetime:
    """A date input means "expires on that day": from its first moment, UTC."""
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise ServiceError(_("Enter the expiry date as YYYY-MM-DD."), field="date") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
