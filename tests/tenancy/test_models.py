"""Every workspace-owned model: the ORM refuses it without a context, and filters it with one;
on PostgreSQL its table has row-level security enabled and forced."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select, text, update

from app.db import Base, WorkspaceScoped
from app.extensions import db
from app.tenants.context import TenancyError, unscoped, workspace_scope
from app.tenants.models import Invitation, Membership

SCOPED = sorted(
    (m.class_ for m in Base.registry.mappers if issubclass(m.class_, WorkspaceScoped)),
    key=lambda c: c.__name__,
)


def test_there_are_workspace_owned_models():
    names = {c.__name__ for c in SCOPED}
    assert {"Membership", "Invitation", "ApiKey", "AuditEvent", "PluginSetting"} <= names


@pytest.mark.parametrize("model", SCOPED, ids=lambda c: c.__name__)
def test_select_without_context_is_refused(app, world, model):
    with app.app_context(), pytest.raises(TenancyError):
        db.session.execute(select(model)).all()


@pytest.mark.parametrize("model", SCOPED, ids=lambda c: c.__name__)
def test_get_by_id_without_context_is_refused(app, world, model):
    with app.app_context(), pytest.raises(TenancyError):
        db.session.get(model, uuid.uuid4())


@pytest.mark.parametrize("model", SCOPED, ids=lambda c: c.__name__)
def test_rows_are_filtered_by_context(app, world, model):
    with app.app_context():
        with workspace_scope(world.x.workspace_id):
            ids = set(db.session.scalars(select(model.workspace_id)))
        assert ids <= {world.x.workspace_id}


def test_counts_are_filtered_too(app, world):
    with app.app_context():
        with workspace_scope(world.x.workspace_id):
            in_x = db.session.scalar(select(func.count(Membership.id)))
        with unscoped("test: count every workspace's memberships"):
            everywhere = db.session.scalar(select(func.count(Membership.id)))
    assert in_x == 2  # owner and member of X
    assert everywhere > in_x


def test_another_workspaces_row_cannot_be_loaded_by_id(app, world):
    with app.app_context(), workspace_scope(world.x.workspace_id):
        assert db.session.get(Membership, world.y.membership_id) is None
        assert db.session.get(Invitation, world.y.invitation_id) is None


def test_bulk_update_is_scoped(app, world):
    with app.app_context(), workspace_scope(world.x.workspace_id):
        result = db.session.execute(
            update(Invitation).where(Invitation.id == world.y.invitation_id).values(role="viewer")
        )
        db.session.commit()
        assert result.rowcount == 0
    with app.app_context(), workspace_scope(world.y.workspace_id):
        assert db.session.get(Invitation, world.y.invitation_id).role == "member"


def test_insert_without_context_is_refused(app, world):
    with app.app_context():
        db.session.add(
            Membership(workspace_id=world.x.workspace_id, user_id=uuid.uuid4(), role="member")
        )
        with pytest.raises(TenancyError):
            db.session.flush()
        db.session.rollback()


def test_insert_into_another_workspace_is_refused(app, world):
    with app.app_context(), workspace_scope(world.x.workspace_id):
        db.session.add(
            Membership(workspace_id=world.y.workspace_id, user_id=uuid.uuid4(), role="member")
        )
        with pytest.raises(TenancyError):
            db.session.flush()
        db.session.rollback()


def test_moving_a_row_to_another_workspace_is_refused(app, world):
    with app.app_context(), workspace_scope(world.x.workspace_id):
        invitation = db.session.get(Invitation, world.x.invitation_id)
        invitation.workspace_id = world.y.workspace_id
        with pytest.raises(TenancyError):
            db.session.flush()
        db.session.rollback()


def test_unscoped_needs_a_reason():
    with pytest.raises(ValueError), unscoped("  "):
        pass


@pytest.mark.parametrize("model", SCOPED, ids=lambda c: c.__name__)
def test_table_has_forced_row_level_security(app, model):
    with app.app_context():
        row = db.session.execute(
            text(
                "SELECT relrowsecurity, relforcerowsecurity FROM pg_class "
                "WHERE relname = :t AND relkind = 'r'"
            ),
            {"t": model.__tablename__},
        ).one()
        policies = db.session.scalar(
            text("SELECT count(*) FROM pg_policies WHERE tablename = :t"),
            {"t": model.__tablename__},
        )
    assert row == (True, True)
    assert policies == 1


def test_counts_in_subqueries_are_scoped_too(app, world):
    """seat_counts() counts through scalar subqueries: the criteria must reach them."""
    from app.tenants.services import seat_counts

    with app.app_context():
        with workspace_scope(world.x.workspace_id):
            x_counts = seat_counts()
        with workspace_scope(world.y.workspace_id):
            y_counts = seat_counts()
        with unscoped("test: all memberships"):
            total = db.session.scalar(select(func.count(Membership.id)))
    assert x_counts == (2, 1)
    assert y_counts == (2, 1)
    assert total > 4
