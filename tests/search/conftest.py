"""One app per search backend, so the same tests run against each of them.

- postgres: the session `app` (the test PostgreSQL; "auto" picks its full-text search);
- sqlite: a second app on a migrated SQLite file, backend sqlite (FTS5);
- meilisearch-fake: the PostgreSQL database with the meilisearch backend, talking through
  the official client to tests.fakes.meilisearch_server (the documented wire format);
- meilisearch: a real Meilisearch, only when MEILI_URL (and MEILI_MASTER_KEY) are set.

Apps and servers live for the session; every test makes fresh workspaces, so no test sees
another's documents.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from app import create_app
from app.config import load_settings
from app.search.backend import backend
from tests.search.support import SearchApp, Space
from tests.test_migrations import _config

BACKENDS = ["postgres", "sqlite", "meilisearch-fake", "meilisearch"]


def _ready(app: Flask) -> Flask:
    with app.app_context():
        backend().ensure_ready()
    return app


@pytest.fixture(scope="session")
def sqlite_search_app(app_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Flask:
    from alembic import command

    url = f"sqlite:///{tmp_path_factory.mktemp('search-sqlite') / 'search.db'}"
    command.upgrade(_config(url, url), "head")
    return _ready(
        create_app(
            load_settings(database_url=url, migration_database_url=url, search_backend="sqlite")
        )
    )


@pytest.fixture(scope="session")
def meili_fake(app_env: dict[str, str]) -> Iterator[Any]:
    from tests.fakes.meilisearch_server import MeiliServer

    server = MeiliServer(master_key="test-master-key")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _meili_app(url: str, key: str, index: str) -> Flask:
    return _ready(
        create_app(
            load_settings(
                search_backend="meilisearch",
                meili_url=url,
                meili_api_key=key,
                meili_index=index,
                search_timeout_seconds=2.0,
            )
        )
    )


@pytest.fixture(scope="session")
def meili_fake_app(meili_fake: Any) -> Flask:
    return _meili_app(meili_fake.url, meili_fake.master_key, "verbatim_test_chunks")


@pytest.fixture(scope="session")
def meili_real_app(app_env: dict[str, str]) -> Iterator[Flask]:
    url = os.environ.get("MEILI_URL")
    if not url:
        pytest.skip("no real Meilisearch: set MEILI_URL (and MEILI_MASTER_KEY) to run these")
    key = os.environ.get("MEILI_MASTER_KEY", "")
    index = f"verbatim_test_{uuid.uuid4().hex[:10]}"
    yield _meili_app(url, key, index)
    import meilisearch

    meilisearch.Client(url, key).delete_index(index)


@pytest.fixture
def meili_server(meili_fake: Any) -> Iterator[Any]:
    """The fake server, put back to health after the test (down, slow or failing)."""
    yield meili_fake
    meili_fake.come_back()
    meili_fake.slow(0)
    meili_fake.fail_tasks(False)


def _search_app(request: pytest.FixtureRequest, kind: str) -> SearchApp:
    if kind == "postgres":
        return SearchApp(kind, request.getfixturevalue("app"))
    if kind == "sqlite":
        return SearchApp(kind, request.getfixturevalue("sqlite_search_app"))
    if kind == "meilisearch-fake":
        request.getfixturevalue("meili_server")  # healthy again after the test
        return SearchApp(kind, request.getfixturevalue("meili_fake_app"))
    if kind == "meilisearch":
        return SearchApp(kind, request.getfixturevalue("meili_real_app"))
    raise ValueError(kind)


@pytest.fixture(params=BACKENDS)
def search_app(request: pytest.FixtureRequest) -> SearchApp:
    """The same test against every backend."""
    return _search_app(request, request.param)


@pytest.fixture(params=["postgres", "sqlite"])
def sql_search_app(request: pytest.FixtureRequest) -> SearchApp:
    return _search_app(request, request.param)


@pytest.fixture
def pg_search(app: Flask) -> SearchApp:
    return SearchApp("postgres", app)


@pytest.fixture
def meili_search(meili_server: Any, meili_fake_app: Flask) -> SearchApp:
    return SearchApp("meilisearch-fake", meili_fake_app)


@pytest.fixture
def spaces(search_app: SearchApp) -> tuple[Space, Space]:
    """Two fresh workspaces of the backend under test (different owners)."""
    return search_app.space("a"), search_app.space("b")
