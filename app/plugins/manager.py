"""Discovers plugins (first-party modules, then the `verbatim.plugins` entry points) and
answers which are on for a workspace."""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import pluggy
from flask import Flask, current_app
from flask_babel import gettext as _
from sqlalchemy import select

from app.extensions import db
from app.plugins import hookspecs
from app.plugins.api import PluginAPI, PluginInfo
from app.plugins.models import PluginSetting

ENTRY_POINT_GROUP = "verbatim.plugins"
FIRST_PARTY = (
    "app.plugins.builtin.webhooks",
    "app.plugins.builtin.engines",
    "app.plugins.builtin.exporters",
    "app.plugins.builtin.search_backends",
    "app.plugins.builtin.ai_providers",
)
PLUGIN_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
log = logging.getLogger("verbatim.plugins")


class PluginRegistry:
    def __init__(self, safe_mode: bool) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self._objects: dict[str, Any] = {}
        self.safe_mode = safe_mode

    def register(self, obj: Any, *, first_party: bool) -> None:
        info_hook = getattr(obj, "verbatim_plugin_info", None)
        if info_hook is None:
            raise ValueError(f"plugin {obj!r} has no verbatim_plugin_info")
        info: PluginInfo = info_hook()
        if not isinstance(info, PluginInfo) or not PLUGIN_NAME.match(info.name):
            # The name goes in URLs and a 64-character column.
            raise ValueError(f"plugin {obj!r} gave no valid PluginInfo name")
        if info.name in self.infos:
            log.warning("plugin %s is registered twice; keeping the first", info.name)
            return
        info = PluginInfo(
            info.name, info.title, info.description, info.config_fields, first_party=first_party
        )
        self.pm.register(obj, name=info.name)
        self.infos[info.name] = info
        self._objects[info.name] = obj

    def load(self) -> None:
        for module in FIRST_PARTY:
            self.register(importlib.import_module(module).plugin, first_party=True)
        if self.safe_mode:
            log.warning("SAFE_MODE: third-party plugins are not loaded")
            return
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            try:
                self.register(ep.load(), first_party=False)
            except Exception:  # a broken plugin must not take the service down
                log.exception("plugin %s failed to load; skipped", ep.name)

    def plugin(self, name: str) -> Any:
        return self._objects[name]

    def hook_for(self, hook: str, enabled: set[str]) -> Any:
        others = [obj for name, obj in self._objects.items() if name not in enabled]
        return self.pm.subset_hook_caller(hook, remove_plugins=others)

    def offerings(self, hook: str, enabled: Iterable[str]) -> Iterator[tuple[str, Any]]:
        """(plugin name, item) for each item a list-returning hook offers: first-party
        plugins first, then the `enabled` third-party ones by name, so a later plugin
        cannot take over a name given earlier. A plugin whose hook raises is logged and
        skipped: one broken plugin must not take the feature down."""
        first = [n for n, info in self.infos.items() if info.first_party]
        offering = set(self.implementers(hook))
        for name in first + sorted(set(enabled) - set(first)):
            if name not in offering:
                continue
            try:
                batches = self.hook_for(hook, {name})()
            except Exception:
                log.exception("plugin %s failed in %s", name, hook)
                continue
            for batch in batches:
                for item in batch or ():
                    yield name, item

    def implementers(self, hook: str) -> list[str]:
        """Names of the plugins that implement `hook`."""
        return [impl.plugin_name for impl in getattr(self.pm.hook, hook).get_hookimpls()]

    def validate_config(self, name: str, config: dict[str, Any], api: PluginAPI) -> dict[str, Any]:
        # Through pluggy, so an implementation may take only the arguments it names.
        results = self.hook_for("verbatim_validate_config", {name})(config=config, api=api)
        return next((r for r in results if r is not None), config)


def init_plugins(app: Flask) -> None:
    registry = PluginRegistry(app.extensions["verbatim.settings"].safe_mode)
    registry.load()
    app.extensions["verbatim.plugins"] = registry


def registry() -> PluginRegistry:
    return current_app.extensions["verbatim.plugins"]


def api_for(name: str, workspace_id: uuid.UUID, config: Mapping[str, Any]) -> PluginAPI:
    """The facade plugin `name` gets for one workspace."""
    cfg = current_app.extensions["verbatim.settings"]
    return PluginAPI(
        name,
        workspace_id,
        config,
        allow_private=cfg.outbound_allow_private,
        timeout=cfg.outbound_timeout_seconds,
    )


def workspace_settings() -> dict[str, PluginSetting]:
    """The current workspace's plugin rows (needs a workspace context)."""
    return {s.plugin: s for s in db.session.scalars(select(PluginSetting))}


def enabled_plugins() -> dict[str, PluginSetting]:
    known = registry().infos
    return {n: s for n, s in workspace_settings().items() if s.enabled and n in known}


def _changed(stored: dict[str, Any], merged: dict[str, Any]) -> bool:
    return any(v not in ("", None, False) and stored.get(k) != v for k, v in merged.items())


def set_plugin(
    name: str, enabled: bool, config: dict[str, Any] | None, workspace_id: uuid.UUID
) -> PluginSetting:
    from app.audit.service import record
    from app.errors import NotFound, ServiceError

    reg = registry()
    if name not in reg.infos:
        raise NotFound()
    row = workspace_settings().get(name) or PluginSetting(plugin=name, config={})
    stored = dict(row.config or {})
    merged = {**stored, **(config or {})}
    # Turning a plugin off must always work, so unchanged settings are not re-checked then;
    # anything new is, so a refused value is never stored.
    if enabled or _changed(stored, merged):
        try:
            merged = reg.validate_config(name, merged, api_for(name, workspace_id, merged))
        except ValueError as e:
            raise ServiceError(str(e)) from None
        except Exception:  # a plugin's bug is not the admin's input error, but still refused
            log.exception("plugin %s failed while checking its settings", name)
            raise ServiceError(
                _("%(plugin)s could not check these settings.", plugin=reg.infos[name].title)
            ) from None
    row.enabled, row.config = enabled, merged
    db.session.add(row)
    record(
        "plugin.updated",
        target=row,
        details={"plugin": name, "enabled": enabled},
        workspace_id=workspace_id,
    )
    db.session.commit()
    return row
