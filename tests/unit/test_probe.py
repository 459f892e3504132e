"""app.ingest.probe against real files made by the real ffmpeg, read by the real ffprobe."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.ingest.probe import (
    ALLOWED_CONTAINERS,
    FORMAT_WHITELIST,
    MEMORY_LIMIT_BYTES,
    MediaInfo,
    MediaInput,
    MediaRejected,
    clean_ffmpeg_line,
    ffmpeg_input_args,
    human_duration,
    limited_command,
    probe,
)

SINE = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=3"]
COLOR = ["-f", "lavfi", "-i", "color=c=blue:s=64x64:r=10:d=3"]
# Demuxers that open other resources named inside the file, or devices.
DANGEROUS = ["hls", "concat", "dash", "image2", "image2pipe", "sdp", "rtsp", "lavfi", "tty"]


def ffmpeg(out: Path, *args: str) -> Path:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", *args, str(out)], check=True, timeout=120
    )
    return out


def local(path: Path) -> MediaInput:
    return MediaInput(str(path), ("file",))


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def sine_mp3(media: Path) -> Path:
    return ffmpeg(media / "sine.mp3", *SINE)


# file name, ffmpeg output args, friendly container, audio codec, with a video track
FORMATS = [
    ("a.mp3", [], "MP3", "mp3", False),
    ("a.wav", [], "WAV", "pcm_s16le", False),
    ("a.m4a", ["-c:a", "aac"], "M4A", "aac", False),
    ("a.mov", ["-c:a", "aac"], "MOV", "aac", False),
    ("av.mp4", ["-c:v", "libx264", "-c:a", "aac", "-shortest"], "MP4", "aac", True),
    ("a.3gp", ["-ar", "16000", "-c:a", "aac"], "3GP", "aac", False),
    ("a.mkv", ["-c:a", "flac"], "MKV", "flac", False),
    ("a.webm", ["-c:a", "libopus"], "WebM", "opus", False),
    ("a.ogg", ["-c:a", "libvorbis"], "OGG", "vorbis", False),
    ("a.opus", ["-c:a", "libopus"], "Opus", "opus", False),
    ("a.flac", [], "FLAC", "flac", False),
    ("a.aac", ["-c:a", "aac"], "AAC", "aac", False),
    ("a.wma", ["-c:a", "wmav2"], "WMA", "wmav2", False),
    ("a.avi", ["-c:a", "pcm_s16le"], "AVI", "pcm_s16le", False),
    ("a.aiff", [], "AIFF", "pcm_s16be", False),
    ("a.caf", ["-c:a", "alac"], "CAF", "alac", False),
    ("a.ts", ["-c:a", "mp2"], "MPEG-TS", "mp2", False),
    ("a.ac3", [], "AC3", "ac3", False),
    ("a.eac3", [], "E-AC3", "eac3", False),
    ("a.wv", [], "WavPack", "wavpack", False),
    ("a.flv", ["-c:a", "libmp3lame"], "FLV", "mp3", False),
]


@pytest.mark.parametrize(
    ("name", "args", "container", "codec", "video"), FORMATS, ids=[f[0] for f in FORMATS]
)
def test_accepted_formats(
    media: Path, name: str, args: list[str], container: str, codec: str, video: bool
) -> None:
    path = ffmpeg(media / name, *SINE, *(COLOR if video else []), *args)
    info = probe(local(path))
    assert info.container == container
    assert info.format_name in ALLOWED_CONTAINERS
    assert info.audio_codec == codec
    assert info.has_video is video
    assert info.channels == 1
    assert info.sample_rate in (16000, 44100, 48000)
    assert info.duration_s == pytest.approx(3.0, abs=0.15)


def test_amr(media: Path) -> None:
    # No AMR encoder in Debian's ffmpeg: write the RFC 4867 storage format by hand.
    # "#!AMR\n", then frames of one header byte (frame type 7 = 12.2 kbit/s, quality bit
    # set: 0x3C) and 31 payload bytes, 20 ms each.
    path = media / "a.amr"
    path.write_bytes(b"#!AMR\n" + (b"\x3c" + bytes(31)) * 150)
    info = probe(local(path))
    assert (info.container, info.audio_codec, info.sample_rate) == ("AMR", "amr_nb", 8000)
    assert info.duration_s == pytest.approx(3.0, abs=0.15)


def test_cover_art_is_not_video(media: Path, sine_mp3: Path) -> None:
    cover = ffmpeg(
        media / "cover.png", "-f", "lavfi", "-i", "color=c=red:s=32x32", "-frames:v", "1"
    )
    path = ffmpeg(
        media / "with_cover.mp3",
        "-i",
        str(sine_mp3),
        "-i",
        str(cover),
        "-map",
        "0",
        "-map",
        "1",
        "-c",
        "copy",
        "-disposition:v",
        "attached_pic",
    )
    info = probe(local(path))
    assert info.container == "MP3"
    assert info.has_video is False


def test_content_not_extension(media: Path, sine_mp3: Path) -> None:
    disguised = media / "recording.wav"
    disguised.write_bytes(sine_mp3.read_bytes())
    assert probe(local(disguised)).container == "MP3"


def test_text_renamed_mp3_is_refused(media: Path) -> None:
    path = media / "notes.mp3"
    path.write_text("Meeting notes: buy milk. This is not audio.\n" * 20)
    with pytest.raises(MediaRejected, match=r"^This file is not audio or video we can read$"):
        probe(local(path))


def test_empty_file_is_refused(media: Path) -> None:
    path = media / "empty.mp3"
    path.write_bytes(b"")
    with pytest.raises(MediaRejected, match=r"^The file is empty$"):
        probe(local(path))


def test_truncated_mp4_is_damaged(media: Path) -> None:
    whole = ffmpeg(media / "whole.mp4", *SINE, "-c:a", "aac")  # index (moov) at the end
    cut = media / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(MediaRejected, match=r"^The file seems to be damaged or incomplete$"):
        probe(local(cut))


def test_video_without_audio_is_refused(media: Path) -> None:
    path = ffmpeg(media / "silent_film.mp4", *COLOR, "-c:v", "libx264")
    with pytest.raises(MediaRejected, match=r"^This video has no audio track$"):
        probe(local(path))


def test_hls_playlist_is_refused(media: Path) -> None:
    segment = ffmpeg(media / "seg.ts", *SINE, "-c:a", "mp2")
    playlist = media / "list.m3u8"
    playlist.write_text(
        f"#EXTM3U\n#EXT-X-TARGETDURATION:3\n#EXTINF:3,\n{segment}\n#EXT-X-ENDLIST\n"
    )
    with pytest.raises(MediaRejected, match=r"^Playlists are not accepted$"):
        probe(local(playlist))


def test_concat_list_is_refused(media: Path, sine_mp3: Path) -> None:
    listing = media / "list.txt"
    listing.write_text(f"ffconcat version 1.0\nfile '{sine_mp3}'\n")
    with pytest.raises(MediaRejected, match=r"^Playlists are not accepted$"):
        probe(local(listing))


def test_format_not_on_allowlist_is_named(media: Path) -> None:
    sun_audio = ffmpeg(media / "a.au", *SINE)  # real audio, a demuxer we do not allow
    with pytest.raises(MediaRejected, match=r"^This file format \(au\) is not accepted$"):
        probe(local(sun_audio))
    picture = ffmpeg(media / "pic.png", "-f", "lavfi", "-i", "color=s=32x32", "-frames:v", "1")
    with pytest.raises(MediaRejected, match=r"^This file format \(image\) is not accepted$"):
        probe(local(picture))


def test_whitelist_covers_allowlist_and_nothing_dangerous() -> None:
    listed = subprocess.run(
        ["ffmpeg", "-hide_banner", "-demuxers"], capture_output=True, text=True, check=True
    ).stdout
    demuxers = {line.split()[1] for line in listed.splitlines() if line.startswith(" D")}
    aliases = FORMAT_WHITELIST.split(",")
    # Every allowlisted demuxer exists in this ffmpeg (a typo would silently refuse a format).
    assert set(ALLOWED_CONTAINERS) <= demuxers
    assert not set(aliases) & set(DANGEROUS)
    args = ffmpeg_input_args(MediaInput("http://127.0.0.1:9/x", ("http", "tcp")))
    assert args[args.index("-protocol_whitelist") + 1] == "http,tcp"
    assert args[args.index("-format_whitelist") + 1] == FORMAT_WHITELIST
    assert args[-2:] == ["-i", "http://127.0.0.1:9/x"]


@pytest.mark.parametrize("protocols", [(), ("file", "concat"), ("subfile",), ("data",)])
def test_media_input_refuses_reader_protocols(protocols: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="protocol"):
        MediaInput("/tmp/x.mp3", protocols)


def test_duration_over_limit(sine_mp3: Path) -> None:
    with pytest.raises(MediaRejected, match=r"^This recording is 3 s long; the limit is 1 s$"):
        probe(local(sine_mp3), max_duration_s=1)
    assert probe(local(sine_mp3), max_duration_s=3.5).duration_s == pytest.approx(3.0, abs=0.1)


def test_ten_hour_recording(media: Path) -> None:
    # Ten hours of encoding takes minutes; looping a minute of Opus by stream copy, seconds.
    minute = ffmpeg(
        media / "minute.opus", "-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono", "-t", "60",
        "-c:a", "libopus", "-b:a", "6k",
    )  # fmt: skip
    long = ffmpeg(
        media / "long.opus", "-stream_loop", "-1", "-i", str(minute), "-t", "36000", "-c", "copy"
    )
    with pytest.raises(
        MediaRejected, match=r"^This recording is 10 h 0 min long; the limit is 4 h$"
    ):
        probe(local(long), max_duration_s=4 * 3600)
    assert probe(local(long)).duration_s == pytest.approx(36000, abs=1)


def test_duration_missing_from_header_is_counted(media: Path) -> None:
    # A browser's MediaRecorder WebM has no duration: the muxer could not seek back to write it.
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", *SINE, "-c:a", "libopus", "-f", "webm", "pipe:1"],
        capture_output=True,
        check=True,
    ).stdout
    path = media / "recorded.webm"
    path.write_bytes(raw)
    header = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration:stream=duration", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "duration=N/A" in header and "duration=0" not in header  # the case under test
    info = probe(local(path))
    assert info.container == "WebM"
    assert info.duration_s == pytest.approx(3.0, abs=0.1)
    with pytest.raises(MediaRejected, match=r"^This recording is longer than the limit of 1 s$"):
        probe(local(path), max_duration_s=1)


def test_zero_length_recording_is_refused(media: Path) -> None:
    path = ffmpeg(media / "zero.wav", "-f", "lavfi", "-i", "anullsrc", "-t", "0")
    with pytest.raises(MediaRejected, match="zero seconds"):
        probe(local(path))


def test_timeout(media: Path) -> None:
    fifo = media / "never.mp3"
    os.mkfifo(fifo)  # opening it blocks until a writer comes: ffprobe waits forever
    started = time.monotonic()
    with pytest.raises(MediaRejected, match=r"^This file took too long to analyse$"):
        probe(local(fifo), timeout_s=1.5)
    assert time.monotonic() - started < 5
    # ffprobe was killed, not left waiting: nobody holds the FIFO open for reading.
    with pytest.raises(OSError, match="No such device"):
        os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)


def test_ffmpeg_runs_under_the_memory_limit() -> None:
    argv = limited_command(
        "python3", ["-c", "import resource; print(resource.getrlimit(resource.RLIMIT_AS)[0])"]
    )
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    assert int(out) == MEMORY_LIMIT_BYTES


def test_clean_ffmpeg_line_drops_locations() -> None:
    source = MediaInput("http://127.0.0.1:4567/secret-token", ("http", "tcp"))
    line = clean_ffmpeg_line(
        "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55d0c0ffee00] http://127.0.0.1:4567/secret-token: "
        "moov atom not found; see /var/lib/verbatim/x.mp4 or https://a.example/b N/A",
        source,
    )
    assert "secret-token" not in line and "/var/lib" not in line and "a.example" not in line
    assert "0x55d0c0ffee00" not in line
    assert line.startswith("mov,mp4,m4a,3gp,3g2,mj2: input: moov atom not found")
    assert line.endswith("N/A")


@pytest.mark.parametrize(
    ("seconds", "shown", "as_limit"),
    [
        (3, "3 s", "3 s"),
        (125, "2 min 5 s", "2 min 5 s"),
        (3600 * 4, "4 h 0 min", "4 h"),
        (36000.4, "10 h 0 min", "10 h"),
        (5400, "1 h 30 min", "1 h 30 min"),
    ],
)
def test_human_duration(seconds: float, shown: str, as_limit: str) -> None:
    assert human_duration(seconds) == shown
    assert human_duration(seconds, drop_zeros=True, seconds_too=True) == as_limit


@pytest.fixture(scope="module")
def seeds(media: Path, sine_mp3: Path) -> list[bytes]:
    m4a = ffmpeg(media / "seed.m4a", *SINE, "-c:a", "aac", "-movflags", "+faststart")
    webm = ffmpeg(media / "seed.webm", *SINE, "-c:a", "libopus")
    return [sine_mp3.read_bytes(), m4a.read_bytes(), webm.read_bytes()]


def test_random_bytes_only_ever_rejected(media: Path, seeds: list[bytes]) -> None:
    fuzz = media / "fuzz"
    fuzz.mkdir(exist_ok=True)

    # Pure noise, and real files cut short and/or with bytes flipped.
    damaged = st.tuples(
        st.sampled_from(range(len(seeds))),
        st.integers(min_value=0, max_value=20_000),
        st.lists(st.tuples(st.integers(0, 20_000), st.integers(0, 255)), max_size=8),
    ).map(lambda t: _damage(seeds[t[0]], t[1], t[2]))

    @settings(
        max_examples=25,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(data=st.one_of(st.binary(max_size=4096), damaged))
    def check(data: bytes) -> None:
        path = fuzz / "input"
        path.write_bytes(data)
        try:
            info = probe(local(path), timeout_s=20)
        except MediaRejected as e:
            assert str(e)  # always a message for the user
        else:
            assert isinstance(info, MediaInfo) and info.duration_s > 0

    check()


def _damage(data: bytes, cut: int, flips: list[tuple[int, int]]) -> bytes:
    out = bytearray(data[: max(len(data) - cut, 0)])
    for pos, value in flips:
        if out:
            out[pos % len(out)] = value
    return bytes(out)
