"""Decode media to the float32 mono PCM the engines take, with ffmpeg, under hard limits.

Same input arguments as probing (protocol and demuxer whitelists), a wall-clock timeout,
an address-space limit on ffmpeg, and a cap on the samples we accept, so a file whose
header lies about its length cannot make us buffer more than the plan allows.
"""

from __future__ import annotations

import math
import os
import selectors
import subprocess
import time

import numpy as np

from app.ingest.probe import (
    MediaInput,
    clean_ffmpeg_line,
    ffmpeg_input_args,
    human_duration,
    last_line,
    limited_command,
)

# Decoded length and container duration differ by encoder padding and resampler delay;
# a file probed as exactly at the limit must still decode.
DURATION_SLACK_S = 1.0
_CHUNK = 1024 * 1024
_STDERR_KEEP = 16 * 1024
_SAMPLE = np.dtype("<f4")


class DecodeFailed(Exception):
    """ffmpeg could not turn the file into audio; the message can be shown to the user."""


def decode_pcm(
    source: MediaInput,
    *,
    sample_rate: int = 16000,
    max_duration_s: float | None = None,
    timeout_s: float,
) -> np.ndarray:
    """The first audio stream of `source` as float32 mono samples at `sample_rate`."""
    max_bytes = None
    output_limit: list[str] = []
    if max_duration_s is not None:
        max_bytes = math.ceil((max_duration_s + DURATION_SLACK_S) * sample_rate) * _SAMPLE.itemsize
        # ffmpeg stops by itself just past the cap; we still count, in case it does not.
        output_limit = ["-t", f"{max_duration_s + 2 * DURATION_SLACK_S:.3f}"]
    argv = limited_command(
        "ffmpeg",
        [
            "-nostdin",
            "-hide_banner",
            "-nostats",
            "-filter_threads",  # the resampler needs no thread pool (address-space limit)
            "1",
            "-v",
            "error",
            *ffmpeg_input_args(source),
            "-map",
            "0:a:0",
            "-vn",
            "-sn",
            "-dn",
            "-ac",
            "1",
            "-ar",
            str(sample_rate),
            *output_limit,
            "-f",
            "f32le",
            "pipe:1",
        ],
    )
    try:
        pcm, stderr, returncode = _run(argv, timeout_s, max_bytes)
    except TimeoutError:
        raise DecodeFailed(f"Decoding took longer than {timeout_s:g} s and was stopped") from None
    except _TooLong:
        assert max_duration_s is not None
        limit = human_duration(max_duration_s, drop_zeros=True, seconds_too=True)
        raise DecodeFailed(f"This recording is longer than the limit of {limit}") from None
    if returncode != 0:
        if "matches no streams" in stderr:  # -map 0:a:0 found nothing
            raise DecodeFailed("This file has no audio track")
        detail = clean_ffmpeg_line(last_line(stderr), source)
        raise DecodeFailed(
            "The audio could not be decoded" + (f" (ffmpeg: {detail})" if detail else "")
        )
    usable = len(pcm) - len(pcm) % _SAMPLE.itemsize
    if usable == 0:
        raise DecodeFailed("The file contains no audio that could be decoded")
    del pcm[usable:]
    return np.frombuffer(pcm, dtype=_SAMPLE).astype(np.float32, copy=False)


class _TooLong(Exception):
    pass


def _run(argv: list[str], timeout_s: float, max_bytes: int | None) -> tuple[bytearray, str, int]:
    """Run ffmpeg, collecting stdout (at most max_bytes) and the tail of stderr.

    Raises TimeoutError past the deadline and _TooLong past max_bytes; ffmpeg is killed.
    """
    deadline = time.monotonic() + timeout_s
    proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    pcm = bytearray()
    err = bytearray()
    try:
        with selectors.DefaultSelector() as sel:
            # Both pipes at once: a full stderr pipe would otherwise stall ffmpeg forever.
            sel.register(proc.stdout, selectors.EVENT_READ)
            sel.register(proc.stderr, selectors.EVENT_READ)
            while sel.get_map():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                for key, _ in sel.select(timeout=remaining):
                    chunk = os.read(key.fd, _CHUNK)
                    if not chunk:
                        sel.unregister(key.fileobj)
                    elif key.fileobj is proc.stdout:
                        pcm += chunk
                        if max_bytes is not None and len(pcm) > max_bytes:
                            raise _TooLong
                    else:
                        err += chunk
                        del err[:-_STDERR_KEEP]
        try:
            returncode = proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            raise TimeoutError from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    return pcm, err.decode("utf-8", "replace"), returncode
