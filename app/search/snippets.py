"""From a backend's highlighted text (markers around matched words) to what a person sees:
a short window around the first match, HTML-escaped, matches in <mark>, and the moment of
the recording where the first match was said."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

from app.search.documents import MARK_END, MARK_START

WINDOW = 220  # characters of a snippet
LEAD = 70  # of which before the first match


@dataclass(frozen=True)
class Snippet:
    text: str
    matches: tuple[tuple[int, int], ...]  # [start, end) character ranges of `text`

    @property
    def html(self) -> Markup:
        out: list[str] = []
        at = 0
        for start, end in self.matches:
            out.append(escape(self.text[at:start]))
            out.append(Markup("<mark>%s</mark>") % self.text[start:end])
            at = end
        out.append(escape(self.text[at:]))
        return Markup("").join(out)


def unmark(marked: str) -> tuple[str, tuple[tuple[int, int], ...]]:
    """Plain text and the ranges the markers enclosed (an unclosed one runs to the end)."""
    plain: list[str] = []
    ranges: list[tuple[int, int]] = []
    length = 0
    opened: int | None = None
    for char in marked:
        if char == MARK_START:
            opened = length if opened is None else opened
        elif char == MARK_END:
            if opened is not None and length > opened:
                ranges.append((opened, length))
            opened = None
        else:
            plain.append(char)
            length += 1
    if opened is not None and length > opened:
        ranges.append((opened, length))
    return "".join(plain), tuple(_merged(ranges))


def _merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(end, out[-1][1]))
        else:
            out.append((start, end))
    return out


def whole(marked: str) -> Snippet:
    text, ranges = unmark(marked)
    return Snippet(text, ranges)


def around_first_match(marked: str) -> tuple[Snippet, int | None]:
    """A window of the text around its first match, and that match's offset in the full
    text (None when only the title matched: the snippet is then the beginning)."""
    text, ranges = unmark(marked)
    first = ranges[0][0] if ranges else None
    if len(text) <= WINDOW:
        return Snippet(text, ranges), first
    start = 0 if first is None else max(0, first - LEAD)
    if start:
        space = text.rfind(" ", 0, start + 1)
        start = space + 1 if space > first - LEAD - 20 else start  # type: ignore[operator]
    end = min(len(text), start + WINDOW)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start + WINDOW // 2 else end
    lead = "… " if start else ""
    tail = " …" if end < len(text) else ""
    shift = len(lead) - start
    inside = tuple(
        (max(a, start) + shift, min(b, end) + shift) for a, b in ranges if b > start and a < end
    )
    return Snippet(lead + text[start:end] + tail, inside), first


def moment(marks: tuple[tuple[int, float], ...], offset: int | None, fallback: float) -> float:
    """When the words at `offset` of a chunk's text were said: the start of their segment."""
    if offset is None or not marks:
        return fallback
    when = marks[0][1]
    for at, seconds in marks:
        if at > offset:
            break
        when = seconds
    return when
