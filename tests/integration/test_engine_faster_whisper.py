"""The faster-whisper engine, for real: CTranslate2 runs the tiny random-weight model in
tests/fixtures/models/tiny-random (scripts/build_test_model.py) on speech espeak-ng spoke
and ffmpeg encoded and decoded.

The model's text is gibberish, but language detection, forced languages, VAD, timestamp
rules, word timestamps, progress and cancellation all run through the real libraries.
Decoding is greedy at temperature 0 with a cap on tokens, so it is short and repeatable.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app import ROOT
from app.plugins.builtin.engines import plugin as engines_plugin
from app.plugins.manager import PluginRegistry
from tests.speech import load_pcm, make_speech
from workers.engines.base import (
    Cancelled,
    EngineEnv,
    EngineError,
    EngineResult,
    TranscribeOptions,
)
from workers.engines.faster_whisper import (
    DIARIZATION_WARNING,
    FasterWhisperEngine,
    FasterWhisperModel,
    convert_segment,
    resolve_compute_type,
    resolve_device,
    split_device,
    time_limit,
    whisper_language,
)

MODELS_DIR = ROOT / "tests" / "fixtures" / "models"
MODEL = "tiny-random"
ENV = EngineEnv(models_dir=str(MODELS_DIR), device="cpu", cpu_threads=2, allow_download=False)
GREEDY = TranscribeOptions(beam_size=1)
ENGLISH = "Good morning everyone. Let us begin the weekly meeting."
GERMAN = "Guten Morgen zusammen. Wir beginnen mit der Besprechung."


def engine() -> FasterWhisperEngine:
    return FasterWhisperEngine(max_new_tokens=24, temperatures=(0.0,))


@pytest.fixture(scope="module")
def model() -> FasterWhisperModel:
    return engine().load(MODEL, ENV)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("engine-speech")


@pytest.fixture(scope="module")
def english(media: Path) -> np.ndarray:
    return load_pcm(make_speech(ENGLISH, media, "m4a"))


@pytest.fixture(scope="module")
def german(media: Path) -> np.ndarray:
    return load_pcm(make_speech(GERMAN, media, "ogg", voice="de"))


class Recorder:
    """A progress callback that keeps what it was told and can cancel at a chosen call."""

    def __init__(self, cancel_at: int | None = None) -> None:
        self.calls: list[tuple[float, str]] = []
        self.cancel_at = cancel_at

    def __call__(self, fraction: float, stage: str) -> None:
        self.calls.append((fraction, stage))
        if self.cancel_at is not None and len(self.calls) > self.cancel_at:
            raise Cancelled()


def whisper_languages() -> set[str]:
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    return set(_LANGUAGE_CODES)


def assert_well_formed(result: EngineResult, duration: float) -> None:
    previous_end = 0.0
    for seg in result.segments:
        assert 0.0 <= previous_end <= seg.start <= seg.end <= duration, seg
        assert seg.text == seg.text.strip() and seg.text
        assert seg.speaker is None
        word_start = seg.start
        for w in seg.words:
            assert word_start <= w.start <= w.end <= seg.end, (seg, w)
            assert w.text and w.text == w.text.strip()
            assert w.probability is None or 0.0 <= w.probability <= 1.0
            word_start = w.start
        previous_end = seg.end


def test_transcribes_speech_into_a_well_formed_result(
    model: FasterWhisperModel, english: np.ndarray
) -> None:
    duration = len(english) / 16_000
    assert 2.0 < duration < 6.0  # espeak spoke the sentence

    result = model.transcribe(english, GREEDY, Recorder())

    assert (result.engine, result.model) == ("faster-whisper", MODEL)
    assert result.language in whisper_languages()  # detected: none was forced
    assert result.language_probability is not None and 0.0 < result.language_probability <= 1
    assert result.segments, "decoding produced no segment"
    assert any(seg.words for seg in result.segments), "no word timestamps"
    assert_well_formed(result, duration)
    assert result.timings["transcribe"] > 0
    assert result.warnings == []
    assert result.speakers == []
    json.dumps(result.to_dict())  # storable as it is


def test_decoding_is_repeatable(model: FasterWhisperModel, english: np.ndarray) -> None:
    first = model.transcribe(english, GREEDY, Recorder())
    second = model.transcribe(english, GREEDY, Recorder())
    assert first.segments == second.segments
    assert first.language == second.language


def test_progress_rises_per_segment_and_ends_at_one(
    model: FasterWhisperModel, english: np.ndarray
) -> None:
    progress = Recorder()
    result = model.transcribe(english, GREEDY, progress)
    fractions = [f for f, _ in progress.calls]
    assert {stage for _, stage in progress.calls} == {"transcribe"}
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert fractions == sorted(fractions)
    assert all(0.0 <= f <= 1.0 for f in fractions)
    # One call before decoding, at least one per segment, one at the end.
    assert len(fractions) >= len(result.segments) + 2
    assert any(0.0 < f < 1.0 for f in fractions)  # real progress, not just start and end


def test_cancelling_from_progress_stops_decoding(
    model: FasterWhisperModel, english: np.ndarray
) -> None:
    full = Recorder()
    model.transcribe(english, GREEDY, full)
    assert len(full.calls) > 3

    cancel_after_first_segment = Recorder(cancel_at=1)
    with pytest.raises(Cancelled):
        model.transcribe(english, GREEDY, cancel_after_first_segment)
    # The callback raised on its second call (the first segment) and was never called again.
    assert len(cancel_after_first_segment.calls) == 2

    cancel_before_start = Recorder(cancel_at=0)
    with pytest.raises(Cancelled):
        model.transcribe(english, GREEDY, cancel_before_start)
    assert cancel_before_start.calls == [(0.0, "transcribe")]


@pytest.mark.parametrize(("language", "expected"), [("en", "en"), ("de", "de"), ("pt-BR", "pt")])
def test_forced_language_is_used(
    model: FasterWhisperModel, german: np.ndarray, language: str, expected: str
) -> None:
    detected = model.transcribe(german, GREEDY, Recorder()).language
    result = model.transcribe(german, TranscribeOptions(language=language, beam_size=1), Recorder())
    assert result.language == expected
    assert result.language_probability == 1.0  # given, not detected
    assert_well_formed(result, len(german) / 16_000)
    if expected != detected:
        # Not just a label: the language token in the prompt changes what is decoded.
        auto = model.transcribe(german, GREEDY, Recorder())
        assert [s.text for s in result.segments] != [s.text for s in auto.segments]


def test_unknown_language_is_an_engine_error(
    model: FasterWhisperModel, english: np.ndarray
) -> None:
    with pytest.raises(EngineError, match="xx"):
        model.transcribe(english, TranscribeOptions(language="xx", beam_size=1), Recorder())


def test_beam_search_runs(model: FasterWhisperModel, english: np.ndarray) -> None:
    result = model.transcribe(english, TranscribeOptions(beam_size=3), Recorder())
    assert_well_formed(result, len(english) / 16_000)


def test_diarization_request_gives_a_warning_not_speakers(
    model: FasterWhisperModel, english: np.ndarray
) -> None:
    result = model.transcribe(
        english, TranscribeOptions(diarize=True, min_speakers=2, beam_size=1), Recorder()
    )
    assert result.warnings == [DIARIZATION_WARNING]
    assert result.segments and result.speakers == []


def test_silence_that_vad_drops_entirely_is_still_decoded(model: FasterWhisperModel) -> None:
    silence = np.zeros(16_000 * 3, dtype=np.float32)
    result = model.transcribe(silence, GREEDY, Recorder())
    # With VAD alone nothing would be decoded; the fallback ran Whisper on the whole file
    # (a random model "hears" gibberish in silence; a real one drops it as no-speech).
    assert result.segments
    assert result.language in whisper_languages()
    assert_well_formed(result, 3.0)


def test_audio_that_cannot_be_transcribed_is_refused(model: FasterWhisperModel) -> None:
    with pytest.raises(EngineError, match="no audio"):
        model.transcribe(np.zeros(0, dtype=np.float32), GREEDY, Recorder())
    with pytest.raises(EngineError, match="mono"):
        model.transcribe(np.zeros((2, 16_000), dtype=np.float32), GREEDY, Recorder())


def test_load_time_is_reported_once(english: np.ndarray) -> None:
    fresh = engine().load(MODEL, ENV)
    first = fresh.transcribe(english[:16_000], GREEDY, Recorder())
    second = fresh.transcribe(english[:16_000], GREEDY, Recorder())
    assert first.timings["load"] > 0
    assert "load" not in second.timings
    assert (fresh.device, fresh.compute_type) == ("cpu", "int8")


def test_unknown_model_is_a_clear_engine_error() -> None:
    with pytest.raises(EngineError, match=r"The model 'large-v9' is not installed"):
        engine().load("large-v9", ENV)
    # A name is looked up among the listed ones, never used as a path.
    with pytest.raises(EngineError, match="is not installed"):
        engine().load(f"../models/{MODEL}", ENV)
    with pytest.raises(EngineError, match="is not installed"):
        engine().load(str(MODELS_DIR / MODEL), ENV)


def test_hub_model_not_downloaded_is_not_installed_when_downloads_are_off() -> None:
    env = EngineEnv(
        models_dir=str(MODELS_DIR),
        hub_models=("verbatim-tests/no-such-model",),
        device="cpu",
        allow_download=False,
    )
    assert engine().installed_models(env) == [MODEL, "verbatim-tests/no-such-model"]
    with pytest.raises(EngineError, match=r"not installed.*downloads are off"):
        engine().load("verbatim-tests/no-such-model", env)


def test_installed_models_reads_directories_only(tmp_path: Path) -> None:
    for name, files in {
        "small": ("model.bin", "config.json"),
        "broken": ("config.json",),
        ".partial": ("model.bin", "config.json"),
        "alpha": ("model.bin", "config.json", "tokenizer.json"),
    }.items():
        (tmp_path / name).mkdir()
        for f in files:
            (tmp_path / name / f).write_bytes(b"{}")
    (tmp_path / "notes.txt").write_text("not a model")
    env = EngineEnv(models_dir=str(tmp_path), hub_models=("large-v3", "small"))
    assert engine().installed_models(env) == ["alpha", "small", "large-v3"]
    missing = EngineEnv(models_dir=str(tmp_path / "nope"), hub_models=("large-v3",))
    assert engine().installed_models(missing) == ["large-v3"]


def test_listing_models_imports_no_engine_library() -> None:
    # A fresh interpreter, as the web process is: list through the plugin, then look.
    code = """
import json, sys
from app.plugins.builtin.engines import plugin
from workers.engines.base import EngineEnv
engines = {e.name: e for e in plugin.verbatim_transcription_engines()}
env = EngineEnv(models_dir=sys.argv[1], hub_models=("large-v3",))
print(json.dumps({
    "engines": sorted(engines),
    "models": engines["faster-whisper"].installed_models(env),
    "imported": [m for m in ("faster_whisper", "ctranslate2", "torch", "whisperx")
                 if m in sys.modules],
}))
"""
    done = subprocess.run(
        [sys.executable, "-c", code, str(MODELS_DIR)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["models"] == [MODEL, "large-v3"]
    assert out["imported"] == []
    assert "faster-whisper" in out["engines"]


def test_plugin_offers_the_engines_through_pluggy() -> None:
    registry = PluginRegistry(safe_mode=True)
    registry.register(engines_plugin, first_party=True)
    assert registry.infos["engines"].first_party
    batches = registry.pm.hook.verbatim_transcription_engines()
    names = [e.name for batch in batches for e in batch]
    assert names[0] == "faster-whisper"
    if (ROOT / "workers" / "engines" / "whisperx.py").exists():
        assert "whisperx" in names
    fw = next(e for batch in batches for e in batch if e.name == "faster-whisper")
    assert not fw.capabilities.diarization and not fw.capabilities.alignment


def _fw_segment(start: float, end: float, text: str, words: list[tuple[str, float, float]]):
    from faster_whisper.transcribe import Segment, Word

    return Segment(
        id=1,
        seek=0,
        start=start,
        end=end,
        text=text,
        tokens=[],
        avg_logprob=-0.5,
        compression_ratio=1.2,
        no_speech_prob=0.01,
        words=[Word(start=a, end=b, word=w, probability=0.91234) for w, a, b in words],
        temperature=0.0,
    )


def test_segments_are_kept_in_order_and_inside_the_audio() -> None:
    limit = time_limit(3.3436875)
    assert limit == 3.343  # rounded down: never past the last sample
    # Overlaps the previous segment, and its last word runs past the segment and the audio.
    raw = _fw_segment(
        1.9, 3.6, " Hello there", [(" Hello", 1.9, 2.5), (" there", 2.4, 3.9), (" ", 3.0, 3.1)]
    )
    seg = convert_segment(raw, previous_end=2.0, limit=limit)
    assert seg is not None
    assert (seg.start, seg.end, seg.text) == (2.0, 3.343, "Hello there")
    assert [(w.text, w.start, w.end, w.probability) for w in seg.words] == [
        ("Hello", 2.0, 2.5, 0.912),
        ("there", 2.4, 3.343, 0.912),
    ]
    # Entirely before the previous end: squeezed to a point there, not moved back in time.
    late = convert_segment(_fw_segment(0.5, 1.0, "x", []), previous_end=2.0, limit=limit)
    assert late is not None and (late.start, late.end) == (2.0, 2.0)
    assert convert_segment(_fw_segment(0.0, 1.0, "  ", []), 0.0, limit) is None


def test_language_codes_become_whisper_base_codes() -> None:
    assert whisper_language("pt-BR") == "pt"
    assert whisper_language("DE") == "de"
    assert whisper_language(None) is None
    assert whisper_language("") is None


def test_device_and_compute_type_choice() -> None:
    assert resolve_device("auto", cuda_devices=0) == "cpu"
    assert resolve_device("auto", cuda_devices=2) == "cuda"
    assert resolve_device("cuda:1", cuda_devices=2) == "cuda:1"
    with pytest.raises(EngineError, match="no GPU is visible"):
        resolve_device("cuda", cuda_devices=0)
    assert split_device("cuda:1") == ("cuda", 1)
    assert split_device("cpu") == ("cpu", 0)
    with pytest.raises(EngineError):
        split_device("cuda:first")
    assert resolve_compute_type("default", "cuda") == "float16"
    assert resolve_compute_type("default", "cpu") == "int8"
    assert resolve_compute_type("int8_float16", "cuda") == "int8_float16"


def test_gpu_uses_the_batched_pipeline(english: np.ndarray) -> None:
    import ctranslate2

    if ctranslate2.get_cuda_device_count() == 0:
        pytest.skip("no CUDA device visible to CTranslate2")
    env = EngineEnv(models_dir=str(MODELS_DIR), device="auto", allow_download=False)
    gpu = engine().load(MODEL, env)
    assert (gpu.device, gpu.compute_type) == ("cuda", "float16")
    assert gpu.batched is not None
    progress = Recorder()
    result = gpu.transcribe(english, TranscribeOptions(beam_size=1, batch_size=4), progress)
    assert_well_formed(result, len(english) / 16_000)
    assert progress.calls[-1] == (1.0, "transcribe")
    forced = gpu.transcribe(english, TranscribeOptions(language="de", beam_size=1), Recorder())
    assert forced.language == "de"
