"""Real speech in real container formats, for tests: espeak-ng speaks, ffmpeg encodes.

    path = make_speech("Hello there.", tmp_dir, "m4a")
    audio = load_pcm(path)  # float32, 16 kHz mono, as engines take it

Which formats this machine can make depends on the encoders its ffmpeg was built with
(AMR needs libopencore_amrnb, WMA needs wmav2): see supported_formats() or
SUPPORTED_FORMATS, computed on first use and cached.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import uuid
import wave
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

TIMEOUT_S = 60  # any single espeak-ng or ffmpeg run on a short clip
PCM_RATE = 16_000


@dataclass(frozen=True)
class _Recipe:
    ext: str
    encoders: tuple[str, ...]  # all must be in `ffmpeg -encoders`
    args: tuple[str, ...]  # ffmpeg output options
    video: bool = False  # add a tiny black video track (needs libx264)


_RECIPES: dict[str, _Recipe] = {
    "wav": _Recipe("wav", ("pcm_s16le",), ("-c:a", "pcm_s16le")),
    "mp3": _Recipe("mp3", ("libmp3lame",), ("-c:a", "libmp3lame", "-b:a", "64k")),
    "m4a": _Recipe("m4a", ("aac",), ("-c:a", "aac", "-b:a", "64k")),
    "flac": _Recipe("flac", ("flac",), ("-c:a", "flac")),
    "ogg": _Recipe("ogg", ("libvorbis",), ("-c:a", "libvorbis", "-q:a", "3")),
    "opus": _Recipe("opus", ("libopus",), ("-c:a", "libopus", "-b:a", "32k")),
    "webm": _Recipe("webm", ("libopus",), ("-c:a", "libopus", "-b:a", "32k")),
    "mp4": _Recipe("mp4", ("aac", "libx264"), ("-c:a", "aac", "-b:a", "64k"), video=True),
    "mkv": _Recipe("mkv", ("aac",), ("-c:a", "aac", "-b:a", "64k")),
    "mov": _Recipe("mov", ("aac",), ("-c:a", "aac", "-b:a", "64k")),
    "avi": _Recipe("avi", ("libmp3lame",), ("-c:a", "libmp3lame", "-b:a", "64k")),
    "wma": _Recipe("wma", ("wmav2",), ("-c:a", "wmav2", "-b:a", "64k", "-f", "asf")),
    # AMR-NB is narrow-band speech: 8 kHz mono only.
    "amr": _Recipe(
        "amr", ("libopencore_amrnb",), ("-c:a", "libopencore_amrnb", "-ar", "8000", "-ac", "1")
    ),
    "aac": _Recipe("aac", ("aac",), ("-c:a", "aac", "-b:a", "64k", "-f", "adts")),
}

ALL_FORMATS: tuple[str, ...] = tuple(_RECIPES)

# A black 64x64 picture at 25 fps: the smallest video track players still accept.
_BLACK_VIDEO = ("-f", "lavfi", "-i", "color=c=black:s=64x64:r=25")
_VIDEO_ARGS = ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")


class FormatUnavailable(RuntimeError):
    """This machine's ffmpeg lacks an encoder the format needs."""


def _run(cmd: list[str], timeout: float = TIMEOUT_S) -> bytes:
    done = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip()[-2000:]
        raise RuntimeError(f"{cmd[0]} failed ({done.returncode}): {err}")
    return done.stdout


def _ffmpeg(*args: str, timeout: float = TIMEOUT_S) -> bytes:
    return _run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args], timeout)


@cache
def ffmpeg_encoders() -> frozenset[str]:
    """Names of the encoders this machine's ffmpeg has."""
    out = _run(["ffmpeg", "-hide_banner", "-encoders"]).decode()
    # Lines look like " A....D libmp3lame           libmp3lame MP3 ...".
    return frozenset(m.group(1) for m in re.finditer(r"^ [VAS][A-Z.]{5} (\S+)", out, re.M))


@cache
def supported_formats() -> tuple[str, ...]:
    """The formats of ALL_FORMATS that this machine can make."""
    have = ffmpeg_encoders()
    return tuple(f for f, r in _RECIPES.items() if set(r.encoders) <= have)


def __getattr__(name: str) -> tuple[str, ...]:
    # SUPPORTED_FORMATS is computed on first use, not at import (it runs ffmpeg).
    if name == "SUPPORTED_FORMATS":
        return supported_formats()
    raise AttributeError(name)


def _slug(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]


def speak_wav(text: str, out_dir: Path, *, voice: str = "en") -> Path:
    """espeak-ng's WAV of `text` (22.05 kHz mono), made once per directory."""
    if not shutil.which("espeak-ng"):
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    out = Path(out_dir) / f"speech-{_slug(voice, text)}.wav"
    if not out.exists():
        partial = out.with_suffix(".part.wav")
        _run(["espeak-ng", "-v", voice, "-w", str(partial), text])
        partial.replace(out)
    return out


def make_speech(text: str, out_dir: Path, fmt: str, *, voice: str = "en") -> Path:
    """A file in `fmt` (one of ALL_FORMATS) of espeak-ng speaking `text` with `voice`.

    Raises FormatUnavailable when this ffmpeg cannot encode `fmt`.
    """
    recipe = _RECIPES.get(fmt)
    if recipe is None:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(ALL_FORMATS)}")
    if fmt not in supported_formats():
        missing = sorted(set(recipe.encoders) - ffmpeg_encoders())
        raise FormatUnavailable(f"ffmpeg here lacks the encoder(s) {missing} for {fmt}")
    wav = speak_wav(text, out_dir, voice=voice)
    if fmt == "wav":
        return wav
    out = wav.with_name(f"{wav.stem}.{recipe.ext}")
    if out.exists():
        return out
    partial = out.with_name(f"{out.stem}.part.{recipe.ext}")
    if recipe.video:
        # The picture lasts exactly as long as the speech (-shortest overshoots by frames).
        with wave.open(str(wav)) as w:
            seconds = w.getnframes() / w.getframerate()
        _ffmpeg(
            "-i",
            str(wav),
            *_BLACK_VIDEO,
            "-map",
            "0:a",
            "-map",
            "1:v",
            "-t",
            f"{seconds:.3f}",
            *_VIDEO_ARGS,
            *recipe.args,
            str(partial),
        )
    else:
        _ffmpeg("-i", str(wav), "-vn", *recipe.args, str(partial))
    partial.replace(out)
    return out


def make_video_without_audio(out_dir: Path, seconds: float = 2.0) -> Path:
    """An MP4 with a video stream and no audio stream at all."""
    out = Path(out_dir) / f"video-only-{seconds:g}s.mp4"
    if not out.exists():
        partial = out.with_name(f"{out.stem}.part.mp4")
        _ffmpeg(*_BLACK_VIDEO, "-t", f"{seconds}", *_VIDEO_ARGS, str(partial))
        partial.replace(out)
    return out


def make_long_silence(seconds: float, out_dir: Path, fmt: str = "flac") -> Path:
    """`seconds` of digital silence, for duration limits. FLAC (8 kHz mono) by default: an
    hour takes 0.4 s to make and 0.7 MB on disk; fmt="wav" gives 16 kHz PCM (115 MB/h)."""
    args = {
        "flac": ("-c:a", "flac", "-sample_fmt", "s16"),
        "wav": ("-ar", "16000", "-c:a", "pcm_s16le"),
    }.get(fmt)
    if args is None:
        raise ValueError("make_long_silence makes flac or wav")
    out = Path(out_dir) / f"silence-{seconds:g}s.{fmt}"
    if not out.exists():
        partial = out.with_name(f"{out.stem}.part.{fmt}")
        _ffmpeg(
            "-f",
            "lavfi",
            "-i",
            "anullsrc=r=8000:cl=mono",
            "-t",
            f"{seconds}",
            "-ac",
            "1",
            *args,
            str(partial),
            timeout=TIMEOUT_S + seconds / 100,
        )
        partial.replace(out)
    return out


def load_pcm(path: Path, rate: int = PCM_RATE) -> np.ndarray:
    """Decode any media file's first audio stream to mono float32 at `rate` (what engines
    take), with ffmpeg."""
    raw = _ffmpeg("-i", str(path), "-vn", "-f", "f32le", "-ac", "1", "-ar", str(rate), "-")
    return np.frombuffer(raw, dtype=np.float32).copy()


def probe(path: Path) -> dict[str, Any]:
    """ffprobe's JSON description (format and streams) of a media file."""
    out = _run(
        [
            "ffprobe",
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
            str(path),
        ]
    )
    return json.loads(out)


def duration_of(data: bytes, directory: Path) -> float:
    """ffprobe's duration of media held in memory (written to a file in `directory` first)."""
    path = directory / f"probe-{uuid.uuid4().hex}.bin"
    path.write_bytes(data)
    return float(probe(path)["format"]["duration"])
