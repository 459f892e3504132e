"""The built-in summary templates, and the workspace's own next to them."""

from __future__ import annotations

import uuid

from flask_babel import gettext as _
from sqlalchemy import select

from app.ai.models import AiTemplate
from app.ai.provider import Template
from app.errors import NotFound

CUSTOM_PREFIX = "custom:"

BUILTIN: dict[str, Template] = {
    t.key: t
    for t in (
        Template(
            "overview",
            "Overview",
            "Write a short overview of the recording: what it is, who takes part, what was "
            "discussed and decided. One to three paragraphs.",
        ),
        Template(
            "key_points",
            "Key points",
            "List the key points of the recording as a bulleted list, most important first. "
            "Each point is one sentence with the timestamp where it is made.",
        ),
        Template(
            "action_items",
            "Action items",
            "List every action item, task or commitment as a bulleted list: what is to be "
            "done, the owner when one is named (as **Owner**: task), any deadline, and the "
            "timestamp where it was agreed. Say so plainly if there are none.",
        ),
        Template(
            "chapters",
            "Chapters",
            "Divide the recording into chapters where the topic changes. For each, one line: "
            "the timestamp where it starts, a short title, then one sentence on what it "
            "covers.",
        ),
        Template(
            "minutes",
            "Meeting minutes",
            "Write meeting minutes with these sections: Attendees, Agenda and discussion "
            "(one short paragraph per topic), Decisions, Action items (owner, task, "
            "deadline), Open questions.",
        ),
    )
}


def custom_key(template_id: uuid.UUID) -> str:
    return f"{CUSTOM_PREFIX}{template_id}"


def resolve(key: str) -> Template:
    """A built-in template or one of the current workspace's (scoped ORM); NotFound else."""
    if key in BUILTIN:
        return BUILTIN[key]
    if key.startswith(CUSTOM_PREFIX):
        try:
            template_id = uuid.UUID(key[len(CUSTOM_PREFIX) :])
        except ValueError:
            raise NotFound(_("No such summary template.")) from None
        from app.extensions import db

        row = db.session.get(AiTemplate, template_id)
        if row is not None:
            return as_template(row)
    raise NotFound(_("No such summary template."))


def as_template(row: AiTemplate) -> Template:
    return Template(custom_key(row.id), row.name, row.instructions, builtin=False)


def all_templates() -> list[Template]:
    """Built-in first, then the workspace's by name."""
    from app.extensions import db

    rows = db.session.scalars(select(AiTemplate).order_by(AiTemplate.name))
    return [*BUILTIN.values(), *(as_template(r) for r in rows)]
