"""Alembic environment: runs as the table owner, then grants the app's runtime role.

The runtime role (the user in VERBATIM_DATABASE_URL) gets data privileges only: it does not
own the tables, so row-level security applies to it.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, make_url, pool, text

from app import models  # noqa: F401  (fills the metadata)
from app.config import load_settings
from app.db import Base
from migrations.unmapped import include_name

config = context.config
target_metadata = Base.metadata


def _urls() -> tuple[str, str]:
    override = config.attributes.get("url")
    cfg = load_settings()
    if override:
        return override, config.attributes.get("app_url", override)
    return cfg.effective_migration_url, cfg.database_url


def _grant_runtime_role(connection, owner_url: str, app_url: str) -> None:  # type: ignore[no-untyped-def]
    if connection.dialect.name != "postgresql":
        return
    owner, runtime = make_url(owner_url).username, make_url(app_url).username
    if not runtime or runtime == owner:
        return
    role = connection.dialect.identifier_preparer.quote(runtime)
    connection.execute(text(f"GRANT USAGE ON SCHEMA public TO {role}"))
    connection.execute(
        text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}")
    )
    connection.execute(text(f"REVOKE ALL ON alembic_version FROM {role}"))
    connection.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}"))


def run_migrations_offline() -> None:
    url, _ = _urls()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url, app_url = _urls()
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable, url, app_url)
        return
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        _run(connection, url, app_url)


def _run(connection, url: str, app_url: str) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()
        _grant_runtime_role(connection, url, app_url)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
