"""Topic segmentation (after TextTiling, Hearst 1997) and chapter titles.

The lexical cohesion between the sentences just before and just after each gap is
measured; a topic change shows as a valley. Chapters start at the deepest valleys, no
closer together than a minimum length that grows with the recording, so a 3-hour
recording gets roughly 5 to 12 chapters and a 2-minute one 1 to 3.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from app.ai.extractive import rank
from app.ai.extractive.text import Unit, surface_forms, terms

MAX_CHAPTERS = 12


@dataclass(frozen=True)
class Chapter:
    start: int  # index of its first unit
    end: int  # one past its last unit
    title: str
    key: int  # the unit that best represents it


def limits(duration: float) -> tuple[int, int]:
    """(fewest, most) chapters for a recording this long."""
    minutes = max(0.0, duration) / 60
    most = max(1, min(MAX_CHAPTERS, round(1.5 * math.sqrt(minutes))))
    fewest = max(1, min(5, int(minutes // 30)))
    return fewest, max(fewest, most)


def segment(units: Sequence[Unit], duration: float, weights: dict[str, float]) -> list[int]:
    """Indexes of the units that start a chapter (always 0 first)."""
    n = len(units)
    if n == 0:
        return []
    fewest, most = limits(duration)
    sizes = np.array([len(u.terms) for u in units], dtype=np.int64)
    cum = np.concatenate(([0], np.cumsum(sizes)))
    total = int(cum[-1])
    # Blocks are measured in content words, not sentences, so that "Yeah." weighs nothing.
    block = int(max(20, min(80, 0.6 * math.sqrt(total))))
    if most == 1 or total < 3 * block:
        return [0]
    # A chapter starts where a line starts, and never in a block's reach of either end.
    gaps = [
        i
        for i in range(1, n)
        if units[i].line is not units[i - 1].line and cum[i] >= block and total - cum[i] >= block
    ]
    if not gaps:
        return [0]
    cohesion = _cohesion(units, cum, gaps, block, weights)
    # A valley is judged against the peaks about one block away on either side.
    reach = max(2, round(block * len(gaps) / total))
    depth = _depth(cohesion, reach)
    order = [k for k in range(len(gaps)) if depth[k] > 0]
    if not order:
        return [0]
    values = np.array([depth[k] for k in order])
    # TextTiling's cut-off is the mean depth less half a standard deviation; spoken
    # conversation dips often, so here it is the mean plus half of one.
    threshold = float(values.mean() + 0.5 * values.std())
    # People announce their topic changes ("that covers pricing", "let's move on to..."):
    # such a gap counts as deep enough by itself.
    for k in _announced(units, gaps):
        depth[k] += threshold
        if k not in order:
            order.append(k)
    span = max(units[-1].end, duration)
    min_seconds = span / (most + 1)
    cuts: list[int] = []
    for k in sorted(order, key=lambda k: (-depth[k], gaps[k])):
        if len(cuts) + 1 >= most:
            break
        if depth[k] < threshold and len(cuts) + 1 >= fewest:
            break
        i = gaps[k]
        near = (
            abs(int(cum[i]) - int(cum[edge])) < block
            or abs(units[i].start - (units[edge].start if edge < n else span)) < min_seconds
            for edge in (0, n, *cuts)
        )
        if not any(near):
            cuts.append(i)
    return [0, *sorted(cuts)]


_OPENING = re.compile(
    r"\b(?:move on to|moving on to|next (?:topic|item|point|thing on the agenda)|"
    r"let's (?:talk|turn to|switch to|go to|discuss)|switch(?:ing)? gears|turning to|"
    r"on to the|the other topic|another topic|last (?:topic|item))\b",
    re.IGNORECASE,
)
_CLOSING = re.compile(
    r"\b(?:that covers|that's it for|that's all for|that wraps up|enough about|"
    r"done with (?:that|this|the))\b",
    re.IGNORECASE,
)


def _announced(units: Sequence[Unit], gaps: list[int]) -> list[int]:
    """Gaps (as positions in `gaps`) where a line opens a topic or the one before closes
    one."""
    out = []
    for k, i in enumerate(gaps):
        line = units[i].line
        opening = False
        j = i
        while j < len(units) and units[j].line is line:
            opening = opening or bool(_OPENING.search(units[j].text))
            j += 1
        if opening or _CLOSING.search(units[i - 1].text):
            out.append(k)
    return out


def _cohesion(
    units: Sequence[Unit],
    cum: np.ndarray,
    gaps: list[int],
    block: int,
    weights: dict[str, float],
) -> np.ndarray:
    """For each gap, the cosine between the `block` content words before it and those
    after it (TF-IDF, sublinear), computed from running sums over the units."""
    # Words said once cannot tie two blocks together: only the others get a column.
    seen: Counter[str] = Counter(t for u in units for t in u.terms)
    vocab = {t: j for j, t in enumerate(sorted(t for t, c in seen.items() if c > 1))}
    running = np.zeros((len(units) + 1, max(1, len(vocab))), dtype=np.float32)
    for row, unit in enumerate(units, start=1):
        for term, c in Counter(unit.terms).items():
            if term in vocab:
                running[row, vocab[term]] = c
    np.cumsum(running, axis=0, out=running)
    idf = np.zeros(running.shape[1], dtype=np.float32)
    for term, j in vocab.items():
        idf[j] = weights.get(term, 0.0)
    at = np.array(gaps)
    left_from = np.searchsorted(cum, cum[at] - block, side="right") - 1
    right_to = np.searchsorted(cum, cum[at] + block, side="left")
    right_to = np.minimum(right_to, len(units))
    out = np.zeros(len(gaps))
    for a in range(0, len(gaps), 256):  # in slices: bounded memory on long recordings
        b = min(len(gaps), a + 256)
        left = running[at[a:b]] - running[np.maximum(left_from[a:b], 0)]
        right = running[right_to[a:b]] - running[at[a:b]]
        left = np.where(left > 0, 1 + np.log(np.maximum(left, 1)), 0) * idf
        right = np.where(right > 0, 1 + np.log(np.maximum(right, 1)), 0) * idf
        norms = np.linalg.norm(left, axis=1) * np.linalg.norm(right, axis=1)
        dots = (left * right).sum(axis=1)
        out[a:b] = np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)
    # Light smoothing, as TextTiling does, so that one odd sentence makes no valley.
    if len(out) >= 3:
        out = np.convolve(np.pad(out, 1, mode="edge"), np.ones(3) / 3, mode="valid")
    return out


def _depth(values: np.ndarray, reach: int) -> list[float]:
    """How deep each local minimum is: the highest point within `reach` gaps on each
    side, above it, summed (climbing to the nearest peak, as TextTiling does, stops at
    every small bump of conversation)."""
    n = len(values)
    depth = [0.0] * n
    top = float(values.max()) if n else 0.0
    if top <= 0:
        return depth
    for i in range(n):
        v = values[i]
        if (i > 0 and values[i - 1] < v) or (i < n - 1 and values[i + 1] < v):
            continue
        left = values[max(0, i - reach) : i + 1].max()
        right = values[i : i + reach + 1].max()
        # Weighed by how little the two sides still share: a dip between two very
        # cohesive stretches of one topic matters less than one where talk runs dry.
        depth[i] = float(left - v + right - v) * (1 - v / top)
    return depth


def chapters(
    units: Sequence[Unit], duration: float, weights: dict[str, float], matrix: np.ndarray
) -> list[Chapter]:
    starts = segment(units, duration, weights)
    bounds = [*starts, len(units)]
    spans = [(bounds[i], bounds[i + 1]) for i in range(len(starts))]
    titles = _titles(units, spans, weights)
    out = []
    for (a, b), title in zip(spans, titles, strict=True):
        out.append(Chapter(a, b, title, _key(units, matrix, a, b)))
    return out


def _key(units: Sequence[Unit], matrix: np.ndarray, a: int, b: int) -> int:
    """The unit closest to the chapter's centroid, among those worth quoting."""
    block = matrix[a:b]
    centroid = block.sum(axis=0)
    norm = float(np.linalg.norm(centroid))
    prior = np.array([rank.length_prior(u) for u in units[a:b]])
    if norm == 0 or not prior.any():
        return max(range(a, b), key=lambda i: (units[i].words, -i))
    score = (block @ centroid) / norm * prior + prior * 1e-3
    return a + int(np.argmax(score))


def _titles(
    units: Sequence[Unit], spans: Sequence[tuple[int, int]], weights: dict[str, float]
) -> list[str]:
    """Each chapter's most distinctive words and two-word phrases, against the rest of
    the recording: frequent in the chapter, rare elsewhere, rare overall. Speakers'
    names are left out: people are addressed by name whatever the topic."""
    names = {t for u in units for t in terms(u.speaker)}
    shown: dict[str, dict[str, float]] = {}  # term -> how it was written, how often
    per_chapter: list[Counter[str]] = []
    for a, b in spans:
        counts: Counter[str] = Counter()
        for unit in units[a:b]:
            counts.update(unit.terms)
            tagged = surface_forms(unit.text)
            for at, (word, term) in enumerate(tagged):
                if term is not None:
                    # A sentence's first word is capitalised whatever it is: it counts
                    # less, in lower case, so "Acme" stays and "Customers" does not.
                    form, weight = (word, 1.0) if at else (word.lower(), 0.5)
                    forms = shown.setdefault(term, {})
                    forms[form] = forms.get(form, 0.0) + weight
            counts.update(_phrases(tagged))
        per_chapter.append(counts)
    everywhere: Counter[str] = Counter()
    for counts in per_chapter:
        everywhere.update(counts)
    titles = []
    for counts in per_chapter:
        scored = []
        for term, c in counts.items():
            share = c / everywhere[term]
            w = weights.get(term) if " " not in term else _phrase_weight(term, weights)
            if not w:
                continue
            bonus = 1.6 if " " in term and c >= 2 else (0.0 if " " in term else 1.0)
            scored.append((c * w * share * bonus, term))
        scored.sort(key=lambda x: (-x[0], x[1]))
        picked: list[str] = []
        for _, term in scored:
            parts = set(term.split(" "))
            if parts & names or any(parts & set(p.split(" ")) for p in picked):
                continue
            picked.append(term)
            if len(picked) == 3:
                break
        titles.append(_show(picked, shown) or "Conversation")
    return titles


def _phrases(tagged: Sequence[tuple[str, str | None]]) -> list[str]:
    """Two adjacent content words ("pro plan", "release date"), as stemmed terms."""
    return [
        f"{a} {b}"
        for (_, a), (_, b) in itertools.pairwise(tagged)
        if a is not None and b is not None
    ]


def _phrase_weight(phrase: str, weights: dict[str, float]) -> float:
    parts = phrase.split(" ")
    return sum(weights.get(p, 0.0) for p in parts) / len(parts)


def _show(picked: Sequence[str], shown: dict[str, dict[str, float]]) -> str:
    names = []
    for term in picked:
        parts = []
        for p in term.split(" "):
            forms = shown.get(p)
            parts.append(min(forms.items(), key=lambda x: (-x[1], x[0]))[0] if forms else p)
        names.append(" ".join(parts))
    text = ", ".join(names)
    return text[:1].upper() + text[1:]
