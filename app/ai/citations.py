"""Timestamp citations: how lines are labelled for a provider, and how the labels in what
it wrote are checked against the real segments.

A label is "[12:34]" (or "[1:02:03]" past the hour) inside one transcript, and
"[T2 12:34]" across a workspace, T2 naming one of the answer's sources. A model copies
labels from its context, so a valid citation names the second a segment starts in; one
that names no segment (an invented time, an unknown source) is kept as plain text and
marked invalid, never turned into a link.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from app.ai.provider import Line, Source

# [12:34], [1:02:03], [T2 12:34]; also tolerates "T2, 12:34" and "T2 @ 12:34".
CITATION = re.compile(r"\[(?:(T\d{1,3})[\s,@]+)?((?:\d{1,2}:)?\d{1,2}:\d{2})\]")
# How far past a segment's end a cited second may lie and still mean that segment: models
# round, and a label names the whole second its segment starts in.
SLACK_SECONDS = 1.0


def stamp(seconds: float) -> str:
    total = int(max(0.0, seconds))
    h, m, s = total // 3600, total % 3600 // 60, total % 60
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def label(seconds: float, source: str = "") -> str:
    return f"[{source} {stamp(seconds)}]" if source else f"[{stamp(seconds)}]"


def seconds_of(text: str) -> int:
    total = 0
    for part in text.split(":"):
        total = total * 60 + int(part)
    return total


@dataclass(frozen=True)
class Citation:
    label: str  # as written, brackets included
    valid: bool
    source: str = ""
    transcript_id: str = ""
    start: float = 0.0  # the cited segment's start (where a link opens)
    position: int = -1

    def as_json(self) -> dict:
        return {
            "label": self.label,
            "valid": self.valid,
            "source": self.source,
            "transcript_id": self.transcript_id,
            "start": self.start,
            "position": self.position,
        }


class _Timeline:
    def __init__(self, lines: Sequence[Line]) -> None:
        self.lines = sorted(lines, key=lambda ln: ln.start)
        self.starts = [ln.start for ln in self.lines]

    def at(self, second: int) -> Line | None:
        """The segment that second falls in (a label names its start's whole second)."""
        i = bisect.bisect_right(self.starts, second + 0.999) - 1
        for j in (i, i - 1):
            if 0 <= j < len(self.lines):
                ln = self.lines[j]
                if ln.start - 0.001 <= second + 0.999 and second <= ln.end + SLACK_SECONDS:
                    return ln
        return None


class Resolver:
    """Checks citations against the lines an answer was given (per source)."""

    def __init__(self, sources: Iterable[Source], *, own_transcript_id: str = "") -> None:
        self.timelines: dict[str, _Timeline] = {}
        self.ids: dict[str, str] = {}
        for src in sources:
            self.timelines[src.key] = _Timeline(src.lines)
            self.ids[src.key] = src.transcript_id or own_transcript_id

    @classmethod
    def for_transcript(cls, transcript_id: str, lines: Sequence[Line]) -> Resolver:
        return cls([Source("", transcript_id, "", "", tuple(lines))])

    def resolve(self, match: re.Match[str]) -> Citation:
        source, time = match.group(1) or "", match.group(2)
        timeline = self.timelines.get(source)
        if timeline is None and not source and len(self.timelines) == 1:
            # One source and the model left its key out: there is only one it can mean.
            source = next(iter(self.timelines))
            timeline = self.timelines[source]
        line = timeline.at(seconds_of(time)) if timeline else None
        if line is None:
            return Citation(match.group(0), False, source)
        return Citation(match.group(0), True, source, self.ids[source], line.start, line.position)

    def check(self, text: str) -> list[Citation]:
        """Every citation in `text`, in order, each checked."""
        return [self.resolve(m) for m in CITATION.finditer(text)]
