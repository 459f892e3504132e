"""Words in a segment: how they join into text, and how edited text splits back into words.

Whisper writes most languages with spaces between words; Chinese, Japanese, Thai, Lao,
Burmese and Khmer without. Engines hand words over stripped, so the joiner comes from the
transcript's language.

A word is stored as [text, start, end, probability]. When a person edits a segment's text,
the new text is cut into tokens and aligned with the old words (difflib): a word that is
still there keeps its timing and probability, a changed word keeps the timing of the word it
replaced, and new words get times interpolated between their neighbours. A word a person
typed has no probability (None): nobody has to review it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

NO_SPACE_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "my", "km", "yue", "bo"})

# Scripts written without spaces between words: each character is a token of its own.
# Runs of anything else (Latin letters, digits) stay one token, as in "用iPhone拍".
_NO_SPACE_CHAR = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u0f00-\u0fff"  # Tibetan
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff"  # Khmer
    "\u3000-\u303f"  # CJK punctuation
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u31f0-\u31ff"
    "\u3400-\u4dbf"  # CJK ideographs
    "\u4e00-\u9fff"
    "\uac00-\ud7af"  # Hangul syllables (Korean has spaces, but a stray one is one token)
    "\uf900-\ufaff"
    "\uff00-\uffef"  # full-width forms
    "\U00020000-\U0003134f"
)
_NO_SPACE_TOKEN = re.compile(rf"[{_NO_SPACE_CHAR}]|[^\s{_NO_SPACE_CHAR}]+")
_SPACED_TOKEN = re.compile(r"\S+")

Word = list  # [text, start | None, end | None, probability | None]


def _base(language: str | None) -> str:
    return (language or "").split("-", 1)[0].lower()


def spaced(language: str | None) -> bool:
    return _base(language) not in NO_SPACE_LANGUAGES


def joiner(language: str | None) -> str:
    return " " if spaced(language) else ""


def token_spans(text: str, language: str | None) -> list[tuple[int, int]]:
    """Where each token of `text` is: (start, end) character offsets, in order."""
    pattern = _SPACED_TOKEN if spaced(language) else _NO_SPACE_TOKEN
    return [m.span() for m in pattern.finditer(text)]


def tokenize(text: str, language: str | None) -> list[str]:
    return [text[a:b] for a, b in token_spans(text, language)]


def _mark(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "PS"  # punctuation and symbols


def edges(token: str) -> tuple[str, str, str]:
    """A token as (leading punctuation, the word, trailing punctuation)."""
    a, b = 0, len(token)
    while a < b and _mark(token[a]):
        a += 1
    while b > a and _mark(token[b - 1]):
        b -= 1
    return token[:a], token[a:b], token[b:]


def normal(token: str) -> str:
    """What makes two words "the same word": case and surrounding punctuation aside."""
    core = edges(token)[1]
    return (core or token).casefold()


# --- editing text ------------------------------------------------------------------------


@dataclass
class _Atom:
    """One token of the old words, with the share of its word's time it stands for."""

    text: str
    word: int
    start: float | None
    end: float | None


def _atoms(old: Sequence[Word], language: str | None) -> list[_Atom]:
    atoms: list[_Atom] = []
    for i, w in enumerate(old):
        parts = tokenize(str(w[0]), language) or [str(w[0])]
        start, end = _time(w, 1), _time(w, 2)
        step = (end - start) / len(parts) if start is not None and end is not None else None
        for k, part in enumerate(parts):
            if step is None:
                atoms.append(_Atom(part, i, None, None))
            else:
                atoms.append(_Atom(part, i, start + k * step, start + (k + 1) * step))  # type: ignore[operator]
    return atoms


def _time(w: Word, i: int) -> float | None:
    value = w[i] if len(w) > i else None
    return float(value) if isinstance(value, int | float) else None


def rewords(
    old: Sequence[Word], text: str, language: str | None, start: float, end: float
) -> list[Word]:
    """Words for `text`, a new version of the text `old` was the words of.

    Unchanged words come back exactly as they were; the result's times are ordered and lie
    within [start, end].
    """
    spans = token_spans(text, language)
    new = [text[a:b] for a, b in spans]
    atoms = _atoms(old, language)
    matcher = SequenceMatcher(
        None, [normal(a.text) for a in atoms], [normal(t) for t in new], autojunk=False
    )
    source: list[int | None] = [None] * len(new)  # the old atom each new token matched
    window: list[tuple[float | None, float | None]] = [(None, None)] * len(new)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for k in range(j2 - j1):
                source[j1 + k] = i1 + k
        elif tag == "replace":
            # The new tokens share the time the replaced ones took.
            starts = [a.start for a in atoms[i1:i2] if a.start is not None]
            ends = [a.end for a in atoms[i1:i2] if a.end is not None]
            if starts and ends:
                _share(window, spans, j1, j2, min(starts), max(ends))
    out: list[Word] = []
    j = 0
    while j < len(new):
        kept = _kept_word(old, atoms, source, new, j)
        if kept:
            w, n = kept
            out.append([text[spans[j][0] : spans[j + n - 1][1]], _time(w, 1), _time(w, 2), w[3]])
            j += n
            continue
        i = source[j]
        if i is not None:
            out.append([new[j], atoms[i].start, atoms[i].end, None])
        else:
            out.append([new[j], window[j][0], window[j][1], None])
        j += 1
    return settle(out, start, end)


def _kept_word(
    old: Sequence[Word], atoms: list[_Atom], source: list[int | None], new: list[str], j: int
) -> tuple[Word, int] | None:
    """The old word that new tokens j, j+1, ... still spell exactly, and how many tokens."""
    i = source[j]
    if i is None or (i > 0 and atoms[i - 1].word == atoms[i].word):
        return None  # unmatched, or matched to the middle of a word
    word = atoms[i].word
    n = 0
    while i + n < len(atoms) and atoms[i + n].word == word:
        if j + n >= len(new) or source[j + n] != i + n or atoms[i + n].text != new[j + n]:
            return None
        n += 1
    return old[word], n


def _share(
    window: list[tuple[float | None, float | None]],
    spans: list[tuple[int, int]],
    j1: int,
    j2: int,
    t0: float,
    t1: float,
) -> None:
    lengths = [max(1, b - a) for a, b in spans[j1:j2]]
    total = sum(lengths)
    at = t0
    for k, length in enumerate(lengths):
        step = (t1 - t0) * length / total
        window[j1 + k] = (round(at, 3), round(at + step, 3))
        at += step


def settle(words: list[Word], start: float, end: float) -> list[Word]:
    """Give untimed words times between their neighbours, then make every time ordered and
    inside [start, end] (a word never starts before the previous one ends)."""
    end = max(start, end)
    n = len(words)
    i = 0
    while i < n:
        if _time(words[i], 1) is not None and _time(words[i], 2) is not None:
            i += 1
            continue
        k = i
        while k < n and (_time(words[k], 1) is None or _time(words[k], 2) is None):
            k += 1
        left = _time(words[i - 1], 2) if i > 0 else start
        right = _time(words[k], 1) if k < n else end
        left = start if left is None else left
        right = end if right is None else max(left, right)
        lengths = [max(1, len(str(w[0]))) for w in words[i:k]]
        total = sum(lengths)
        at = left
        for w, length in zip(words[i:k], lengths, strict=True):
            step = (right - left) * length / total
            # Milliseconds are plenty for a made-up time, and keep the stored JSON short.
            w[1], w[2] = round(at, 3), round(at + step, 3)
            at += step
        i = k
    cursor = start
    for w in words:
        s = min(max(float(w[1]), cursor), end)
        e = min(max(float(w[2]), s), end)
        w[1], w[2] = s, e
        cursor = e
    return words


# --- cutting one segment in two ------------------------------------------------------------


def word_offsets(text: str, words: Sequence[Word]) -> list[int] | None:
    """Where each word starts in `text`, when the words spell the text in order."""
    offsets = []
    at = 0
    for w in words:
        found = text.find(str(w[0]), at)
        if found < 0 or text[at:found].strip():
            return None
        offsets.append(found)
        at = found + len(str(w[0]))
    return offsets if not text[at:].strip() else None


def split_time(words: Sequence[Word], text: str, offset: int, start: float, end: float) -> float:
    """The moment in the recording that character `offset` of the text stands for."""
    offsets = word_offsets(text, words)
    if offsets is not None:
        for w, at in zip(words, offsets, strict=True):
            w_start, w_end = _time(w, 1), _time(w, 2)
            if w_start is None or w_end is None:
                continue
            if offset <= at:
                return w_start
            if offset < at + len(str(w[0])):
                return w_start + (w_end - w_start) * (offset - at) / max(1, len(str(w[0])))
        last = _time(words[-1], 2) if words else None
        if last is not None and offsets and offset >= offsets[-1]:
            return last
    return start + (end - start) * offset / max(1, len(text))
