"""Jobs that fail the way a transcription could: the exception's message quotes the
transcript. Run by a real worker process (test_failed_jobs.py); no arguments, so the
canary is never in the job's own data."""

from __future__ import annotations

CANARY = "canary-7f3e91 the patient said her name is Ada Quill"
CONTROL = "control-2b8c44 the quarterly numbers are bad"


def _quote(text: str) -> None:
    segment = {"text": text}  # a local holding transcript text, as a real job would
    raise ValueError(f"could not align segment: {segment['text']!r}")


def fail_with_canary() -> None:
    try:
        _quote(CANARY)
    except ValueError as e:
        raise RuntimeError(f"alignment failed on {CANARY}") from e


def fail_with_control() -> None:
    _quote(CONTROL)
