"""Words in a segment: how they join into text, and how edited text splits back into words.

Whisper writes most languages with spaces between words; Chinese, Japanese, Thai, Lao,
Burmese and Khmer without. Engines hand words over stripped, so the joiner comes from the
transcript's language.
"""

from __future__ import annotations

NO_SPACE_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "my", "km", "yue", "bo"})


def joiner(language: str | None) -> str:
    base = (language or "").split("-", 1)[0].lower()
    return "" if base in NO_SPACE_LANGUAGES else " "
