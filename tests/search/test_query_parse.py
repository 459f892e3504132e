"""The search request parser and the snippet maker, on their own: what a query means, what
is refused (always a BadRequest naming the parameter), and how highlighted text becomes
what a person sees."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from app.errors import BadRequest
from app.search import snippets
from app.search.documents import MARK_END, MARK_START
from app.search.query import (
    MAX_FILTER_CHARS,
    MAX_QUERY_CHARS,
    MAX_TERMS,
    PER_PAGE,
    Filters,
    Term,
    fold,
    parse,
)

WS = uuid.UUID("11111111-1111-4111-8111-111111111111")
WORD = re.compile(r"^\w+$")


def q(text: str) -> tuple[Term, ...]:
    return parse({"q": text}, WS).terms


def refused(args: dict[str, str], field: str) -> BadRequest:
    with pytest.raises(BadRequest) as caught:
        parse(args, WS)
    assert caught.value.status == 400
    assert caught.value.field == field, caught.value.message
    return caught.value


# --- terms ---------------------------------------------------------------------------------


def test_words_are_lowercase_and_the_last_one_is_a_prefix_while_typing() -> None:
    assert q("Budget Revi") == (Term(("budget",)), Term(("revi",), prefix=True))
    # A space after the last word closes it: the person finished typing it.
    assert q("Budget Review ") == (Term(("budget",)), Term(("review",)))


def test_quotes_make_a_phrase_and_a_phrase_is_never_a_prefix() -> None:
    assert q('"quarterly budget" review') == (
        Term(("quarterly", "budget"), phrase=True),
        Term(("review",), prefix=True),
    )
    assert q('review "quarterly budget"') == (
        Term(("review",)),
        Term(("quarterly", "budget"), phrase=True),
    )
    # A one-word "phrase" is a word; closed by its quote, so not a prefix either.
    assert q('"budget"') == (Term(("budget",)),)


def test_an_unbalanced_quote_runs_to_the_end() -> None:
    assert q('"quarterly budget') == (Term(("quarterly", "budget"), phrase=True),)
    assert q('budget "') == (Term(("budget",)),)


def test_joined_words_are_a_phrase() -> None:
    assert q("e-mail ") == (Term(("e", "mail"), phrase=True),)
    assert q("don't") == (Term(("don", "t"), phrase=True),)


def test_minus_negates_a_word_or_a_phrase_and_is_never_a_prefix() -> None:
    assert q("budget -draft") == (Term(("budget",)), Term(("draft",), negated=True))
    assert q('budget -"first draft"') == (
        Term(("budget",)),
        Term(("first", "draft"), phrase=True, negated=True),
    )
    # A minus inside a word is a joiner, not an operator.
    assert q("well-known ") == (Term(("well", "known"), phrase=True),)


def test_operators_and_punctuation_are_only_words_or_nothing() -> None:
    assert q("!!! ?? ... ;") == ()
    assert q("' OR 1=1 --") == (Term(("or",)), Term(("1", "1"), phrase=True))
    assert q("NEAR(budget, 3)") == (
        Term(("near", "budget"), phrase=True),
        Term(("3",), prefix=True),
    )
    assert q("* ^ \\ : ( ) { }") == ()
    assert q("title:budget") == (Term(("title", "budget"), phrase=True),)


def test_only_negations_is_browsing_and_nothing_at_all_is_empty() -> None:
    only_not = parse({"q": "-draft -old"}, WS)
    assert only_not.positive == () and len(only_not.negative) == 2
    assert only_not.browsing and only_not.empty  # no words, no filters: answered with nothing
    filtered = parse({"q": "-draft", "speaker": "Ana"}, WS)
    assert filtered.browsing and not filtered.empty
    assert parse({}, WS).empty
    assert parse({"q": "   "}, WS).terms == ()


def test_too_many_terms_are_refused() -> None:
    assert len(q(" ".join(f"w{i}" for i in range(MAX_TERMS)))) == MAX_TERMS
    refused({"q": " ".join(f"w{i}" for i in range(MAX_TERMS + 1))}, "q")


def test_unicode_words_stay_whole_with_their_accents_folded() -> None:
    assert q("Café Ölçek ") == (Term(("cafe",)), Term(("olcek",)))
    assert q("Straße ") == (Term(("straße",)),)  # one character for one: ß stays
    assert q("我们讨论预算") == (Term(("我们讨论预算",), prefix=True),)


def test_fold_keeps_one_character_for_one() -> None:
    for text in ("café", "Ölçek naïve", "ﬁnal ß", "我们", "plain"):
        assert len(fold(text)) == len(text)
    assert fold("Crème brûlée") == "Creme brulee"
    assert fold("ﬁnal ß") == "ﬁnal ß"


# --- parameters ----------------------------------------------------------------------------


def test_defaults() -> None:
    query = parse({}, WS)
    assert (query.sort, query.page, query.per_page, query.offset) == ("relevance", 1, PER_PAGE, 0)
    assert query.filters == Filters() and not query.filters.any
    assert query.workspace_id == WS


def test_the_workspace_never_comes_from_the_request() -> None:
    other = str(uuid.uuid4())
    query = parse({"q": "budget", "workspace_id": other, "workspace": other}, WS)
    assert query.workspace_id == WS


def test_long_queries_are_refused_by_length() -> None:
    assert parse({"q": "a" * MAX_QUERY_CHARS}, WS).terms
    error = refused({"q": "budget " * 1500}, "q")  # 10,500 characters
    assert "10,500" in error.message
    refused({"q": "x" * 10_000}, "q")


def test_sort_page_and_per_page_are_bounded() -> None:
    assert parse({"sort": " Newest "}, WS).sort == "newest"
    assert parse({"sort": "oldest"}, WS).sort == "oldest"
    refused({"sort": "title"}, "sort")
    refused({"sort": "created_at; DROP TABLE x"}, "sort")
    page = parse({"page": "3", "per_page": "10"}, WS)
    assert (page.page, page.per_page, page.offset) == (3, 10, 20)
    assert parse({"page": "500", "per_page": "100"}, WS).offset == 49_900
    for bad in ("0", "501", "-1", "1.5", "abc", "1e3", "\uff11"):  # the last: a fullwidth 1
        refused({"page": bad}, "page")
    assert parse({"page": " "}, WS).page == 1  # blank means the default
    for bad in ("0", "101", "1000"):
        refused({"per_page": bad}, "per_page")


def test_dates_are_days_and_date_to_is_inclusive() -> None:
    query = parse({"date_from": "2026-02-01", "date_to": "2026-02-15"}, WS)
    assert query.filters.date_from == date(2026, 2, 1)
    assert query.filters.created_from == datetime(2026, 2, 1, tzinfo=UTC)
    # The whole of 15 February is in: the bound is midnight after it.
    assert query.filters.created_before == datetime(2026, 2, 16, tzinfo=UTC)
    assert parse({"date_to": "2026-12-31"}, WS).filters.created_before == datetime(
        2027, 1, 1, tzinfo=UTC
    )
    assert parse({"date_from": "2026-02-01", "date_to": "2026-02-01"}, WS).filters.any
    refused({"date_from": "2026-02-02", "date_to": "2026-02-01"}, "date_from")
    refused({"date_from": "2026-02-30"}, "date_from")
    refused({"date_to": "yesterday"}, "date_to")


def test_filters_are_tidied_and_bounded() -> None:
    folder, uploader, transcript = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    f = parse(
        {
            "speaker": "  Ana   María ",
            "language": " de ",
            "tag": "Board",
            "folder": str(folder),
            "uploader": str(uploader).upper(),
            "transcript": f" {transcript} ",
        },
        WS,
    ).filters
    assert f == Filters(
        speaker="Ana María",
        language="de",
        tag="board",
        folder_id=folder,
        uploader_id=uploader,
        transcript_id=transcript,
    )
    assert f.any
    assert parse({"speaker": "   ", "tag": ""}, WS).filters == Filters()
    # Operators in a filter value are kept as the value: a backend binds it, never splices.
    assert parse({"speaker": 'x" OR workspace_id != "'}, WS).filters.speaker == (
        'x" OR workspace_id != "'
    )
    parse({"speaker": "s" * MAX_FILTER_CHARS}, WS)
    refused({"speaker": "s" * (MAX_FILTER_CHARS + 1)}, "speaker")
    refused({"tag": "t" * (MAX_FILTER_CHARS + 1)}, "tag")
    for name in ("folder", "uploader", "transcript"):
        refused({name: "not-an-id"}, name)
        refused({name: "' OR 1=1 --"}, name)


# --- the property --------------------------------------------------------------------------

PARAMS = ("q", "sort", "page", "per_page", "date_from", "date_to", "speaker", "language")
PARAMS += ("tag", "folder", "uploader", "transcript")
# Text that stays close to what matters: operators, quotes, digits, dashes, odd Unicode.
NEAR = st.text(
    alphabet=st.sampled_from([*"abcAB 01-\"*()\\:^~'.,;!?éİß我\u0307\u00a0\t\n", "\x00"]),
    max_size=40,
)
VALUES = st.one_of(NEAR, st.text(max_size=80), st.none())


@given(st.dictionaries(st.sampled_from(PARAMS), VALUES, max_size=len(PARAMS)))
@example({"q": "İstanbul"})  # its lowercase carries a combining dot (U+0307), not a letter
@example({"q": 'x" OR workspace_id != "'})
@example({"q": "-", "page": "٣"})  # an Arabic-Indic digit is a digit, but not a page number
def test_parse_only_ever_raises_bad_request_and_terms_are_plain_words(
    args: dict[str, str | None],
) -> None:
    try:
        query = parse(args, WS)
    except BadRequest as e:
        assert e.status == 400 and e.field in PARAMS
        return
    assert query.workspace_id == WS
    assert query.page >= 1 and query.per_page >= 1
    assert len(query.terms) <= MAX_TERMS
    for term in query.terms:
        assert term.words, term
        for word in term.words:
            assert WORD.match(word), (term, args)
            assert word == word.lower(), (term, args)
        assert not (term.prefix and (term.negated or term.phrase)), term
        assert term.phrase == (len(term.words) > 1), term


# --- snippets ------------------------------------------------------------------------------

S, E = MARK_START, MARK_END


def test_unmark_gives_plain_text_and_merged_ranges() -> None:
    assert snippets.unmark(f"the {S}budget{E} review") == ("the budget review", ((4, 10),))
    # Adjacent and overlapping marks merge; an empty pair is nothing.
    assert snippets.unmark(f"{S}ab{E}{S}cd{E} {S}{E}x") == ("abcd x", ((0, 4),))
    # A stray end is ignored; an unclosed start runs to the end.
    assert snippets.unmark(f"a{E}b {S}cd") == ("ab cd", ((3, 5),))
    assert snippets.unmark(f"{S}{S}ab{E}") == ("ab", ((0, 2),))
    assert snippets.unmark("plain") == ("plain", ())


def test_snippet_html_escapes_everything_but_its_marks() -> None:
    snippet = snippets.whole(f"<b>&amp; {S}<i>x</i>{E} 'q'")
    assert snippet.text == "<b>&amp; <i>x</i> 'q'"
    assert str(snippet.html) == ("&lt;b&gt;&amp;amp; <mark>&lt;i&gt;x&lt;/i&gt;</mark> &#39;q&#39;")


def test_a_short_text_is_its_own_snippet() -> None:
    snippet, first = snippets.around_first_match(f"we talked about the {S}budget{E} today")
    assert snippet.text == "we talked about the budget today"
    assert [snippet.text[a:b] for a, b in snippet.matches] == ["budget"]
    assert first == 20


def test_a_long_text_is_cut_around_its_first_match_at_word_boundaries() -> None:
    before = " ".join(f"pre{i}" for i in range(80))  # ~480 characters before the match
    after = " ".join(f"post{i}" for i in range(80))
    marked = f"{before} {S}budget{E} and the {S}budget{E} again {after}"
    snippet, first = snippets.around_first_match(marked)
    plain, _ranges = snippets.unmark(marked)
    assert first == plain.index("budget")
    assert snippet.text.startswith("… ") and snippet.text.endswith(" …")
    assert len(snippet.text) <= snippets.WINDOW + 4
    assert [snippet.text[a:b] for a, b in snippet.matches] == ["budget", "budget"]
    lead = snippet.text.index("budget")
    assert 20 <= lead <= snippets.LEAD + 25  # some words before the match, not many
    inner = snippet.text[2:-2]
    assert inner in plain and not inner.startswith(" ") and not inner.endswith(" ")
    # Cut between words: the first and last words are whole words of the text.
    assert inner.split()[0] in plain.split() and inner.split()[-1] in plain.split()


def test_a_match_near_the_start_has_no_lead_and_a_title_match_shows_the_beginning() -> None:
    long = f"{S}Budget{E} " + " ".join(f"w{i}" for i in range(100))
    snippet, first = snippets.around_first_match(long)
    assert first == 0 and not snippet.text.startswith("…") and snippet.text.endswith(" …")
    assert snippet.matches[0] == (0, 6)
    untouched = " ".join(f"w{i}" for i in range(100))
    snippet, first = snippets.around_first_match(untouched)
    assert first is None and snippet.matches == ()
    assert snippet.text.startswith("w0 w1 ")


def test_moment_is_the_start_of_the_segment_holding_the_offset() -> None:
    marks = ((0, 1.5), (10, 5.0), (20, 9.25))
    assert snippets.moment(marks, 0, 0.0) == 1.5
    assert snippets.moment(marks, 9, 0.0) == 1.5
    assert snippets.moment(marks, 10, 0.0) == 5.0
    assert snippets.moment(marks, 19, 0.0) == 5.0
    assert snippets.moment(marks, 400, 0.0) == 9.25
    assert snippets.moment(marks, None, 7.0) == 7.0
    assert snippets.moment((), 3, 7.0) == 7.0


@st.composite
def marked_texts(draw: st.DrawFn) -> tuple[str, list[str]]:
    words = draw(
        st.lists(st.text(alphabet="abcdeé我<&", min_size=1, max_size=12), min_size=1, max_size=90)
    )
    chosen = draw(st.sets(st.integers(0, len(words) - 1), max_size=6))
    out = [f"{S}{w}{E}" if i in chosen else w for i, w in enumerate(words)]
    return " ".join(out), [words[i] for i in sorted(chosen)]


@given(marked_texts())
def test_snippet_marks_always_cover_marked_words(case: tuple[str, list[str]]) -> None:
    marked, chosen = case
    plain, ranges = snippets.unmark(marked)
    assert plain == marked.replace(S, "").replace(E, "")
    assert [plain[a:b] for a, b in ranges] == chosen
    snippet, first = snippets.around_first_match(marked)
    assert first == (ranges[0][0] if ranges else None)
    assert len(snippet.text) <= max(len(plain), snippets.WINDOW + 4)
    for a, b in snippet.matches:
        assert 0 <= a < b <= len(snippet.text)
        assert snippet.text[a:b] in plain  # a piece of a marked word, never something else
    if ranges:
        # The first match is always shown, whole.
        assert chosen[0] in [snippet.text[a:b] for a, b in snippet.matches]
