"""The workspace's own summary templates (app/ai/template_admin.py), at the service level:
validation, unique names, audit records, admins only, workspaces apart. Real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from flask import Flask, g
from sqlalchemy import select

from app.ai import template_admin, templates
from app.ai.models import AiTemplate
from app.audit.models import AuditEvent
from app.errors import BadRequest, Conflict, Forbidden, NotFound, ServiceError
from app.extensions import db
from app.tenants.context import workspace_scope
from app.tenants.models import Role
from app.tenants.services import create_workspace
from tests.web import make_user


@dataclass
class Space:
    id: uuid.UUID
    owner_id: uuid.UUID


def _space(app: Flask, tag: str) -> Space:
    owner = make_user(app, name=f"Owner {tag}")
    with app.app_context():
        ws = create_workspace(owner.id, f"Templates {tag}", f"tpl-{tag}-{uuid.uuid4().hex[:8]}")
        return Space(ws.id, owner.id)


@pytest.fixture
def x(app: Flask) -> Space:
    return _space(app, "x")


@pytest.fixture
def y(app: Flask) -> Space:
    return _space(app, "y")


@contextmanager
def acting(app: Flask, space: Space, role: Role | None = Role.ADMIN) -> Iterator[None]:
    """A request in the workspace with `role`, as its pages and API keys set it (None: a
    request that never resolved a role)."""
    with app.test_request_context(), workspace_scope(space.id):
        if role is not None:
            g.role = role
        try:
            yield
        finally:
            db.session.rollback()
            db.session.remove()


@contextmanager
def looking(app: Flask, space: Space) -> Iterator[None]:
    """No request at all: what a CLI or a job sees."""
    with app.app_context(), workspace_scope(space.id):
        try:
            yield
        finally:
            db.session.rollback()
            db.session.remove()


def names(app: Flask, space: Space) -> list[str]:
    with looking(app, space):
        return [t.name for t in template_admin.list_templates()]


def events(app: Flask, space: Space, action: str) -> list[dict]:
    with looking(app, space):
        return [
            e.details
            for e in db.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == action)
                .order_by(AuditEvent.created_at)
            )
        ]


def refused(kind: type[ServiceError], call, field: str | None = None) -> ServiceError:  # type: ignore[no-untyped-def]
    with pytest.raises(kind) as caught:
        call()
    assert caught.value.message
    if field is not None:
        assert caught.value.field == field
    return caught.value


def test_a_template_is_created_tidied_listed_and_offered_for_summaries(
    app: Flask, x: Space
) -> None:
    with acting(app, x):
        row = template_admin.create("  Weekly \n  sync ", "\n Summarise the week.\n", x.owner_id)
        assert (row.name, row.instructions, row.created_by_id) == (
            "Weekly sync",
            "Summarise the week.",
            x.owner_id,
        )
        template_id = row.id
    assert names(app, x) == ["Weekly sync"]
    with looking(app, x):
        offered = templates.all_templates()
        assert [t.key for t in offered][-1] == templates.custom_key(template_id)
        assert templates.resolve(templates.custom_key(template_id)).title == "Weekly sync"
    assert events(app, x, "ai.template_created") == [{"name": "Weekly sync"}]


def test_names_are_unique_in_a_workspace_whatever_their_case(
    app: Flask, x: Space, y: Space
) -> None:
    with acting(app, x):
        template_admin.create("Standup", "Who did what.", x.owner_id)
    for clash in ("Standup", "standup", "  STANDUP "):
        with acting(app, x):
            e = refused(
                Conflict, lambda c=clash: template_admin.create(c, "Other.", x.owner_id), "name"
            )
            assert e.status == 409 and "already has a template" in e.message
    assert names(app, x) == ["Standup"]
    with acting(app, y):  # another workspace may use the same name
        template_admin.create("Standup", "Theirs.", y.owner_id)
    assert names(app, y) == ["Standup"]
    assert len(events(app, x, "ai.template_created")) == 1


@pytest.mark.parametrize(
    ("name", "instructions", "field"),
    [
        ("", "Fine.", "name"),
        ("   ", "Fine.", "name"),
        ("x" * 121, "Fine.", "name"),
        ("Fine", "", "instructions"),
        ("Fine", " \n ", "instructions"),
        ("Fine", "y" * 4001, "instructions"),
    ],
)
def test_out_of_range_names_and_instructions_are_400_and_store_nothing(
    app: Flask, x: Space, name: str, instructions: str, field: str
) -> None:
    with acting(app, x):
        e = refused(
            BadRequest, lambda: template_admin.create(name, instructions, x.owner_id), field
        )
        assert e.status == 400
    assert names(app, x) == []
    assert events(app, x, "ai.template_created") == []


def test_the_longest_name_and_instructions_are_accepted(app: Flask, x: Space) -> None:
    with acting(app, x):
        row = template_admin.create("n" * 120, "i" * 4000, x.owner_id)
        assert (len(row.name), len(row.instructions)) == (120, 4000)


def test_a_template_is_renamed_and_rewritten_with_an_audit_record(app: Flask, x: Space) -> None:
    with acting(app, x):
        keep = template_admin.create("Decisions", "List decisions.", x.owner_id).id
        other = template_admin.create("Risks", "List risks.", x.owner_id).id
    with acting(app, x):
        row = template_admin.update(keep, name="Decisions made")
        assert (row.name, row.instructions) == ("Decisions made", "List decisions.")
    with acting(app, x):
        row = template_admin.update(keep, instructions="List every decision.")
        assert (row.name, row.instructions) == ("Decisions made", "List every decision.")
    with acting(app, x):  # a change of case of its own name is no clash
        assert template_admin.update(keep, name="decisions made").name == "decisions made"
    with acting(app, x):
        refused(Conflict, lambda: template_admin.update(other, name="DECISIONS MADE"), "name")
    with acting(app, x):
        refused(BadRequest, lambda: template_admin.update(other, instructions=""), "instructions")
    with acting(app, x):  # nothing changed: nothing recorded
        template_admin.update(other, name="Risks", instructions="List risks.")
    assert sorted(names(app, x)) == ["Risks", "decisions made"]
    assert events(app, x, "ai.template_updated") == [
        {"changed": ["name"], "name": "Decisions made", "old_name": "Decisions"},
        {"changed": ["instructions"], "name": "Decisions made"},
        {"changed": ["name"], "name": "decisions made", "old_name": "Decisions made"},
    ]


def test_a_deleted_template_is_gone_and_recorded(app: Flask, x: Space) -> None:
    with acting(app, x):
        template_id = template_admin.create("Gone soon", "Anything.", x.owner_id).id
    with acting(app, x):
        template_admin.delete(template_id)
    assert names(app, x) == []
    assert events(app, x, "ai.template_deleted") == [{"name": "Gone soon"}]
    with acting(app, x):
        refused(NotFound, lambda: template_admin.delete(template_id))
    with looking(app, x):
        refused(NotFound, lambda: templates.resolve(templates.custom_key(template_id)))


def test_another_workspaces_template_is_as_missing_as_an_unknown_one(
    app: Flask, x: Space, y: Space
) -> None:
    with acting(app, y):
        theirs = template_admin.create("Theirs", "Their prompt.", y.owner_id).id
    for action in (
        lambda i: template_admin.get(i),
        lambda i: template_admin.update(i, name="Mine now"),
        lambda i: template_admin.update(i, instructions="Leak it."),
        lambda i: template_admin.delete(i),
    ):
        with acting(app, x):
            foreign = refused(NotFound, lambda a=action: a(theirs))
            missing = refused(NotFound, lambda a=action: a(uuid.uuid4()))
            assert (
                (foreign.status, foreign.message)
                == (missing.status, missing.message)
                == (
                    404,
                    "No such summary template.",
                )
            )
    with looking(app, x):
        refused(NotFound, lambda: templates.resolve(templates.custom_key(theirs)))
    with looking(app, y):
        row = db.session.get(AiTemplate, theirs)
        assert row is not None and (row.name, row.instructions) == ("Theirs", "Their prompt.")
    assert events(app, x, "ai.template_updated") == events(app, x, "ai.template_deleted") == []


@pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER, None], ids=["member", "viewer", "none"])
def test_only_admins_change_templates(app: Flask, x: Space, role: Role | None) -> None:
    with acting(app, x):
        template_id = template_admin.create("Standup", "Who did what.", x.owner_id).id
    for action in (
        lambda: template_admin.create("Mine", "Mine.", x.owner_id),
        lambda: template_admin.update(template_id, name="Renamed"),
        lambda: template_admin.delete(template_id),
    ):
        with acting(app, x, role):
            assert refused(Forbidden, action).status == 403
    assert names(app, x) == ["Standup"]
    with acting(app, x, role):  # reading them is for everyone: summaries use them
        assert [t.name for t in template_admin.list_templates()] == ["Standup"]


def test_the_owner_and_the_system_may_change_templates(app: Flask, x: Space) -> None:
    with acting(app, x, Role.OWNER):
        template_id = template_admin.create("Owner's", "Mine.", x.owner_id).id
    with looking(app, x):  # a CLI or a job: no request, no role to check
        template_admin.update(template_id, name="System's")
    assert names(app, x) == ["System's"]
