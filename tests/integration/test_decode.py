"""Probing and decoding over a real loopback HTTP server with Range support, as in production
(where the server hands ffmpeg decrypted bytes), and decoding's limits."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from app.ingest.decode import DecodeFailed, decode_pcm
from app.ingest.probe import MediaInput, MediaRejected, probe

HTTP = ("http", "tcp")
_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


def ffmpeg(out: Path, *args: str) -> Path:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", *args, str(out)], check=True, timeout=120
    )
    return out


def sine(seconds: float, frequency: int = 440, rate: int = 44100) -> list[str]:
    return ["-f", "lavfi", "-i", f"sine=frequency={frequency}:sample_rate={rate}:d={seconds}"]


class Files(ThreadingHTTPServer):
    """Serves registered byte strings by path, with single byte ranges; logs every request.
    A path registered with `stall_after` sends that many bytes of the body, then hangs."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files: dict[str, bytes] = {}
        self.stall_after: dict[str, int] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.release = threading.Event()

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]
        # ffmpeg drops connections whenever it seeks: not worth a traceback

    def add(self, path: str, data: bytes) -> MediaInput:
        self.files[path] = data
        return self.input(path)

    def input(self, path: str) -> MediaInput:
        return MediaInput(f"http://127.0.0.1:{self.server_address[1]}{path}", HTTP)


class _Handler(BaseHTTPRequestHandler):
    server: Files
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.requests.append((self.path, self.headers.get("Range")))
        data = self.server.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        start, end = 0, len(data) - 1
        header = self.headers.get("Range")
        if header:
            m = _RANGE.match(header)
            if not m or int(m.group(1)) >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            start = int(m.group(1))
            end = min(int(m.group(2)), end) if m.group(2) else end
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        body = data[start : end + 1]
        stall = self.server.stall_after.get(self.path)
        try:
            if stall is not None:
                self.wfile.write(body[:stall])
                self.wfile.flush()
                self.server.release.wait(30)
                return
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # ffmpeg hangs up when it seeks elsewhere


@pytest.fixture
def server() -> Iterator[Files]:
    srv = Files()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.release.set()
        srv.shutdown()
        srv.server_close()


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("decode")


def local(path: Path) -> MediaInput:
    return MediaInput(str(path), ("file",))


def dominant_hz(pcm: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(pcm))
    return float(np.argmax(spectrum) * rate / len(pcm))


def ffmpeg_children() -> list[int]:
    """Our child processes that are ffmpeg or ffprobe (alive or not yet reaped)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        if ppid == os.getpid() and name in ("ffmpeg", "ffprobe", "prlimit"):
            found.append(int(entry))
    return found


def test_mp4_with_index_at_the_end_over_http(media: Path, server: Files) -> None:
    # No +faststart: the index (moov) follows the data. A video track makes the data large
    # enough that ffmpeg must seek to the index instead of reading through.
    path = ffmpeg(
        media / "late_moov.mp4",
        *sine(3),
        "-f", "lavfi", "-i", "testsrc2=s=640x480:r=25:d=3",
        "-c:a", "aac", "-c:v", "mpeg4", "-q:v", "2", "-shortest",
    )  # fmt: skip
    data = path.read_bytes()
    assert data.index(b"moov") > data.index(b"mdat") > 0  # the case under test
    assert len(data) > 1_000_000
    source = server.add("/9f2c1e", data)

    info = probe(source, max_duration_s=60)
    assert (info.container, info.audio_codec, info.has_video) == ("MP4", "aac", True)
    assert info.duration_s == pytest.approx(3.0, abs=0.05)

    pcm = decode_pcm(source, max_duration_s=60, timeout_s=30)
    assert pcm.dtype == np.float32 and pcm.ndim == 1
    assert len(pcm) == pytest.approx(3.0 * 16000, abs=0.05 * 16000)
    assert dominant_hz(pcm, 16000) == pytest.approx(440, abs=2)
    # ffmpeg had to jump to the index near the end: a ranged request past the start.
    starts = [int(r.split("=")[1].split("-")[0]) for _, r in server.requests if r]
    assert any(start > 0 for start in starts), server.requests


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("a.mp3", []),
        ("a.m4a", ["-c:a", "aac"]),
        ("a.webm", ["-c:a", "libopus"]),
        ("a.ogg", ["-c:a", "libvorbis"]),
        ("a.flac", []),
        ("a.wav", []),
        ("a.mkv", ["-c:a", "ac3"]),
    ],
)
def test_decoded_length_and_content(media: Path, name: str, args: list[str]) -> None:
    path = ffmpeg(media / name, *sine(2.5, frequency=1000), *args)
    duration = probe(local(path)).duration_s
    pcm = decode_pcm(local(path), timeout_s=30)
    assert pcm.dtype == np.float32 and pcm.ndim == 1
    assert len(pcm) == pytest.approx(duration * 16000, abs=0.06 * 16000)
    assert dominant_hz(pcm, 16000) == pytest.approx(1000, abs=3)
    assert 0.05 < float(np.max(np.abs(pcm))) <= 1.0


def test_stereo_video_file_becomes_mono_at_the_asked_rate(media: Path) -> None:
    path = ffmpeg(
        media / "talk.mkv",
        *sine(2, frequency=300, rate=48000),
        *sine(2, frequency=300, rate=48000),
        "-f", "lavfi", "-i", "color=s=64x64:r=10:d=2",
        "-filter_complex", "[0:a][1:a]amerge=inputs=2[a]",
        "-map", "[a]", "-map", "2:v", "-c:v", "libx264", "-c:a", "aac",
    )  # fmt: skip
    info = probe(local(path))
    assert (info.channels, info.has_video, info.container) == (2, True, "MKV")
    pcm = decode_pcm(local(path), sample_rate=8000, timeout_s=30)
    assert len(pcm) == pytest.approx(2 * 8000, abs=0.06 * 8000)
    assert dominant_hz(pcm, 8000) == pytest.approx(300, abs=3)


def test_refuses_past_max_duration(media: Path) -> None:
    path = ffmpeg(media / "three.mp3", *sine(3))
    with pytest.raises(DecodeFailed, match=r"^This recording is longer than the limit of 1 s$"):
        decode_pcm(local(path), max_duration_s=1, timeout_s=30)
    # At the limit (the length probing reported) it decodes.
    assert len(decode_pcm(local(path), max_duration_s=3, timeout_s=30)) >= 3 * 16000


def test_stops_early_on_a_long_file(media: Path) -> None:
    # Ten hours would be 2.3 GB of samples; the cap stops ffmpeg after about a minute.
    minute = ffmpeg(
        media / "minute.opus", "-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono", "-t", "60",
        "-c:a", "libopus", "-b:a", "6k",
    )  # fmt: skip
    long = ffmpeg(
        media / "long.opus", "-stream_loop", "-1", "-i", str(minute), "-t", "36000", "-c", "copy"
    )
    started = time.monotonic()
    with pytest.raises(DecodeFailed, match=r"^This recording is longer than the limit of 2 min$"):
        decode_pcm(local(long), max_duration_s=120, timeout_s=60)
    assert time.monotonic() - started < 30
    assert ffmpeg_children() == []


def test_timeout_kills_ffmpeg(media: Path, server: Files) -> None:
    data = ffmpeg(media / "slow.wav", *sine(3)).read_bytes()
    source = server.add("/slow", data)
    server.stall_after["/slow"] = 20_000  # the header and a little audio, then nothing
    started = time.monotonic()
    with pytest.raises(DecodeFailed, match=r"^Decoding took longer than 2 s and was stopped$"):
        decode_pcm(source, timeout_s=2)
    assert time.monotonic() - started < 6
    assert ffmpeg_children() == []


def test_failure_message_has_no_location(media: Path, server: Files) -> None:
    path = media / "notes.mp3"
    path.write_text("not audio\n" * 100)
    with pytest.raises(DecodeFailed) as failed:
        decode_pcm(local(path), timeout_s=30)
    message = str(failed.value)
    assert message.startswith("The audio could not be decoded (ffmpeg: ")
    assert str(media) not in message and "notes" not in message

    with pytest.raises(DecodeFailed) as failed:
        decode_pcm(server.input("/s3cr3t-token"), timeout_s=30)  # nothing there: 404
    message = str(failed.value)
    assert "404" in message
    assert "s3cr3t" not in message and "127.0.0.1" not in message


def test_video_without_audio(media: Path) -> None:
    path = ffmpeg(media / "mute.mp4", "-f", "lavfi", "-i", "color=s=64x64:d=1", "-c:v", "libx264")
    with pytest.raises(DecodeFailed, match=r"^This file has no audio track$"):
        decode_pcm(local(path), timeout_s=30)


def test_empty_over_http(server: Files) -> None:
    server.files["/empty"] = b""
    sized = MediaInput(server.input("/empty").url, HTTP, size=0)
    with pytest.raises(MediaRejected, match=r"^The file is empty$"):
        probe(sized)
    assert server.requests == []  # known empty: no ffprobe at all
    # Size unknown: ffmpeg sees only a 4XX (416), which is not the file's fault to report.
    with pytest.raises(RuntimeError, match="4XX") as failed:
        probe(server.input("/empty"))
    assert not isinstance(failed.value, MediaRejected)


def test_unreachable_input_is_not_blamed_on_the_file(server: Files) -> None:
    with pytest.raises(RuntimeError, match="404") as failed:
        probe(server.input("/s3cr3t-token"))
    assert not isinstance(failed.value, MediaRejected)
    assert "s3cr3t" not in str(failed.value)


def test_playlist_entries_are_never_fetched(media: Path, server: Files) -> None:
    # A playlist pointing at a URL ffmpeg could reach with the protocols we allow: only the
    # format whitelist stands between the upload and a request to that URL.
    server.files["/internal/segment.ts"] = ffmpeg(media / "seg.ts", *sine(3)).read_bytes()
    target = server.input("/internal/segment.ts").url
    playlist = f"#EXTM3U\n#EXT-X-TARGETDURATION:3\n#EXTINF:3,\n{target}\n#EXT-X-ENDLIST\n"
    concat = f"ffconcat version 1.0\nfile '{target}'\n"
    for name, text in (("/up.m3u8", playlist), ("/up.txt", concat)):
        source = server.add(name, text.encode())
        with pytest.raises(MediaRejected, match=r"^Playlists are not accepted$"):
            probe(source)
        with pytest.raises(DecodeFailed):
            decode_pcm(source, timeout_s=30)
    assert [path for path, _ in server.requests if path.startswith("/internal")] == []

    # The trap is live: ffprobe without the format whitelist does fetch the entry.
    subprocess.run(
        ["ffprobe", "-v", "error", "-protocol_whitelist", "http,tcp", server.input("/up.m3u8").url],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert [path for path, _ in server.requests if path.startswith("/internal")] != []
