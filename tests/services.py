"""Throwaway PostgreSQL and Redis servers on free ports, for one test session."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

OWNER = "verbatim_owner"
APP = "verbatim_app"
APP_PASSWORD = "app-password"
DATABASE = "verbatim_test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if not found:
        raise RuntimeError(f"{name} not found: install PostgreSQL (make test does)")
    return found


def _as_service_user(cmd: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; use the packaged 'postgres' user then.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@dataclass
class Postgres:
    port: int = field(default_factory=free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="verbatim-pg-")))

    @property
    def owner_url(self) -> str:
        return f"postgresql+psycopg://{OWNER}@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def app_url(self) -> str:
        return f"postgresql+psycopg://{APP}:{APP_PASSWORD}@127.0.0.1:{self.port}/{DATABASE}"

    def start(self) -> None:
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        data = self.root / "data"
        subprocess.run(
            _as_service_user(
                [
                    _pg_bin("initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
        )
        opts = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        subprocess.run(
            _as_service_user(
                [
                    _pg_bin("pg_ctl"),
                    "-D",
                    str(data),
                    "-o",
                    opts,
                    "-l",
                    str(self.root / "log"),
                    "-w",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
        )
        self._psql(f"CREATE ROLE {OWNER} LOGIN NOSUPERUSER NOBYPASSRLS CREATEDB")
        self._psql(f"CREATE ROLE {APP} LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD '{APP_PASSWORD}'")
        self._psql(f"CREATE DATABASE {DATABASE} OWNER {OWNER}")

    def _psql(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(sql)

    def stop(self) -> None:
        subprocess.run(
            _as_service_user(
                [_pg_bin("pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "stop"]
            ),
            capture_output=True,
        )
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class RedisServer:
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)
