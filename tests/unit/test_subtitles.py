"""Subtitles follow the readability rules, read back by independent parsers (srt, webvtt-py):
at most 2 lines of 42 characters, at most 7 s per cue, cues in order and never
overlapping, long segments split between words at the words' own times, every word kept.
"""

from __future__ import annotations

import html
import itertools
import unicodedata
from dataclasses import dataclass

import srt
import webvtt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.transcripts.exports.document import ExportDocument, build
from app.transcripts.exports.options import ExportOptions
from app.transcripts.exports.subtitles import render_srt, render_vtt

MAX_CHARS = 42
MAX_SECONDS = 7.0
SPEAKERS = {"S0": "Alice", "S1": "Bob"}


@dataclass
class ReadCue:
    start: float
    end: float
    lines: list[str]
    voice: str | None = None


def doc(segments, *, language: str = "en", speakers=SPEAKERS) -> ExportDocument:
    """segments: (start, end, text, speaker, words) with words as stored."""
    return build(
        transcript_id="t",
        title="T",
        language=language,
        duration=max((s[1] for s in segments), default=0.0),
        segments=segments,
        speakers=speakers,
    )


def timed(start: float, text: str, step: float = 0.4, speaker: str | None = "S0"):
    """A segment whose words are `step` seconds apart, each lasting 0.3 s."""
    words = [[w, start + i * step, start + i * step + 0.3, 0.9] for i, w in enumerate(text.split())]
    return (start, words[-1][2], text, speaker, words)


def read_srt(body: bytes) -> list[ReadCue]:
    return [
        ReadCue(s.start.total_seconds(), s.end.total_seconds(), s.content.split("\n"))
        for s in srt.parse(body.decode())
    ]


def read_vtt(body: bytes) -> list[ReadCue]:
    return [
        ReadCue(
            c.start_time.in_milliseconds() / 1000,
            c.end_time.in_milliseconds() / 1000,
            [html.unescape(line) for line in c.text.split("\n")],
            html.unescape(c.voice) if c.voice else None,
        )
        for c in webvtt.from_string(body.decode())
    ]


def columns(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


def assert_readable(cues: list[ReadCue]) -> None:
    for cue in cues:
        assert 1 <= len(cue.lines) <= 2, cue
        for line in cue.lines:
            assert line and line == line.strip(), cue
            assert len(line) <= MAX_CHARS and columns(line) <= MAX_CHARS, cue
        assert 0 < cue.end - cue.start <= MAX_SECONDS + 1e-9, cue
    for before, after in itertools.pairwise(cues):
        assert before.start <= after.start, (before, after)
        assert before.end <= after.start + 1e-9, (before, after)


def both(document: ExportDocument, options: ExportOptions | None = None):
    options = options or ExportOptions()
    return read_srt(render_srt(document, options)), read_vtt(render_vtt(document, options))


# --- examples ----------------------------------------------------------------------------------

LONG = (
    "So the first thing we did was look at the numbers from last quarter, and honestly "
    "they were not great. Then we asked the team what had changed since the spring."
)


def test_a_long_segment_is_split_between_words_at_the_words_times():
    segment = timed(10.0, LONG)
    words = segment[4]
    srt_cues, vtt_cues = both(doc([segment]), ExportOptions(speakers=False))
    for cues in (srt_cues, vtt_cues):
        assert len(cues) >= 2
        assert_readable(cues)
        assert " ".join(" ".join(c.lines) for c in cues) == LONG
        # Each cue starts where its first word starts and ends where its last word ends.
        starts = {round(w[1], 3) for w in words}
        ends = {round(w[2], 3) for w in words}
        for cue in cues:
            assert round(cue.start, 3) in starts
            assert round(cue.end, 3) in ends


def test_a_sentence_end_closes_a_cue_that_holds_enough_text():
    text = "We looked at all of the numbers again today. Then we left."
    for cues in both(doc([timed(0.0, text, step=0.3)]), ExportOptions(speakers=False)):
        assert [" ".join(c.lines) for c in cues] == [
            "We looked at all of the numbers again today.",
            "Then we left.",
        ]


def test_edited_text_is_timed_by_interpolation_within_the_segment():
    # The words no longer spell the text (it was edited): their timings are not used.
    start, end = 100.0, 112.0
    stale = [["old", 100.0, 100.2, 0.9], ["words", 111.0, 111.9, 0.9]]
    cues, _ = both(doc([(start, end, LONG, "S0", stale)]), ExportOptions(speakers=False))
    assert_readable(cues)
    assert cues[0].start == start and cues[-1].end == end
    assert " ".join(" ".join(c.lines) for c in cues) == LONG
    # Interpolated in proportion to length: the boundaries fall strictly inside the segment.
    inner = [c.start for c in cues[1:]]
    assert all(start < t < end for t in inner)


def test_a_long_segment_without_words_is_split_at_seven_seconds_at_most():
    text = " ".join(["word"] * 12)  # fits two lines, but spans 30 s
    cues, vtt_cues = both(doc([(0.0, 30.0, text, None, [])]))
    for read in (cues, vtt_cues):
        assert_readable(read)
        assert len(read) >= 5
        assert " ".join(" ".join(c.lines) for c in read) == text


def test_chinese_splits_between_characters_and_joins_without_spaces():
    text = (
        "我们今天讨论一下这个问题，然后再决定下一步怎么做。"  # noqa: RUF001
        "这是一个很长的句子，需要被拆分成多个字幕。"  # noqa: RUF001
    )
    segment = (0.0, 12.0, text, "S0", [])
    srt_cues, vtt_cues = both(doc([segment], language="zh"), ExportOptions(speakers=False))
    for cues in (srt_cues, vtt_cues):
        assert_readable(cues)
        assert len(cues) >= 2
        # No space is put between Chinese characters; a wide character takes two columns.
        assert "".join("".join(c.lines) for c in cues) == text
        assert all(" " not in line for c in cues for line in c.lines)
        assert max(len(line) for c in cues for line in c.lines) <= MAX_CHARS // 2


def test_japanese_word_timings_are_used_and_joined_without_spaces():
    words = [["今日", 0.0, 0.5, 0.9], ["は", 0.5, 0.7, 0.9], ["晴れ", 0.7, 1.2, 0.9]]
    words += [["です。", 1.2, 1.8, 0.9]]
    cues, _ = both(doc([(0.0, 1.8, "今日は晴れです。", None, words)], language="ja"))
    assert [c.lines for c in cues] == [["今日は晴れです。"]]
    assert (cues[0].start, cues[0].end) == (0.0, 1.8)


def test_speaker_names_prefix_srt_at_each_change_and_tag_every_vtt_cue():
    segments = [timed(0.0, LONG, speaker="S0"), timed(40.0, "Yes I agree.", speaker="S1")]
    srt_cues, vtt_cues = both(doc(segments))
    assert_readable(srt_cues)
    assert_readable(vtt_cues)
    assert srt_cues[0].lines[0].startswith("Alice: ")
    assert not any(line.startswith("Alice:") for c in srt_cues[1:] for line in c.lines)
    assert srt_cues[-1].lines == ["Bob: Yes I agree."]
    assert {c.voice for c in vtt_cues[:-1]} == {"Alice"}
    assert vtt_cues[-1].voice == "Bob" and vtt_cues[-1].lines == ["Yes I agree."]
    off_srt, off_vtt = both(doc(segments), ExportOptions(speakers=False))
    assert not any("Alice" in line for c in off_srt for line in c.lines)
    assert all(c.voice is None for c in off_vtt)


def test_markup_in_names_and_text_stays_text():
    names = {"S0": '<b onclick="x">Eve</b> & co'}
    text = "a <i>tag</i> & an arrow --> here"
    srt_cues, vtt_cues = both(doc([(0.0, 3.0, text, "S0", [])], speakers=names))
    assert vtt_cues[0].voice == names["S0"]
    assert " ".join(vtt_cues[0].lines) == text
    raw = render_vtt(doc([(0.0, 3.0, text, "S0", [])], speakers=names), ExportOptions())
    assert b"<i>" not in raw and b"&lt;i&gt;" in raw
    # SRT has no escaping; "-->" in a line would read as a timing line to some players.
    srt_text = " ".join(line for c in srt_cues for line in c.lines)
    assert srt_text == '<b onclick="x">Eve<…: ' + text.replace("-->", "->")


def test_a_long_speaker_name_is_shortened_in_the_srt_prefix():
    names = {"S0": "Professor Doctor Maximilian von Habsburg-Lothringen"}
    cues, vtt_cues = both(doc([timed(0.0, "Good morning everyone.")], speakers=names))
    assert_readable(cues)
    assert cues[0].lines[0].startswith("Professor Doctor Ma…:")
    assert " ".join(cues[0].lines) == "Professor Doctor Ma…: Good morning everyone."
    assert vtt_cues[0].voice == names["S0"]


def test_a_word_longer_than_a_line_is_cut_into_line_sized_parts():
    url = "https://example.com/" + "a/very-long/path" * 6
    cues, vtt_cues = both(doc([(0.0, 4.0, f"see {url} now", None, [])]))
    for read in (cues, vtt_cues):
        assert_readable(read)
        assert squeeze("".join("".join(c.lines) for c in read)) == f"see{url}now"
        assert any(len(line) == MAX_CHARS or len(line) > 30 for c in read for line in c.lines)


def test_overlapping_segments_give_cues_that_do_not_overlap():
    segments = [
        (0.0, 6.0, "We were talking over each other here", "S0", []),
        (2.0, 4.0, "yes yes", "S1", []),
        (2.0, 2.0, "same start and no length", "S0", []),
        (1.0, 1.5, "earlier", None, []),
    ]
    for read in both(doc(segments)):
        assert_readable(read)
        assert len(read) >= 4


def test_empty_segments_and_transcripts_give_valid_empty_files():
    empty = doc([(0.0, 1.0, "   ", None, [])])
    assert render_srt(empty, ExportOptions()) == b""
    assert render_vtt(empty, ExportOptions()).startswith(b"WEBVTT")
    assert list(webvtt.from_string(render_vtt(empty, ExportOptions()).decode())) == []


# --- properties --------------------------------------------------------------------------------

LATIN = st.text(alphabet="abcdefghijklmnopqrstuvwxyzÀÉß.,?!'-", min_size=1, max_size=12)
LONG_WORD = st.text(alphabet="abcdefghij/:.", min_size=40, max_size=130)
OTHER = st.sampled_from(["Привет", "მსოფლიო", "مرحبا", "שלום", "Ελληνικά", "😀", "e\u0301"])
WORD = st.one_of(LATIN, LATIN, LATIN, LONG_WORD, OTHER)
CJK = st.text(
    alphabet="我们今天讨论问题，。！？这是一个很长的句子ひらがなカタカナ한국어",  # noqa: RUF001
    min_size=1,
    max_size=80,
)


@st.composite
def transcripts(draw, *, ordered: bool):
    """Segments in time order with consistent word timings (ordered), or anything at all:
    overlapping, zero-length, words out of order, timings that do not match the text."""
    language = draw(st.sampled_from(["en", "zh"]))
    count = draw(st.integers(1, 12))
    segments, clock = [], 0.0
    for _ in range(count):
        if language == "zh":
            text = draw(CJK)
            pieces = list(text)
        else:
            pieces = draw(st.lists(WORD, min_size=1, max_size=40))
            text = " ".join(pieces)
        if ordered:
            start = clock + draw(st.floats(0, 5))
            gaps = draw(st.lists(st.floats(0.01, 3.0), min_size=len(pieces), max_size=len(pieces)))
            words, t = [], start
            for piece, gap in zip(pieces, gaps, strict=True):
                words.append([piece, t, t + gap * 0.8, 0.9])
                t += gap
            end = t
            clock = end
            if not draw(st.booleans()):
                words = []
        else:
            start = draw(st.floats(0, 200))
            end = start + draw(st.floats(0, 40))
            words = draw(
                st.lists(
                    st.tuples(st.sampled_from(pieces), st.floats(0, 250), st.floats(0, 250)),
                    max_size=len(pieces),
                ).map(lambda ws: [[w, a, b, None] for w, a, b in ws])
            )
        speaker = draw(st.sampled_from([None, "S0", "S1", "S2"]))
        segments.append((start, end, text, speaker, words))
    names = {"S0": "Alice", "S1": draw(st.text(min_size=1, max_size=60)), "S2": "Li 李"}
    return doc(segments, language=language, speakers=names)


def squeeze(text: str) -> str:
    return "".join(text.split())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=transcripts(ordered=False), speakers=st.booleans())
def test_any_transcript_gives_readable_cues_that_never_overlap(document, speakers):
    options = ExportOptions(speakers=speakers)
    assert_readable(read_srt(render_srt(document, options)))
    assert_readable(read_vtt(render_vtt(document, options)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=transcripts(ordered=True))
def test_every_character_is_kept_in_order(document):
    options = ExportOptions(speakers=False)
    said = "".join(squeeze(s.text) for s in document.segments)
    for cues in both(document, options):
        assert_readable(cues)
        assert "".join(squeeze("".join(c.lines)) for c in cues) == said
