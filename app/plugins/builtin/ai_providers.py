"""First-party plugin: the AI providers that ship with Verbatim. Each provider's module
(and the openai client) is imported only when the hook is called."""

from __future__ import annotations

import logging
from typing import Any

from flask_babel import lazy_gettext as _l

from app.plugins.api import PluginInfo
from app.plugins.hookspecs import hookimpl

log = logging.getLogger("verbatim.ai")


class AIProvidersPlugin:
    @hookimpl
    def verbatim_plugin_info(self) -> PluginInfo:
        return PluginInfo(
            name="ai-providers",
            title=_l("AI providers"),
            description=_l(
                "Extractive summaries and answers (no language model), and any "
                "OpenAI-compatible Chat Completions server."
            ),
        )

    @hookimpl
    def verbatim_ai_providers(self) -> list[Any]:
        from app.ai.providers.extractive import ExtractiveProvider

        found: list[Any] = [ExtractiveProvider]
        try:
            from app.ai.llm import provider_for
            from app.ai.providers.openai_chat import OpenAIChatModel
        except ImportError:  # a slim install without the openai client
            log.warning("the openai provider is not available", exc_info=True)
        else:
            found.append(provider_for(OpenAIChatModel))
        return found


plugin = AIProvidersPlugin()
