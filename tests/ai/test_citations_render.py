"""Citations are checked against real segments, and model output renders as safe HTML."""

from __future__ import annotations

from html.parser import HTMLParser

from app.ai import render
from app.ai.citations import Resolver, label, stamp
from app.ai.provider import Line, Source


def _lines(source: str = "") -> list[Line]:
    times = [(0.0, 4.2), (4.2, 9.9), (65.5, 70.0), (3725.0, 3731.0)]
    return [
        Line(label(s, source), source, i, s, e, "Alice", f"line {i}")
        for i, (s, e) in enumerate(times)
    ]


def test_labels_read_like_a_clock() -> None:
    assert stamp(0) == "00:00"
    assert stamp(65.9) == "01:05"
    assert stamp(3725) == "1:02:05"
    assert label(754.2) == "[12:34]"
    assert label(754.2, "T3") == "[T3 12:34]"


def test_a_citation_of_a_real_moment_resolves_to_its_segment() -> None:
    resolver = Resolver.for_transcript("t1", _lines())
    found = resolver.check("Hello [00:00], [00:04] and [01:05], later [1:02:05].")
    assert [c.valid for c in found] == [True, True, True, True]
    # [00:04] is the label of the segment starting at 4.2 s, not the end of the first.
    assert [c.position for c in found] == [0, 1, 2, 3]
    assert found[2].start == 65.5
    assert all(c.transcript_id == "t1" for c in found)


def test_invented_times_and_unknown_sources_are_invalid() -> None:
    resolver = Resolver.for_transcript("t1", _lines())
    found = resolver.check("Made up [30:00], between segments [00:30], past the end [2:00:00].")
    assert [c.valid for c in found] == [False, False, False]
    across = Resolver([Source("T1", "id-1", "One", "2026-01-01", tuple(_lines("T1")))])
    assert [c.valid for c in across.check("[T1 01:05] [T2 01:05] [01:05]")] == [
        True,
        False,
        True,  # one source only: a label without its key can mean nothing else
    ]


def test_output_with_script_and_links_renders_as_text() -> None:
    evil = (
        "<script>alert(1)</script> <img src=x onerror=alert(2)> "
        "[click](javascript:alert(3)) **bold** [00:04]\n\n- a <b onclick=x>b</b>"
    )
    html = str(render.to_html(evil, Resolver.for_transcript("t1", _lines()), render.same_page))
    tags = _live_markup(html)
    assert {t for t, _a in tags} <= render.TAGS | {"a", "span"}
    # The only attributes are those of the citation link this module wrote.
    assert [a for _t, a in tags if a] == [
        [("class", "cite"), ("href", "#t=4.20"), ("data-seek", "4.20")]
    ]
    assert "<strong>bold</strong>" in html
    assert '<a class="cite" href="#t=4.20" data-seek="4.20">[00:04]</a>' in html
    assert "&lt;script&gt;" in html  # shown, not run


def _live_markup(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    found: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, attrs))

    Collect().feed(html)
    return found


def test_invalid_citations_are_not_links() -> None:
    html = str(render.to_html("See [45:00].", Resolver.for_transcript("t1", _lines()), None))
    assert "<a" not in html and "cite-invalid" in html and "[45:00]" in html


def test_stored_citations_render_without_the_transcript() -> None:
    resolver = Resolver.for_transcript("t1", _lines())
    text = "Point [01:05]; invented [09:09]."
    stored = [c.as_json() for c in resolver.check(text)]
    html = str(render.result_html(text, stored, render.same_page))
    assert 'href="#t=65.50"' in html and "cite-invalid" in html
