"""The transcript page's word markup, built in Python for speed: escaped, marked, spaced."""

from __future__ import annotations

from app.transcripts.render import words_html


def test_words_are_escaped_marked_and_joined() -> None:
    html = words_html(
        [
            ["<b>bold</b>", 0.0, 0.5, 0.9],
            ["&amp", 0.5, 1.0, 0.2],
            ["typed", 1.0, 1.25, None],
            ["42", None, None, 0.7],
        ],
        " ",
        0.5,
    )
    assert str(html) == (
        '<span class="w" data-start="0.00" data-end="0.50" data-i="0" data-p="0.90">'
        "&lt;b&gt;bold&lt;/b&gt;</span> "
        '<span class="w low" data-start="0.50" data-end="1.00" data-i="1" data-p="0.20">'
        "&amp;amp</span> "
        '<span class="w" data-start="1.00" data-end="1.25" data-i="2">typed</span> '
        '<span class="w" data-start="" data-end="" data-i="3" data-p="0.70">42</span>'
    )


def test_languages_without_spaces_join_words_directly() -> None:
    html = words_html([["你", 0.0, 0.2, 0.9], ["好", 0.2, 0.4, 0.9]], "", 0.5)
    assert "</span><span" in str(html)
    assert "</span> <span" not in str(html)
