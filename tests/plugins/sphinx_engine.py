"""A real third-party transcription engine for tests: PocketSphinx over a small grammar.

The test model (tests/fixtures/models/tiny-random) has random weights and cannot hear
anything, so a test that needs words spoken in audio to arrive in a transcript (the
Private Transcript canary) uses this engine instead. It recognises espeak-ng's en-us voice
reliably over the VOCABULARY below, and only those words, from the PCM it is given: what it
returns comes from the audio and nowhere else.

Loaded as any third-party plugin is: the `verbatim.plugins` entry point
`sphinx = tests.plugins.sphinx_engine:plugin` (see tests/private/test_canary.py), and
enabled per workspace by an admin. pocketsphinx is imported only when a worker loads it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from app.plugins.api import PluginInfo
from app.plugins.hookspecs import hookimpl
from workers.engines.base import (
    SAMPLE_RATE,
    EngineCapabilities,
    EngineEnv,
    EngineError,
    EngineResult,
    ProgressCallback,
    Segment,
    TranscribeOptions,
    Word,
)

PLUGIN = "sphinx"
ENGINE = "sphinx"
MODEL = "en-us-grammar"
# All the grammar allows: anything else spoken comes out as the nearest of these, or nothing.
VOCABULARY = (
    "purple",
    "elephant",
    "marmalade",
    "green",
    "tiger",
    "lemonade",
    "yellow",
    "zebra",
    "chocolate",
    "orange",
    "monkey",
    "butter",
)
GRAMMAR = "#JSGF V1.0;\ngrammar words;\npublic <s> = ( " + " | ".join(VOCABULARY) + " )*;\n"


def pcm16(audio: np.ndarray) -> bytes:
    """Engines get float32 in -1..1; PocketSphinx takes 16-bit little-endian samples."""
    return (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes()


class SphinxModel:
    def __init__(self) -> None:
        try:
            from pocketsphinx import Decoder
        except ImportError:
            raise EngineError("pocketsphinx is not installed (pip install pocketsphinx).") from None
        self._decoder = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")
        self._decoder.add_jsgf_string("words", GRAMMAR)
        self._decoder.activate_search("words")
        self._frames_per_second = int(self._decoder.config["frate"])

    def transcribe(
        self, audio: np.ndarray, options: TranscribeOptions, progress: ProgressCallback
    ) -> EngineResult:
        progress(0.0, "transcribe")
        dec = self._decoder
        dec.start_utt()
        dec.process_raw(pcm16(audio), full_utt=True)
        dec.end_utt()
        fps, limit = self._frames_per_second, round(len(audio) / SAMPLE_RATE, 3)
        words = [
            Word(
                seg.word,
                min(round(seg.start_frame / fps, 3), limit),
                min(round((seg.end_frame + 1) / fps, 3), limit),
                round(float(seg.prob), 3),
            )
            for seg in dec.seg()
            if seg.word in VOCABULARY  # not <s>, </s>, <sil> or filler
        ]
        segments = []
        if words:
            text = " ".join(w.text for w in words)
            segments.append(Segment(words[0].start, words[-1].end, text, words=tuple(words)))
        progress(1.0, "transcribe")
        return EngineResult(
            language=options.language or "en", segments=segments, model=MODEL, engine=ENGINE
        )


class SphinxEngine:
    name = ENGINE
    title = "PocketSphinx (test grammar)"
    capabilities = EngineCapabilities()

    def installed_models(self, env: EngineEnv) -> list[str]:
        return [MODEL]

    def load(self, model: str, env: EngineEnv) -> SphinxModel:
        if model != MODEL:
            raise EngineError(f"The model '{model}' is not installed for {self.title}.")
        return SphinxModel()


class SphinxPlugin:
    @hookimpl
    def verbatim_plugin_info(self) -> PluginInfo:
        return PluginInfo(
            name=PLUGIN,
            title="PocketSphinx test engine",
            description="Recognises a dozen English words; for tests only.",
        )

    @hookimpl
    def verbatim_transcription_engines(self) -> list[Any]:
        return [SphinxEngine()]


plugin = SphinxPlugin()
