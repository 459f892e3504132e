"""First-party plugin: the transcription engines that ship with Verbatim.

Importing this module imports no engine library: the engine classes import faster_whisper,
ctranslate2, torch or whisperx only when a worker loads a model.
"""

from __future__ import annotations

import logging
from typing import Any

from flask_babel import lazy_gettext as _l

from app.plugins.api import PluginInfo
from app.plugins.hookspecs import hookimpl

log = logging.getLogger("verbatim.plugins")


class EnginesPlugin:
    @hookimpl
    def verbatim_plugin_info(self) -> PluginInfo:
        return PluginInfo(
            name="engines",
            title=_l("Transcription engines"),
            description=_l(
                "faster-whisper (CPU or GPU, word timings) and WhisperX (GPU: "
                "batched transcription, word alignment, speaker diarization)."
            ),
        )

    @hookimpl
    def verbatim_transcription_engines(self) -> list[Any]:
        from workers.engines.faster_whisper import FasterWhisperEngine

        engines: list[Any] = [FasterWhisperEngine()]
        try:
            from workers.engines.whisperx import WhisperXEngine
        except ImportError:  # a slimmed-down install without the WhisperX engine module
            log.warning("the WhisperX engine module is missing; offering faster-whisper only")
        else:
            engines.append(WhisperXEngine())
        return engines


plugin = EnginesPlugin()
