"""Edited text back into words: unchanged words keep their timing and confidence, new ones
get times between their neighbours, and every time stays ordered inside the segment."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from app.transcripts import words as W


def timed(texts: list[str], start: float = 0.0, step: float = 0.5) -> list[list]:
    return [[t, start + i * step, start + i * step + 0.4, 0.8] for i, t in enumerate(texts)]


def assert_well_formed(out: list[list], start: float, end: float) -> None:
    cursor = start
    for text, w_start, w_end, _p in out:
        assert text
        assert cursor <= w_start <= w_end <= end, (out, start, end)
        cursor = w_end


def test_tokens_follow_the_language():
    assert W.tokenize("  Hello,  wide world. ", "en") == ["Hello,", "wide", "world."]
    assert W.tokenize("我用iPhone 拍照。", "zh") == ["我", "用", "iPhone", "拍", "照", "。"]
    assert W.tokenize("สวัสดีครับ", "th") == list("สวัสดีครับ")
    assert W.tokenize("今日は", "ja-JP") == ["今", "日", "は"]
    assert W.joiner("zh-Hant") == "" and W.joiner("pt-BR") == " " and W.joiner(None) == " "


def test_normal_form_ignores_case_and_surrounding_punctuation():
    assert W.normal("«Teh,»") == W.normal("teh") == "teh"
    assert W.normal("...") == "..."
    assert W.edges("(Hello!)") == ("(", "Hello", "!)")


def test_unchanged_text_gives_back_the_same_words():
    old = timed(["we", "met", "in", "Paris."])
    assert W.rewords(old, "we met in Paris.", "en", 0.0, 2.0) == old


def test_a_fixed_word_keeps_its_time_and_loses_its_probability():
    old = [["Hello", 0.0, 0.4, 0.9], ["teh", 0.5, 0.8, 0.3], ["world.", 0.9, 1.3, 0.8]]
    out = W.rewords(old, "Hello the world.", "en", 0.0, 1.5)
    assert out == [["Hello", 0.0, 0.4, 0.9], ["the", 0.5, 0.8, None], ["world.", 0.9, 1.3, 0.8]]


def test_a_case_change_keeps_the_time_but_counts_as_typed():
    old = [["paris", 1.0, 1.4, 0.2]]
    assert W.rewords(old, "Paris", "en", 1.0, 2.0) == [["Paris", 1.0, 1.4, None]]


def test_inserted_words_are_timed_between_their_neighbours():
    old = [["one", 0.0, 0.4, 0.9], ["three", 1.0, 1.4, 0.9]]
    out = W.rewords(old, "one two three", "en", 0.0, 2.0)
    assert out[0] == ["one", 0.0, 0.4, 0.9] and out[2] == ["three", 1.0, 1.4, 0.9]
    assert out[1][0] == "two" and 0.4 <= out[1][1] < out[1][2] <= 1.0 and out[1][3] is None


def test_one_word_replaced_by_several_shares_its_time():
    old = [["alot", 2.0, 2.6, 0.4], ["more", 2.7, 3.0, 0.9]]
    out = W.rewords(old, "a lot more", "en", 2.0, 3.0)
    assert [w[0] for w in out] == ["a", "lot", "more"]
    assert out[0][1] == 2.0 and out[1][2] == 2.6 and out[0][2] == out[1][1]
    assert out[2] == ["more", 2.7, 3.0, 0.9]


def test_chinese_keeps_multi_character_words_that_did_not_change():
    old = [["你好", 0.0, 0.5, 0.9], ["世界", 0.6, 1.0, 0.4]]
    comma = "\uff0c"  # full-width, as Chinese is written
    out = W.rewords(old, f"你好{comma}大世界", "zh", 0.0, 1.2)
    assert out[0] == ["你好", 0.0, 0.5, 0.9] and out[-1] == ["世界", 0.6, 1.0, 0.4]
    assert [w[0] for w in out[1:-1]] == [comma, "大"]
    assert all(w[3] is None for w in out[1:-1])


def test_words_without_times_are_interpolated():
    out = W.settle([["a", None, None, None], ["b", 1.0, 1.5, 0.5], ["c", None, None, None]], 0, 3)
    assert [w[1:3] for w in out] == [[0.0, 1.0], [1.0, 1.5], [1.5, 3.0]]


def test_split_time_follows_the_words():
    old = [["Hello", 0.0, 0.4, 0.9], ["teh", 0.5, 0.8, 0.3], ["world.", 0.9, 1.3, 0.8]]
    text = "Hello teh world."
    assert W.word_offsets(text, old) == [0, 6, 10]
    assert W.split_time(old, text, 6, 0.0, 1.5) == 0.5
    assert W.split_time(old, text, 7, 0.0, 1.5) == 0.6  # a third of the way into "teh"
    assert W.word_offsets("Hello there", old) is None


vocabulary = st.sampled_from(["the", "a", "Paris,", "teh", "world.", "我", "好", "iPhone", "ok"])


@settings(max_examples=300, deadline=None)
@given(
    old=st.lists(vocabulary, max_size=12),
    new=st.lists(vocabulary, max_size=12),
    start=st.floats(min_value=0, max_value=10_000, allow_nan=False),
    length=st.floats(min_value=0, max_value=60, allow_nan=False),
    gaps=st.lists(st.floats(min_value=0, max_value=2, allow_nan=False), min_size=24, max_size=24),
    language=st.sampled_from(["en", "zh", None]),
)
def test_timings_stay_ordered_and_inside_the_segment(old, new, start, length, gaps, language):
    end = start + length
    # Old words as an engine gives them: ordered, inside the segment (clamped to it).
    at, words = start, []
    for i, text in enumerate(old):
        w_start = min(at + gaps[2 * i], end)
        w_end = min(w_start + gaps[2 * i + 1], end)
        words.append([text, w_start, w_end, 0.5])
        at = w_end
    text = W.joiner(language).join(new)
    out = W.rewords(words, text, language, start, end)
    assert_well_formed(out, start, end)
    # The words spell the text: nothing lost, nothing made up.
    assert "".join(w[0] for w in out) == "".join(text.split())
    # Text that did not change (and that its words spell token by token: in Chinese,
    # "the"+"the" reads as one Latin word) gives back the very same words.
    if new == old and W.tokenize(text, language) == old:
        assert out == words


@settings(max_examples=200, deadline=None)
@given(
    texts=st.lists(vocabulary, min_size=1, max_size=10),
    times=st.lists(
        st.one_of(st.none(), st.floats(min_value=-5, max_value=50, allow_nan=False)),
        min_size=20,
        max_size=20,
    ),
    start=st.floats(min_value=0, max_value=20, allow_nan=False),
    length=st.floats(min_value=0, max_value=20, allow_nan=False),
)
def test_settle_repairs_any_times(texts, times, start, length):
    """Even times out of order, outside the segment or missing come out well formed."""
    words = [[t, times[2 * i], times[2 * i + 1], None] for i, t in enumerate(texts)]
    assert_well_formed(W.settle(words, start, start + length), start, start + length)
