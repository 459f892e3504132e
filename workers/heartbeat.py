"""A running job's pulse: a thread that records progress and notices a cancel.

The engine calls `progress()` as it goes; this thread writes the latest value every few
seconds (and always at least that often, even when a long stage reports nothing), so the
reaper can tell a live job from a dead one. When the transcript is no longer the job's
(cancelled), the next progress call raises Cancelled.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

from app.extensions import db
from app.tenants.context import workspace_scope
from workers.engines.base import Cancelled


class Heartbeat:
    def __init__(
        self,
        app: object,
        workspace_id: uuid.UUID,
        beat: Callable[[float, str], bool],
        every: float,
    ) -> None:
        self._app = app
        self._workspace_id = workspace_id
        self._beat = beat
        self._every = every
        self._progress = (0.0, "starting")
        self._stop = threading.Event()
        self.lost = threading.Event()
        self._thread = threading.Thread(target=self._run, name="verbatim-heartbeat", daemon=True)

    def progress(self, fraction: float, stage: str) -> None:
        self._progress = (fraction, stage)
        if self.lost.is_set():
            raise Cancelled()

    def _run(self) -> None:
        with self._app.app_context(), workspace_scope(self._workspace_id):  # type: ignore[attr-defined]
            try:
                while not self._stop.wait(self._every):
                    try:
                        if not self._beat(*self._progress):
                            self.lost.set()
                            return
                    except Exception:  # a database hiccup must not kill the pulse
                        db.session.rollback()
            finally:
                db.session.remove()

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
