"""Scoring sentences: TF-IDF vectors, TextRank centrality, MMR selection, BM25 retrieval."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from app.ai.extractive.text import QUESTION_ENDS, Unit


def idf(docs: Sequence[Sequence[str]]) -> dict[str, float]:
    df: Counter[str] = Counter()
    for doc in docs:
        df.update(set(doc))
    n = len(docs)
    return {t: math.log((n + 1) / (c + 0.5)) for t, c in df.items()}


def vectors(docs: Sequence[Sequence[str]], weights: dict[str, float] | None = None) -> np.ndarray:
    """Unit-length TF-IDF rows (sublinear tf). Only terms in two or more documents get
    a column: a term in one document adds nothing to any similarity, only to the norm,
    which is computed in full; this keeps a 3-hour transcript's matrix small."""
    weights = weights if weights is not None else idf(docs)
    df: Counter[str] = Counter()
    for doc in docs:
        df.update(set(doc))
    columns = {t: i for i, t in enumerate(sorted(t for t, c in df.items() if c >= 2))}
    matrix = np.zeros((len(docs), max(1, len(columns))), dtype=np.float32)
    for row, doc in enumerate(docs):
        norm = 0.0
        for term, count in Counter(doc).items():
            w = (1.0 + math.log(count)) * weights.get(term, 0.0)
            norm += w * w
            col = columns.get(term)
            if col is not None:
                matrix[row, col] = w
        if norm > 0:
            matrix[row] /= math.sqrt(norm)
    return matrix


def similarity(matrix: np.ndarray) -> np.ndarray:
    sim = matrix @ matrix.T
    np.fill_diagonal(sim, 0.0)
    return sim


def textrank(sim: np.ndarray, damping: float = 0.85, iterations: int = 60) -> np.ndarray:
    """PageRank over the similarity graph: a sentence is central when sentences that
    are central themselves resemble it."""
    n = sim.shape[0]
    if n == 0:
        return np.zeros(0)
    out = sim.sum(axis=1)
    dangling = out == 0
    transition = np.divide(sim, out[:, None], out=np.zeros_like(sim), where=~dangling[:, None])
    transition = transition.astype(np.float32, copy=False)
    rank = np.full(n, 1.0 / n, dtype=np.float32)  # float32 throughout: no copy per step
    for _ in range(iterations):
        spread = rank[dangling].sum() / n
        new = (1 - damping) / n + damping * (rank @ transition + spread)
        if np.abs(new - rank).sum() < 1e-7:
            rank = new
            break
        rank = new
    return rank


def length_prior(unit: Unit) -> float:
    """Sentences worth quoting say something: too short ones ("Yeah, sure.") are kept out,
    long ones are slightly less welcome than medium ones."""
    content = len(unit.terms)
    if content < 2:
        return 0.0
    prior = min(1.0, content / 6.0)
    if unit.words > 35:
        prior *= 0.85
    if unit.text.endswith(QUESTION_ENDS):
        prior *= 0.6  # a question says less about the recording than an answer does
    return prior


def centrality(unit_list: Sequence[Unit], sim: np.ndarray) -> np.ndarray:
    if not unit_list:
        return np.zeros(0)
    rank = textrank(sim)
    prior = np.array([length_prior(u) for u in unit_list])
    score = rank * prior
    top = score.max()
    return score / top if top > 0 else score


def mmr(
    candidates: Sequence[int],
    relevance: np.ndarray,
    sim: np.ndarray,
    k: int,
    lam: float = 0.65,
    groups: Sequence[object] | None = None,
) -> list[int]:
    """Up to k candidates, each the most relevant one that is least like those already
    taken (maximal marginal relevance), in the order taken; at most one per group (the
    pieces of one long segment share its label: one quote of it is enough)."""
    chosen: list[int] = []
    pool = np.array([c for c in candidates if relevance[c] > 0], dtype=int)
    if not len(pool):
        return chosen
    redundancy = np.zeros(len(pool))
    open_ = np.ones(len(pool), dtype=bool)
    while open_.any() and len(chosen) < k:
        score = np.where(open_, lam * relevance[pool] - (1 - lam) * redundancy, -np.inf)
        i = int(np.argmax(score))  # first of equals: deterministic
        chosen.append(int(pool[i]))
        open_[i] = False
        if groups is not None:
            taken = groups[pool[i]]
            for j in np.flatnonzero(open_):
                if groups[pool[j]] is taken:
                    open_[j] = False
        redundancy = np.maximum(redundancy, sim[pool, pool[i]])
    return chosen


class BM25:
    """Okapi BM25 over documents given as term lists."""

    def __init__(self, docs: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75) -> None:
        self.docs = [Counter(d) for d in docs]
        self.lengths = [len(d) for d in docs]
        self.avg = (sum(self.lengths) / len(docs)) if docs else 0.0
        self.k1, self.b = k1, b
        df: Counter[str] = Counter()
        for doc in self.docs:
            df.update(doc.keys())
        n = len(docs)
        self.idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}

    def score(self, query: Sequence[str], doc: Sequence[str]) -> float:
        """`doc` need not be one of the corpus documents (its terms are scored with the
        corpus statistics)."""
        return self._score(sorted(set(query)), Counter(doc), len(doc))

    def scores(self, query: Sequence[str]) -> list[float]:
        wanted = sorted(set(query))  # summed in one order: the same floats in every process
        return [self._score(wanted, d, n) for d, n in zip(self.docs, self.lengths, strict=True)]

    def _score(self, query: list[str], counts: Counter[str], length: int) -> float:
        norm = self.k1 * (1 - self.b + self.b * length / (self.avg or 1.0))
        total = 0.0
        for term in query:
            tf = counts.get(term, 0)
            if tf:
                total += self.idf.get(term, math.log(2.0)) * tf * (self.k1 + 1) / (tf + norm)
        return total
