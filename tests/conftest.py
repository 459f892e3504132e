"""Session-wide real services: PostgreSQL, Redis, an SMTP server; the app on top of them.

Set VERBATIM_TEST_OWNER_URL, VERBATIM_TEST_APP_URL and VERBATIM_TEST_REDIS_URL to run
against servers you already have instead of throwaway ones.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from alembic import command
from alembic.config import Config
from flask import Flask
from hypothesis import settings as hypothesis_settings
from redis import Redis
from rq import Queue, Worker

from app import ROOT, create_app
from tests.fakes.oidc_provider import OIDCProvider
from tests.mailbox import Mailbox
from tests.services import Postgres, RedisServer, free_port
from tests.web import Web

SECRET = "test-secret-key-not-for-production"


# The suite replays the same examples every run, so a red build is reproducible and never a
# coin toss. VERBATIM_HYPOTHESIS=explore searches new examples (do it when changing parsers).
hypothesis_settings.register_profile("repeatable", derandomize=True, database=None)
hypothesis_settings.register_profile("explore", max_examples=1000)
hypothesis_settings.load_profile(os.environ.get("VERBATIM_HYPOTHESIS", "repeatable"))


@pytest.fixture(scope="session")
def services() -> Iterator[SimpleNamespace]:
    started: list = []
    owner_url = os.environ.get("VERBATIM_TEST_OWNER_URL")
    app_url = os.environ.get("VERBATIM_TEST_APP_URL")
    redis_url = os.environ.get("VERBATIM_TEST_REDIS_URL")
    if not (owner_url and app_url):
        pg = Postgres()
        pg.start()
        started.append(pg)
        owner_url, app_url = pg.owner_url, pg.app_url
    if not redis_url:
        rs = RedisServer()
        rs.start()
        started.append(rs)
        redis_url = rs.url
    mailbox = Mailbox(free_port())
    mailbox.start()
    oidc = OIDCProvider()  # stands in for Google's OpenID provider
    oidc.start()
    staging_dir = tempfile.mkdtemp(prefix="verbatim-staging-")
    try:
        yield SimpleNamespace(
            owner_url=owner_url,
            app_url=app_url,
            redis_url=redis_url,
            mailbox=mailbox,
            oidc=oidc,
            staging_dir=staging_dir,
        )
    finally:
        shutil.rmtree(staging_dir, ignore_errors=True)
        oidc.stop()
        mailbox.stop()
        for service in reversed(started):
            service.stop()


def migrate(owner_url: str, app_url: str, revision: str = "head") -> None:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["url"] = owner_url
    cfg.attributes["app_url"] = app_url
    command.upgrade(cfg, revision)


@pytest.fixture(scope="session")
def app_env(services: SimpleNamespace) -> dict[str, str]:
    env = {
        "VERBATIM_ENV": "test",
        "VERBATIM_SECRET_KEY": SECRET,
        "VERBATIM_DATABASE_URL": services.app_url,
        "VERBATIM_MIGRATION_DATABASE_URL": services.owner_url,
        "VERBATIM_REDIS_URL": services.redis_url,
        "VERBATIM_SMTP_HOST": "127.0.0.1",
        "VERBATIM_SMTP_PORT": str(services.mailbox.port),
        "VERBATIM_SMTP_STARTTLS": "false",
        "VERBATIM_BASE_URL": "http://localhost",
        "VERBATIM_DB_POOL_SIZE": "5",
        "VERBATIM_GOOGLE_CLIENT_ID": services.oidc.client_id,
        "VERBATIM_GOOGLE_CLIENT_SECRET": services.oidc.client_secret,
        "VERBATIM_GOOGLE_METADATA_URL": services.oidc.metadata_url,
        "VERBATIM_STAGING_DIR": services.staging_dir,
        "VERBATIM_MODELS_DIR": str(ROOT / "tests" / "fixtures" / "models"),
        "VERBATIM_HUB_MODELS": "",
        "VERBATIM_ALLOW_MODEL_DOWNLOAD": "false",
        "VERBATIM_DEFAULT_MODEL": "tiny-random",
        "VERBATIM_ENGINE_CPU_THREADS": "1",
        # Greedy decoding only: the random-weight test model's output is then the same on
        # every run (the sampling fallback made word timings come and go).
        "VERBATIM_ENGINE_TEMPERATURES": "0",
    }
    services.oidc.redirect_uris.add(env["VERBATIM_BASE_URL"] + "/auth/google/callback")
    # Forked work horses and subprocess workers build their app from the environment.
    os.environ.update(env)
    migrate(services.owner_url, services.app_url)
    return env


@pytest.fixture(scope="session")
def app(app_env: dict[str, str]) -> Flask:
    return create_app()


def _client_address() -> str:
    # Each client its own address, so per-address rate limits never collide across tests.
    return f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


@pytest.fixture
def web(app: Flask) -> Web:
    return Web(app, remote_addr=_client_address())


@pytest.fixture
def web2(app: Flask) -> Web:
    return Web(app, remote_addr=_client_address())


@pytest.fixture
def mailbox(services: SimpleNamespace) -> Mailbox:
    return services.mailbox


@pytest.fixture
def redis_conn(services: SimpleNamespace) -> Redis:
    return Redis.from_url(services.redis_url)


@pytest.fixture
def own_mail_only(redis_conn: Redis) -> None:
    """Drop the mail other tests left queued (nothing drains the email queue after each
    test), so a test that drains the queue sends its own mail, not the whole session's."""
    Queue("email", connection=redis_conn).empty()


@pytest.fixture
def run_jobs(app_env: dict[str, str], redis_conn: Redis):  # type: ignore[no-untyped-def]
    """Drain queues with a real RQ worker (it forks a work horse per job)."""

    def _run(*queues: str) -> None:
        Worker(list(queues) or ["email"], connection=redis_conn).work(
            burst=True, logging_level="WARNING"
        )

    return _run


@pytest.fixture
def team(app: Flask, web: Web):  # type: ignore[no-untyped-def]
    """A signed-in owner of a new team workspace (tests/transcripts.py)."""
    from tests.transcripts import make_team  # imports test modules that import this one

    return make_team(app, web)
