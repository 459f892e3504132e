"""First-party plugin: the search backends that ship with Verbatim. Each backend's module
(and its client library) is imported only when the hook is called."""

from __future__ import annotations

import importlib
import logging
from typing import Any

from flask_babel import lazy_gettext as _l

from app.plugins.api import PluginInfo
from app.plugins.hookspecs import hookimpl

BACKENDS = (
    ("app.search.backends.postgres", "PostgresBackend"),
    ("app.search.backends.sqlite", "SqliteBackend"),
    ("app.search.backends.meilisearch", "MeilisearchBackend"),
)
log = logging.getLogger("verbatim.search")


class SearchBackendsPlugin:
    @hookimpl
    def verbatim_plugin_info(self) -> PluginInfo:
        return PluginInfo(
            name="search-backends",
            title=_l("Search backends"),
            description=_l("Meilisearch, PostgreSQL full-text search and SQLite FTS5."),
        )

    @hookimpl
    def verbatim_search_backends(self) -> list[Any]:
        found = []
        for module, name in BACKENDS:
            try:
                found.append(getattr(importlib.import_module(module), name))
            except ImportError:  # e.g. a slim install without the Meilisearch client
                log.warning("search backend %s is not available", name, exc_info=True)
        return found


plugin = SearchBackendsPlugin()
