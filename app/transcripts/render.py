"""The words of a segment as HTML, built in Python: the hot loop of the transcript page;
and the time formats the pages show.

A 3-hour transcript has ~30k words; Jinja's per-iteration overhead (a call per filter, an
escape per attribute) made the page ten times slower than serialising it as JSON. Here a
word costs one f-string and one escape.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any

from markupsafe import Markup


def words_html(words: Sequence[Sequence[Any]], joiner: str, low: float) -> Markup:
    """span.w per word: data-start/data-end (seconds, 2 decimals), data-i (index), data-p
    (probability, when known) and class "low" under the `low` threshold."""
    parts = []
    for i, (text, start, end, probability) in enumerate(words):
        # Times are empty where the engine could not place a word (e.g. an unaligned number).
        times = f'data-start="{seconds(start)}" data-end="{seconds(end)}" data-i="{i}"'
        if probability is None:
            parts.append(f'<span class="w" {times}>{escape(text, quote=False)}</span>')
        else:
            css = "w low" if probability < low else "w"
            parts.append(
                f'<span class="{css}" {times} data-p="{probability:.2f}">'
                f"{escape(text, quote=False)}</span>"
            )
    return Markup(joiner.join(parts))  # noqa: S704 - every piece of text is escaped above


def stamp(value: float | None) -> str:
    """A position in the recording as mm:ss (h:mm:ss past the first hour)."""
    total = max(0, math.floor(value or 0))
    if total >= 3600:
        return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"
    return f"{total // 60:02d}:{total % 60:02d}"


def seconds(value: float | None) -> str:
    """A time for a data-* attribute (two decimals), empty when the engine gave none."""
    return "" if value is None else f"{value:.2f}"
