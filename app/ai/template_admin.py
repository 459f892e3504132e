"""The workspace's own summary templates: list, create, rename or rewrite, delete.

Pages and the API both call these. Only admins (and the owner) may change templates: the
request's role (g.role, set by the workspace pages and by API-key authentication) is
checked here as well as by the routes; outside a request (CLI, jobs) the caller is the
system. Summaries copy a template's title and prompt, so editing or deleting one leaves
what it made readable.
"""

from __future__ import annotations

import uuid

from flask import g, has_request_context
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.ai.models import AiTemplate
from app.audit.service import record
from app.errors import BadRequest, Conflict, Forbidden, NotFound
from app.extensions import db
from app.tenants.models import Role

MAX_NAME = 120
MAX_INSTRUCTIONS = 4000


def _require_admin() -> None:
    if not has_request_context():
        return
    role = g.get("role")
    if role is None or not Role(role).at_least(Role.ADMIN):
        raise Forbidden(_("Only admins of this workspace can change its summary templates."))


def list_templates() -> list[AiTemplate]:
    """The current workspace's templates, by name."""
    return list(db.session.scalars(select(AiTemplate).order_by(AiTemplate.name)))


def get(template_id: uuid.UUID) -> AiTemplate:
    # The scoped ORM filters other workspaces' rows out: theirs answer like a missing one.
    row = db.session.get(AiTemplate, template_id)
    if row is None:
        raise NotFound(_("No such summary template."))
    return row


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise BadRequest(_("Name the template."), field="name")
    if len(name) > MAX_NAME:
        raise BadRequest(
            _(
                "Name the template in at most %(max)d characters (this was %(given)s).",
                max=MAX_NAME,
                given=f"{len(name):,}",
            ),
            field="name",
        )
    return name


def _clean_instructions(instructions: str) -> str:
    instructions = (instructions or "").strip()
    if not instructions:
        raise BadRequest(
            _("Write the instructions the summary should follow."), field="instructions"
        )
    if len(instructions) > MAX_INSTRUCTIONS:
        raise BadRequest(
            _(
                "Write the instructions in at most %(max)s characters (this was %(given)s).",
                max=f"{MAX_INSTRUCTIONS:,}",
                given=f"{len(instructions):,}",
            ),
            field="instructions",
        )
    return instructions


def _refuse_duplicate(name: str, template_id: uuid.UUID | None) -> None:
    # Case-insensitive: "Standup" and "standup" side by side in a menu would only confuse.
    clash = db.session.scalar(
        select(AiTemplate.id).where(func.lower(AiTemplate.name) == name.lower())
    )
    if clash is not None and clash != template_id:
        raise _duplicate(name)


def _duplicate(name: str) -> Conflict:
    return Conflict(
        _(
            "This workspace already has a template called “%(name)s”; choose another name.",
            name=name,
        ),
        field="name",
    )


def _commit(name: str) -> None:
    try:
        db.session.commit()
    except IntegrityError:  # the same name saved by a parallel request
        db.session.rollback()
        raise _duplicate(name) from None


def create(name: str, instructions: str, user_id: uuid.UUID | None) -> AiTemplate:
    _require_admin()
    name, instructions = _clean_name(name), _clean_instructions(instructions)
    _refuse_duplicate(name, None)
    row = AiTemplate(name=name, instructions=instructions, created_by_id=user_id)
    db.session.add(row)
    db.session.flush()
    record("ai.template_created", target=row, details={"name": name})
    _commit(name)
    return row


def update(
    template_id: uuid.UUID, name: str | None = None, instructions: str | None = None
) -> AiTemplate:
    """Change the name and/or the instructions (None keeps that one as it is)."""
    _require_admin()
    row = get(template_id)
    new_name = _clean_name(name) if name is not None else row.name
    new_instructions = (
        _clean_instructions(instructions) if instructions is not None else row.instructions
    )
    _refuse_duplicate(new_name, row.id)
    changed = [
        field
        for field, old, new in (
            ("name", row.name, new_name),
            ("instructions", row.instructions, new_instructions),
        )
        if old != new
    ]
    if not changed:
        return row
    details: dict[str, object] = {"changed": changed, "name": new_name}
    if row.name != new_name:
        details["old_name"] = row.name
    row.name, row.instructions = new_name, new_instructions
    record("ai.template_updated", target=row, details=details)
    _commit(new_name)
    return row


def delete(template_id: uuid.UUID) -> None:
    _require_admin()
    row = get(template_id)
    record("ai.template_deleted", target=row, details={"name": row.name})
    db.session.delete(row)
    db.session.commit()
