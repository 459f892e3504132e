"""The hook points plugins implement (pluggy). Each returns data; none gets the app."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from app.plugins.api import PluginAPI, PluginEvent, PluginInfo

PROJECT = "verbatim"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec(firstresult=True)
def verbatim_plugin_info() -> PluginInfo:
    """Name, title, description and the per-workspace settings the plugin takes."""


@hookspec
def verbatim_validate_config(config: dict[str, Any], api: PluginAPI) -> dict[str, Any] | None:
    """Check and normalise a workspace's settings; raise ValueError with a clear message.

    `api` is the facade for the workspace being configured: use api.check_url() for any URL
    the plugin will call, so a refused destination is never stored. (An implementation may
    leave `api` out of its parameters; pluggy passes only the ones it names.)
    """


@hookspec
def verbatim_transcription_engines() -> list[Any]:
    """Transcription engines this plugin provides (see workers/engines)."""


@hookspec
def verbatim_exporters() -> list[Any]:
    """Transcript exporters (format name, media type, render function)."""


@hookspec
def verbatim_ai_providers() -> list[Any]:
    """AI providers for summaries and questions."""


@hookspec
def verbatim_search_backends() -> list[Any]:
    """Search backends."""


@hookspec
def verbatim_on_event(api: PluginAPI, event: PluginEvent) -> None:
    """A workspace event (e.g. transcript.completed); called only where the plugin is on."""
