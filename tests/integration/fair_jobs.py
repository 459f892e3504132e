"""Jobs for the fairness test: each records that it ran, in order."""

from __future__ import annotations

import time

from rq import get_current_job


def record(tag: str, seconds: float) -> None:
    job = get_current_job()
    assert job is not None
    job.connection.rpush("test:fair:order", tag)
    time.sleep(seconds)
