"""Retrieval of the lines a question needs, and the budgeted split of long transcripts."""

from __future__ import annotations

from datetime import date

from app.ai import llm, retrieval
from app.ai.citations import label
from app.ai.provider import Line, estimate_tokens
from app.ai.sources import relative_dates


def _line(i: int, text: str, start: float | None = None) -> Line:
    s = float(i * 5) if start is None else start
    return Line(label(s), "", i, s, s + 5, "Bob", text)


def test_content_words_drop_the_question_words() -> None:
    words = retrieval.content_words("What did the customer say about pricing last month?")
    assert words == ["customer", "pricing"]


def test_rank_puts_the_matching_lines_first_and_finds_word_forms() -> None:
    lines = [
        _line(0, "Good morning everyone."),
        _line(1, "The weather is nice."),
        _line(2, "Our prices go up in March."),
        _line(3, "The customer was unhappy about the pricing change and the price."),
    ]
    ranked = retrieval.rank(lines, "What did the customer say about pricing?")
    assert [ln.position for ln in ranked] == [3, 2]
    assert retrieval.rank(lines, "Tell me about submarines") == []


def test_a_transcript_that_fits_is_given_whole() -> None:
    lines = [_line(i, f"sentence number {i} about topic {i % 7}") for i in range(50)]
    ctx = retrieval.for_transcript(lines, "topic", budget_tokens=10_000)
    assert ctx.whole and ctx.lines == lines


def test_a_long_transcript_gives_the_matches_and_neighbours_within_budget() -> None:
    lines = [_line(i, f"filler words about nothing much at all {i}") for i in range(2000)]
    lines[1500] = _line(1500, "the budget for marketing was approved")
    ctx = retrieval.for_transcript(lines, "marketing budget", budget_tokens=200)
    positions = [ln.position for ln in ctx.lines]
    assert 1500 in positions and {1499, 1501} <= set(positions)
    assert sum(estimate_tokens(ln.render()) for ln in ctx.lines) <= 200
    assert positions == sorted(positions)
    assert ctx.ranked[0].position == 1500 and not ctx.whole


def test_split_makes_the_fewest_even_parts_within_budget() -> None:
    lines = [_line(i, "word " * 20) for i in range(300)]
    sizes = [estimate_tokens(ln.render()) + 1 for ln in lines]
    budget = sum(sizes) // 3 + 50
    parts = llm.split(lines, budget)
    assert len(parts) == 3
    assert [ln for p in parts for ln in p] == lines
    totals = [sum(estimate_tokens(ln.render()) + 1 for ln in p) for p in parts]
    assert max(totals) <= budget and min(totals) > budget * 0.8


def test_relative_dates_in_a_question() -> None:
    today = date(2026, 11, 21)
    assert relative_dates("what was said last month?", today) == (
        date(2026, 10, 1),
        date(2026, 10, 31),
    )
    assert relative_dates("anything yesterday", today) == (date(2026, 11, 20), date(2026, 11, 20))
    assert relative_dates("last week", today) == (date(2026, 11, 9), date(2026, 11, 15))
    assert relative_dates("pricing", today) is None
