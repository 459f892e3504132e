"""Migrations from empty build exactly the models' schema, on PostgreSQL and SQLite, and
downgrade cleanly."""

from __future__ import annotations

import uuid

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, make_url, text
from sqlalchemy.exc import ProgrammingError

from app import ROOT
from app.db import Base
from migrations.unmapped import include_name


def _config(url: str, app_url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["url"] = url
    cfg.attributes["app_url"] = app_url
    return cfg


def _diff(url: str) -> list:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            opts = {"compare_type": True, "include_name": include_name}
            ctx = MigrationContext.configure(conn, opts=opts)
            return compare_metadata(ctx, Base.metadata)
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.fixture
def fresh_postgres(services):
    name = f"verbatim_migr_{uuid.uuid4().hex[:8]}"
    owner = make_url(services.owner_url)
    admin = create_engine(owner.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    yield (
        owner.set(database=name).render_as_string(hide_password=False),
        make_url(services.app_url).set(database=name).render_as_string(hide_password=False),
    )
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
    admin.dispose()


def test_postgres_migrations_match_models_and_round_trip(fresh_postgres):
    owner_url, app_url = fresh_postgres
    cfg = _config(owner_url, app_url)
    command.upgrade(cfg, "head")
    assert _diff(owner_url) == []
    assert set(Base.metadata.tables) <= _tables(owner_url)
    command.downgrade(cfg, "base")
    assert _tables(owner_url) == {"alembic_version"}
    command.upgrade(cfg, "head")
    assert _diff(owner_url) == []


def test_postgres_migration_grants_the_app_role_data_access_only(fresh_postgres):
    owner_url, app_url = fresh_postgres
    command.upgrade(_config(owner_url, app_url), "head")
    engine = create_engine(app_url)
    try:
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT count(*) FROM users")) == 0
            with pytest.raises(ProgrammingError, match="must be owner"):
                conn.execute(text("DROP TABLE users"))
            conn.rollback()
            with pytest.raises(ProgrammingError, match="permission denied"):
                conn.execute(text("SELECT * FROM alembic_version"))
    finally:
        engine.dispose()


def test_sqlite_migrations_match_models_and_round_trip(tmp_path):
    url = f"sqlite:///{tmp_path / 'quickstart.db'}"
    cfg = _config(url, url)
    command.upgrade(cfg, "head")
    assert _diff(url) == []
    command.downgrade(cfg, "base")
    assert _tables(url) == {"alembic_version"}
    command.upgrade(cfg, "head")
    assert _diff(url) == []
