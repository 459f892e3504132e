"""WhisperX on GPU: batched faster-whisper ASR, wav2vec2 word alignment, pyannote diarization.

torch and whisperx are imported only inside load() and the stages it runs, never at import
time (the web process lists engines). The conversion from WhisperX's result dicts to
base.Segment is pure and lives at the top of this module so it can be tested anywhere.

Models on disk, under EngineEnv.models_dir:
- ``<name>/``              a CTranslate2 Whisper model (model.bin + config.json), listed as <name>;
- ``alignment/<lang>/``    optional local wav2vec2 model for <lang> (Hugging Face layout);
                           WhisperX's default alignment models are cached in ``alignment/``;
- ``diarization/``         optional local pyannote pipeline (otherwise the hub one, which
                           needs EngineEnv.hf_token).
"""

from __future__ import annotations

import copy
import dataclasses
import gc
import importlib.util
import inspect
import logging
import math
import os
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from workers.engines.base import (
    Cancelled,
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

log = logging.getLogger(__name__)

INSTALL_HINT = "The WhisperX engine is not installed here (pip install 'verbatim[gpu]')"
ALIGNMENT_DIR = "alignment"
DIARIZATION_DIR = "diarization"
# wav2vec2 models are 0.4-1.2 GB each on the GPU: keep the last few languages only.
ALIGN_CACHE_SIZE = 2
# A model that failed to load (no network, bad token) is not tried again for this long, so
# each job does not wait on the same hub timeouts.
LOAD_RETRY_SECONDS = 600.0


# --- Pure conversion: WhisperX dicts -> base.Segment ---------------------------------------


def _time(value: Any) -> float | None:
    """A usable time in seconds, or None (WhisperX leaves NaN or no key where it has none)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        t = float(value)
    except (TypeError, ValueError):
        return None
    return max(t, 0.0) if math.isfinite(t) else None


def _score(value: Any) -> float | None:
    t = _time(value)
    return None if t is None else round(min(t, 1.0), 3)


def _speaker(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    label = str(value).strip()
    return label or None


@dataclasses.dataclass
class RawWord:
    text: str
    start: float | None
    end: float | None
    probability: float | None
    speaker: str | None

    @property
    def timed(self) -> bool:
        return self.start is not None and self.end is not None


def fill_word_times(words: list[RawWord], lo: float, hi: float) -> list[tuple[float, float]]:
    """(start, end) for every word: timed words keep theirs; each run of untimed words shares
    the gap between its timed neighbours (or the segment bounds) in proportion to length.

    wav2vec2 alignment gives no times to words without characters in its dictionary
    (numerals, symbols), and none at all to a segment it could not align.
    """
    times: list[tuple[float, float]] = []
    i = 0
    while i < len(words):
        start, end = words[i].start, words[i].end
        if start is not None and end is not None:
            times.append((start, end))
            i += 1
            continue
        j = i
        while j < len(words) and not words[j].timed:
            j += 1
        left = times[-1][1] if times else lo
        next_start = words[j].start if j < len(words) else None
        right = max(hi if next_start is None else next_start, left)
        weights = [max(len(words[k].text), 1) for k in range(i, j)]
        total = sum(weights)
        t = left
        for weight in weights:
            nxt = t + (right - left) * weight / total
            times.append((t, nxt))
            t = nxt
        i = j
    return times


def _majority(labels: Iterable[str | None]) -> str | None:
    counts = Counter(label for label in labels if label)
    return counts.most_common(1)[0][0] if counts else None


def convert_segment(raw: Mapping[str, Any], previous_end: float = 0.0) -> Segment | None:
    """One WhisperX segment as a Segment; None when it holds no text.

    Times are rounded to milliseconds and words clamped to their segment. A segment without
    words (alignment failed or skipped it) gets its words from its text, timed by length.
    A word without a speaker takes its segment's; a segment without one takes its words'.
    """
    text = str(raw.get("text") or "").strip()
    if not text:
        return None
    words = [
        RawWord(
            text=str(w.get("word") or "").strip(),
            start=_time(w.get("start")),
            end=_time(w.get("end")),
            probability=_score(w.get("score")),
            speaker=_speaker(w.get("speaker")),
        )
        for w in raw.get("words") or ()
    ]
    words = [w for w in words if w.text]
    if not words:
        words = [RawWord(t, None, None, None, None) for t in text.split()]

    starts = [w.start for w in words if w.start is not None and w.end is not None]
    ends = [w.end for w in words if w.start is not None and w.end is not None]
    start = _time(raw.get("start"))
    end = _time(raw.get("end"))
    if start is None:
        start = min(starts) if starts else previous_end
    if end is None:
        end = max(ends) if ends else start
    start = round(start, 3)
    end = round(max(end, start), 3)

    speaker = _speaker(raw.get("speaker")) or _majority(w.speaker for w in words)
    out: list[Word] = []
    for w, (ws, we) in zip(words, fill_word_times(words, start, end), strict=True):
        ws = min(max(round(ws, 3), start), end)
        we = min(max(round(we, 3), ws), end)
        out.append(Word(w.text, ws, we, w.probability, w.speaker or speaker))
    return Segment(start=start, end=end, text=text, speaker=speaker, words=tuple(out))


def segments_from_whisperx(raw_segments: Iterable[Mapping[str, Any]]) -> list[Segment]:
    """WhisperX's result["segments"] (transcribed, aligned or diarized) as Segments."""
    segments: list[Segment] = []
    for raw in raw_segments:
        seg = convert_segment(raw, segments[-1].end if segments else 0.0)
        if seg is not None:
            segments.append(seg)
    return segments


# --- Pure helpers for talking to whichever WhisperX version is installed --------------------


def supported_kwargs(func: Callable[..., Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments `func` accepts: WhisperX renamed and added parameters between
    releases (use_auth_token -> token, progress_callback, model_cache_only)."""
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return dict(kwargs)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return dict(kwargs)
    return {k: v for k, v in kwargs.items() if k in params}


def token_parameter(func: Callable[..., Any]) -> str:
    """pyannote 4 (WhisperX 3.7+) says `token`; earlier releases said `use_auth_token`."""
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return "token"
    return "use_auth_token" if "use_auth_token" in params and "token" not in params else "token"


def resolve_device(requested: str, cuda_available: bool) -> str:
    if requested in ("", "auto"):
        return "cuda" if cuda_available else "cpu"
    if requested.startswith("cuda") and not cuda_available:
        raise EngineError("The WhisperX engine was configured for CUDA, but no GPU is visible.")
    return requested


def resolve_compute_type(compute_type: str, device: str) -> str:
    if compute_type in ("", "default", "auto"):
        return "float16" if device.startswith("cuda") else "int8"
    return compute_type


def reason(exc: BaseException, limit: int = 200) -> str:
    """A one-line account of an exception for a user-facing warning."""
    # The first line that says something: NLTK, for one, opens with a row of asterisks.
    lines = (line.strip() for line in str(exc).splitlines())
    text = next((line for line in lines if any(c.isalnum() for c in line)), type(exc).__name__)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def alignment_warning(detail: str) -> str:
    return f"Word alignment failed ({detail}); word timings are approximate."


def diarization_warning(detail: str) -> str:
    return f"Speaker diarization failed ({detail}); speakers are not labelled."


def stage_spans(diarize: bool) -> dict[str, tuple[float, float]]:
    """The share of overall progress each stage covers (transcription dominates)."""
    if diarize:
        return {"transcribe": (0.0, 0.6), "align": (0.6, 0.75), "diarize": (0.75, 1.0)}
    return {"transcribe": (0.0, 0.8), "align": (0.8, 1.0)}


class StageProgress:
    """Maps WhisperX's per-stage percentages onto overall fractions, at most every 1%."""

    def __init__(self, progress: ProgressCallback, spans: dict[str, tuple[float, float]]):
        self._progress = progress
        self._spans = spans
        self._last = -1.0

    def report(self, stage: str, done: float) -> None:
        lo, hi = self._spans[stage]
        fraction = lo + (hi - lo) * min(max(done, 0.0), 1.0)
        if fraction >= self._last + 0.01 or done >= 1.0:
            self._last = fraction
            self._progress(fraction, stage)

    def callback(self, stage: str) -> Callable[[float], None]:
        return lambda percent: self.report(stage, percent / 100.0)


class StageError(Exception):
    """An alignment or diarization failure told in words fit for a warning."""


# --- The engine ----------------------------------------------------------------------------


class WhisperXEngine:
    name = "whisperx"
    title = "WhisperX (GPU)"
    capabilities = EngineCapabilities(diarization=True, alignment=True, batched=True, gpu=True)

    def installed_models(self, env: EngineEnv) -> list[str]:
        if importlib.util.find_spec("whisperx") is None:
            return []
        names = local_models(env.models_dir)
        return names + [m for m in env.hub_models if m not in names]

    def load(self, model: str, env: EngineEnv) -> WhisperXModel:
        started = time.perf_counter()
        torch, asr = _import_whisperx()
        if model in local_models(env.models_dir):
            arch = os.path.join(env.models_dir, model)
        elif model in env.hub_models:
            arch = model  # faster-whisper fetches it into the Hugging Face cache
        else:
            raise EngineError(f"The model '{model}' is not installed for the WhisperX engine.")
        device = resolve_device(env.device, bool(torch.cuda.is_available()))
        compute_type = resolve_compute_type(env.compute_type, device)
        kwargs: dict[str, Any] = {
            "compute_type": compute_type,
            "local_files_only": not env.allow_download,
            # pyannote VAD ships inside the whisperx wheel; silero would fetch from GitHub.
            "vad_method": "pyannote",
        }
        if env.cpu_threads > 0:
            kwargs["threads"] = env.cpu_threads
        if env.temperatures:
            kwargs["asr_options"] = {"temperatures": list(env.temperatures)}
        try:
            pipeline = asr.load_model(arch, device, **supported_kwargs(asr.load_model, kwargs))
        except Exception as exc:
            raise EngineError(f"Could not load the model '{model}': {reason(exc)}") from exc
        return WhisperXModel(
            name=model,
            env=env,
            device=device,
            compute_type=compute_type,
            pipeline=pipeline,
            torch=torch,
            load_seconds=time.perf_counter() - started,
        )


def _import_whisperx() -> tuple[Any, Any]:
    try:
        import torch
        import whisperx.asr as asr  # the heavy part: whisperx/__init__ imports lazily
    except ImportError as exc:
        raise EngineError(INSTALL_HINT) from exc
    except OSError as exc:  # e.g. a CUDA build of torchaudio without its CUDA libraries
        raise EngineError(f"The WhisperX engine's libraries failed to load: {reason(exc)}") from exc
    return torch, asr


class WhisperXModel:
    """A loaded WhisperX pipeline; the worker keeps it and calls transcribe() per job."""

    def __init__(
        self,
        *,
        name: str,
        env: EngineEnv,
        device: str,
        compute_type: str,
        pipeline: Any,
        torch: Any,
        load_seconds: float,
    ):
        self.name = name
        self.env = env
        self.device = device
        self.compute_type = compute_type
        self.pipeline = pipeline  # whisperx.asr.FasterWhisperPipeline (diagnostics may tune it)
        self._torch = torch
        self._align_models: OrderedDict[str, tuple[Any, Any]] = OrderedDict()
        self._diarizer: Any = None
        self._load_failures: dict[str, tuple[float, str]] = {}  # key -> (when, message)
        # The first job after load() reports the ASR load under "load"; later ones report only
        # the alignment or diarization models they had to load.
        self._unreported_load = load_seconds

    # -- public -----------------------------------------------------------------------------

    def transcribe(
        self, audio: np.ndarray, options: TranscribeOptions, progress: ProgressCallback
    ) -> EngineResult:
        audio = np.ascontiguousarray(audio, dtype=np.float32)
        if audio.ndim != 1:
            raise EngineError("Audio must be mono PCM.")
        if audio.size == 0:
            raise EngineError("The file has no audio to transcribe.")
        timings = {"load": self._unreported_load}
        self._unreported_load = 0.0
        steps = StageProgress(progress, stage_spans(options.diarize))
        warnings: list[str] = []

        steps.report("transcribe", 0.0)
        t0 = time.perf_counter()
        language, probability, result = self._transcribe(audio, options, steps)
        timings["transcribe"] = time.perf_counter() - t0
        steps.report("transcribe", 1.0)

        result, warning = self._align(result, language, audio, timings, steps)
        if warning:
            warnings.append(warning)
        steps.report("align", 1.0)

        if options.diarize:
            result, warning = self._diarize(result, audio, options, timings, steps)
            if warning:
                warnings.append(warning)
            steps.report("diarize", 1.0)

        return EngineResult(
            language=language,
            segments=segments_from_whisperx(result.get("segments") or ()),
            model=self.name,
            engine=WhisperXEngine.name,
            language_probability=probability,
            timings={k: round(v, 3) for k, v in timings.items()},
            warnings=warnings,
        )

    # -- stage 1: batched transcription -------------------------------------------------------

    def _transcribe(
        self, audio: np.ndarray, options: TranscribeOptions, steps: StageProgress
    ) -> tuple[str, float | None, dict[str, Any]]:
        try:
            language, probability = options.language, None
            if language is None:
                language, probability = self._detect_language(audio)
            self._set_beam_size(options.beam_size)
            fn = self.pipeline.transcribe
            kwargs = supported_kwargs(
                fn,
                {
                    "batch_size": options.batch_size,
                    "language": language,
                    "task": "transcribe",
                    "progress_callback": steps.callback("transcribe"),
                },
            )
            result = fn(audio, **kwargs)
        except Cancelled:
            raise
        except Exception as exc:
            self._free_gpu_memory()
            raise EngineError(f"Transcription failed: {reason(exc)}") from exc
        finally:
            self._reset_tokenizer()
        return result.get("language") or language or "", probability, result

    def _reset_tokenizer(self) -> None:
        """WhisperX drops its per-language tokenizer only when a transcription completes; one
        interrupted (cancelled, failed) would leave it behind and break the next job in
        another language, so drop it here whatever happened."""
        if getattr(self.pipeline, "preset_language", None) is None:
            self.pipeline.tokenizer = None

    def _detect_language(self, audio: np.ndarray) -> tuple[str | None, float | None]:
        """Detect on the first 30 s ourselves, as WhisperX would, to keep the probability."""
        model = self.pipeline.model  # whisperx.asr.WhisperModel, a faster_whisper.WhisperModel
        if not model.model.is_multilingual:
            return "en", None
        language, probability, _ = model.detect_language(audio)
        return language, round(float(probability), 3)

    def _set_beam_size(self, beam_size: int) -> None:
        opts = self.pipeline.options  # faster_whisper TranscriptionOptions, fixed at load
        if getattr(opts, "beam_size", beam_size) == beam_size:
            return
        if dataclasses.is_dataclass(opts):
            self.pipeline.options = dataclasses.replace(opts, beam_size=beam_size)
        elif hasattr(opts, "_replace"):  # older faster-whisper: a NamedTuple
            self.pipeline.options = opts._replace(beam_size=beam_size)

    # -- stage 2: word alignment --------------------------------------------------------------

    def _align(
        self,
        result: dict[str, Any],
        language: str,
        audio: np.ndarray,
        timings: dict[str, float],
        steps: StageProgress,
    ) -> tuple[dict[str, Any], str | None]:
        if not result.get("segments"):
            return result, None
        try:
            from whisperx import alignment

            loaded = self._align_model(alignment, language, timings)
            if loaded is None:
                return result, alignment_warning(f"no alignment model for language '{language}'")
            model, metadata = loaded
            t0 = time.perf_counter()
            try:
                kwargs = supported_kwargs(
                    alignment.align,
                    {"return_char_alignments": False, "progress_callback": steps.callback("align")},
                )
                aligned = alignment.align(
                    result["segments"], model, metadata, audio, self.device, **kwargs
                )
            finally:
                timings["align"] = time.perf_counter() - t0
        except Cancelled:
            raise
        except Exception as exc:
            log.warning("Word alignment failed (language %s)", language, exc_info=True)
            return result, alignment_warning(reason(exc))
        finally:
            self._free_gpu_memory()
        aligned["language"] = language
        return aligned, None

    def _align_model(
        self, alignment: Any, language: str, timings: dict[str, float]
    ) -> tuple[Any, Any] | None:
        """The cached alignment model for `language`; None when WhisperX has none for it."""
        if language in self._align_models:
            self._align_models.move_to_end(language)
            return self._align_models[language]
        cache_dir = os.path.join(self.env.models_dir, ALIGNMENT_DIR)
        local = os.path.join(cache_dir, language)
        if os.path.isdir(local):
            model_name: str | None = local
        elif language in getattr(alignment, "DEFAULT_ALIGN_MODELS_TORCH", {}) or language in (
            getattr(alignment, "DEFAULT_ALIGN_MODELS_HF", {})
        ):
            model_name = None
        else:
            return None
        kwargs = supported_kwargs(
            alignment.load_align_model,
            {
                "model_name": model_name,
                "model_dir": cache_dir,
                "model_cache_only": not self.env.allow_download,
            },
        )
        loaded = self._load_once(
            f"align:{language}",
            f"the alignment model for language '{language}' could not be loaded",
            lambda: alignment.load_align_model(language, self.device, **kwargs),
            timings,
        )
        self._align_models[language] = loaded
        while len(self._align_models) > ALIGN_CACHE_SIZE:
            self._align_models.popitem(last=False)
            self._free_gpu_memory()
        return loaded

    # -- stage 3: speaker diarization ---------------------------------------------------------

    def _diarize(
        self,
        result: dict[str, Any],
        audio: np.ndarray,
        options: TranscribeOptions,
        timings: dict[str, float],
        steps: StageProgress,
    ) -> tuple[dict[str, Any], str | None]:
        if not result.get("segments"):
            return result, None
        try:
            from whisperx import diarize

            diarizer = self._diarization_pipeline(diarize, timings)
            if diarizer is None:
                return result, (
                    "Speaker diarization needs a Hugging Face access token for the pyannote "
                    "model (or a local pipeline); speakers are not labelled."
                )
            t0 = time.perf_counter()
            try:
                kwargs = supported_kwargs(
                    diarizer.__call__,
                    {
                        "min_speakers": options.min_speakers,
                        "max_speakers": options.max_speakers,
                        "progress_callback": steps.callback("diarize"),
                    },
                )
                turns = diarizer(audio, **kwargs)
                # A copy: a failure half-way must not leave half the words labelled.
                labelled = diarize.assign_word_speakers(turns, copy.deepcopy(result))
            finally:
                timings["diarize"] = time.perf_counter() - t0
        except Cancelled:
            raise
        except Exception as exc:
            log.warning("Speaker diarization failed", exc_info=True)
            return result, diarization_warning(reason(exc))
        finally:
            self._free_gpu_memory()
        return labelled, None

    def _diarization_pipeline(self, diarize: Any, timings: dict[str, float]) -> Any:
        """The diarization pipeline, loaded once; None without a token or a local pipeline."""
        if self._diarizer is not None:
            return self._diarizer
        local = os.path.join(self.env.models_dir, DIARIZATION_DIR)
        model_name = local if os.path.isdir(local) else None
        if model_name is None and not self.env.hf_token:
            return None
        kwargs: dict[str, Any] = {"device": self.device}
        kwargs[token_parameter(diarize.DiarizationPipeline)] = self.env.hf_token or None
        if model_name is not None:
            kwargs["model_name"] = model_name
        self._diarizer = self._load_once(
            "diarize",
            "the diarization model could not be loaded",
            lambda: diarize.DiarizationPipeline(**kwargs),
            timings,
        )
        return self._diarizer

    def _load_once(
        self, key: str, failure: str, load: Callable[[], Any], timings: dict[str, float]
    ) -> Any:
        """Load a stage's model, adding the time to "load"; a recent failure is repeated
        without trying again. WhisperX's own messages are about hub URLs: the log keeps
        them for operators and the warning says `failure`."""
        failed = self._load_failures.get(key)
        if failed and time.monotonic() - failed[0] < LOAD_RETRY_SECONDS:
            raise StageError(failed[1])
        t0 = time.perf_counter()
        try:
            model = load()
        except Exception as exc:
            self._load_failures[key] = (time.monotonic(), failure)
            raise StageError(failure) from exc
        finally:
            timings["load"] = timings.get("load", 0.0) + time.perf_counter() - t0
        self._load_failures.pop(key, None)
        return model

    # -- memory -------------------------------------------------------------------------------

    def _free_gpu_memory(self) -> None:
        """Return cached blocks of the stage just run; the loaded models stay."""
        gc.collect()
        if self.device.startswith("cuda"):
            self._torch.cuda.empty_cache()
