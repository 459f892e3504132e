"""Tables that migrations create but the ORM does not map: each search backend's own
storage (PostgreSQL full-text, SQLite FTS5 and its shadow tables). Autogenerate and the
schema test leave them out of the comparison with the models."""

from __future__ import annotations

TABLES = frozenset({"search_chunks", "search_docs", "search_fts"})


def include_name(name: str | None, type_: str, _parent_names: object) -> bool:
    if type_ != "table" or name is None:
        return True
    return name not in TABLES and not name.startswith("search_fts_")
