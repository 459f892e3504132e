"""The WhisperX engine's pure parts: WhisperX result dicts -> Segments, model listing, the
version shims, and what happens where whisperx is not installed (as on this machine).

The GPU path itself is exercised by scripts/gpu_check.py on a GPU machine (docs/gpu.md).
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, SimpleNamespace

import numpy as np
import pytest

from workers.engines.base import (
    Cancelled,
    EngineEnv,
    EngineError,
    Segment,
    TranscribeOptions,
    Word,
)
from workers.engines.whisperx import (
    INSTALL_HINT,
    RawWord,
    StageProgress,
    WhisperXEngine,
    WhisperXModel,
    alignment_warning,
    convert_segment,
    diarization_warning,
    fill_word_times,
    local_models,
    reason,
    resolve_compute_type,
    resolve_device,
    segments_from_whisperx,
    stage_spans,
    supported_kwargs,
    token_parameter,
)

ROOT = Path(__file__).resolve().parents[2]
WHISPERX_INSTALLED = importlib.util.find_spec("whisperx") is not None
needs_no_whisperx = pytest.mark.skipif(WHISPERX_INSTALLED, reason="whisperx is installed here")

# What whisperx.align + assign_word_speakers return (3.8): numerals and symbols have no
# characters in the wav2vec2 dictionary, so "20%" and "3" come back without times.
ALIGNED_AND_DIARIZED = {
    "segments": [
        {
            "start": 0.5312,
            "end": 2.9,
            "text": " The review covered 3 topics. ",
            "avg_logprob": -0.21,
            "words": [
                {"word": "The", "start": 0.5312, "end": 0.69, "score": 0.912, "speaker": "A"},
                {"word": "review", "start": 0.71, "end": 1.1, "score": 0.8567, "speaker": "A"},
                {"word": "covered", "start": 1.15, "end": 1.6, "score": 0.77, "speaker": "A"},
                {"word": "3", "speaker": "A"},
                {"word": "topics.", "start": 2.2, "end": 2.9, "score": 0.901, "speaker": "A"},
            ],
            "speaker": "A",
        },
        {"start": 3.0, "end": 3.0, "text": "   ", "words": []},
        {
            "start": 3.2,
            "end": 6.0,
            "text": "Shipped 20% early.",
            "words": [
                {"word": "Shipped", "start": 3.2, "end": 3.8, "score": 0.6, "speaker": "B"},
                {"word": "20%", "start": float("nan"), "end": float("nan"), "score": None},
                {"word": "early.", "start": 5.0, "end": 6.0, "score": float("nan")},
            ],
            "speaker": "B",
        },
    ],
    "word_segments": [],
}


def raw_word(text: str, start: float | None = None, end: float | None = None) -> RawWord:
    return RawWord(text, start, end, None, None)


# --- conversion ------------------------------------------------------------------------------


def test_aligned_diarized_result_becomes_segments_with_words_and_speakers() -> None:
    segments = segments_from_whisperx(ALIGNED_AND_DIARIZED["segments"])

    assert [s.text for s in segments] == ["The review covered 3 topics.", "Shipped 20% early."]
    first, second = segments
    assert (first.start, first.end, first.speaker) == (0.531, 2.9, "A")
    assert first.words[0] == Word("The", 0.531, 0.69, 0.912, "A")
    assert first.words[1] == Word("review", 0.71, 1.1, 0.857, "A")
    # "3" has no time of its own: it fills the gap between "covered" and "topics.".
    three = first.words[3]
    assert (three.text, three.start, three.end, three.probability) == ("3", 1.6, 2.2, None)
    assert three.speaker == "A"
    assert [w.text for w in second.words] == ["Shipped", "20%", "early."]
    assert second.words[1].start == 3.8 and second.words[1].end == 5.0
    assert second.words[2].probability is None  # NaN score
    # Words without a speaker of their own take their segment's.
    assert {w.speaker for w in second.words} == {"B"}


def test_untimed_words_share_a_gap_in_proportion_to_their_length() -> None:
    words = [raw_word("a", 1.0, 1.2), raw_word("12"), raw_word("3456"), raw_word("b", 2.0, 2.5)]
    times = fill_word_times(words, 0.0, 3.0)
    assert times[0] == (1.0, 1.2) and times[3] == (2.0, 2.5)
    # 0.8 s between 1.2 and 2.0, split 2:4.
    assert times[1] == pytest.approx((1.2, 1.2 + 0.8 / 3))
    assert times[2] == pytest.approx((1.2 + 0.8 / 3, 2.0))


def test_untimed_words_at_the_edges_use_the_segment_bounds() -> None:
    words = [raw_word("$5"), raw_word("now", 1.0, 1.5), raw_word("100%")]
    assert fill_word_times(words, 0.4, 3.5) == [(0.4, 1.0), (1.0, 1.5), (1.5, 3.5)]


def test_overlapping_neighbours_leave_untimed_words_zero_long_not_backwards() -> None:
    words = [raw_word("a", 1.0, 2.0), raw_word("7"), raw_word("b", 1.8, 2.4)]
    assert fill_word_times(words, 0.0, 3.0)[1] == (2.0, 2.0)


def test_segment_without_words_gets_approximate_words_from_its_text() -> None:
    # What stage 1 returns when alignment fails: no "words" key at all.
    seg = convert_segment({"start": 10.0, "end": 12.0, "text": " ab abcd  ab ", "speaker": "S"})
    assert seg is not None
    assert seg.text == "ab abcd  ab"
    assert [w.text for w in seg.words] == ["ab", "abcd", "ab"]
    assert [(w.start, w.end) for w in seg.words] == [(10.0, 10.5), (10.5, 11.5), (11.5, 12.0)]
    assert all(w.probability is None and w.speaker == "S" for w in seg.words)


def test_empty_segments_are_dropped() -> None:
    raw = [
        {"start": 0.0, "end": 1.0, "text": ""},
        {"start": 1.0, "end": 2.0, "text": " \n ", "words": [{"word": " ", "start": 1.0}]},
        {"start": 2.0, "end": 3.0},
        {"start": 3.0, "end": 4.0, "text": "kept"},
    ]
    assert [s.text for s in segments_from_whisperx(raw)] == ["kept"]


def test_speaker_labels_missing_here_and_there() -> None:
    seg = convert_segment(
        {
            "start": 0.0,
            "end": 3.0,
            "text": "one two three",
            "words": [
                {"word": "one", "start": 0.0, "end": 1.0, "speaker": "SPEAKER_01"},
                {"word": "two", "start": 1.0, "end": 2.0, "speaker": "SPEAKER_01"},
                {"word": "three", "start": 2.0, "end": 3.0, "speaker": "SPEAKER_00"},
            ],
        }
    )
    assert seg is not None
    # No segment speaker (no overlap with any turn): the words' majority labels it.
    assert seg.speaker == "SPEAKER_01"
    assert [w.speaker for w in seg.words] == ["SPEAKER_01", "SPEAKER_01", "SPEAKER_00"]

    unlabelled = convert_segment(
        {"start": 0.0, "end": 1.0, "text": "hi", "words": [{"word": "hi", "start": 0, "end": 1}]}
    )
    assert unlabelled is not None
    assert unlabelled.speaker is None and unlabelled.words[0].speaker is None
    nan_label = convert_segment({"start": 0.0, "end": 1.0, "text": "x", "speaker": float("nan")})
    assert nan_label is not None and nan_label.speaker is None


def test_times_are_rounded_to_milliseconds_and_words_clamped_to_their_segment() -> None:
    seg = convert_segment(
        {
            "start": np.float64(1.00049),
            "end": 2.00051,
            "text": "early late",
            "words": [
                {"word": "early", "start": 0.7, "end": 1.4, "score": np.float64(0.51234)},
                {"word": "late", "start": 1.9, "end": 2.6, "score": 1.2},
            ],
        }
    )
    assert seg is not None
    assert (seg.start, seg.end) == (1.0, 2.001)
    assert seg.words[0] == Word("early", 1.0, 1.4, 0.512, None)
    assert seg.words[1] == Word("late", 1.9, 2.001, 1.0, None)
    assert all(type(w.start) is float and type(w.probability) is float for w in seg.words)


def test_segment_without_times_takes_them_from_words_or_the_previous_segment() -> None:
    raw = [
        {"start": 0.0, "end": 4.25, "text": "first"},
        {
            "start": float("nan"),
            "end": None,
            "text": "from words",
            "words": [
                {"word": "from", "start": 5.0, "end": 5.5},
                {"word": "words", "start": 5.6, "end": 6.1},
            ],
        },
        {"text": "no times at all"},
    ]
    first, second, third = segments_from_whisperx(raw)
    assert (second.start, second.end) == (5.0, 6.1)
    assert (third.start, third.end) == (6.1, 6.1)
    assert all(w.start == w.end == 6.1 for w in third.words)
    assert first.end == 4.25


def test_segments_are_base_segments() -> None:
    (seg,) = segments_from_whisperx([{"start": 0, "end": 1, "text": "a"}])
    assert isinstance(seg, Segment) and isinstance(seg.words[0], Word)


# --- version shims and settings ---------------------------------------------------------------


def test_supported_kwargs_follows_the_signature() -> None:
    def old_align(transcript, model, metadata, audio, device, return_char_alignments=False):
        return None

    def new_align(transcript, model, metadata, audio, device, progress_callback=None, **kw):
        return None

    wanted = {"return_char_alignments": False, "progress_callback": print}
    assert supported_kwargs(old_align, wanted) == {"return_char_alignments": False}
    assert supported_kwargs(new_align, wanted) == wanted


def test_token_parameter_matches_the_diarization_pipeline_release() -> None:
    class Before37:  # whisperx < 3.7 (pyannote 3)
        def __init__(self, model_name=None, use_auth_token=None, device="cpu"):
            pass

    class Since37:  # whisperx >= 3.7 (pyannote 4)
        def __init__(self, model_name=None, token=None, device="cpu", cache_dir=None):
            pass

    assert token_parameter(Before37) == "use_auth_token"
    assert token_parameter(Since37) == "token"


def test_device_and_compute_type_defaults() -> None:
    assert resolve_device("auto", cuda_available=True) == "cuda"
    assert resolve_device("auto", cuda_available=False) == "cpu"
    assert resolve_device("cpu", cuda_available=True) == "cpu"
    with pytest.raises(EngineError, match="no GPU"):
        resolve_device("cuda", cuda_available=False)
    assert resolve_compute_type("default", "cuda") == "float16"
    assert resolve_compute_type("default", "cpu") == "int8"
    assert resolve_compute_type("int8_float16", "cuda") == "int8_float16"


def test_local_models_are_ctranslate2_directories(tmp_path: Path) -> None:
    for name in ("large-v3", "distil-large-v3"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.bin").write_bytes(b"\0")
        (tmp_path / name / "config.json").write_text("{}")
    (tmp_path / "alignment" / "en").mkdir(parents=True)  # wav2vec2, not a Whisper model
    (tmp_path / "alignment" / "en" / "config.json").write_text("{}")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "model.bin").write_bytes(b"\0")
    (tmp_path / "stray.bin").write_bytes(b"\0")
    assert local_models(str(tmp_path)) == ["distil-large-v3", "large-v3"]
    assert local_models(str(tmp_path / "missing")) == []


def test_warnings_and_reasons_read_well() -> None:
    assert alignment_warning("no alignment model for language 'xx'") == (
        "Word alignment failed (no alignment model for language 'xx'); "
        "word timings are approximate."
    )
    assert diarization_warning(reason(RuntimeError("CUDA out of memory.\nTried to allocate"))) == (
        "Speaker diarization failed (CUDA out of memory.); speakers are not labelled."
    )
    assert reason(ValueError()) == "ValueError"
    nltk_style = LookupError("\n" + "*" * 70 + "\n  Resource 'punkt_tab' not found.\n  Please")
    assert reason(nltk_style) == "Resource 'punkt_tab' not found."
    assert len(reason(ValueError("x" * 500))) == 200


# --- progress ----------------------------------------------------------------------------------


def test_stage_progress_maps_percentages_onto_the_whole_job() -> None:
    seen: list[tuple[float, str]] = []
    steps = StageProgress(lambda f, s: seen.append((round(f, 4), s)), stage_spans(True))
    steps.report("transcribe", 0.0)
    for pct in (0.5, 50.0, 50.4, 100.0):  # WhisperX reports percentages
        steps.callback("transcribe")(pct)
    steps.report("transcribe", 1.0)
    steps.callback("align")(100.0)
    steps.report("diarize", 1.0)
    assert seen == [
        (0.0, "transcribe"),
        (0.3, "transcribe"),
        (0.6, "transcribe"),
        (0.6, "transcribe"),
        (0.75, "align"),
        (1.0, "diarize"),
    ]
    assert stage_spans(False)["align"][1] == 1.0


def test_cancelled_from_the_progress_callback_propagates() -> None:
    def progress(fraction: float, stage: str) -> None:
        if fraction > 0.5:
            raise Cancelled

    steps = StageProgress(progress, stage_spans(False))
    steps.callback("transcribe")(10.0)
    with pytest.raises(Cancelled):
        steps.callback("transcribe")(90.0)


# --- without whisperx --------------------------------------------------------------------------


def test_engine_describes_itself() -> None:
    engine = WhisperXEngine()
    assert (engine.name, engine.title) == ("whisperx", "WhisperX (GPU)")
    caps = engine.capabilities
    assert caps.alignment and caps.diarization and caps.batched and caps.gpu


@needs_no_whisperx
def test_installed_models_is_empty_without_whisperx(tmp_path: Path) -> None:
    (tmp_path / "large-v3").mkdir()
    (tmp_path / "large-v3" / "model.bin").write_bytes(b"\0")
    (tmp_path / "large-v3" / "config.json").write_text("{}")
    env = EngineEnv(models_dir=str(tmp_path), hub_models=("large-v3-turbo",))
    assert WhisperXEngine().installed_models(env) == []


@needs_no_whisperx
def test_load_without_whisperx_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(EngineError) as raised:
        WhisperXEngine().load("large-v3", EngineEnv(models_dir=str(tmp_path)))
    assert str(raised.value) == INSTALL_HINT
    assert "pip install 'verbatim[gpu]'" in str(raised.value)


def _run_python(code: str, extra_path: str | None = None) -> str:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (extra_path, str(ROOT)) if p)
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        check=True,
    )
    return done.stdout


def test_importing_the_engine_imports_no_heavy_library() -> None:
    out = _run_python(
        """
        import json, sys
        import workers.engines.whisperx
        heavy = ("torch", "whisperx", "ctranslate2", "faster_whisper", "pandas", "pyannote")
        print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in heavy)))
        """
    )
    assert json.loads(out) == []


def test_with_whisperx_importable_the_models_on_disk_and_hub_are_listed(tmp_path: Path) -> None:
    # An importable package named whisperx is all installed_models looks for (find_spec, no
    # import); load() still needs torch, and says so with the install hint.
    (tmp_path / "site" / "whisperx").mkdir(parents=True)
    (tmp_path / "site" / "whisperx" / "__init__.py").write_text("raise ImportError('no')\n")
    models = tmp_path / "models"
    for name in ("large-v3", "medium"):
        (models / name).mkdir(parents=True)
        (models / name / "model.bin").write_bytes(b"\0")
        (models / name / "config.json").write_text("{}")
    out = _run_python(
        f"""
        import json
        from workers.engines.base import EngineEnv, EngineError
        from workers.engines.whisperx import WhisperXEngine
        env = EngineEnv(models_dir={str(models)!r}, hub_models=("large-v3", "turbo"))
        listed = WhisperXEngine().installed_models(env)
        try:
            WhisperXEngine().load("medium", env)
            loaded = "loaded"
        except EngineError as exc:
            loaded = str(exc)
        print(json.dumps([listed, loaded]))
        """,
        extra_path=str(tmp_path / "site"),
    )
    listed, loaded = json.loads(out)
    assert listed == ["large-v3", "medium", "turbo"]
    assert loaded == INSTALL_HINT


# --- scripts/gpu_check.py: the random model and the audio it runs on --------------------------


def _gpu_check():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import gpu_check
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    return gpu_check


def test_random_whisper_model_loads_as_multilingual_and_decodes(tmp_path: Path) -> None:
    faster_whisper = pytest.importorskip("faster_whisper")
    gpu_check = _gpu_check()
    path = gpu_check.build_random_model(str(tmp_path / "tiny"), preset="tiny")

    model = faster_whisper.WhisperModel(path, device="cpu", compute_type="int8")
    assert model.model.is_multilingual and model.model.num_languages == 100
    assert model.feat_kwargs["feature_size"] == 80
    tok = model.hf_tokenizer
    assert tok.token_to_id("<|endoftext|>") == 50257
    assert tok.token_to_id("<|notimestamps|>") == 50364
    assert tok.decode(tok.encode("héllo 20%").ids) == "héllo 20%"
    audio = gpu_check.synthetic_speech(3.0)
    language, probability, _ = model.detect_language(audio)
    assert language in gpu_check.LANGUAGES and 0.0 < probability <= 1.0
    segments, _ = model.transcribe(
        audio, language="en", beam_size=1, temperature=0, max_new_tokens=5, without_timestamps=True
    )
    assert len(list(segments)) == 1


def test_test_audio_round_trips_through_wav(tmp_path: Path) -> None:
    gpu_check = _gpu_check()
    audio = gpu_check.synthetic_speech(2.5)
    assert audio.dtype == np.float32 and len(audio) == 40_000
    assert 0.05 < float(np.abs(audio).max()) <= 1.0
    path = str(tmp_path / "a.wav")
    gpu_check.write_wav(path, audio)
    back = gpu_check.read_wav(path)
    assert len(back) == len(audio)
    assert float(np.abs(back - audio).max()) < 1e-3


# --- the stages around WhisperX, with stand-ins for whisperx (it cannot be installed here) ---
# The stand-ins take the arguments whisperx 3.8.6 takes and return what it returns; the engine
# was also run against the real whisperx 3.8.6 (docs/gpu.md, "What has been verified").

STAGE1 = {
    "segments": [
        {"start": 0.0, "end": 2.0, "text": " Hello there team.", "avg_logprob": -0.3},
        {"start": 2.5, "end": 4.0, "text": " It shipped.", "avg_logprob": -0.2},
    ],
    "language": "en",
}


class StandInPipeline:
    """What WhisperXModel uses of whisperx.asr.FasterWhisperPipeline."""

    preset_language = None

    def __init__(self, fail: Exception | None = None) -> None:
        self.fail = fail
        self.tokenizer: object = None
        self.options = TranscriptionOptions(beam_size=5)
        self.model = SimpleNamespace(
            model=SimpleNamespace(is_multilingual=True),
            detect_language=lambda audio: ("de", 0.9132, []),
        )
        self.calls: list[dict] = []

    def transcribe(self, audio, batch_size=None, num_workers=0, language=None, task=None,
                   chunk_size=30, print_progress=False, combined_progress=False, verbose=False,
                   progress_callback=None):  # fmt: skip
        self.calls.append({"batch_size": batch_size, "language": language, "task": task})
        self.tokenizer = f"tokenizer for {language}"  # whisperx drops it only on success
        progress_callback(50.0)
        if self.fail:
            raise self.fail
        progress_callback(100.0)
        self.tokenizer = None
        return {**copy.deepcopy(STAGE1), "language": language}


@dataclass(frozen=True)
class TranscriptionOptions:  # faster_whisper.transcribe.TranscriptionOptions is a dataclass
    beam_size: int


def stand_in_whisperx(align=None, diarization_pipeline=None) -> ModuleType:
    def load_align_model(language_code, device, model_name=None, model_dir=None,
                         model_cache_only=False):  # fmt: skip
        return ("wav2vec2", {"language": language_code, "dictionary": {}, "type": "torchaudio"})

    def default_align(transcript, model, metadata, audio, device, interpolate_method="nearest",
                      return_char_alignments=False, print_progress=False,
                      combined_progress=False, progress_callback=None):  # fmt: skip
        segments = []
        for seg in transcript:
            words = seg["text"].split()
            step = (seg["end"] - seg["start"]) / len(words)
            segments.append({**seg, "text": seg["text"].strip(), "words": [
                {"word": w, "start": seg["start"] + i * step,
                 "end": seg["start"] + (i + 1) * step, "score": 0.9}
                for i, w in enumerate(words)]})  # fmt: skip
        return {"segments": segments, "word_segments": []}

    def assign_word_speakers(diarize_df, transcript_result, speaker_embeddings=None,
                             fill_nearest=False):  # fmt: skip
        for seg in transcript_result["segments"]:
            seg["speaker"] = diarize_df(seg["start"])
            for word in seg.get("words", []):
                word["speaker"] = diarize_df(word["start"])
        return transcript_result

    module = ModuleType("whisperx")
    module.alignment = SimpleNamespace(  # type: ignore[attr-defined]
        DEFAULT_ALIGN_MODELS_TORCH={
            "en": "WAV2VEC2_ASR_BASE_960H",
            "de": "VOXPOPULI_ASR_BASE_10K_DE",
        },
        DEFAULT_ALIGN_MODELS_HF={"ja": "jonatasgrosman/wav2vec2-large-xlsr-53-japanese"},
        load_align_model=load_align_model,
        align=align or default_align,
    )
    module.diarize = SimpleNamespace(  # type: ignore[attr-defined]
        DiarizationPipeline=diarization_pipeline,
        assign_word_speakers=assign_word_speakers,
    )
    return module


def loaded_model(tmp_path: Path, pipeline: StandInPipeline, hf_token: str = "") -> WhisperXModel:
    env = EngineEnv(models_dir=str(tmp_path), hf_token=hf_token)
    return WhisperXModel(name="large-v3", env=env, device="cpu", compute_type="int8",
                         pipeline=pipeline, torch=None, load_seconds=1.5)  # fmt: skip


AUDIO = np.zeros(4 * 16_000, dtype=np.float32)


def test_all_stages_give_words_speakers_timings_and_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Turns:  # pyannote's turns: SPEAKER_00 until 2.2 s, then SPEAKER_01
        def __init__(self, **kwargs):
            self.kwargs = kwargs

        def __call__(self, audio, num_speakers=None, min_speakers=None, max_speakers=None,
                     return_embeddings=False, progress_callback=None):  # fmt: skip
            assert (min_speakers, max_speakers) == (2, 3)
            progress_callback(100.0)
            return lambda t: "SPEAKER_00" if t < 2.2 else "SPEAKER_01"

    monkeypatch.setitem(sys.modules, "whisperx", stand_in_whisperx(diarization_pipeline=Turns))
    pipeline = StandInPipeline()
    model = loaded_model(tmp_path, pipeline, hf_token="hf_x")
    seen: list[tuple[float, str]] = []
    options = TranscribeOptions(diarize=True, min_speakers=2, max_speakers=3, beam_size=2)

    result = model.transcribe(AUDIO, options, lambda f, s: seen.append((round(f, 2), s)))

    assert (result.language, result.language_probability) == ("de", 0.913)
    assert pipeline.calls == [{"batch_size": 16, "language": "de", "task": "transcribe"}]
    assert pipeline.options.beam_size == 2
    assert result.warnings == [], result.warnings
    assert result.speakers == ["SPEAKER_00", "SPEAKER_01"]
    assert [w.text for w in result.segments[0].words] == ["Hello", "there", "team."]
    assert result.segments[1].words[1].speaker == "SPEAKER_01"
    assert set(result.timings) == {"load", "transcribe", "align", "diarize"}
    assert result.timings["load"] >= 1.5  # the Whisper model's load, reported by the first job
    assert seen[0] == (0.0, "transcribe") and seen[-1] == (1.0, "diarize")
    assert [f for f, _ in seen] == sorted(f for f, _ in seen)
    assert model.transcribe(AUDIO, options, lambda f, s: None).timings["load"] < 1.5


def test_a_failed_alignment_keeps_the_transcript_and_warns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def align(*args, **kwargs):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setitem(sys.modules, "whisperx", stand_in_whisperx(align=align))
    result = loaded_model(tmp_path, StandInPipeline()).transcribe(
        AUDIO, TranscribeOptions(language="en"), lambda f, s: None
    )
    assert [s.text for s in result.segments] == ["Hello there team.", "It shipped."]
    assert [w.text for w in result.segments[1].words] == ["It", "shipped."]
    assert result.segments[1].words[-1].end == 4.0
    assert result.warnings == [
        "Word alignment failed (CUDA out of memory. Tried to allocate 2.00 GiB); "
        "word timings are approximate."
    ]
    assert result.language == "en" and result.language_probability is None


def test_a_language_without_an_alignment_model_warns_and_keeps_the_transcript(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "whisperx", stand_in_whisperx())
    result = loaded_model(tmp_path, StandInPipeline()).transcribe(
        AUDIO, TranscribeOptions(language="xh"), lambda f, s: None
    )
    assert len(result.segments) == 2
    assert result.warnings == [
        "Word alignment failed (no alignment model for language 'xh'); "
        "word timings are approximate."
    ]


def test_diarization_without_token_or_with_a_failing_model_warns_once_per_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[dict] = []

    def gated(**kwargs):
        attempts.append(kwargs)
        raise OSError("401 Client Error: Unauthorized for url https://huggingface.co/...")

    monkeypatch.setitem(sys.modules, "whisperx", stand_in_whisperx(diarization_pipeline=gated))
    options = TranscribeOptions(language="en", diarize=True)

    no_token = loaded_model(tmp_path, StandInPipeline()).transcribe(
        AUDIO, options, lambda f, s: None
    )
    assert no_token.warnings[-1].startswith("Speaker diarization needs a Hugging Face")
    assert no_token.speakers == [] and len(no_token.segments) == 2
    assert attempts == []

    model = loaded_model(tmp_path, StandInPipeline(), hf_token="hf_x")
    for _ in range(2):
        result = model.transcribe(AUDIO, options, lambda f, s: None)
        assert result.warnings == [
            "Speaker diarization failed (the diarization model could not be loaded); "
            "speakers are not labelled."
        ]
        assert [w.start for w in result.segments[0].words] == [0.0, 0.667, 1.333]
    assert attempts == [{"device": "cpu", "token": "hf_x"}]  # not retried within the window


def test_transcription_failure_is_an_engine_error_and_cancel_propagates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "whisperx", stand_in_whisperx())
    failing = StandInPipeline(fail=RuntimeError("cuDNN error: CUDNN_STATUS_INTERNAL_ERROR"))
    with pytest.raises(EngineError, match="Transcription failed: cuDNN error"):
        loaded_model(tmp_path, failing).transcribe(AUDIO, TranscribeOptions(), lambda f, s: None)

    def cancel(fraction: float, stage: str) -> None:
        if fraction > 0:
            raise Cancelled

    with pytest.raises(EngineError, match="no audio"):
        loaded_model(tmp_path, StandInPipeline()).transcribe(
            np.zeros(0, np.float32), TranscribeOptions(), lambda f, s: None
        )

    pipeline = StandInPipeline()
    with pytest.raises(Cancelled):
        loaded_model(tmp_path, pipeline).transcribe(AUDIO, TranscribeOptions(), cancel)
    # whisperx leaves its per-language tokenizer behind when interrupted; the engine drops it
    # so the next job, in another language, does not reuse it.
    assert pipeline.calls and pipeline.tokenizer is None
