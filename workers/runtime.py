"""What every job runs inside: the process's app, an app context, a workspace scope."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

from flask import Flask

from app.extensions import db
from app.tenants.context import workspace_scope

_app: Flask | None = None
_app_pid: int | None = None


def job_app() -> Flask:
    """One app per process; a forked work horse builds its own (no inherited connections)."""
    global _app, _app_pid
    if _app is None or _app_pid != os.getpid():
        from app import create_app

        if _app is not None:
            # Connections inherited across fork belong to the parent: never reuse them.
            _app.extensions["verbatim.engine"].dispose(close=False)
        _app = create_app()
        _app_pid = os.getpid()
    return _app


def adopt_app(app: Flask) -> None:
    """The in-process worker (quick start) runs jobs in the web app itself."""
    global _app, _app_pid
    _app, _app_pid = app, os.getpid()


@contextmanager
def job_context(workspace_id: str | uuid.UUID | None = None) -> Iterator[Flask]:
    app = job_app()
    with app.app_context():
        scope = workspace_scope(uuid.UUID(str(workspace_id))) if workspace_id else nullcontext()
        try:
            with scope:
                yield app
        finally:
            db.session.remove()
