"""What every engine takes and returns: one Transcript structure whatever the engine.

Engines are provided by plugins (hook `verbatim_transcription_engines`) and must not import
their heavy libraries at import time: the web process lists them to offer choices.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

SAMPLE_RATE = 16_000  # engines get mono float32 PCM at this rate


class EngineError(Exception):
    """A failure whose message is fit to show the user (e.g. a model that is not installed)."""


class Cancelled(Exception):
    """Raised from the progress callback when the transcript was cancelled meanwhile."""


@dataclass(frozen=True)
class Word:
    text: str
    start: float
    end: float
    probability: float | None = None
    speaker: str | None = None


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    speaker: str | None = None
    words: tuple[Word, ...] = ()


@dataclass
class EngineResult:
    language: str
    segments: list[Segment]
    model: str
    engine: str
    language_probability: float | None = None
    # Seconds per stage ("load", "transcribe", "align", "diarize").
    timings: dict[str, float] = field(default_factory=dict)
    # A later stage that failed leaves the earlier stage's result and a warning here.
    warnings: list[str] = field(default_factory=list)

    @property
    def speakers(self) -> list[str]:
        seen: dict[str, None] = {}
        for s in self.segments:
            if s.speaker:
                seen.setdefault(s.speaker)
        return list(seen)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TranscribeOptions:
    language: str | None = None  # None: detect
    diarize: bool = False
    min_speakers: int | None = None
    max_speakers: int | None = None
    beam_size: int = 5
    batch_size: int = 16


@dataclass(frozen=True)
class EngineCapabilities:
    diarization: bool = False
    alignment: bool = False
    batched: bool = False
    gpu: bool = False


@dataclass(frozen=True)
class EngineEnv:
    """Where engines find models and what hardware to use (from app settings)."""

    models_dir: str  # local model directories, one per model (air-gapped installs)
    hub_models: tuple[str, ...] = ()  # names fetched from the hub on first use
    device: str = "auto"  # auto | cpu | cuda
    compute_type: str = "default"  # ctranslate2 compute type, e.g. float16, int8
    cpu_threads: int = 0  # 0: the library's default
    # Whisper's fallback schedule: sampling at rising temperatures when greedy output looks
    # broken. Empty: the engine's default. (0.0,) alone makes a run repeatable.
    temperatures: tuple[float, ...] = ()
    hf_token: str = ""  # for gated diarization models
    allow_download: bool = True


# progress(fraction done in 0..1, stage name); may raise Cancelled.
ProgressCallback = Callable[[float, str], None]


class LoadedModel(Protocol):
    def transcribe(
        self, audio: np.ndarray, options: TranscribeOptions, progress: ProgressCallback
    ) -> EngineResult: ...


class Engine(Protocol):
    name: str
    title: str
    capabilities: EngineCapabilities

    def installed_models(self, env: EngineEnv) -> list[str]:
        """Models this engine can run here, without importing its libraries."""
        ...

    def load(self, model: str, env: EngineEnv) -> LoadedModel:
        """Load `model` once; the worker keeps and reuses what this returns."""
        ...
