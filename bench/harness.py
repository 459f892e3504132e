"""What the benchmarks share: throwaway services for one run."""

from __future__ import annotations

from contextlib import ExitStack

from tests.services import Postgres, RedisServer


def start_services(stack: ExitStack) -> tuple[Postgres, RedisServer]:
    """Throwaway PostgreSQL and Redis on free ports, stopped when `stack` closes."""
    pg, rs = Postgres(), RedisServer()
    pg.start()
    stack.callback(pg.stop)
    rs.start()
    stack.callback(rs.stop)
    return pg, rs
