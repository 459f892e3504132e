"""The ORM wall alone (SQLite has no row-level security): the quick start depends on it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app import create_app
from app.auth.services import sign_up
from app.config import load_settings
from app.extensions import db
from app.tenants.context import TenancyError, workspace_scope
from app.tenants.models import Membership
from app.tenants.services import create_workspace, seat_counts
from tests.test_migrations import _config
from tests.web import PASSWORD, unique_email


@pytest.fixture(scope="module")
def sqlite_world(app_env, tmp_path_factory):
    from alembic import command

    url = f"sqlite:///{tmp_path_factory.mktemp('orm-wall') / 'wall.db'}"
    command.upgrade(_config(url, url), "head")
    sqlite_app = create_app(load_settings(database_url=url, migration_database_url=url))
    with sqlite_app.test_request_context():
        ids = []
        for tag in ("a", "b"):
            user = sign_up(unique_email(tag), PASSWORD)
            ids.append(create_workspace(user.id, tag, f"wall-{tag}-{user.id.hex[:6]}").id)
    return sqlite_app, ids


def test_plain_select_is_filtered(sqlite_world):
    sqlite_app, (a, b) = sqlite_world
    for workspace_id in (a, b):
        with sqlite_app.app_context(), workspace_scope(workspace_id):
            owners = set(db.session.scalars(select(Membership.workspace_id)))
            assert owners == {workspace_id}


def test_subqueries_are_filtered(sqlite_world):
    """A SELECT made only of scalar subqueries has no entity of its own."""
    sqlite_app, (a, b) = sqlite_world
    for workspace_id in (a, b):
        with sqlite_app.app_context(), workspace_scope(workspace_id):
            assert seat_counts() == (1, 0)
            inner = select(func.count(Membership.id)).scalar_subquery()
            assert db.session.scalar(select(inner)) == 1


def test_subqueries_without_context_are_refused(sqlite_world):
    sqlite_app, _ids = sqlite_world
    with sqlite_app.app_context(), pytest.raises(TenancyError):
        seat_counts()
