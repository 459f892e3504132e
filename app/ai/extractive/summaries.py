"""The built-in templates, written from the transcript's own sentences.

Every sentence shown is quoted from the transcript and followed by the label of the
line it starts in, so each claim cites where it comes from.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from app.ai.extractive import actions, rank
from app.ai.extractive.chapters import Chapter, chapters
from app.ai.extractive.text import Unit, duration_words, join_names, md, terms, units
from app.ai.provider import SummaryTask

EMPTY = "The transcript has no text yet, so there is nothing to summarise."

# Words of a template's instructions that say how to write, not what to look for.
PROMPT_WORDS = frozenset(
    terms(
        "summary summarise summarize summarised list bullet bullets bulleted point points "
        "write writing include including recording transcript meeting call paragraph "
        "paragraphs section sections short brief concise detailed sentence sentences format "
        "markdown table timestamp timestamps mention mentioned discuss discussed discussion "
        "describe key main important highlight highlights extract output provide give "
        "focus note notes"
    )
)


@dataclass
class Analysis:
    """What several templates share, each part computed when first needed."""

    task: SummaryTask
    units: list[Unit] = field(init=False)

    def __post_init__(self) -> None:
        self.units = units(self.task.lines)

    @cached_property
    def lines_of_units(self) -> list[object]:
        return [u.line for u in self.units]

    @cached_property
    def weights(self) -> dict[str, float]:
        return rank.idf([u.terms for u in self.units])

    @cached_property
    def matrix(self) -> np.ndarray:
        return rank.vectors([u.terms for u in self.units], self.weights)

    @cached_property
    def sim(self) -> np.ndarray:
        return rank.similarity(self.matrix)

    @cached_property
    def centrality(self) -> np.ndarray:
        return rank.centrality(self.units, self.sim)

    @cached_property
    def chapters(self) -> list[Chapter]:
        return chapters(self.units, self.duration, self.weights, self.matrix)

    @cached_property
    def duration(self) -> float:
        ends = [ln.end for ln in self.task.lines]
        return max([self.task.duration or 0.0, *ends])

    def top(self, k: int) -> list[int]:
        """The k most central sentences, no two saying the same thing, best first."""
        worth = [i for i, u in enumerate(self.units) if rank.length_prior(u) >= 0.5]
        if len(worth) < k:
            worth = [i for i, u in enumerate(self.units) if u.terms] or list(range(len(self.units)))
        relevance = self.centrality if self.centrality.any() else np.ones(len(self.units))
        chosen = rank.mmr(worth, relevance, self.sim, k, groups=self.lines_of_units)
        if not chosen:  # nothing scored (one sentence, or no shared words)
            chosen = sorted(worth, key=lambda i: (-self.units[i].words, i))[:k]
        return chosen

    def quote(self, unit: Unit, *, speaker: bool = True) -> str:
        who = f"**{md(unit.speaker)}:** " if speaker and unit.speaker else ""
        return f"{who}{md(unit.text)} {unit.label}"


def overview(a: Analysis) -> str:
    n = len(a.units)
    k = n if n <= 3 else max(2, min(7, round(math.sqrt(n) / 1.5)))
    picked = sorted(a.top(k))
    parts = [_intro(a)]
    titles = [c.title for c in a.chapters if c.title != "Conversation"]
    if len(titles) > 1:
        parts.append(f"Topics, in order: {md('; '.join(titles))}.")
    parts.extend(a.quote(a.units[i]) for i in picked)
    return "\n\n".join(parts)


def _intro(a: Analysis) -> str:
    speakers = [s for s in a.task.speakers if s]
    who = f" with {md(join_names(speakers))}" if speakers else ""
    return f"Recording of {duration_words(a.duration)}{who}."


def key_points(a: Analysis) -> str:
    n = len(a.units)
    k = n if n <= 3 else max(3, min(10, round(math.sqrt(n) * 0.8)))
    return "\n".join(f"- {a.quote(a.units[i])}" for i in a.top(k))


def action_items(a: Analysis) -> str:
    items = actions.action_items(a.units, a.task.speakers)
    if not items:
        return "No action items were found."
    return "\n".join(_action_line(item) for item in items)


def _action_line(item: actions.ActionItem) -> str:
    owner = md(item.owner) if item.owner else "Unassigned"
    due = f" (due: {md(item.deadline)})" if item.deadline else ""
    return f"- **{owner}**: {md(item.task)}{due} {item.unit.label}"


def chapter_list(a: Analysis) -> str:
    lines = []
    for ch in a.chapters:
        first, key = a.units[ch.start], a.units[ch.key]
        gist = a.quote(key, speaker=False) if key is not first else md(key.text)
        lines.append(f"- {first.label} **{md(ch.title)}**: {gist}")
    return "\n".join(lines)


def minutes(a: Analysis) -> str:
    speakers = [s for s in a.task.speakers if s]
    attendees = md(join_names(speakers)) if speakers else "Not identified in the transcript."
    sections = [f"## Attendees\n\n{attendees}"]
    discussion = []
    for ch in a.chapters:
        key = a.units[ch.key]
        discussion.append(f"- **{md(ch.title)}** ({a.units[ch.start].label}): {a.quote(key)}")
    sections.append("## Discussion\n\n" + "\n".join(discussion))
    decided = actions.decisions(a.units)
    sections.append(
        "## Decisions\n\n"
        + ("\n".join(f"- {a.quote(u)}" for u in decided) or "No decisions were recorded.")
    )
    items = actions.action_items(a.units, a.task.speakers)
    sections.append(
        "## Action items\n\n"
        + ("\n".join(_action_line(i) for i in items) or "No action items were found.")
    )
    questions = actions.open_questions(a.units)
    sections.append(
        "## Open questions\n\n"
        + ("\n".join(f"- {a.quote(u)}" for u in questions) or "No open questions were found.")
    )
    return "\n\n".join(sections)


def custom(a: Analysis) -> str:
    """A workspace's own prompt: no model here to follow it, so the passages that match
    its words are given instead, and the reader is told so."""
    note = (
        "*The extractive provider runs no language model, so it cannot follow this "
        "template's instructions; these are the passages that match them best.*"
    )
    wanted = [t for t in terms(a.task.template.instructions) if t not in PROMPT_WORDS]
    bm25 = rank.BM25([u.terms for u in a.units])
    scores = np.array(bm25.scores(wanted)) if wanted else np.zeros(len(a.units))
    if scores.any():
        relevance = scores / scores.max()
        candidates = [i for i in range(len(a.units)) if scores[i] > 0]
        picked = rank.mmr(candidates, relevance, a.sim, 10, lam=0.8, groups=a.lines_of_units)
    else:
        note = (
            "*The extractive provider runs no language model, so it cannot follow this "
            "template's instructions, and no passage matches their words; these are the "
            "recording's key points instead.*"
        )
        picked = a.top(8)
    body = "\n".join(f"- {a.quote(a.units[i])}" for i in sorted(picked))
    return f"{note}\n\n{body}"


BUILTIN: dict[str, Callable[[Analysis], str]] = {
    "overview": overview,
    "key_points": key_points,
    "action_items": action_items,
    "chapters": chapter_list,
    "minutes": minutes,
}


def summarize(task: SummaryTask) -> str:
    a = Analysis(task)
    if not a.units:
        return EMPTY
    write = BUILTIN.get(task.template.key) if task.template.builtin else None
    return (write or custom)(a)
