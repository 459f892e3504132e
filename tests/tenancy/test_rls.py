"""PostgreSQL row-level security, the second wall: proven with raw SQL, past the ORM."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session

from app.tenants.context import unscoped, workspace_scope
from app.tenants.models import Membership


@pytest.fixture
def app_engine(services):
    # One connection only: every session below reuses the same pooled connection.
    engine = create_engine(services.app_url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def test_app_role_neither_owns_tables_nor_bypasses_rls(app_engine):
    with app_engine.connect() as conn:
        role = conn.execute(
            text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        ).one()
        owned = conn.scalar(
            text(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
                "AND tableowner = current_user"
            )
        )
    assert role == (False, False)
    assert owned == 0


def test_no_tenant_set_returns_nothing(app_engine, world):
    with app_engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM memberships")) == 0
        assert conn.scalar(text("SELECT count(*) FROM api_keys")) == 0
        assert conn.scalar(text("SELECT count(*) FROM invitations")) == 0


def test_tenant_setting_shows_only_that_workspace(app_engine, world):
    with app_engine.begin() as conn:
        conn.execute(
            text("SELECT set_config('verbatim.workspace_id', :w, true)"),
            {"w": str(world.x.workspace_id)},
        )
        workspaces = set(conn.scalars(text("SELECT DISTINCT workspace_id FROM memberships")))
    assert workspaces == {world.x.workspace_id}


def test_writing_into_another_workspace_violates_policy(app_engine, world):
    with app_engine.connect() as conn:
        conn.execute(
            text("SELECT set_config('verbatim.workspace_id', :w, true)"),
            {"w": str(world.x.workspace_id)},
        )
        with pytest.raises(ProgrammingError, match="row-level security"):
            conn.execute(
                text(
                    "INSERT INTO plugin_settings (id, workspace_id, plugin, enabled, config, "
                    "created_at, updated_at) VALUES (gen_random_uuid(), :y, 'evil', true, "
                    "'{}', now(), now())"
                ),
                {"y": str(world.y.workspace_id)},
            )
        conn.rollback()


def test_updates_cannot_reach_another_workspace(app_engine, world):
    with app_engine.begin() as conn:
        conn.execute(
            text("SELECT set_config('verbatim.workspace_id', :w, true)"),
            {"w": str(world.x.workspace_id)},
        )
        changed = conn.execute(
            text("UPDATE invitations SET role = 'admin' WHERE id = :id"),
            {"id": world.y.invitation_id},
        ).rowcount
    assert changed == 0


def test_pooled_connection_never_carries_a_tenant_into_the_next_use(app, app_engine, world):
    """Two uses for different workspaces on one pooled connection, then one with none."""
    seen = []
    for workspace_id in (world.x.workspace_id, world.y.workspace_id):
        with app.app_context(), Session(bind=app_engine) as session:
            with workspace_scope(workspace_id):
                owners = set(session.scalars(select(Membership.workspace_id)))
                backend = session.scalar(text("SELECT pg_backend_pid()"))
                session.commit()
            seen.append((owners, backend))
    assert seen[0][0] == {world.x.workspace_id}
    assert seen[1][0] == {world.y.workspace_id}
    assert seen[0][1] == seen[1][1], "the test needs both uses on the same connection"
    with app_engine.connect() as conn:
        assert conn.scalar(text("SELECT current_setting('verbatim.workspace_id', true)")) in (
            "",
            None,
        )
        assert conn.scalar(text("SELECT count(*) FROM memberships")) == 0


def test_unscoped_is_explicit_and_ends_with_its_block(app, app_engine, world):
    with app.app_context(), Session(bind=app_engine) as session:
        with unscoped("test: read across workspaces"):
            everywhere = set(session.scalars(select(Membership.workspace_id)))
            session.commit()
        leaked = session.scalar(text("SELECT count(*) FROM memberships"))
        session.commit()
    assert {world.x.workspace_id, world.y.workspace_id} <= everywhere
    assert leaked == 0


def test_two_requests_on_one_connection_see_only_their_workspace(app, world):
    """Through the app itself: X's owner then Y's owner, sequentially, same process."""
    from tests.web import Web

    pages = {}
    for side in (world.x, world.y):
        web = Web(app, remote_addr="10.77.0.1")
        web.login(side.owner)
        pages[side.slug] = web.get(f"/w/{side.slug}/members").get_data(as_text=True)
    assert world.x.member_email in pages[world.x.slug]
    assert world.y.member_email not in pages[world.x.slug]
    assert world.y.member_email in pages[world.y.slug]
    assert world.x.member_email not in pages[world.y.slug]
