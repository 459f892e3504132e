"""Run the WhisperX engine end to end on a GPU machine and print what it measured, as JSON.

    python3 scripts/gpu_check.py [--model-dir DIR] [--audio WAV] [--seconds S]
        [--batch-size 16] [--align-model-dir DIR] [--diarization-dir DIR] [--hf-token T]

Without --model-dir it builds a randomly initialised CTranslate2 Whisper model with the
dimensions of large-v3 (numpy + ctranslate2 + tokenizers only; no hub, no torch): the text is
gibberish but the compute is real. Random weights decode arbitrary lengths, so the number of
decoded tokens per 30 s chunk is fixed (--decode-tokens) to keep runs comparable.

Speech comes from --audio (repeated up to --seconds), else espeak-ng when installed, else a
synthetic voiced signal. `--write-audio FILE` only writes that audio (16 kHz WAV) and exits:
make a short clip where espeak-ng is installed and carry it. See docs/gpu.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import wave
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_RATE = 16_000
DEFAULT_SECONDS = 600.0

# d_model, encoder layers, decoder layers, attention heads, mel bins (Whisper's published dims).
PRESETS: dict[str, tuple[int, int, int, int, int]] = {
    "large-v3": (1280, 32, 32, 20, 128),
    "large-v3-turbo": (1280, 32, 4, 20, 128),
    "tiny": (384, 4, 4, 6, 80),
}
# Whisper's language tokens, in token order (large-v3 added "yue": 100 languages).
LANGUAGES = (  # noqa: SIM905 - four lines of codes read better than 100 quoted strings
    "en zh de es ru ko fr ja pt tr pl ca nl ar sv it id hi fi vi he uk el ms cs ro da hu ta no "
    "th ur hr bg lt la mi ml cy sk te fa lv bn sr az sl kn et mk br eu is hy ne mn bs kk sq sw "
    "gl mr pa si km sn yo so af oc ka be tg sd gu am yi lo uz fo ht ps tk nn mt sa lb my bo tl "
    "mg as tt haw ln ha ba jw su yue"
).split()
TEXT_TOKENS = 50_257  # ids below <|endoftext|>, as in Whisper's multilingual vocabulary
TIMESTAMPS = 1_501  # <|0.00|> ... <|30.00|>
SPEECH = (
    "The quarterly review covered three topics. First, the team shipped the new upload page "
    "two weeks early, and support tickets about failed uploads fell by half. Second, the "
    "storage budget is tight: we keep every original file for thirty days, then only the "
    "compressed copy. Third, hiring. We are looking for two engineers and one designer, and "
    "the interviews start on Monday. Any questions before we move on to the roadmap? "
)


# --- A random CTranslate2 Whisper model ------------------------------------------------------


def _byte_alphabet() -> list[str]:
    """GPT-2's byte-to-unicode table: the 256 symbols a byte-level BPE vocabulary starts with."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    codes, extra = list(printable), 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            codes.append(256 + extra)
            extra += 1
    table = dict(zip(printable, codes, strict=True))
    return [chr(table[b]) for b in range(256)]


def whisper_vocabulary() -> list[str]:
    """51,866 tokens laid out like large-v3's: text, specials, languages, timestamps."""
    alphabet = _byte_alphabet()
    text = list(alphabet)
    for a in alphabet:  # fillers: two-symbol tokens, never produced by encoding (no merges)
        for b in alphabet:
            if len(text) == TEXT_TOKENS:
                break
            text.append(a + b)
    specials = ["<|endoftext|>", "<|startoftranscript|>"]
    specials += [f"<|{code}|>" for code in LANGUAGES]
    specials += ["<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>"]
    specials += ["<|nospeech|>", "<|notimestamps|>"]
    stamps = [f"<|{i * 0.02:.2f}|>" for i in range(TIMESTAMPS)]
    return text + specials + stamps


def _tokenizer_json(vocabulary: list[str]) -> str:
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    tok = Tokenizer(
        models.BPE(vocab={t: i for i, t in enumerate(vocabulary[:TEXT_TOKENS])}, merges=[])
    )
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(t, special=True) for t in vocabulary[TEXT_TOKENS:]])
    for probe in ("<|endoftext|>", "<|en|>", "<|notimestamps|>", "<|30.00|>"):
        if tok.token_to_id(probe) != vocabulary.index(probe):
            raise RuntimeError(f"tokenizer and vocabulary disagree on {probe}")
    return tok.to_str()


def build_random_model(
    out_dir: str, preset: str = "large-v3", quantization: str = "float16", seed: int = 0
) -> str:
    """Write a randomly initialised CTranslate2 Whisper model that faster-whisper can load."""
    from ctranslate2.specs import whisper_spec

    d, enc_layers, dec_layers, heads, mels = PRESETS[preset]
    vocabulary = whisper_vocabulary()
    rng = np.random.default_rng(seed)

    def rand(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float32)

    def linear(spec: Any, out_dim: int, in_dim: int) -> None:
        spec.weight = rand(out_dim, in_dim)
        spec.bias = np.zeros(out_dim, np.float32)

    def norm(spec: Any) -> None:
        spec.gamma = np.ones(d, np.float32)
        spec.beta = np.zeros(d, np.float32)

    def ffn(spec: Any) -> None:
        norm(spec.layer_norm)
        linear(spec.linear_0, 4 * d, d)
        linear(spec.linear_1, d, 4 * d)

    spec = whisper_spec.WhisperSpec(enc_layers, heads, dec_layers, heads)
    enc = spec.encoder
    enc.conv1.weight, enc.conv1.bias = rand(d, mels, 3), np.zeros(d, np.float32)
    enc.conv2.weight, enc.conv2.bias = rand(d, d, 3), np.zeros(d, np.float32)
    enc.position_encodings.encodings = rand(1500, d)
    norm(enc.layer_norm)
    for layer in enc.layer:
        norm(layer.self_attention.layer_norm)
        linear(layer.self_attention.linear[0], 3 * d, d)  # fused q, k, v
        linear(layer.self_attention.linear[1], d, d)
        ffn(layer.ffn)
    dec = spec.decoder
    dec.embeddings.weight = rand(len(vocabulary), d)
    dec.position_encodings.encodings = rand(448, d)
    dec.projection.weight = dec.embeddings.weight  # tied, as in Whisper
    norm(dec.layer_norm)
    for layer in dec.layer:
        norm(layer.self_attention.layer_norm)
        linear(layer.self_attention.linear[0], 3 * d, d)
        linear(layer.self_attention.linear[1], d, d)
        norm(layer.attention.layer_norm)
        linear(layer.attention.linear[0], d, d)  # query
        linear(layer.attention.linear[1], 2 * d, d)  # fused k, v of the encoder output
        linear(layer.attention.linear[2], d, d)
        ffn(layer.ffn)

    first_lang = vocabulary.index(f"<|{LANGUAGES[0]}|>")
    spec.config.suppress_ids = []
    spec.config.suppress_ids_begin = [vocabulary.index("<|endoftext|>")]
    spec.config.lang_ids = list(range(first_lang, first_lang + len(LANGUAGES)))
    spec.config.alignment_heads = [
        (i, h) for i in range(dec_layers // 2, dec_layers) for h in range(heads)
    ]
    # Converted Whisper models have "" at id 50256 (Hugging Face's vocabulary lists
    # <|endoftext|> twice), and CTranslate2 4.8 takes that entry to mean "multilingual".
    spec.register_vocabulary([*vocabulary[: TEXT_TOKENS - 1], "", *vocabulary[TEXT_TOKENS:]])
    spec.validate()
    spec.optimize(quantization=quantization)
    os.makedirs(out_dir, exist_ok=True)
    spec.save(out_dir)
    Path(out_dir, "tokenizer.json").write_text(_tokenizer_json(vocabulary), encoding="utf-8")
    pre = {
        "feature_size": mels,
        "sampling_rate": SAMPLE_RATE,
        "hop_length": 160,
        "chunk_length": 30,
        "n_fft": 400,
    }
    Path(out_dir, "preprocessor_config.json").write_text(json.dumps(pre), encoding="utf-8")
    return out_dir


# --- Audio -------------------------------------------------------------------------------------


def read_wav(path: str) -> np.ndarray:
    """A PCM WAV file as mono float32 at 16 kHz (linear resampling is enough for a benchmark)."""
    with wave.open(path, "rb") as f:
        width, channels, rate = f.getsampwidth(), f.getnchannels(), f.getframerate()
        raw = f.readframes(f.getnframes())
    if width != 2:
        raise ValueError(f"{path}: only 16-bit PCM WAV is supported")
    pcm = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    pcm = pcm.reshape(-1, channels).mean(axis=1)
    if rate != SAMPLE_RATE:
        n = round(len(pcm) * SAMPLE_RATE / rate)
        pcm = np.interp(np.arange(n) * rate / SAMPLE_RATE, np.arange(len(pcm)), pcm)
    return pcm.astype(np.float32)


def write_wav(path: str, audio: np.ndarray) -> None:
    pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(path, "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(SAMPLE_RATE)
        f.writeframes(pcm.tobytes())


def espeak_speech(seconds: float) -> np.ndarray | None:
    """espeak-ng reading SPEECH, repeated with short pauses up to `seconds`; None without it."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        wav = os.path.join(tmp, "speech.wav")
        subprocess.run([exe, "-v", "en-us", "-s", "165", "-w", wav, SPEECH], check=True)
        piece = read_wav(wav)
    pause = np.zeros(SAMPLE_RATE // 2, np.float32)
    return _tile(np.concatenate([piece, pause]), seconds)


def synthetic_speech(seconds: float, seed: int = 0) -> np.ndarray:
    """Voiced 'syllables' (harmonics of a wandering pitch, 4 per second) between pauses, so
    voice activity detection finds speech-like regions; it is not language."""
    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    total = 0
    while total < seconds * SAMPLE_RATE:
        n = int(rng.uniform(0.15, 0.3) * SAMPLE_RATE)
        t = np.arange(n) / SAMPLE_RATE
        f0 = rng.uniform(100, 220) * (1 + 0.1 * np.sin(2 * np.pi * 3 * t))
        phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
        voice = sum(np.sin(k * phase) / k for k in range(1, 12))
        syllable = 0.3 * voice * np.hanning(n) + 0.01 * rng.standard_normal(n)
        gap = np.zeros(int(rng.choice([0.05, 0.05, 0.05, 0.6]) * SAMPLE_RATE))
        out += [syllable, gap]
        total += n + len(gap)
    return _tile(np.concatenate(out).astype(np.float32), seconds)


def _tile(piece: np.ndarray, seconds: float) -> np.ndarray:
    n = int(seconds * SAMPLE_RATE)
    return np.resize(piece, n).astype(np.float32)


def make_audio(args: argparse.Namespace) -> tuple[np.ndarray, str]:
    """--audio (repeated or cut to --seconds when given), else generated speech."""
    if args.audio:
        audio = read_wav(args.audio)
        return (_tile(audio, args.seconds) if args.seconds else audio), args.audio
    seconds = args.seconds or DEFAULT_SECONDS
    speech = espeak_speech(seconds)
    if speech is not None:
        return speech, "espeak-ng"
    return synthetic_speech(seconds), "synthetic"


# --- GPU memory ----------------------------------------------------------------------------


def nvidia_smi_used_mib() -> tuple[int, int] | None:
    """(used, total) MiB of GPU 0 as nvidia-smi sees it: every allocator, CTranslate2's too."""
    try:
        out = subprocess.run(
            [
                "nvidia-smi",
                "--query-gpu=memory.used,memory.total",
                "--format=csv,noheader,nounits",
                "-i",
                "0",
            ],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
        used, total = (int(x) for x in out.strip().split(","))
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return used, total


class MemorySampler(threading.Thread):
    """Polls nvidia-smi while the run goes on, for the peak."""

    def __init__(self, interval: float = 0.25):
        super().__init__(daemon=True)
        self.interval = interval
        self.peak: int | None = None
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            reading = nvidia_smi_used_mib()
            if reading is None:
                return
            self.peak = max(self.peak or 0, reading[0])
            self._stop_event.wait(self.interval)

    def stop(self) -> int | None:
        self._stop_event.set()
        self.join(timeout=15)
        return self.peak


def preflight() -> dict[str, Any]:
    """What decides whether stage 1 can run on the GPU at all, before anything is loaded."""
    import ctypes

    found: dict[str, Any] = {}
    try:
        import ctranslate2

        found["ctranslate2_cuda_devices"] = ctranslate2.get_cuda_device_count()
    except Exception as exc:  # reported, not fatal: the run below says what breaks
        found["ctranslate2_cuda_devices"] = f"{type(exc).__name__}: {exc}"
    # CTranslate2's PyPI wheels are CUDA 12 builds and open cuBLAS 12 at the first matmul.
    try:
        ctypes.CDLL("libcublas.so.12")
        found["libcublas.so.12"] = True
    except OSError:
        found["libcublas.so.12"] = False
    try:
        import torch

        found["torch_cuda"] = torch.cuda.is_available()
        found["torch_cuda_version"] = torch.version.cuda
    except Exception as exc:
        found["torch_cuda"] = f"{type(exc).__name__}: {exc}"
    return found


def _versions() -> dict[str, str | None]:
    from importlib import metadata

    found: dict[str, str | None] = {}
    for dist in (
        "whisperx",
        "torch",
        "torchaudio",
        "ctranslate2",
        "faster-whisper",
        "pyannote.audio",
        "transformers",
    ):
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = None
    return found


# --- The check ---------------------------------------------------------------------------------


def _models_dir(args: argparse.Namespace, model_dir: str, tmp: str) -> tuple[str, str]:
    """A models_dir laid out as the engine expects, made of links to what was given."""
    root = os.path.join(tmp, "models")
    os.makedirs(root, exist_ok=True)
    name = os.path.basename(os.path.normpath(model_dir))
    os.symlink(os.path.abspath(model_dir), os.path.join(root, name))
    if args.align_model_dir:
        os.makedirs(os.path.join(root, "alignment"), exist_ok=True)
        os.symlink(
            os.path.abspath(args.align_model_dir), os.path.join(root, "alignment", args.language)
        )
    if args.diarization_dir:
        os.symlink(os.path.abspath(args.diarization_dir), os.path.join(root, "diarization"))
    return root, name


def _fix_decode_length(loaded: Any, tokens: int) -> None:
    """Random weights stop at random places: decode `tokens` tokens per chunk by suppressing
    <|endoftext|> and capping the length (CTranslate2 decodes at most max_length / 2)."""
    import dataclasses

    pipeline = loaded.pipeline
    pipeline.model.max_length = 2 * tokens
    eot = pipeline.model.hf_tokenizer.token_to_id("<|endoftext|>")
    opts = pipeline.options
    pipeline.options = dataclasses.replace(opts, suppress_tokens=[*opts.suppress_tokens, eot])


def run_check(args: argparse.Namespace, report: dict[str, Any]) -> None:
    tmp = tempfile.mkdtemp(prefix="gpu-check-")
    try:
        _run_check(args, report, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # a random large-v3 takes 3 GB


def _run_check(args: argparse.Namespace, report: dict[str, Any], tmp: str) -> None:
    sys.path.insert(0, str(ROOT))
    from workers.engines.base import EngineEnv, TranscribeOptions
    from workers.engines.whisperx import WhisperXEngine

    model_dir = args.model_dir
    if model_dir:
        report["model"] = {"source": os.path.abspath(model_dir)}
    else:
        t0 = time.perf_counter()
        model_dir = build_random_model(os.path.join(tmp, f"random-{args.preset}"), args.preset)
        report["model"] = {
            "source": f"random weights, {args.preset} dimensions",
            "build_seconds": round(time.perf_counter() - t0, 1),
        }

    audio, source = make_audio(args)
    seconds = len(audio) / SAMPLE_RATE
    report["audio"] = {"source": source, "seconds": round(seconds, 1)}

    models_dir, name = _models_dir(args, model_dir, tmp)
    report["model"]["name"] = name
    token = args.hf_token or os.environ.get("HF_TOKEN", "")
    env = EngineEnv(
        models_dir=models_dir,
        device=args.device,
        compute_type=args.compute_type,
        hf_token=token,
        allow_download=False,
    )
    engine = WhisperXEngine()
    t0 = time.perf_counter()
    loaded = engine.load(name, env)
    report["load_seconds"] = round(time.perf_counter() - t0, 2)
    report["device"] = loaded.device
    report["compute_type"] = loaded.compute_type
    decode_tokens = (
        args.decode_tokens if args.decode_tokens is not None else (0 if args.model_dir else 100)
    )
    if decode_tokens:
        _fix_decode_length(loaded, decode_tokens)
    report["decode_tokens_per_chunk"] = decode_tokens or None

    import torch

    cuda = torch.cuda.is_available()
    if cuda:
        report["gpu"] = torch.cuda.get_device_name(0)
    diarize = bool(token or args.diarization_dir)
    options = TranscribeOptions(
        language=args.language,
        diarize=diarize,
        min_speakers=args.min_speakers,
        max_speakers=args.max_speakers,
        beam_size=args.beam_size,
        batch_size=args.batch_size,
    )
    report["batch_size"] = args.batch_size
    report["beam_size"] = args.beam_size

    def progress(fraction: float, stage: str) -> None:
        if args.verbose:
            print(f"{stage} {fraction:.0%}", file=sys.stderr)

    # The first job pays for CUDA kernel loading, workspaces and the alignment and
    # diarization models (loaded lazily): warm up on 30 s so the timed run is steady state.
    if args.warmup:
        t0 = time.perf_counter()
        loaded.transcribe(audio[: 30 * SAMPLE_RATE], options, progress)
        report["warmup_seconds"] = round(time.perf_counter() - t0, 2)

    if cuda:
        torch.cuda.reset_peak_memory_stats()
    sampler = MemorySampler()
    sampler.start()
    t0 = time.perf_counter()
    result = loaded.transcribe(audio, options, progress)
    wall = time.perf_counter() - t0
    peak = sampler.stop()
    after = nvidia_smi_used_mib()

    # A stage that failed (see warnings) took time but produced nothing: no rate for it.
    failed = {"align": "Word alignment", "diarize": "Speaker diarization"}
    stages = {
        k: v
        for k, v in result.timings.items()
        if k != "load"
        and v > 0
        and not any(w.startswith(failed.get(k, "\0")) for w in result.warnings)
    }
    report["timings"] = result.timings
    report["wall_seconds"] = round(wall, 2)
    report["rtf"] = {k: round(seconds / v, 1) for k, v in stages.items()}
    report["rtf"]["total"] = round(seconds / wall, 1)
    report["language"] = result.language
    report["language_probability"] = result.language_probability
    report["segments"] = len(result.segments)
    report["words"] = sum(len(s.words) for s in result.segments)
    report["speakers"] = result.speakers
    report["warnings"] = result.warnings
    report["sample_text"] = " ".join(s.text for s in result.segments)[:160]
    report["gpu_memory_mib"] = {
        "torch_max_allocated": round(torch.cuda.max_memory_allocated() / 2**20) if cuda else None,
        "nvidia_smi_peak": peak,
        "nvidia_smi_after": after[0] if after else None,
        "nvidia_smi_total": after[1] if after else None,
    }
    report["ok"] = True


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model-dir", help="a CTranslate2 Whisper model directory (default: build one)")
    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="large-v3",
        help="dimensions of the random model",
    )
    p.add_argument("--build-only", metavar="DIR", help="build the random model into DIR and exit")
    p.add_argument("--audio", help="a 16-bit PCM WAV file to transcribe")
    p.add_argument("--write-audio", metavar="FILE", help="write the test audio as WAV and exit")
    p.add_argument(
        "--seconds",
        type=float,
        help=f"length of the audio (default: {DEFAULT_SECONDS:.0f} s generated, or --audio as is)",
    )
    p.add_argument("--language", default="en")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--beam-size", type=int, default=5)
    p.add_argument(
        "--decode-tokens",
        type=int,
        default=None,
        help="tokens decoded per 30 s chunk (default: 100 for a random model, "
        "0 = as the model decides)",
    )
    p.add_argument("--device", default="auto")
    p.add_argument("--compute-type", default="default")
    p.add_argument("--align-model-dir", help="a local wav2vec2 model for --language")
    p.add_argument("--diarization-dir", help="a local pyannote diarization pipeline")
    p.add_argument("--hf-token", default="", help="Hugging Face token (or HF_TOKEN)")
    p.add_argument("--min-speakers", type=int)
    p.add_argument("--max-speakers", type=int)
    p.add_argument("--no-warmup", dest="warmup", action="store_false")
    p.add_argument("--verbose", action="store_true", help="progress on stderr")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.build_only:
        print(build_random_model(args.build_only, args.preset))
        return 0
    if args.write_audio:
        audio, source = make_audio(args)
        write_wav(args.write_audio, audio)
        print(
            json.dumps(
                {
                    "audio": args.write_audio,
                    "source": source,
                    "seconds": round(len(audio) / SAMPLE_RATE, 1),
                }
            )
        )
        return 0
    report: dict[str, Any] = {"ok": False, "error": None, "versions": _versions()}
    report["preflight"] = preflight()
    try:
        # Libraries print progress and errors to stdout; keep stdout for the JSON alone.
        with contextlib.redirect_stdout(sys.stderr):
            run_check(args, report)
    except Exception as exc:
        report["error"] = f"{type(exc).__name__}: {exc}"
        report["traceback"] = traceback.format_exc().splitlines()[-12:]
    print(json.dumps(report, indent=2))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
