"""The SQL backends' rebuild."""

from __future__ import annotations

from collections.abc import Sequence

from app.search.backend import SearchBackend
from app.search.documents import ChunkDoc


class InPlaceRebuild:
    """SQL backends rebuild in place, one transcript per replace: every transcript stays
    searchable throughout (its old rows are replaced in one statement group), and
    reconcile then removes documents of transcripts that no longer exist."""

    def __init__(self, engine: SearchBackend) -> None:
        self.engine = engine

    def add(self, docs: Sequence[ChunkDoc]) -> None:
        if docs:
            self.engine.replace(docs[0].workspace_id, docs[0].transcript_id, docs)

    def finish(self) -> None:
        pass

    def abort(self) -> None:
        pass
