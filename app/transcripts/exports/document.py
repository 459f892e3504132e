"""What an exporter reads: one transcript as plain, cleaned data, detached from the database.

Text is cleaned once here, so no format has to: whitespace runs (newlines included) become
one space, and characters no document format can carry (control characters, lone
surrogates, XML's forbidden code points) are dropped. AI summaries are markdown, so they
keep their lines (clean_lines).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from typing import Any, NamedTuple

from app.transcripts.words import joiner

_UNFIT = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
RTL_LANGUAGES = frozenset({"ar", "he", "fa", "ur", "ps", "yi", "dv", "ug", "sd", "ckb", "iw"})


def clean(text: str | None) -> str:
    """One line of text fit for every format."""
    if not text:
        return ""
    if isinstance(text, str) and text.isprintable() and "  " not in text:
        # The common case, checked in C: no control, separator or unassigned characters
        # other than single ASCII spaces (only the ends are left to strip).
        return text.strip(" ")
    return _UNFIT.sub("", " ".join(str(text).split()))


def clean_lines(text: str | None) -> str:
    """Text of several lines (markdown) fit for every format: each line cleaned as by
    clean() but for its indentation, which nests markdown lists; no more than one blank
    line in a row, none at the ends."""
    lines: list[str] = []
    for raw in (text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = _UNFIT.sub("", raw.replace("\t", "    ").rstrip())
        body = line.lstrip(" ")
        if body:
            lines.append(line[: len(line) - len(body)] + clean(body))
        elif lines and lines[-1]:
            lines.append("")
    return "\n".join(lines).strip("\n")


def is_rtl(text: str) -> bool:
    """Whether text reads right to left: its first strong character does."""
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL"):
            return True
        if kind == "L":
            return False
    return False


class Word(NamedTuple):
    text: str
    start: float
    end: float
    probability: float | None


@dataclass(frozen=True, slots=True)
class Segment:
    start: float
    end: float
    text: str
    speaker: str | None  # the engine's label; names are in ExportDocument.speakers
    words: tuple[Word, ...] = ()


@dataclass(frozen=True, slots=True)
class Speaker:
    label: str
    name: str


@dataclass(frozen=True, slots=True)
class Summary:
    """An AI summary exported with the transcript (the `summaries` option)."""

    template: str  # "overview", or "custom:<id>" for a workspace's own template
    title: str
    text: str  # markdown, as the model (or the extractive provider) wrote it
    made_by: str  # "Extractive (no language model)", "OpenAI-compatible · gpt-4o-mini"
    provider: str
    model: str
    revision: int  # the transcript revision it read
    stale: bool  # the transcript changed since
    finished_at: datetime | None = None


@dataclass(frozen=True)
class ExportDocument:
    id: str
    title: str
    language: str | None
    duration: float
    segments: tuple[Segment, ...]
    speakers: tuple[Speaker, ...] = ()
    created_at: datetime | None = None
    engine: str = ""
    model: str = ""
    revision: int = 1
    summaries: tuple[Summary, ...] = ()
    _names: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._names.update((s.label, s.name) for s in self.speakers)

    @property
    def joiner(self) -> str:
        """What goes between words: nothing in Chinese, Japanese, Thai..., else a space."""
        return joiner(self.language)

    def speaker_name(self, label: str | None) -> str | None:
        """The name people gave the speaker, else the engine's label; None without one."""
        if not label:
            return None
        # Names from the database are already tidy; a document built by hand may not be.
        return (self._names.get(label) or "").strip() or label.strip() or None

    @cached_property
    def characters(self) -> frozenset[str]:
        """Every character the document shows (fonts are chosen from these)."""
        parts = [self.title, *self._names.values(), *(s.text for s in self.segments)]
        parts += (f"{s.title}{s.made_by}{s.text}" for s in self.summaries)
        return frozenset("".join(parts))


def _number(value: Any, default: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def _word(item: Any) -> Word | None:
    if not isinstance(item, list | tuple) or len(item) < 3:
        return None
    text = clean(item[0])
    start = _number(item[1], math.nan)
    end = _number(item[2], math.nan)
    if not text or math.isnan(start) or math.isnan(end):
        return None
    probability = _number(item[3], math.nan) if len(item) > 3 else math.nan
    return Word(text, start, max(start, end), None if math.isnan(probability) else probability)


_FLOAT = (float, int)


def _words(raw: Iterable[Any] | None) -> tuple[Word, ...]:
    """Words stored compactly as [text, start, end, probability]. Anything malformed is
    skipped: the segment's text still says what was said."""
    words = []
    for item in raw or ():
        # The usual well-formed word takes the short way (30,000 of them in three hours).
        if (
            type(item) is list
            and len(item) == 4
            and type(item[1]) in _FLOAT
            and type(item[2]) in _FLOAT
            and (item[3] is None or type(item[3]) in _FLOAT)
            and math.isfinite(item[1] + item[2] + (item[3] or 0))
            and item[2] >= item[1]
        ):
            text = clean(item[0]) if type(item[0]) is str else ""
            if text:
                words.append(Word(text, item[1], item[2], item[3]))
                continue
        word = _word(item)
        if word is not None:
            words.append(word)
    return tuple(words)


def build(
    *,
    transcript_id: Any,
    title: str,
    language: str | None,
    duration: float,
    segments: Iterable[Sequence[Any]],
    speakers: Mapping[str, str],
    created_at: datetime | None = None,
    engine: str = "",
    model: str = "",
    revision: int = 1,
    summaries: Iterable[Summary] = (),
) -> ExportDocument:
    """A document from stored rows: segments as (start, end, text, speaker, words)."""
    built = []
    for start, end, text, speaker, words in segments:
        s = max(0.0, _number(start, 0.0))
        built.append(
            Segment(s, max(s, _number(end, s)), clean(text), speaker or None, _words(words))
        )
    return ExportDocument(
        id=str(transcript_id),
        title=clean(title) or "Untitled transcript",
        language=language,
        duration=max(0.0, _number(duration, 0.0)),
        segments=tuple(built),
        speakers=tuple(Speaker(label, clean(name) or label) for label, name in speakers.items()),
        created_at=created_at,
        engine=engine,
        model=model,
        revision=revision,
        summaries=tuple(
            replace(s, title=clean(s.title), text=clean_lines(s.text), made_by=clean(s.made_by))
            for s in summaries
        ),
    )
