"""What an answer gets to read: the lines of one transcript that match a question (BM25),
or, across a workspace, the chunks the search backend finds.

Questions are sentences ("what did the customer say about pricing?"), not search syntax:
their content words are searched one by one as well as together, and the lists are fused
by reciprocal rank, so a chunk that mentions "pricing" but not "customer" still counts.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from app.ai.provider import Line, estimate_tokens

_WORD = re.compile(r"\w+", re.UNICODE)
# Words that say nothing about what to look for (English first; a few common others).
STOPWORDS = frozenset(
    _WORD.findall(
        """
    a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not now of off on once only or
    other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your
    yours yourself yourselves tell say said says talk talked talking mention mentioned
    discuss discussed anything something thing things please know think get got let us also
    ask asked one did does anyone someone last month week year today yesterday recording
    recordings meeting meetings call calls transcript transcripts le la les un une des du
    de et en est que qui dans pour pas sur au aux ce cette il elle der die das und ist
    nicht ein eine zu den mit von auf für el los las y es en por con para una del lo
"""
    )
)
# How many of a question's words are searched one by one across a workspace.
MAX_WORDS = 6
NEIGHBOURS = 1  # lines kept either side of a retrieved one, for context


def fold(word: str) -> str:
    if word.isascii():
        return word.lower()
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def stem(word: str) -> str:
    """A light English stemmer: enough for "prices"/"pricing" to meet "price"."""
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)].rstrip("e") if suffix != "s" else word[:-1]
    return word.rstrip("e") if len(word) > 3 else word


@functools.lru_cache(maxsize=65536)
def _term(word: str) -> str:
    # Speech repeats its words: a 3-hour transcript has ~25k words but ~3k distinct ones.
    return stem(fold(word))


def tokens(text: str) -> list[str]:
    return [_term(w) for w in _WORD.findall(text)]


def content_words(question: str) -> list[str]:
    """The question's words worth searching for, in order, without repeats."""
    seen: dict[str, None] = {}
    for raw in _WORD.findall(question):
        word = fold(raw)
        if word in STOPWORDS or (len(word) < 3 and not word.isdigit()):
            continue
        seen.setdefault(word, None)
    return list(seen)[:MAX_WORDS]


def rank(lines: Sequence[Line], question: str, k: int = 12) -> list[Line]:
    """The `k` lines that match the question best (BM25), best first; none when no line
    shares a content word with it."""
    terms = {stem(w) for w in content_words(question)}
    if not terms or not lines:
        return []
    docs = [Counter(t for t in tokens(ln.text) if t in terms) for ln in lines]
    lengths = [max(1, len(ln.text.split())) for ln in lines]
    avg = sum(lengths) / len(lengths)
    df = Counter(t for d in docs for t in d)
    n = len(lines)
    k1, b = 1.2, 0.75
    scored = []
    for i, (d, length) in enumerate(zip(docs, lengths, strict=True)):
        if not d:
            continue
        score = 0.0
        for t, tf in d.items():
            idf = math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5))
            score += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / avg))
        scored.append((-score, i))
    scored.sort()
    return [lines[i] for _s, i in scored[:k]]


@dataclass(frozen=True)
class Context:
    lines: list[Line]  # in time order
    ranked: list[Line]  # best match first
    whole: bool  # the whole transcript fits; no retrieval was needed


def for_transcript(lines: Sequence[Line], question: str, budget_tokens: int | None) -> Context:
    """The whole transcript when it fits the budget (None: no limit); otherwise the best
    matching lines with their neighbours, as many as fit, in time order."""
    ranked = rank(lines, question, k=40)
    if budget_tokens is None or sum(estimate_tokens(ln.render()) for ln in lines) <= budget_tokens:
        return Context(list(lines), ranked[:12], True)
    chosen: dict[int, Line] = {}
    used = 0
    by_index = {ln.position: i for i, ln in enumerate(lines)}
    seeds = ranked or list(lines[:20])  # nothing matched: the opening still gives context
    for hit in seeds:
        i = by_index[hit.position]
        for j in range(max(0, i - NEIGHBOURS), min(len(lines), i + NEIGHBOURS + 1)):
            if lines[j].position in chosen:
                continue
            cost = estimate_tokens(lines[j].render())
            if used + cost > budget_tokens:
                break
            chosen[lines[j].position] = lines[j]
            used += cost
        if used >= budget_tokens * 0.95:
            break
    ordered = sorted(chosen.values(), key=lambda ln: ln.position)
    return Context(ordered, [r for r in ranked if r.position in chosen][:12], False)


def fuse(rankings: Sequence[Sequence[tuple[uuid.UUID, int]]], k: int = 60) -> list:
    """Reciprocal rank fusion of several ranked lists of (transcript id, chunk)."""
    scores: Counter = Counter()
    for ranking in rankings:
        for place, key in enumerate(ranking):
            scores[key] += 1.0 / (k + place + 1)
    return [key for key, _s in scores.most_common()]
