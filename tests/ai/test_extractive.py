"""The extractive provider on a realistic meeting, a generated 3-hour recording and odd
inputs: what it picks, whom it names, where it cuts chapters, and that every label it
writes is one of the lines it was given."""

# Transcripts in other scripts are the point of some tests: their punctuation is meant.
# ruff: noqa: RUF001

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.ai.citations import CITATION, Resolver, label
from app.ai.provider import (
    AIProvider,
    AnswerTask,
    Line,
    ProviderConfig,
    Source,
    Template,
    Turn,
)
from app.ai.providers.extractive import ExtractiveProvider
from app.ai.render import to_html
from app.ai.templates import BUILTIN
from tests.ai.meeting import (
    MEETING,
    PRICING_LINES,
    SCRIPT,
    TOPIC_CHANGE,
    lines_of,
    long_meeting,
    task,
)

CUSTOM = Template(
    "custom:1", "Mobile issues", "List everything said about the Android crash and login.", False
)
TEMPLATES = [*BUILTIN, "custom"]
ROOT = Path(__file__).resolve().parents[2]
provider = ExtractiveProvider()


def summarize(
    lines: list[Line],
    template: str | Template,
    *,
    speakers: tuple[str, ...] | None = None,
    duration: float | None = None,
) -> str:
    tpl = CUSTOM if template == "custom" else template
    return provider.summarize(task(lines, tpl, speakers=speakers, duration=duration)).text


def assert_cites_only(text: str, lines: list[Line], *, at_least: int = 1) -> list[str]:
    """Every citation in `text` is the exact label of one of `lines`, and resolves."""
    labels = [m.group(0) for m in CITATION.finditer(text)]
    assert len(labels) >= at_least, text
    known = {ln.label for ln in lines}
    assert set(labels) <= known, set(labels) - known
    checked = Resolver.for_transcript("t", lines).check(text)
    assert all(c.valid for c in checked), [c.label for c in checked if not c.valid]
    return labels


def cited(text: str, lines: list[Line], template: str) -> None:
    """assert_cites_only for any template: an action item list may rightly be empty."""
    if template == "action_items" and text == "No action items were found.":
        return
    assert_cites_only(text, lines)


def by_label(lines: list[Line]) -> dict[str, Line]:
    return {ln.label: ln for ln in lines}


def test_it_is_a_provider_that_runs_no_model_and_costs_nothing() -> None:
    config = ProviderConfig("gpt-x", "http://unused", "", 1.0, 0, 1000, 100)
    made: AIProvider = ExtractiveProvider.from_config(config)
    assert (made.name, made.uses_language_model) == ("extractive", False)
    assert made.title == "Extractive (no language model)"
    assert made.model == "extractive-1"
    result = made.summarize(task(MEETING, "overview"))
    assert result.model == "extractive-1"
    assert (result.usage.calls, result.usage.prompt_tokens, result.usage.completion_tokens) == (
        0,
        0,
        0,
    )


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_summary_cites_only_lines_it_was_given(template: str) -> None:
    text = summarize(MEETING, template)
    assert_cites_only(text, MEETING)
    # Rendered as the page does it, every citation becomes a link, none is marked invalid.
    html = str(to_html(text, Resolver.for_transcript("t", MEETING), lambda c: "#"))
    assert "cite-invalid" not in html and 'class="cite"' in html


def test_overview_introduces_the_recording_then_quotes_central_sentences_in_order() -> None:
    text = summarize(MEETING, "overview")
    first, *rest = text.split("\n\n")
    assert first == "Recording of 3 min 42 s with Alice, Carol and Bob."
    labels = assert_cites_only("\n".join(rest), MEETING, at_least=3)
    starts = [by_label(MEETING)[lb].start for lb in labels]
    assert starts == sorted(starts)
    # The decision on the price is what the meeting was for.
    assert MEETING[10].label in labels


def test_key_points_lead_with_the_most_central_and_repeat_nothing() -> None:
    points = summarize(MEETING, "key_points").splitlines()
    assert 3 <= len(points) <= 10 and all(p.startswith("- ") for p in points)
    labels = [CITATION.search(p).group(0) for p in points]  # type: ignore[union-attr]
    assert len(set(labels)) == len(labels)
    pricing = {MEETING[i].label for i in PRICING_LINES}
    assert labels[0] in pricing
    mobile = {ln.label for ln in MEETING[TOPIC_CHANGE:]}
    assert set(labels) & mobile, "the second topic has a key point too"


ACTION = re.compile(r"^- \*\*(?P<owner>[^*]+)\*\*: (?P<task>.*?) (?P<label>\[[\d:]+\])$")


def actions_of(text: str) -> list[tuple[str, str, str]]:
    out = []
    for row in text.splitlines():
        m = ACTION.match(row)
        assert m, row
        out.append((m["owner"], m["task"], m["label"]))
    return out


def test_action_items_find_the_planted_ones_with_owners_and_deadlines() -> None:
    items = actions_of(summarize(MEETING, "action_items"))
    found = {lbl: (owner, text) for owner, text, lbl in items}
    expected = {
        12: ("Bob", "by Friday"),  # "Bob, can you update the pricing page... by Friday?"
        14: ("Carol", "tomorrow"),  # "I'll send the new price sheet... tomorrow."
        15: ("Carol", "before next Tuesday"),  # "Carol, please follow up with Acme..."
        28: ("Bob", "by Wednesday"),  # "I'll fix the login crash on Android by Wednesday."
        29: ("Dave", ""),  # "Let's ask Dave to review the app store screenshots..."
        32: ("Alice", ""),  # "And Alice will write the release notes..."
    }
    for index, (owner, deadline) in expected.items():
        assert MEETING[index].label in found, (index, items)
        got_owner, got_task = found[MEETING[index].label]
        assert got_owner == owner, (index, got_owner)
        assert f"(due: {deadline})" in got_task if deadline else "(due:" not in got_task
    # The vocative is not part of the task.
    assert found[MEETING[12].label][1].startswith("Can you update the pricing page")
    # Bob's "Sure, I'll have the pricing page ready" confirms item 12; it is not another.
    assert MEETING[13].label not in found
    # The agenda ("we need to settle the pricing") and "let's move on" are not tasks.
    assert MEETING[0].label not in found and MEETING[19].label not in found


def test_no_action_items_is_said_plainly() -> None:
    lines = lines_of([("Ann", "The weather was lovely in Lisbon."), ("Ben", "It really was.")])
    assert summarize(lines, "action_items") == "No action items were found."


def test_an_unnamed_request_goes_to_whoever_answers_and_i_will_to_the_speaker() -> None:
    lines = lines_of(
        [
            ("Ann", "Could you draft the onboarding checklist for the new hires?"),
            ("Ben", "Yes, no problem."),
            ("Ben", "I will book the training room for the workshop next week."),
        ]
    )
    items = actions_of(summarize(lines, "action_items"))
    assert [(o, lb) for o, _, lb in items] == [("Ben", lines[0].label), ("Ben", lines[2].label)]


PHRASINGS = [
    ("Ann", "Monday, we present the roadmap to the board."),
    ("Ann", "Tom, could you look into the invoice discrepancy before the end of the month?"),
    ("Tom", "Yeah, I'll dig into it this week."),
    ("Ben", "I think the dashboard looks great now."),
    ("Ann", "Action item: Ben to migrate the reporting database by the 15th."),
    ("Ann", "Let's see what the numbers say next quarter."),
    ("Tom", "I'll be honest, the last release was rough."),
    ("Ann", "Can someone send the meeting notes to the client?"),
    ("Ben", "I can send them tonight."),
    ("Ann", "We decided not to renew the contract with the agency."),
    ("Tom", "We haven't decided on the new logo yet."),
    ("Ann", "Who owns the onboarding emails now?"),
    ("Ben", "Good question, no idea."),
]


def test_other_phrasings_of_tasks_decisions_and_open_questions() -> None:
    lines = lines_of(PHRASINGS)
    items = {lb: (owner, text) for owner, text, lb in actions_of(summarize(lines, "action_items"))}
    assert set(items) == {lines[1].label, lines[4].label, lines[7].label}
    assert items[lines[1].label][0] == "Tom"  # asked by name; his "I'll dig" is the same item
    assert items[lines[4].label] == (
        "Ben",
        "Action item: Ben to migrate the reporting database by the 15th. (due: by the 15th)",
    )
    # "Can someone...?" goes to whoever takes it, with the deadline given in the reply.
    assert items[lines[7].label] == (
        "Ben",
        "Can someone send the meeting notes to the client? (due: tonight)",
    )
    minutes = summarize(lines, "minutes")
    decisions = minutes.split("## Decisions")[1].split("##")[0]
    assert {m.group(0) for m in CITATION.finditer(decisions)} == {lines[9].label}
    # Not decided yet is open, as is the question nobody could answer.
    still_open = minutes.split("## Open questions")[1]
    assert {m.group(0) for m in CITATION.finditer(still_open)} == {lines[10].label, lines[11].label}


CHAPTER = re.compile(r"^- (?P<label>\[[\d:]+\]) \*\*(?P<title>[^*]+)\*\*: (?P<gist>.+)$")


def chapters_of(text: str) -> list[tuple[str, str]]:
    out = []
    for row in text.splitlines():
        m = CHAPTER.match(row)
        assert m, row
        assert CITATION.search(m["gist"]) or m["label"], row
        out.append((m["label"], m["title"]))
    return out


def test_chapters_start_at_the_topic_change_with_titles_from_their_words() -> None:
    text = summarize(MEETING, "chapters")
    assert_cites_only(text, MEETING, at_least=2)
    chapters = chapters_of(text)
    assert len(chapters) in (2, 3)
    assert chapters[0][0] == MEETING[0].label
    positions = [by_label(MEETING)[lb].position for lb, _ in chapters]
    assert any(abs(p - TOPIC_CHANGE) <= 1 for p in positions), positions
    first, last = chapters[0][1].lower(), chapters[-1][1].lower()
    assert "pric" in first or "plan" in first
    assert re.search(r"crash|login|android|release|onboarding|app", last)


def test_chapters_follow_the_words_alone_when_nobody_announces_the_change() -> None:
    script = list(SCRIPT)
    script[19] = ("Alice", "Alright.")  # no "that covers pricing, let's move on"
    lines = lines_of(script)
    positions = [
        by_label(lines)[lb].position for lb, _ in chapters_of(summarize(lines, "chapters"))
    ]
    assert len(positions) >= 2
    assert any(abs(p - TOPIC_CHANGE) <= 2 for p in positions), positions


def test_minutes_have_their_sections_decisions_and_open_questions() -> None:
    text = summarize(MEETING, "minutes")
    heads = re.findall(r"^## (.+)$", text, re.M)
    assert heads == ["Attendees", "Discussion", "Decisions", "Action items", "Open questions"]
    sections = dict(zip(heads, re.split(r"^## .+$", text, flags=re.M)[1:], strict=True))
    assert sections["Attendees"].strip() == "Alice, Carol and Bob"
    decided = {m.group(0) for m in CITATION.finditer(sections["Decisions"])}
    assert decided == {MEETING[10].label, MEETING[27].label}
    open_ = {m.group(0) for m in CITATION.finditer(sections["Open questions"])}
    # Carol's question about the old annual plan got "I don't know yet"; Bob's about
    # the migration script and Alice's about affected users were answered.
    assert MEETING[34].label in open_
    assert not open_ & {MEETING[17].label, MEETING[21].label, MEETING[4].label}
    assert "Bob" in sections["Action items"] and "Dave" in sections["Action items"]
    assert len(sections["Discussion"].strip().splitlines()) == len(
        chapters_of(summarize(MEETING, "chapters"))
    )


def test_a_custom_template_gets_matching_passages_and_an_honest_note() -> None:
    text = summarize(MEETING, "custom")
    note, body = text.split("\n\n", 1)
    assert "cannot follow" in note and "no language model" in note
    labels = assert_cites_only(body, MEETING, at_least=3)
    positions = {by_label(MEETING)[lb].position for lb in labels}
    assert {20, 22, 28} <= positions
    assert not positions & set(PRICING_LINES)


def test_a_custom_template_matching_nothing_says_so_and_gives_key_points() -> None:
    tpl = Template("custom:2", "Wine", "Summarise the sommelier's opinion of the vintages.", False)
    text = summarize(MEETING, tpl)
    assert "no passage matches" in text.split("\n\n")[0]
    assert_cites_only(text, MEETING, at_least=3)


def source_of(lines: list[Line], key: str = "", title: str = "Product sync") -> Source:
    return Source(key, f"id-{key or 'own'}", title, "2025-03-04", tuple(lines))


def ask(
    question: str,
    sources: list[Source],
    ranked: list[Line] | None = None,
    *,
    across: bool = False,
    history: tuple[Turn, ...] = (),
) -> tuple[str, list[str]]:
    pieces: list[str] = []
    task_ = AnswerTask(question, history, tuple(sources), tuple(ranked or ()), across)
    result = provider.answer(task_, pieces.append)
    assert "".join(pieces) == result.text
    assert result.usage.calls == 0 and result.model == "extractive-1"
    return result.text, pieces


def quoted(text: str) -> list[str]:
    """The labels of the quotes, in order (a reply quoted under its question excluded)."""
    blocks = text.split("\n\n")[1:]
    return [CITATION.search(b).group(0) for b in blocks]  # type: ignore[union-attr]


def test_an_answer_quotes_the_best_matching_lines_first_and_streams() -> None:
    # Retrieval's order is poor on purpose: the provider re-ranks by its own score.
    ranked = [MEETING[i] for i in (28, 20, 17, 1, 5, 10, 24)]
    text, pieces = ask(
        "What did we decide about the price of the Pro plan?", [source_of(MEETING)], ranked
    )
    assert len(pieces) >= 3
    labels = quoted(text)
    assert 1 <= len(labels) <= 4
    assert labels[0] == MEETING[10].label  # where the price was agreed
    pricing = {MEETING[i].label for i in PRICING_LINES}
    assert set(labels) <= pricing
    assert_cites_only(text, MEETING)
    assert "thirty-nine dollars a month" in text  # quoted verbatim


def test_a_question_is_quoted_with_its_reply() -> None:
    text, _ = ask("How many users are affected by the crash?", [source_of(MEETING)], [MEETING[21]])
    assert f"{MEETING[21].label}\n>\n> **Bob:** About three percent" in text


def test_without_ranked_lines_the_provider_searches_the_context_itself() -> None:
    text, _ = ask("Which customer wanted a discount?", [source_of(MEETING)], [])
    assert quoted(text)[0] == MEETING[15].label  # "follow up with Acme about their discount"


@pytest.mark.parametrize("ranked", [[], [MEETING[1], MEETING[20]]])
def test_an_answer_says_plainly_when_nothing_matches(ranked: list[Line]) -> None:
    text, pieces = ask("What is the weather forecast for Lisbon?", [source_of(MEETING)], ranked)
    assert text == "The recording does not seem to mention that."
    assert pieces == [text]
    assert not CITATION.search(text)


def test_a_follow_up_without_words_of_its_own_looks_for_the_previous_question() -> None:
    history = (Turn("user", "What about the Android login crash?"), Turn("assistant", "..."))
    text, _ = ask("Why?", [source_of(MEETING)], [], history=history)
    assert quoted(text)[0] in {MEETING[i].label for i in range(20, 29)}
    nothing, _ = ask("Why?", [source_of(MEETING)], [])
    assert nothing.startswith("The recording does not seem to mention that.")


def test_an_answer_across_the_workspace_names_its_sources() -> None:
    other = lines_of(
        [
            ("Dana", "The customer said our pricing was the reason they chose a competitor."),
            ("Eve", "They also mentioned the onboarding was confusing."),
        ],
        source="T2",
    )
    own = lines_of(SCRIPT, source="T1")
    sources = [source_of(own, "T1", "Product sync"), source_of(other, "T2", "Acme call")]
    ranked = [own[20], other[0], own[3]]
    text, _ = ask("What did the customer say about pricing?", sources, ranked, across=True)
    assert text.startswith("Quoted from the workspace's recordings")
    assert quoted(text)[0] == other[0].label == "[T2 00:03]"
    assert "*Acme call* (2025-03-04)" in text
    checked = Resolver(sources).check(text)
    assert checked and all(c.valid for c in checked)
    assert {c.source for c in checked} <= {"T1", "T2"}


def test_no_match_across_the_workspace() -> None:
    text, _ = ask("Who won the football?", [source_of(MEETING)], [], across=True)
    assert text == "None of the recordings searched seem to mention that."


@pytest.mark.parametrize("template", TEMPLATES)
def test_an_empty_transcript_gives_one_clear_line(template: str) -> None:
    blank = [
        Line(label(t), "", i, t, t + 1, "", text)
        for i, (t, text) in enumerate([(0.0, ""), (2.0, "  \n ")])
    ]
    for lines in ([], blank):
        text = summarize(lines, template)
        assert text == "The transcript has no text yet, so there is nothing to summarise."
    text, _ = ask("What was decided?", [source_of(blank)], [])
    assert text == "The recording does not seem to mention that."


@pytest.mark.parametrize("count", [1, 2, 3])
@pytest.mark.parametrize("template", TEMPLATES)
def test_very_short_transcripts_are_summarised_from_what_there_is(
    count: int, template: str
) -> None:
    lines = MEETING[26 : 26 + count]
    cited(summarize(lines, template), lines, template)


def test_one_line_is_its_own_overview_and_chapter() -> None:
    lines = lines_of([("", "We shipped the billing migration on time.")])
    assert summarize(lines, "overview") == (
        "Recording of 6 s.\n\nWe shipped the billing migration on time. [00:03]"
    )
    assert summarize(lines, "chapters").startswith("- [00:03] **")


def test_a_transcript_without_speakers() -> None:
    lines = lines_of([("", text) for _, text in SCRIPT])
    overview = summarize(lines, "overview", speakers=())
    assert overview.startswith("Recording of 3 min 42 s.\n\n")
    assert "**:" not in overview
    minutes = summarize(lines, "minutes", speakers=())
    assert "## Attendees\n\nNot identified in the transcript." in minutes
    items = actions_of(summarize(lines, "action_items", speakers=()))
    owners = {lb: owner for owner, _, lb in items}
    assert owners[lines[28].label] == "Unassigned"  # "I'll fix..." with nobody to name
    assert owners[lines[29].label] == "Dave"


CHINESE = [
    ("王芳", "我们今天讨论新的价格方案。专业版每月四十九美元。"),
    ("李明", "年付用户可以享受八折优惠！客户会接受吗？"),
    ("王芳", "销售团队说客户觉得价格合理。"),
    ("李明", "接下来是安卓应用的登录崩溃问题。"),
    ("王芳", "崩溃来自新的指纹登录库，周三之前修复。"),
]
RUSSIAN = [
    ("Анна", "Сегодня обсуждаем цены на тариф Про. Предлагаю сорок девять долларов."),
    ("Борис", "Годовая скидка двадцать процентов смягчит повышение цены."),
    ("Анна", "Теперь о мобильном приложении: вход падает на старых телефонах."),
]


@pytest.mark.parametrize("script", [CHINESE, RUSSIAN], ids=["chinese", "russian"])
@pytest.mark.parametrize("template", TEMPLATES)
def test_other_scripts_are_summarised_without_english_assumptions(
    script: list[tuple[str, str]], template: str
) -> None:
    lines = lines_of(script)
    cited(summarize(lines, template), lines, template)


def test_chinese_sentences_are_split_and_searched_by_character_pairs() -> None:
    lines = lines_of(CHINESE)
    points = summarize(lines, "key_points")
    assert "我们今天讨论新的价格方案。" in points  # split at 。 with no space after it
    text, _ = ask("登录崩溃怎么办？", [source_of(lines)], [])
    assert quoted(text)[0] in {lines[3].label, lines[4].label}
    assert lines[0].label not in quoted(text)


def test_odd_segments_cannot_break_it_or_inject_markup() -> None:
    long_text = " ".join(f"word{i % 97} pricing plan" for i in range(700))  # no punctuation
    lines = [
        Line("[00:00]", "", 0, 0.0, 2.0, "", ""),
        Line("[00:02]", "", 1, 2.0, 300.0, "", long_text),
        Line(
            "[05:00]", "", 2, 300.0, 304.0, "Mallory", "<script>alert(1)</script> **bold** [99:99]"
        ),
        Line("[05:04]", "", 3, 304.0, 306.0, "", "# Not a heading. - not a list"),
        Line(
            "[05:06]",
            "",
            4,
            306.0,
            309.0,
            "Mallory",
            "Please check [the link](javascript:alert(1)) by Friday.",
        ),
        Line("[05:09]", "", 5, 309.0, 400.0, "", "价格方案专业版每月四十九美元" * 80),  # no stops
    ]
    for template in TEMPLATES:
        text = summarize(lines, template)
        cited(text, lines, template)  # "[99:99]" was escaped, not taken as a citation
        html = str(to_html(text, Resolver.for_transcript("t", lines), lambda c: "#"))
        assert "<script" not in html and 'href="javascript' not in html
        assert html.count("<a ") == html.count('<a class="cite" href="#"')
        for row in text.splitlines():
            assert len(row) < 600  # the unpunctuated segments are quoted in pieces
    text, _ = ask("pricing plan word42", [source_of(lines)], list(lines))
    assert_cites_only(text, lines)
    assert all(len(row) < 600 for row in text.splitlines())  # the best piece, not all
    assert "word42 pricing plan" in text and "… " in text


def test_it_is_deterministic() -> None:
    for template in TEMPLATES:
        assert summarize(MEETING, template) == summarize(list(MEETING), template)
    a, _ = ask("price of the Pro plan", [source_of(MEETING)], list(MEETING[:12]))
    b, _ = ask("price of the Pro plan", [source_of(MEETING)], list(MEETING[:12]))
    assert a == b


_EVERY_TEMPLATE = """
from app.ai.provider import AnswerTask, Source
from app.ai.providers.extractive import ExtractiveProvider
from app.ai.templates import BUILTIN
from tests.ai.meeting import MEETING, task
p = ExtractiveProvider()
for key in BUILTIN:
    print(p.summarize(task(MEETING, key)).text)
src = Source("", "t", "x", "", tuple(MEETING))
print(p.answer(AnswerTask("price of the Pro plan", (), (src,), ()), lambda _: None).text)
"""


def test_it_is_deterministic_across_processes() -> None:
    """Sets iterate in a different order in each process (hash seeds): none of that may
    show in what is written."""
    outputs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        done = subprocess.run(
            [sys.executable, "-c", _EVERY_TEMPLATE],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        outputs.add(done.stdout)
    assert len(outputs) == 1 and "[01:10]" in outputs.pop()


@pytest.fixture(scope="module")
def three_hours() -> tuple[list[Line], list[int]]:
    return long_meeting()


@pytest.mark.parametrize("template", TEMPLATES)
def test_three_hours_summarise_fast_with_valid_citations(
    three_hours: tuple[list[Line], list[int]], template: str
) -> None:
    lines, _ = three_hours
    tpl = Template("custom:3", "DB", "What was said about the postgres replica?", False)
    task_ = task(lines, tpl if template == "custom" else template)
    provider.summarize(task_)  # warm imports and caches of the interpreter
    began = time.perf_counter()
    text = provider.summarize(task_).text
    elapsed = time.perf_counter() - began
    assert elapsed < 1.0, elapsed  # measured about 0.1-0.25 s on a 2-core machine
    cited(text, lines, template)


def test_three_hours_give_chapters_at_the_topic_changes(
    three_hours: tuple[list[Line], list[int]],
) -> None:
    lines, changes = three_hours
    chapters = chapters_of(summarize(lines, "chapters"))
    assert 5 <= len(chapters) <= 15
    starts = [by_label(lines)[lb].position for lb, _ in chapters]
    # Each topic change (every ~22 minutes) has a chapter starting within a minute of it.
    near = [c for c in changes if any(abs(s - c) <= 10 for s in starts)]
    assert len(near) == len(changes), (starts, changes)
    assert "Postgres" in chapters[2][1] or "postgres" in chapters[2][1].lower()


def test_two_minutes_give_one_to_three_chapters() -> None:
    lines = [
        replace(ln, start=ln.start / 2, end=ln.end / 2, label=label(ln.start / 2)) for ln in MEETING
    ]
    text = summarize(lines, "chapters", duration=lines[-1].end)
    assert 1 <= len(chapters_of(text)) <= 3
    assert_cites_only(text, lines)


def test_summary_task_duration_is_used_when_lines_stop_early() -> None:
    text = summarize(MEETING[:3], "overview", duration=3725.0)
    assert text.startswith("Recording of 1 h 02 min with Alice, Carol and Bob.")


_PIECES = [
    *"abcdefgh xyz.,!?'\"[]:*_#<>-\n\t0123456789",
    *("你好", "。", "？", "Привет", "مرحبا", "🙂", "\u200b", "\x00", "Dr.", " I'll ", "Bob, "),
    *(" price ", " plan ", " we agreed ", " can you ", " by Friday", "[12:34]", "[T2 00:01]"),
]
_speech = st.lists(st.sampled_from(_PIECES), max_size=40).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.sampled_from(["", "Bob", "Ann Lee", "SPEAKER_01"]), _speech),
        max_size=25,
    ),
    st.text(max_size=40),
)
def test_any_transcript_and_question_give_valid_citations_or_a_plain_line(
    script: list[tuple[str, str]], question: str
) -> None:
    lines = lines_of(script)
    for template in TEMPLATES:
        text = summarize(lines, template)
        assert text.strip()
        labels = [m.group(0) for m in CITATION.finditer(text)]
        assert set(labels) <= {ln.label for ln in lines}
        assert all(c.valid for c in Resolver.for_transcript("t", lines).check(text))
    answer, pieces = ask(question, [source_of(lines)], lines[:5])
    assert answer.strip() and len(pieces) >= 1
    assert all(c.valid for c in Resolver.for_transcript("t", lines).check(answer))
