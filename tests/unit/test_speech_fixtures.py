"""tests/speech.py makes what it says: real files ffprobe reads, with the streams promised."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests import speech

TEXT = "Testing one two three. The quick brown fox jumps over the lazy dog."


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("speech")


@pytest.fixture(scope="module")
def spoken_seconds(media_dir: Path) -> float:
    return float(speech.probe(speech.speak_wav(TEXT, media_dir))["format"]["duration"])


def _streams(info: dict, kind: str) -> list[dict]:
    return [s for s in info["streams"] if s["codec_type"] == kind]


EXPECTED_CODEC = {
    "wav": "pcm_s16le",
    "mp3": "mp3",
    "m4a": "aac",
    "flac": "flac",
    "ogg": "vorbis",
    "opus": "opus",
    "webm": "opus",
    "mp4": "aac",
    "mkv": "aac",
    "mov": "aac",
    "avi": "mp3",
    "wma": "wmav2",
    "amr": "amr_nb",
    "aac": "aac",
}


def test_every_format_has_an_expected_codec() -> None:
    assert set(EXPECTED_CODEC) == set(speech.ALL_FORMATS)


def test_supported_formats_are_a_cached_subset_in_order() -> None:
    supported = speech.SUPPORTED_FORMATS
    assert supported == speech.supported_formats()
    assert supported == tuple(f for f in speech.ALL_FORMATS if f in supported)
    # Debian's ffmpeg makes at least these; the rest depend on the build.
    assert {"wav", "mp3", "m4a", "flac", "ogg", "opus", "mp4"} <= set(supported)


@pytest.mark.parametrize("fmt", speech.ALL_FORMATS)
def test_format_is_made_with_an_audio_stream(
    fmt: str, media_dir: Path, spoken_seconds: float
) -> None:
    if fmt not in speech.supported_formats():
        with pytest.raises(speech.FormatUnavailable):
            speech.make_speech(TEXT, media_dir, fmt)
        pytest.skip(f"this ffmpeg cannot encode {fmt}")
    path = speech.make_speech(TEXT, media_dir, fmt)
    assert path.suffix == f".{fmt}" and path.parent == media_dir
    info = speech.probe(path)
    audio = _streams(info, "audio")
    assert [s["codec_name"] for s in audio] == [EXPECTED_CODEC[fmt]]
    assert _streams(info, "video") if fmt == "mp4" else not _streams(info, "video")
    # Lossy codecs pad a little; the speech must all be there.
    assert float(info["format"]["duration"]) == pytest.approx(spoken_seconds, abs=0.25)
    pcm = speech.load_pcm(path)
    assert pcm.dtype == np.float32
    assert len(pcm) / speech.PCM_RATE == pytest.approx(spoken_seconds, abs=0.25)
    assert float(np.abs(pcm).max()) > 0.05  # there is sound in it, not silence


def test_same_request_reuses_the_file(media_dir: Path) -> None:
    first = speech.make_speech(TEXT, media_dir, "flac")
    mtime = first.stat().st_mtime_ns
    assert speech.make_speech(TEXT, media_dir, "flac") == first
    assert first.stat().st_mtime_ns == mtime
    assert speech.make_speech("Something else.", media_dir, "flac") != first


def test_unknown_format_is_refused(media_dir: Path) -> None:
    with pytest.raises(ValueError, match="unknown format"):
        speech.make_speech(TEXT, media_dir, "xyz")


def test_german_voice_differs(media_dir: Path) -> None:
    en = speech.make_speech("Guten Morgen", media_dir, "wav")
    de = speech.make_speech("Guten Morgen", media_dir, "wav", voice="de")
    assert en != de and en.read_bytes() != de.read_bytes()


def test_video_without_audio(media_dir: Path) -> None:
    info = speech.probe(speech.make_video_without_audio(media_dir))
    assert _streams(info, "video") and not _streams(info, "audio")


@pytest.mark.parametrize(("fmt", "seconds"), [("flac", 3600), ("wav", 90)])
def test_long_silence_has_the_duration_asked(fmt: str, seconds: int, media_dir: Path) -> None:
    path = speech.make_long_silence(seconds, media_dir, fmt)
    assert path.suffix == f".{fmt}"
    info = speech.probe(path)
    assert [s["codec_type"] for s in info["streams"]] == ["audio"]
    assert float(info["format"]["duration"]) == pytest.approx(seconds, abs=0.1)
    if fmt == "flac":
        assert path.stat().st_size < 2_000_000  # cheap enough for hour-long limit tests
    else:
        assert int(info["streams"][0]["sample_rate"]) == 16_000
