"""What RQ keeps about a failed job: the exception's type and the traceback's file:line
frames, never its message (a library's message may quote the transcript it was working
on, and failed jobs sit in Redis, which is not where transcript text may live).

RQ formats the exception into a string in `perform_job` and stores it (the job's
`exc_info`, its failure Result) through `handle_job_failure`; both that and the log line
of `handle_exception` run while the job's exception is being handled, so the override
rebuilds the string from that exception.
"""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path
from types import TracebackType
from typing import Any

from rq import SimpleWorker, Worker
from rq.job import Job
from rq.queue import Queue

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("verbatim.worker")


def _where(filename: str) -> str:
    path = Path(filename)
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        parts = path.parts
        if "site-packages" in parts:  # a library: its own path is enough
            return str(Path(*parts[parts.index("site-packages") + 1 :]))
        return filename


def safe_failure(
    exc_type: type[BaseException] | None,
    exc: BaseException | None,
    tb: TracebackType | None,
) -> str:
    """The traceback without any message: frames as file:line in function, then the
    exception's type and the types it was raised from."""
    lines = ["Traceback (file:line only; the message is withheld, it may quote data):"]
    for frame in traceback.extract_tb(tb):
        lines.append(f"  {_where(frame.filename)}:{frame.lineno} in {frame.name}")
    kinds = [exc_type.__qualname__ if exc_type else "Exception"]
    seen: set[int] = set()
    cause = (exc.__cause__ or exc.__context__) if exc is not None else None
    while cause is not None and id(cause) not in seen and len(kinds) < 5:
        seen.add(id(cause))
        kinds.append(type(cause).__qualname__)
        cause = cause.__cause__ or cause.__context__
    module = exc_type.__module__ if exc_type else ""
    name = kinds[0] if module in ("builtins", "") else f"{module}.{kinds[0]}"
    lines.append(name + "".join(f" (from {k})" for k in kinds[1:]))
    return "\n".join(lines) + "\n"


class SafeFailures:
    """Mixed into the worker classes, before RQ's class."""

    def handle_exception(self, job: Job, *exc_info: Any) -> None:
        # RQ's own version logs the full traceback with its message and the job's
        # arguments; the log gets the same withheld version as Redis.
        log.error("job %s (%s) failed\n%s", job.id, job.origin, safe_failure(*exc_info))
        for handler in getattr(self, "_exc_handlers", []):
            if handler(job, *exc_info) is False:
                break

    def handle_job_failure(self, job: Job, queue: Queue, **kwargs: Any) -> None:
        # RQ passes everything after the queue by keyword, and the set grows between
        # majors (3.0 added `execution`): all of it passes through but the string.
        current = sys.exc_info()
        if current[0] is not None:
            kwargs["exc_string"] = safe_failure(*current)
        # Otherwise RQ wrote the text itself (a work horse killed, a job stopped).
        super().handle_job_failure(job, queue, **kwargs)  # type: ignore[misc]


class SafeWorker(SafeFailures, Worker):
    """Forks a work horse per job."""


class SafeSimpleWorker(SafeFailures, SimpleWorker):
    """Runs jobs in its own process (the GPU worker keeps its models loaded)."""
