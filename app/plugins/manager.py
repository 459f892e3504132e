"""Discovers plugins (first-party modules, then the `verbatim.plugins` entry points) and
answers which are on for a workspace."""

from __future__ import annotations

import importlib
import logging
import uuid
from importlib.metadata import entry_points
from typing import Any

import pluggy
from flask import Flask, current_app
from sqlalchemy import select

from app.extensions import db
from app.plugins import hookspecs
from app.plugins.api import PluginInfo
from app.plugins.models import PluginSetting

ENTRY_POINT_GROUP = "verbatim.plugins"
FIRST_PARTY = ("app.plugins.builtin.webhooks",)
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
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                self.register(ep.load(), first_party=False)
            except Exception:  # a broken plugin must not take the service down
                log.exception("plugin %s failed to load; skipped", ep.name)

    def plugin(self, name: str) -> Any:
        return self._objects[name]

    def hook_for(self, hook: str, enabled: set[str]) -> Any:
        others = [obj for name, obj in self._objects.items() if name not in enabled]
        return self.pm.subset_hook_caller(hook, remove_plugins=others)

    def validate_config(self, name: str, config: dict[str, Any]) -> dict[str, Any]:
        obj = self._objects[name]
        validate = getattr(obj, "verbatim_validate_config", None)
        if validate is None:
            return config
        return validate(config=config) or config


def init_plugins(app: Flask) -> None:
    registry = PluginRegistry(app.extensions["verbatim.settings"].safe_mode)
    registry.load()
    app.extensions["verbatim.plugins"] = registry


def registry() -> PluginRegistry:
    return current_app.extensions["verbatim.plugins"]


def workspace_settings() -> dict[str, PluginSetting]:
    """The current workspace's plugin rows (needs a workspace context)."""
    return {s.plugin: s for s in db.session.scalars(select(PluginSetting))}


def enabled_plugins() -> dict[str, PluginSetting]:
    known = registry().infos
    return {n: s for n, s in workspace_settings().items() if s.enabled and n in known}


def set_plugin(
    name: str, enabled: bool, config: dict[str, Any] | None, workspace_id: uuid.UUID
) -> PluginSetting:
    from app.audit.service import record
    from app.errors import NotFound, ServiceError

    reg = registry()
    if name not in reg.infos:
        raise NotFound()
    row = workspace_settings().get(name) or PluginSetting(plugin=name, config={})
    merged = dict(row.config or {})
    if config is not None:
        merged.update(config)
    if enabled:
        try:
            merged = reg.validate_config(name, merged)
        except ValueError as e:
            raise ServiceError(str(e)) from None
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
