"""Answers without a model: the lines that match the question best, quoted verbatim with
their labels, best first. Nothing is paraphrased, so nothing can be made up."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Sequence

from app.ai.extractive import actions, rank
from app.ai.extractive.text import QUESTION_ENDS, clean, md, size, split_sentences, terms
from app.ai.provider import AnswerTask, Line

MAX_QUOTES = 4
# A quote must score at least this share of the best one: weaker matches mislead more
# than they help.
MIN_SHARE = 0.3
# When retrieval hands over no lines (an index not built yet, a word it does not stem),
# the context itself is searched: this many of its best lines are candidates.
OWN_CANDIDATES = 8
_ASKS_DECISION = re.compile(r"\b(?:decid\w*|decision|agree\w*|conclu\w*|settle\w*)\b", re.I)
DECISION_BONUS = 2.0  # about one more matching word
MAX_QUOTE_WORDS = 80


def pieces(task: AnswerTask) -> Iterator[str]:
    """The answer's text in the order written; joined, they are the whole answer."""
    query = _query(task)
    lines = _all_lines(task)
    if not query:
        yield _nothing(task, query)
        return
    words = {_key(ln): terms(ln.text or "") for ln in lines}
    quotes = _best(task, query, lines, words)
    if not quotes:
        yield _nothing(task, query)
        return
    where = "the workspace's recordings" if task.across_workspace else "the transcript"
    yield f"Quoted from {where}, most relevant first:"
    titles = {
        s.key: f"*{md(s.title)}*" + (f" ({s.date})" if s.date else "")
        for s in task.sources
        if s.title
    }
    following = _following(task)
    shown: set[tuple[str, int]] = set()
    for line in quotes:
        if _key(line) in shown:
            continue
        shown.add(_key(line))
        block = [_quote(line, titles, task.across_workspace, query)]
        reply = following.get(_key(line))
        if clean(line.text).endswith(QUESTION_ENDS) and reply is not None and clean(reply.text):
            # A question on its own tells little: its reply is quoted with it.
            block.append(_quote(reply, titles, False, query))
            shown.add(_key(reply))
        yield "\n\n" + "\n>\n".join(block)


def _query(task: AnswerTask) -> list[str]:
    query = terms(task.question)
    if not query:
        # "And what about the deadline?" has content; "why?" does not: it asks about the
        # previous question.
        earlier = [t.content for t in task.history if t.role == "user"]
        if earlier:
            query = terms(earlier[-1])
    return query


def _nothing(task: AnswerTask, query: Sequence[str]) -> str:
    where = (
        "None of the recordings searched seem to mention that."
        if task.across_workspace
        else "The recording does not seem to mention that."
    )
    if not query:
        return f"{where} (The question has no words to look for.)"
    return where


def _all_lines(task: AnswerTask) -> list[Line]:
    seen: set[tuple[str, int]] = set()
    out: list[Line] = []
    for line in (*(ln for s in task.sources for ln in s.lines), *task.ranked):
        if _key(line) not in seen:
            seen.add(_key(line))
            out.append(line)
    return out


def _key(line: Line) -> tuple[str, int]:
    return (line.source, line.position)


def _best(
    task: AnswerTask,
    query: list[str],
    lines: list[Line],
    words: dict[tuple[str, int], list[str]],
) -> list[Line]:
    bm25 = rank.BM25(list(words.values()))
    retrieval = {_key(ln): i for i, ln in enumerate(task.ranked)}
    candidates = list(task.ranked)
    if not task.ranked:
        own = sorted(
            ((bm25.score(query, words[_key(ln)]), i) for i, ln in enumerate(lines)),
            key=lambda x: (-x[0], x[1]),
        )
        candidates = [lines[i] for s, i in own[:OWN_CANDIDATES] if s > 0]
    decision = _ASKS_DECISION.search(task.question) is not None
    scored = []
    for order, line in enumerate(candidates):
        score = bm25.score(query, words[_key(line)])
        if score > 0 and decision and actions.DECISION.search(line.text or ""):
            # "What did we decide about X?": where X was decided beats where it was named.
            score += DECISION_BONUS
        if score > 0:
            # Equal scores keep the retrieval's order (or the transcript's).
            scored.append((score, retrieval.get(_key(line), order), line))
    scored.sort(key=lambda x: (-x[0], x[1]))
    if not scored:
        return []
    best = scored[0][0]
    out: list[Line] = []
    texts: set[str] = set()
    for score, _, line in scored:
        text = clean(line.text).lower()
        if score < MIN_SHARE * best or text in texts:
            continue
        texts.add(text)
        out.append(line)
        if len(out) == MAX_QUOTES:
            break
    return out


def _following(task: AnswerTask) -> dict[tuple[str, int], Line]:
    """Each line's next line in its own source."""
    out: dict[tuple[str, int], Line] = {}
    for source in task.sources:
        ordered = sorted(source.lines, key=lambda ln: (ln.start, ln.position))
        for a, b in itertools.pairwise(ordered):
            out[_key(a)] = b
    return out


def _quote(line: Line, titles: dict[str, str], with_title: bool, query: list[str]) -> str:
    who = f"**{md(line.speaker)}:** " if line.speaker else ""
    title = titles.get(line.source, "") if with_title else ""
    where = f"{title} — " if title else ""
    return f"> {where}{who}{md(_excerpt(clean(line.text), query))} {line.label}"


def _excerpt(text: str, query: list[str]) -> str:
    """A long segment (minutes of speech in one line) is quoted by its sentence that
    matches best, marked as cut; short ones whole."""
    if size(text) <= MAX_QUOTE_WORDS:
        return text
    parts = split_sentences(text)
    wanted = set(query)
    best = max(range(len(parts)), key=lambda i: (len(wanted & set(terms(parts[i]))), -i))
    before = "… " if best > 0 else ""
    after = " …" if best < len(parts) - 1 else ""
    return f"{before}{parts[best]}{after}"
