"""Subtitles (SRT and WebVTT) that follow common readability rules.

- at most 2 lines of at most 42 columns per cue (the speaker's "Name: " included); a wide
  character (Chinese, Japanese, Korean) takes two columns, as it does on screen, so such a
  line holds at most 21 of them;
- at most 7 seconds per cue, at least half a second; cues in time order, never overlapping;
- a long segment is split between words, timed by the words' own timings where they still
  match the text, else by interpolating over the segment in proportion to length;
- a cue ends at a silence, and at a sentence's end once it holds a line's worth of text;
- speaker names: SRT prefixes "Name: " when the speaker changes; WebVTT tags every cue
  with a voice span (<v Name>), which players show or style as they like.

Chinese, Japanese and the other languages written without spaces are split between
characters when no word timings fit (app.transcripts.words.joiner).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from app.transcripts.exports.document import ExportDocument, Segment
from app.transcripts.exports.options import ExportOptions

MAX_CHARS = 42
MAX_CUE_MS = 7000
MIN_CUE_MS = 500
PAUSE_S = 1.5  # a silence this long between words ends a cue
FILL = 30  # a sentence's end closes a cue that holds at least this many characters
NAME_MAX = 20  # a longer speaker name is shortened in an SRT prefix
# Full-width punctuation on purpose: Chinese and Japanese sentences end with it.
SENTENCE_END = frozenset(".?!…。？！")  # noqa: RUF001
BREAK_AFTER = frozenset(",;:.?!…，、；：。？！")  # noqa: RUF001
CLOSERS = "\"'”’)]}»」』）"  # noqa: RUF001
# Runs kept whole in text written without spaces: Latin, Greek and Cyrillic words, numbers.
_NO_SPACE_PIECE = re.compile(r"(\s*)([0-9A-Za-z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff'’-]+|\S)")  # noqa: RUF001


def columns(text: str) -> int:
    """How wide text shows: two columns for each wide (East Asian) character."""
    if text.isascii():
        return len(text)
    return len(text) + sum(1 for c in text if unicodedata.east_asian_width(c) in "WF")


@dataclass(slots=True)
class Token:
    text: str
    start: float
    end: float
    sep: str  # what goes before it when it is not first on a line: " " or ""
    width: int = -1  # columns; computed when not given

    def __post_init__(self) -> None:
        if self.width < 0:
            self.width = columns(self.text)


@dataclass(slots=True)
class Cue:
    start: int  # milliseconds
    end: int
    lines: list[str]
    voice: str | None  # the speaker's name, for a WebVTT voice span


# --- tokens ----------------------------------------------------------------------------------


def _pieces(text: str, sep: str) -> list[tuple[str, str]]:
    """(separator, piece) pairs of a segment's text."""
    if sep:
        return [(sep, word) for word in text.split()]
    pieces: list[tuple[str, str]] = []
    opener = ""
    for match in _NO_SPACE_PIECE.finditer(text):
        space, piece = match.groups()
        kind = unicodedata.category(piece[0])
        if kind in ("Ps", "Pi"):  # an opening bracket or quote stays with what follows
            opener += piece
            continue
        if pieces and not space and not opener and kind.startswith("P"):
            pieces[-1] = (pieces[-1][0], pieces[-1][1] + piece)  # ... and closing ones behind
            continue
        pieces.append((" " if space else "", opener + piece))
        opener = ""
    if opener:
        pieces.append(("", opener))
    return pieces


def _word_tokens(segment: Segment, sep: str) -> list[Token] | None:
    """Tokens timed by the segment's words, if the words still spell its text."""
    words = segment.words
    if not words:
        return None
    if sep:
        same = sep.join(w.text for w in words) == segment.text
    else:
        same = "".join(w.text for w in words) == "".join(segment.text.split())
    if not same:  # edited since it was transcribed: the words' timings no longer fit
        return None
    return [Token(w.text, w.start, w.end, sep) for w in words]


def _interpolated(segment: Segment, sep: str) -> list[Token]:
    pieces = _pieces(segment.text, sep)
    total = sum(len(p) + 1 for _, p in pieces)
    span = segment.end - segment.start
    tokens, done = [], 0
    for space, piece in pieces:
        start = segment.start + span * done / total
        done += len(piece) + 1
        tokens.append(Token(piece, start, segment.start + span * done / total, space))
    return tokens


def _chunks(text: str, width: int) -> list[str]:
    """text in nearly equal parts of at most MAX_CHARS columns; a combining mark stays with
    its base unless that would overflow the line."""
    limit = -(-width // -(-width // MAX_CHARS))
    parts: list[str] = []
    part: list[str] = []
    cols = 0
    for char in text:
        w = 2 if unicodedata.east_asian_width(char) in "WF" else 1
        over = cols + w > limit and not unicodedata.combining(char)
        if part and (over or cols + w > MAX_CHARS):
            parts.append("".join(part))
            part, cols = [], 0
        part.append(char)
        cols += w
    parts.append("".join(part))
    return parts


def _fit_width(tokens: list[Token]) -> list[Token]:
    """Split a token wider than a line (a URL, or unspaced text) into line-sized parts."""
    out: list[Token] = []
    for tok in tokens:
        if tok.width <= MAX_CHARS:
            out.append(tok)
            continue
        span, done, size = tok.end - tok.start, 0, len(tok.text)
        for i, part in enumerate(_chunks(tok.text, tok.width)):
            start = tok.start + span * done / size
            done += len(part)
            out.append(Token(part, start, tok.start + span * done / size, "" if i else tok.sep))
    return out


def tokens(segment: Segment, sep: str) -> list[Token]:
    return _fit_width(_word_tokens(segment, sep) or _interpolated(segment, sep))


# --- lines -----------------------------------------------------------------------------------


class _Run:
    """The tokens of the cue being built, with running widths (P[i]: characters of the
    first i tokens, separators included) so each check is linear in the cue's length."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.tokens: list[Token] = []
        self.widths = [0]
        self.start = 0.0
        self.end = 0.0

    def width(self, a: int, b: int) -> int:
        return self.widths[b] - self.widths[a] - len(self.tokens[a].sep)

    def push(self, tok: Token) -> None:
        if not self.tokens:
            self.start, self.end = tok.start, tok.end
        else:
            self.start, self.end = min(self.start, tok.start), max(self.end, tok.end)
        self.tokens.append(tok)
        self.widths.append(self.widths[-1] + len(tok.sep) + tok.width)

    def pop(self, start: float, end: float) -> None:
        self.tokens.pop()
        self.widths.pop()
        self.start, self.end = start, end

    def breaks(self) -> list[int]:
        """Where the cue may break into two lines: k tokens on the first line."""
        n, plen = len(self.tokens), columns(self.prefix)
        found = []
        for k in range(0 if self.prefix else 1, n):
            first = plen - 1 if k == 0 else plen + self.width(0, k)
            if first > MAX_CHARS:
                break
            if self.width(k, n) <= MAX_CHARS:
                found.append(k)
        return found

    def fits(self) -> bool:
        return columns(self.prefix) + self.width(0, len(self.tokens)) <= MAX_CHARS or bool(
            self.breaks()
        )

    def text(self, a: int, b: int) -> str:
        toks = self.tokens[a:b]
        return toks[0].text + "".join(t.sep + t.text for t in toks[1:]) if toks else ""

    def lines(self) -> list[str]:
        n, plen = len(self.tokens), columns(self.prefix)
        if plen + self.width(0, n) <= MAX_CHARS:
            return [self.prefix + self.text(0, n)]

        def score(k: int) -> int:
            first = plen + (self.width(0, k) if k else 0)
            after_punctuation = k > 0 and self.tokens[k - 1].text[-1] in BREAK_AFTER
            return abs(first - self.width(k, n)) - (8 if after_punctuation else 0)

        k = min(self.breaks(), key=score)
        first = self.prefix + self.text(0, k) if k else self.prefix.rstrip()
        return [first, self.text(k, n)]


# --- cues ------------------------------------------------------------------------------------


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def _short(name: str) -> str:
    return name if len(name) <= NAME_MAX else name[: NAME_MAX - 1].rstrip() + "…"


def _ends_sentence(text: str) -> bool:
    stripped = text.rstrip(CLOSERS)
    return bool(stripped) and stripped[-1] in SENTENCE_END


def build_cues(doc: ExportDocument, options: ExportOptions, *, voices: bool) -> list[Cue]:
    """Cues of the whole document. `voices`: names go in Cue.voice (WebVTT) instead of a
    "Name: " prefix on the first cue of each speaker's turn (SRT)."""
    sep = doc.joiner
    cues: list[Cue] = []
    last_name: list[str | None] = [None]

    def emit(run: _Run, name: str | None) -> None:
        if run.tokens:
            cues.append(Cue(_ms(run.start), _ms(run.end), run.lines(), name if voices else None))
            last_name[0] = name

    def new_run(name: str | None) -> _Run:
        prefix = f"{_short(name)}: " if name and not voices and name != last_name[0] else ""
        return _Run(prefix)

    for segment in sorted(doc.segments, key=lambda s: s.start):
        if not segment.text:
            continue
        name = doc.speaker_name(segment.speaker) if options.speakers else None
        run = new_run(name)
        for tok in tokens(segment, sep):
            if not run.tokens:
                run.push(tok)
                continue
            start, end = run.start, run.end
            pause = tok.start - end > PAUSE_S
            run.push(tok)
            if pause or (run.end - run.start) * 1000 > MAX_CUE_MS or not run.fits():
                run.pop(start, end)
                emit(run, name)
                run = new_run(name)
                run.push(tok)
            elif _ends_sentence(tok.text) and run.width(0, len(run.tokens)) >= FILL:
                emit(run, name)
                run = new_run(name)
        emit(run, name)
    return _retime(cues)


def _retime(cues: list[Cue]) -> list[Cue]:
    """Time order, no overlaps, durations within [MIN_CUE_MS, MAX_CUE_MS].

    An overlap is resolved by ending the earlier cue where the later one starts, unless
    that leaves it too short to read; then the later one starts when the earlier ends.
    """
    cues.sort(key=lambda c: c.start)
    previous: Cue | None = None
    for cue in cues:
        if previous is not None and cue.start < previous.end:
            if cue.start - previous.start >= MIN_CUE_MS:
                previous.end = cue.start
            else:
                cue.start = previous.end
        cue.end = min(max(cue.end, cue.start + MIN_CUE_MS), cue.start + MAX_CUE_MS)
        previous = cue
    return cues


# --- formats ---------------------------------------------------------------------------------


def _stamp(ms: int, dot: str) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{dot}{millis:03d}"


def _render(cues: list[Cue], head: str, cue_text: Callable[[Cue], str], dot: str) -> bytes:
    parts = [head] if head else []
    for number, cue in enumerate(cues, 1):
        ident = f"{number}\n" if not head else ""
        times = f"{_stamp(cue.start, dot)} --> {_stamp(cue.end, dot)}"
        parts.append(f"{ident}{times}\n{cue_text(cue)}\n")
    return "\n".join(parts).encode()


def render_srt(doc: ExportDocument, options: ExportOptions) -> bytes:
    # "-->" inside a line would read as a timing line to some players.
    return _render(
        build_cues(doc, options, voices=False),
        "",
        lambda cue: "\n".join(line.replace("-->", "->") for line in cue.lines),
        ",",
    )


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _vtt_text(cue: Cue) -> str:
    text = "\n".join(_vtt_escape(line) for line in cue.lines)
    return f"<v {_vtt_escape(cue.voice)}>{text}" if cue.voice else text


def render_vtt(doc: ExportDocument, options: ExportOptions) -> bytes:
    return _render(build_cues(doc, options, voices=True), "WEBVTT\n", _vtt_text, ".")
