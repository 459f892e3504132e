"""What is in a media file, found by ffprobe from its content (never its name or extension).

Everything ffmpeg reads goes through `ffmpeg_input_args`, shared with decoding: a protocol
whitelist (only the transport we chose) and a demuxer whitelist (ALLOWED_CONTAINERS). The
demuxer whitelist is what keeps a crafted upload from turning ffmpeg into a fetcher: hls,
dash, concat, image2, sdp, rtsp, lavfi and friends open further URLs or local files named
inside the file. `-format_whitelist` is an AVFormatContext option, honoured by ffprobe and
ffmpeg 5.1 alike: avformat_open_input refuses a detected demuxer not on the list ("Format
not on whitelist"), so a playlist is refused before a single entry of it is opened.

ffprobe and ffmpeg run under a wall-clock timeout and an address-space limit. The limit is
applied by util-linux `prlimit`, which sets it and then execs the tool, rather than by a
`preexec_fn`: Python code between fork and exec can deadlock in a threaded process, and
the process reading the file also runs the loopback server's threads.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import stat
import subprocess
import time
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _

# Demuxer (ffprobe format_name) -> the name a user knows. Names with commas are one demuxer
# with several aliases; ffmpeg matches any alias against the whitelist.
ALLOWED_CONTAINERS: dict[str, str] = {
    "mp3": "MP3",
    "wav": "WAV",
    "w64": "Wave64",
    "mov,mp4,m4a,3gp,3g2,mj2": "MP4",
    "flac": "FLAC",
    "ogg": "OGG",
    "asf": "WMA",
    "amr": "AMR",
    "amrnb": "AMR",
    "amrwb": "AMR",
    "matroska,webm": "MKV",
    "avi": "AVI",
    "aiff": "AIFF",
    "caf": "CAF",
    "aac": "AAC",
    "mpegts": "MPEG-TS",
    "mpeg": "MPEG-PS",
    "flv": "FLV",
    "ac3": "AC3",
    "eac3": "E-AC3",
    "wv": "WavPack",
}

FORMAT_WHITELIST = ",".join(
    alias for name in ALLOWED_CONTAINERS for alias in name.split(",") if alias
)

# Transports a MediaInput may name. Never "concat", "subfile", "data", "pipe" and the like:
# those read other resources, or whatever the URL spells.
ALLOWED_PROTOCOLS = frozenset({"file", "http", "https", "tcp", "tls"})

MEMORY_LIMIT_BYTES = 1024**3
PROBE_SIZE_BYTES = 10_000_000
ANALYZE_DURATION_US = 20_000_000
_STDERR_KEEP = 16 * 1024

PLAYLIST_DEMUXERS = frozenset({"hls", "concat", "dash"})
_REFUSED_LABELS = {
    "sdp": "stream description",
    "image2": "image",
    "tty": "text",
    "srt": "subtitles",
    "ass": "subtitles",
    "webvtt": "subtitles",
    "gif": "GIF image",
    "lavfi": "filter graph",
}
_WEBM_CODECS = frozenset({"vp8", "vp9", "av1", "opus", "vorbis"})

_WHITELIST_REFUSAL = re.compile(r"\[([^\]@\s]+) @ 0x[0-9a-f]+\] Format not on whitelist")
_DEMUXER_PREFIX = re.compile(r"\[([^\]@\s]+) @ 0x[0-9a-f]+\]")


@dataclass(frozen=True)
class MediaInput:
    """Where ffmpeg reads the media: a URL (or local path) and the protocols it may use.

    `size`, when the caller knows it (the loopback server does), lets an empty input be
    named as such: over HTTP ffmpeg only reports an unsatisfiable range as a generic 4XX.
    """

    url: str
    protocols: tuple[str, ...]
    size: int | None = None

    def __post_init__(self) -> None:
        if not self.url:
            raise ValueError("MediaInput needs a URL")
        if not self.protocols:
            raise ValueError("MediaInput needs at least one protocol")
        unknown = set(self.protocols) - ALLOWED_PROTOCOLS
        if unknown:
            raise ValueError(f"protocols not allowed for media input: {sorted(unknown)}")
        if self.size is not None and self.size < 0:
            raise ValueError("MediaInput size cannot be negative")


@dataclass(frozen=True)
class MediaInfo:
    container: str  # a friendly name: "MP3", "M4A", "WebM", ...
    format_name: str  # ffprobe's demuxer name
    duration_s: float
    audio_codec: str
    sample_rate: int | None
    channels: int | None
    has_video: bool
    bit_rate: int | None


class MediaRejected(ValueError):
    """The file is not usable audio; the message is written for the person who sent it."""


def ffmpeg_input_args(source: MediaInput) -> list[str]:
    """ffmpeg/ffprobe arguments that open `source` and nothing else."""
    return [
        # One decoder thread: audio decoders gain nothing from more, and a thread per core
        # (stacks, malloc arenas) would eat the address-space limit on a big machine.
        "-threads",
        "1",
        "-protocol_whitelist",
        ",".join(source.protocols),
        "-format_whitelist",
        FORMAT_WHITELIST,
        "-probesize",
        str(PROBE_SIZE_BYTES),
        "-analyzeduration",
        str(ANALYZE_DURATION_US),
        "-i",
        source.url,
    ]


def limited_command(tool: str, args: list[str]) -> list[str]:
    """argv running `tool` (ffmpeg/ffprobe) under the address-space limit."""
    prlimit = shutil.which("prlimit")
    binary = shutil.which(tool)
    if prlimit is None or binary is None:
        # Fail closed: running ffmpeg without its memory limit is not an option.
        raise RuntimeError(f"{tool} and prlimit (util-linux) must be installed")
    return [prlimit, f"--as={MEMORY_LIMIT_BYTES}", "--", binary, *args]


def clean_ffmpeg_line(line: str, source: MediaInput) -> str:
    """One ffmpeg message, without the input's URL or any path (they leak internals)."""
    line = line.replace(source.url, "input")
    line = _DEMUXER_PREFIX.sub(r"\1:", line)
    line = re.sub(r"\b[a-z][a-z0-9+.-]*://\S+", "<url>", line)
    line = re.sub(r"(?<![\w.])/[^\s:'\"]+", "<path>", line)
    return line.strip()[:200]


def last_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def human_duration(seconds: float, *, drop_zeros: bool = False, seconds_too: bool = False) -> str:
    """'10 h 0 min', '2 min 5 s', '3 s'; with drop_zeros (for limits) '4 h', '90 min'."""
    hours, rest = divmod(math.floor(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(hours, "h"), (minutes, "min"), (secs, "s")]
    while len(parts) > 1 and parts[0][0] == 0:
        parts.pop(0)
    if len(parts) == 3 and not seconds_too:
        parts.pop()
    if drop_zeros:
        parts = [p for p in parts if p[0]] or parts[-1:]
    return " ".join(f"{n} {unit}" for n, unit in parts)


def probe(
    source: MediaInput, *, timeout_s: float = 30, max_duration_s: float | None = None
) -> MediaInfo:
    """Describe `source`, or raise MediaRejected saying why it cannot be transcribed.

    RuntimeError (not MediaRejected) means the input could not be read at all (ffprobe
    missing, the loopback server gone): not the file's fault, worth retrying.
    """
    deadline = time.monotonic() + timeout_s
    if _is_empty(source):
        raise MediaRejected(_("The file is empty"))
    data = _run_ffprobe(source, timeout_s)
    streams: list[dict[str, Any]] = data.get("streams") or []
    fmt: dict[str, Any] = data.get("format") or {}
    format_name = str(fmt.get("format_name") or "")
    if not streams or not format_name:
        raise MediaRejected(_("This file is not audio or video we can read"))
    if format_name not in ALLOWED_CONTAINERS:  # the whitelist already refused it; belt and braces
        raise MediaRejected(_("This file format (%(format)s) is not accepted", format=format_name))

    audio = [s for s in streams if s.get("codec_type") == "audio"]
    has_video = any(
        s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic")
        for s in streams
    )
    if not audio:
        raise MediaRejected(
            _("This video has no audio track") if has_video else _("This file has no audio track")
        )
    stream = audio[0]  # decode_pcm reads the same one (-map 0:a:0)

    duration = _positive(fmt.get("duration")) or _positive(stream.get("duration"))
    counted = duration is None
    if duration is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise MediaRejected(_("This file took too long to analyse"))
        duration = _count_duration(source, remaining, max_duration_s)
    if duration <= 0:
        raise MediaRejected(_("This recording is empty (it is zero seconds long)"))
    if max_duration_s is not None and duration > max_duration_s:
        limit = human_duration(max_duration_s, drop_zeros=True, seconds_too=True)
        if counted:  # counting stopped just past the limit: the true length is unknown
            raise MediaRejected(
                _("This recording is longer than the limit of %(limit)s", limit=limit)
            )
        # Seconds shown when whole minutes alone would read as equal to the limit.
        shown = human_duration(duration, seconds_too=duration // 60 * 60 <= max_duration_s)
        raise MediaRejected(
            _(
                "This recording is %(length)s long; the limit is %(limit)s",
                length=shown,
                limit=limit,
            )
        )

    codecs = {str(s.get("codec_name") or "") for s in streams}
    return MediaInfo(
        container=_friendly_container(format_name, fmt, stream, codecs, has_video),
        format_name=format_name,
        duration_s=duration,
        audio_codec=str(stream.get("codec_name") or "unknown"),
        sample_rate=_int(stream.get("sample_rate")),
        channels=_int(stream.get("channels")),
        has_video=has_video,
        bit_rate=_int(fmt.get("bit_rate")) or _int(stream.get("bit_rate")),
    )


def _run_ffprobe(source: MediaInput, timeout_s: float) -> dict[str, Any]:
    # show_entries instead of -show_format/-show_streams: the same sections, only the fields
    # used, so a file stuffed with tags cannot blow up the JSON we parse.
    entries = (
        "format=format_name,duration,bit_rate:format_tags=major_brand:"
        "stream=codec_type,codec_name,sample_rate,channels,duration,bit_rate:"
        "stream_disposition=attached_pic"
    )
    argv = limited_command(
        "ffprobe",
        [
            "-v",
            "error",
            "-hide_banner",
            *ffmpeg_input_args(source),
            "-print_format",
            "json",
            "-show_entries",
            entries,
        ],
    )
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise MediaRejected(_("This file took too long to analyse")) from None
    stderr = done.stderr[-_STDERR_KEEP:].decode("utf-8", "replace")
    if done.returncode != 0:
        raise _failure(stderr, source)
    try:
        data = json.loads(done.stdout)
    except ValueError:
        raise MediaRejected(_("This file is not audio or video we can read")) from None
    return data if isinstance(data, dict) else {}


def _failure(stderr: str, source: MediaInput) -> Exception:
    """Turn ffprobe's complaint into a message for the user (or an error for us)."""
    refused = _WHITELIST_REFUSAL.search(stderr)
    if refused:
        name = refused.group(1)
        if name in PLAYLIST_DEMUXERS:
            return MediaRejected(_("Playlists are not accepted"))
        label = "image" if name.endswith("_pipe") else _REFUSED_LABELS.get(name, name)
        return MediaRejected(_("This file format (%(format)s) is not accepted", format=label))
    if "Cannot allocate memory" in stderr:
        return MediaRejected(_("This file needs more memory to read than we allow"))
    unreadable = (
        "Connection refused",
        "Server returned",
        "No such file or directory",
        "Permission denied",
        "Protocol not on whitelist",
        "Protocol not found",
    )
    if any(marker in stderr for marker in unreadable):
        detail = clean_ffmpeg_line(last_line(stderr), source)
        return RuntimeError(f"ffprobe could not open the input: {detail}")
    demuxers = set(_DEMUXER_PREFIX.findall(stderr))
    if demuxers & ALLOWED_CONTAINERS.keys() and (
        "Invalid data found" in stderr or "moov atom not found" in stderr
    ):
        # A container we know started to parse, then the data ran out or went bad.
        return MediaRejected(_("The file seems to be damaged or incomplete"))
    return MediaRejected(_("This file is not audio or video we can read"))


def _count_duration(source: MediaInput, timeout_s: float, max_duration_s: float | None) -> float:
    """Duration from the packets themselves, for files whose header has none (a browser's
    WebM recording). Stream copy to the null muxer: no decoding, just timestamps."""
    args = [
        "-nostdin",
        "-v",
        "error",
        "-hide_banner",
        *ffmpeg_input_args(source),
        "-map",
        "0:a:0",
        "-c",
        "copy",
    ]
    if max_duration_s is not None:
        args += ["-t", f"{max_duration_s + 1:.3f}"]  # past the limit is all we need to know
    args += ["-f", "null", "-progress", "pipe:1", "-nostats", "-"]
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell
            limited_command("ffmpeg", args),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise MediaRejected(_("This file took too long to analyse")) from None
    if done.returncode != 0:
        raise _failure(done.stderr[-_STDERR_KEEP:].decode("utf-8", "replace"), source)
    times = re.findall(rb"^out_time_us=(\d+)$", done.stdout, flags=re.MULTILINE)
    if not times:
        raise MediaRejected(_("We could not tell how long this recording is"))
    return int(times[-1]) / 1_000_000


def _friendly_container(
    format_name: str,
    fmt: dict[str, Any],
    audio: dict[str, Any],
    codecs: set[str],
    has_video: bool,
) -> str:
    if format_name.startswith("mov,"):
        brand = str((fmt.get("tags") or {}).get("major_brand") or "").strip().lower()
        if brand == "qt":
            return "MOV"
        if brand.startswith("3gp"):
            return "3GP"
        if brand.startswith("3g2"):
            return "3G2"
        if brand in ("m4a", "m4b", "m4p"):
            return "M4A"
        return "MP4"
    if format_name == "matroska,webm":
        return "WebM" if codecs - {""} <= _WEBM_CODECS else "MKV"
    if format_name == "ogg" and audio.get("codec_name") == "opus":
        return "Opus"
    if format_name == "asf" and has_video:
        return "WMV"
    return ALLOWED_CONTAINERS[format_name]


def _is_empty(source: MediaInput) -> bool:
    if source.size is not None:
        return source.size == 0
    if source.protocols != ("file",):
        return False
    path = source.url.removeprefix("file:")
    try:
        info = os.stat(path)
    except OSError:
        return False  # ffprobe will say what is wrong
    return stat.S_ISREG(info.st_mode) and info.st_size == 0


def _positive(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None
