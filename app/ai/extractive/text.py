"""Text handling for the extractive summariser: sentences, terms, markdown-safe quoting.

Any language goes through: sentences end at . ! ? and their CJK forms, words are Unicode
\\w runs, and scripts written without spaces (Chinese, Japanese, Thai...) are compared by
character pairs. Stopwords cover English and a few other common languages; the suffix
stripping is English only and leaves other words as they are.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from app.ai.extractive.stopwords import STOPWORDS
from app.ai.provider import Line

# Sentence ends: . ! ? and the ellipsis, then closing quotes or brackets and a space; or
# the CJK full stop and fullwidth ! ?, which need no space after them.
_CLOSERS = "\"'\u201d\u2019)\\]"
_CJK_ENDS = "\u3002\uff01\uff1f"
_SENTENCE_END = re.compile(rf"(?<=[.!?\u2026])[{_CLOSERS}]*\s+|(?<=[{_CJK_ENDS}])\s*")
_ABBREVIATIONS_TEXT = """
    mr mrs ms dr prof sr jr vs etc e.g i.e eg ie approx inc ltd fig
"""
_ABBREVIATIONS = frozenset(_ABBREVIATIONS_TEXT.split())
_TERMINATED = re.compile(rf"[.!?\u2026{_CJK_ENDS}][{_CLOSERS}]*$")
QUESTION_ENDS = ("?", "\uff1f")
_WORD = re.compile(r"\w+(?:['\u2019]\w+)*")
# Scripts written without spaces between words: compared by overlapping character pairs.
_NO_SPACES = re.compile(
    r"[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
)
_SPACES = re.compile(r"\s+")

# Past this many words a sentence is cut into pieces, so that one unpunctuated
# two-minute segment cannot become a "sentence" quoted whole.
MAX_WORDS = 45
# Consecutive short fragments of one speaker are joined up to this length: speech
# recognisers often break a sentence across segments.
JOIN_WORDS = 60
# The same for text without spaces, in characters.
MAX_CHARS = 160
_PAUSES = (",", ";", "\u3001", "\uff0c", "\uff1b", " ")
JOIN_GAP_SECONDS = 2.0


def clean(text: str | None) -> str:
    return _SPACES.sub(" ", text or "").strip()


def split_sentences(text: str) -> list[str]:
    """Sentences of one segment's text (already cleaned)."""
    if not text:
        return []
    parts: list[str] = []
    pending = ""
    pos = 0
    for match in _SENTENCE_END.finditer(text):
        piece = text[pos : match.start()] + match.group(0).rstrip()
        pos = match.end()
        pending = f"{pending} {piece}".strip() if pending else piece.strip()
        last = pending.rsplit(" ", 1)[-1].rstrip(".").lower()
        if last in _ABBREVIATIONS or (len(last) == 1 and last.isalpha()):
            continue  # "Dr. Smith", "J. Doe": not a sentence end
        if pending:
            parts.append(pending)
        pending = ""
    tail = text[pos:].strip()
    if tail:
        pending = f"{pending} {tail}".strip() if pending else tail
    if pending:
        parts.append(pending)
    out: list[str] = []
    for part in parts:
        out.extend(_cut_long(part))
    return out


def _cut_long(sentence: str) -> list[str]:
    tokens = sentence.split(" ")
    if len(tokens) * 12 < len(sentence) and len(sentence) > MAX_CHARS:
        return _cut_chars(sentence)  # hardly a space: a script that uses none
    if len(tokens) <= MAX_WORDS:
        return [sentence]
    pieces: list[str] = []
    current: list[str] = []
    for word in tokens:
        current.append(word)
        # Prefer cutting after a comma or semicolon once the piece is long enough.
        at_pause = word.endswith((",", ";", ":")) and len(current) >= MAX_WORDS // 2
        if at_pause or len(current) >= MAX_WORDS:
            pieces.append(" ".join(current))
            current = []
    if current:
        if pieces and len(current) < 6:
            pieces[-1] = f"{pieces[-1]} {' '.join(current)}"
        else:
            pieces.append(" ".join(current))
    return pieces


def _cut_chars(text: str) -> list[str]:
    """Pieces of a long run without spaces (Chinese, Japanese and Thai speech is often
    transcribed with no punctuation at all), cut after a pause mark where there is one."""
    pieces = []
    while len(text) > MAX_CHARS:
        half = MAX_CHARS // 2
        pause = max(text.rfind(mark, half, MAX_CHARS) for mark in _PAUSES)
        cut = pause + 1 if pause > 0 else MAX_CHARS
        pieces.append(text[:cut].strip())
        text = text[cut:].strip()
    if text:
        pieces.append(text)
    return pieces


def size(text: str) -> int:
    """Length in words; in scripts without spaces, one word per two characters."""
    return len(text.split()) + len(_NO_SPACES.findall(text)) // 2


def words(text: str) -> list[str]:
    """Lower-cased word tokens, apostrophes normalised."""
    return [w.replace("\u2019", "'") for w in _WORD.findall(text.lower())]


def stem(word: str) -> str:
    """A light English suffix stripper, so that price/prices/pricing meet. Leaves other
    languages alone."""
    if not word.isascii() or len(word) <= 3:
        return word
    if word.endswith("'s"):
        word = word[:-2]
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        word = word[:-1]
    if word.endswith("ing") and len(word) > 5:
        word = word[:-3]
    elif word.endswith("ed") and len(word) > 4:
        word = word[:-2]
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouls":
        word = word[:-1]  # "planned" -> "plann" -> "plan"
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    return word


def terms(text: str) -> list[str]:
    """The content terms of `text`, in order: stemmed words that are not stopwords, and
    character pairs for scripts without spaces."""
    out: list[str] = []
    for word in words(text):
        if _NO_SPACES.search(word):
            out.extend(_pairs(word))
            continue
        if word in STOPWORDS or len(word) < 2:
            continue
        out.append(stem(word))
    return out


def _pairs(word: str) -> list[str]:
    # Runs of spaceless script become overlapping pairs; other characters in the token
    # (digits, Latin) stay as they are.
    out: list[str] = []
    for run in re.findall(r"[^\W\d_]+|\d+", word):
        if _NO_SPACES.search(run):
            out.extend(run[i : i + 2] for i in range(max(1, len(run) - 1)))
        elif len(run) > 1 and run not in STOPWORDS:
            out.append(stem(run))
    return out


def surface_forms(text: str) -> list[tuple[str, str | None]]:
    """Each word of `text` as written, with its term (None for stopwords and words of
    scripts without spaces): for showing terms to people as they were said."""
    out: list[tuple[str, str | None]] = []
    for said in _WORD.findall(text):
        word = said.lower().replace("\u2019", "'")
        skip = _NO_SPACES.search(word) or word in STOPWORDS or len(word) < 2 or word.isdigit()
        out.append((said, None if skip else stem(word)))
    return out


@dataclass
class Unit:
    """A sentence (or a piece of a long one) and the line it starts in, which is what
    quoting it cites."""

    index: int
    line: Line
    text: str
    terms: list[str] = field(default_factory=list)
    words: int = 0
    end: float = 0.0  # when the last line it spans ends

    @property
    def label(self) -> str:
        return self.line.label

    @property
    def speaker(self) -> str:
        return self.line.speaker or ""

    @property
    def start(self) -> float:
        return self.line.start


def units(lines: Sequence[Line]) -> list[Unit]:
    """The transcript as sentences, in order. Blank lines contribute nothing."""
    out: list[Unit] = []
    previous: Line | None = None
    for line in lines:
        text = clean(line.text)
        if not text:
            continue
        for i, sentence in enumerate(split_sentences(text)):
            n = size(sentence)
            last = out[-1] if out else None
            if (
                i == 0
                and last is not None
                and previous is not None
                and (previous.speaker or "") == (line.speaker or "")
                and not _TERMINATED.search(last.text)
                and last.words + n <= JOIN_WORDS
                and line.start - previous.end <= JOIN_GAP_SECONDS
            ):
                last.text = f"{last.text} {sentence}"
                last.words += n
                last.end = max(last.end, line.end)
                continue
            out.append(Unit(len(out), line, sentence, words=n, end=line.end))
        previous = line
    for unit in out:
        unit.terms = terms(unit.text)
    return out


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")
_BLOCK_START = re.compile(r"^(#{1,6}\s|[>+\-=]|\d+[.)]\s)")


def md(text: str) -> str:
    """Transcript text as markdown that shows exactly that text: no emphasis, links or
    citation look-alikes ("[12:34]" in what someone said is not a citation)."""
    text = _MD_SPECIAL.sub(r"\\\1", clean(text))
    if _BLOCK_START.match(text):
        text = "\\" + text
    return text


def join_names(names: Sequence[str]) -> str:
    names = [n for n in names if n]
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def duration_words(seconds: float) -> str:
    total = round(max(0.0, seconds))
    h, m, s = total // 3600, total % 3600 // 60, total % 60
    if h:
        return f"{h} h {m:02d} min"
    if m:
        return f"{m} min" if m >= 10 or not s else f"{m} min {s:02d} s"
    return f"{s} s"
