"""Engine output is stored whatever bytes a model decodes (random-weight models emit NUL)."""

from __future__ import annotations

from app.transcripts.lifecycle import clean_text


def test_control_characters_and_lone_surrogates_are_dropped():
    assert clean_text("a\x00b\x07c\td\ne") == "abc\td\ne"
    assert clean_text("x\ud800y") == "x?y"
    assert clean_text("Grüße, 東京") == "Grüße, 東京"
