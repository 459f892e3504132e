"""faster-whisper (CTranslate2 Whisper): the CPU engine, and a plain GPU one without
alignment or diarization. Word timestamps come from Whisper's own cross-attention.

faster_whisper and ctranslate2 are imported only inside load(): the web process lists this
engine's models with installed_models(), which reads directory names and nothing else.

Models: every directory directly under EngineEnv.models_dir that holds a CTranslate2 model
(model.bin + config.json, e.g. from ct2-transformers-converter or a Systran/faster-whisper-*
snapshot), listed by directory name; plus the EngineEnv.hub_models names ("large-v3",
"Systran/faster-whisper-small"), fetched from the Hugging Face hub on first use where
EngineEnv.allow_download permits.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

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
from workers.engines.local_models import local_models

NAME = "faster-whisper"
STAGE = "transcribe"
DIARIZATION_WARNING = (
    "Speaker diarization needs the WhisperX engine; this transcript has no speakers."
)
INSTALL_HINT = "The faster-whisper engine is not installed here (pip install faster-whisper)."
# faster-whisper's own default: fall back to sampling when greedy/beam output looks broken.
DEFAULT_TEMPERATURES: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
WINDOW_S = 30.0  # Whisper's input window; the batched pipeline needs explicit clips


def resolve_device(requested: str, cuda_devices: int) -> str:
    if requested in ("", "auto"):
        return "cuda" if cuda_devices > 0 else "cpu"
    if requested.startswith("cuda") and cuda_devices == 0:
        raise EngineError("The faster-whisper engine is set to use CUDA, but no GPU is visible.")
    return requested


def split_device(device: str) -> tuple[str, int]:
    """Split "cuda:1" into ("cuda", 1): CTranslate2 takes the device index separately."""
    kind, _, index = device.partition(":")
    try:
        return kind, int(index) if index else 0
    except ValueError:
        raise EngineError(f"The device '{device}' is not a device CTranslate2 knows.") from None


def resolve_compute_type(requested: str, device: str) -> str:
    if requested in ("", "default", "auto"):
        return "float16" if device.startswith("cuda") else "int8"
    return requested


def whisper_language(code: str | None) -> str | None:
    """Whisper knows base languages only: "pt-BR" is decoded as "pt"."""
    if not code:
        return None
    return code.split("-", 1)[0].strip().lower() or None


def _reason(exc: BaseException, limit: int = 200) -> str:
    lines = str(exc).strip().splitlines()
    text = (lines[0].strip() if lines else "") or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- Pure conversion: faster-whisper segments -> base.Segment ------------------------------


def _clamp(value: float, lo: float, hi: float) -> float:
    return min(max(value, lo), hi)


def time_limit(duration: float) -> float:
    """The latest time a transcript may show: the duration, rounded down to milliseconds."""
    return math.floor(duration * 1000) / 1000


def convert_segment(raw: Any, previous_end: float, limit: float) -> Segment | None:
    """One faster-whisper segment as a Segment; None when it holds no text.

    Whisper's timestamps can run past the end of the audio (the last window is padded) or
    overlap the previous segment by a few hundredths; a transcript must not. So a segment
    starts no earlier than `previous_end` and ends by `limit`, and its words stay inside it,
    in order. Times are rounded to milliseconds; texts lose Whisper's leading space.
    """
    text = str(raw.text).strip()
    if not text:
        return None
    start = _clamp(round(float(raw.start), 3), previous_end, limit)
    end = _clamp(round(float(raw.end), 3), start, limit)
    words: list[Word] = []
    floor = start
    for w in raw.words or ():
        word = str(w.word).strip()
        if not word:
            continue
        ws = _clamp(round(float(w.start), 3), floor, end)
        we = _clamp(round(float(w.end), 3), ws, end)
        probability = None if w.probability is None else round(float(w.probability), 3)
        words.append(Word(word, ws, we, probability))
        floor = ws
    return Segment(start=start, end=end, text=text, words=tuple(words))


# --- The engine ----------------------------------------------------------------------------


class FasterWhisperEngine:
    """Engine plugin object; cheap to create, loads nothing until load().

    `max_new_tokens` caps the tokens decoded per 30 s window and `temperatures` replaces
    the fallback schedule (else EngineEnv.temperatures, else faster-whisper's own): tests
    with a random-weight model set them to keep decoding short and deterministic.
    """

    name = NAME
    title = "faster-whisper"
    capabilities = EngineCapabilities(diarization=False, alignment=False, batched=True, gpu=True)

    def __init__(
        self,
        *,
        max_new_tokens: int | None = None,
        temperatures: Sequence[float] = (),
    ) -> None:
        self.max_new_tokens = max_new_tokens
        self.temperatures = tuple(temperatures)

    def installed_models(self, env: EngineEnv) -> list[str]:
        """Local model directories, then the configured hub names (no library imported)."""
        names = local_models(env.models_dir)
        return names + [m for m in env.hub_models if m not in names]

    def load(self, model: str, env: EngineEnv) -> FasterWhisperModel:
        started = time.perf_counter()
        ctranslate2, faster_whisper = _import_libraries()
        # Only listed names: a model name never becomes an arbitrary path or hub repository.
        if model in local_models(env.models_dir):
            path = os.path.join(env.models_dir, model)
        elif model in env.hub_models:
            path = _fetch(model, env)
        else:
            raise EngineError(
                f"The model '{model}' is not installed for the faster-whisper engine."
            )
        device, index = split_device(
            resolve_device(env.device, ctranslate2.get_cuda_device_count())
        )
        compute_type = resolve_compute_type(env.compute_type, device)
        try:
            whisper = faster_whisper.WhisperModel(
                path,
                device=device,
                device_index=index,
                compute_type=compute_type,
                cpu_threads=max(env.cpu_threads, 0),
                local_files_only=True,
            )
        except Exception as exc:  # CTranslate2 raises RuntimeError/ValueError for bad files
            raise EngineError(f"Could not load the model '{model}': {_reason(exc)}") from exc
        # Batched decoding pays off on a GPU only; on CPU it is slower and uses more memory.
        batched = faster_whisper.BatchedInferencePipeline(whisper) if device == "cuda" else None
        return FasterWhisperModel(
            name=model,
            whisper=whisper,
            batched=batched,
            settings=_DecodeSettings(
                self.max_new_tokens,
                self.temperatures or env.temperatures or DEFAULT_TEMPERATURES,
            ),
            device=device,
            compute_type=compute_type,
            load_seconds=time.perf_counter() - started,
        )


def _import_libraries() -> tuple[Any, Any]:
    try:
        import ctranslate2
        import faster_whisper
    except ImportError as exc:
        raise EngineError(INSTALL_HINT) from exc
    return ctranslate2, faster_whisper


def _fetch(model: str, env: EngineEnv) -> str:
    """The local path of a hub model, downloading it only where downloads are allowed."""
    from faster_whisper.utils import download_model

    try:
        return download_model(
            model, local_files_only=not env.allow_download, use_auth_token=env.hf_token or None
        )
    except Exception as exc:  # huggingface_hub raises many kinds (offline, 404, auth)
        if not env.allow_download:
            raise EngineError(
                f"The model '{model}' is not installed for the faster-whisper engine "
                "(downloads are off on this server)."
            ) from exc
        raise EngineError(f"Could not download the model '{model}': {_reason(exc)}") from exc


@dataclass(frozen=True)
class _DecodeSettings:
    max_new_tokens: int | None
    temperatures: tuple[float, ...]


class FasterWhisperModel:
    """A loaded model; the worker keeps it and calls transcribe() once per job."""

    def __init__(
        self,
        *,
        name: str,
        whisper: Any,
        batched: Any,
        settings: _DecodeSettings,
        device: str,
        compute_type: str,
        load_seconds: float,
    ) -> None:
        self.name = name
        self.whisper = whisper  # faster_whisper.WhisperModel
        self.batched = batched  # faster_whisper.BatchedInferencePipeline on GPU, else None
        self.settings = settings
        self.device = device
        self.compute_type = compute_type
        # Only the first job after load() paid for loading; it alone reports it.
        self._unreported_load: float | None = load_seconds

    def transcribe(
        self, audio: np.ndarray, options: TranscribeOptions, progress: ProgressCallback
    ) -> EngineResult:
        audio = np.ascontiguousarray(audio, dtype=np.float32)
        if audio.ndim != 1:
            raise EngineError("Audio must be mono PCM.")
        if audio.size == 0:
            raise EngineError("The file has no audio to transcribe.")
        duration = audio.size / SAMPLE_RATE
        timings: dict[str, float] = {}
        if self._unreported_load is not None:
            timings["load"] = round(self._unreported_load, 3)
            self._unreported_load = None

        progress(0.0, STAGE)  # a job cancelled while it waited stops before any decoding
        started = time.perf_counter()
        raw, info = self._run(audio, options, vad=True)
        if info.duration_after_vad <= 0:
            # VAD heard no speech at all. It misjudges music, whispering and some
            # recordings, so let Whisper decide on the whole file (its no-speech check
            # still drops silent windows) rather than return an empty transcript.
            raw, info = self._run(audio, options, vad=False)
        segments: list[Segment] = []
        limit, done = time_limit(duration), 0.0
        for piece in raw:  # a generator: each step decodes the next piece
            segment = convert_segment(piece, segments[-1].end if segments else 0.0, limit)
            if segment is not None:
                segments.append(segment)
            done = max(done, min(float(piece.end) / duration, 1.0))
            progress(done, STAGE)  # may raise Cancelled: decoding stops here
        timings[STAGE] = round(time.perf_counter() - started, 3)
        progress(1.0, STAGE)

        warnings = [DIARIZATION_WARNING] if options.diarize else []
        return EngineResult(
            language=str(info.language),
            segments=segments,
            model=self.name,
            engine=NAME,
            language_probability=round(float(info.language_probability), 3),
            timings=timings,
            warnings=warnings,
        )

    def _run(self, audio: np.ndarray, options: TranscribeOptions, *, vad: bool) -> tuple[Any, Any]:
        """Start decoding; returns faster-whisper's lazy segment generator and its info."""
        kwargs: dict[str, Any] = {
            "language": whisper_language(options.language),
            "beam_size": max(options.beam_size, 1),
            "word_timestamps": True,
            "temperature": list(self.settings.temperatures),
            "max_new_tokens": self.settings.max_new_tokens,
        }
        try:
            if self.batched is None:
                return self.whisper.transcribe(audio, vad_filter=vad, **kwargs)
            clips = None if vad else _whole_file_clips(audio.size / SAMPLE_RATE)
            return self.batched.transcribe(
                audio,
                vad_filter=vad,
                clip_timestamps=clips,
                batch_size=max(options.batch_size, 1),
                **kwargs,
            )
        except ValueError as exc:  # e.g. a language code Whisper does not know
            raise EngineError(f"Transcription could not start: {_reason(exc)}") from exc


def _whole_file_clips(duration: float) -> list[dict[str, float]]:
    """The whole file as consecutive 30 s clips (the batched pipeline's input without VAD)."""
    starts = np.arange(0.0, duration, WINDOW_S)
    return [{"start": float(s), "end": float(min(s + WINDOW_S, duration))} for s in starts]
