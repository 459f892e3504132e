"""Fonts for PDF export, found on the system: DejaVu Sans for most scripts, a Noto font
for scripts DejaVu lacks or sets poorly, WenQuanYi Micro Hei for Chinese, Japanese and
Korean. Only the fonts a document needs are loaded; a needed one that is missing is a
clear refusal naming the Debian package to install.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from flask_babel import gettext as _

from app.transcripts.exports.base import MissingFont

FONT_ROOTS: tuple[str, ...] = (
    "/usr/share/fonts/truetype",
    "/usr/share/fonts/opentype",
    "/usr/local/share/fonts",
)
NOTO = "fonts-noto-core"
Ranges = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class FontSpec:
    family: str  # the name inside the PDF
    script: str  # for people: "Arabic"
    regular: tuple[str, ...]  # file names, the first one found wins
    bold: tuple[str, ...]
    package: str
    ranges: Ranges  # code points this font is used for
    shaped: bool = False  # needs text shaping (joining, reordering, right to left)


@dataclass(frozen=True)
class FontFile:
    family: str
    regular: Path
    bold: Path | None


@dataclass(frozen=True)
class FontPlan:
    main: FontFile
    main_ranges: Ranges | None  # None: the main font's whole character map
    fallbacks: tuple[FontFile, ...]


MAIN = FontSpec(
    "dejavu",
    "Latin, Greek, Cyrillic and most other",
    ("DejaVuSans.ttf",),
    ("DejaVuSans-Bold.ttf",),
    "fonts-dejavu-core",
    ((0x0000, 0x1FFFF),),
)


def _noto(family: str, script: str, ranges: Ranges, shaped: bool = True) -> FontSpec:
    name = f"NotoSans{script.replace(' ', '')}"
    return FontSpec(
        family, script, (f"{name}-Regular.ttf",), (f"{name}-Bold.ttf",), NOTO, ranges, shaped
    )


# Scripts preferred from these fonts even where DejaVu has glyphs (better shaping and
# design), then scripts DejaVu does not have at all.
PREFERRED = (
    _noto(
        "arabic",
        "Arabic",
        ((0x0600, 0x06FF), (0x0750, 0x077F), (0x08A0, 0x08FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)),
    ),
    _noto("hebrew", "Hebrew", ((0x0590, 0x05FF), (0xFB1D, 0xFB4F))),
    _noto("georgian", "Georgian", ((0x10A0, 0x10FF), (0x1C90, 0x1CBF), (0x2D00, 0x2D2F)), False),
)
OTHERS = (
    _noto("syriac", "Syriac", ((0x0700, 0x074F),)),
    _noto("thaana", "Thaana", ((0x0780, 0x07BF),)),
    _noto("devanagari", "Devanagari", ((0x0900, 0x097F), (0xA8E0, 0xA8FF))),
    _noto("bengali", "Bengali", ((0x0980, 0x09FF),)),
    _noto("gurmukhi", "Gurmukhi", ((0x0A00, 0x0A7F),)),
    _noto("gujarati", "Gujarati", ((0x0A80, 0x0AFF),)),
    _noto("oriya", "Oriya", ((0x0B00, 0x0B7F),)),
    _noto("tamil", "Tamil", ((0x0B80, 0x0BFF),)),
    _noto("telugu", "Telugu", ((0x0C00, 0x0C7F),)),
    _noto("kannada", "Kannada", ((0x0C80, 0x0CFF),)),
    _noto("malayalam", "Malayalam", ((0x0D00, 0x0D7F),)),
    _noto("sinhala", "Sinhala", ((0x0D80, 0x0DFF),)),
    _noto("thai", "Thai", ((0x0E00, 0x0E7F),)),
    _noto("lao", "Lao", ((0x0E80, 0x0EFF),)),
    _noto("myanmar", "Myanmar", ((0x1000, 0x109F),)),
    _noto("ethiopic", "Ethiopic", ((0x1200, 0x139F), (0x2D80, 0x2DDF)), False),
    _noto("khmer", "Khmer", ((0x1780, 0x17FF),)),
    FontSpec(
        "cjk",
        "Chinese, Japanese and Korean",
        ("wqy-microhei.ttc", "wqy-zenhei.ttc"),
        (),
        "fonts-wqy-microhei",
        (
            (0x1100, 0x11FF),  # Hangul Jamo
            (0x2E80, 0x2FDF),  # radicals
            (0x3000, 0x30FF),  # CJK punctuation, Hiragana, Katakana
            (0x3100, 0x31FF),  # Bopomofo, Hangul compatibility Jamo, Katakana extensions
            (0x3200, 0x33FF),  # enclosed letters, compatibility
            (0x3400, 0x4DBF),  # extension A
            (0x4E00, 0x9FFF),  # unified ideographs
            (0xAC00, 0xD7AF),  # Hangul syllables
            (0xF900, 0xFAFF),  # compatibility ideographs
            (0xFE30, 0xFE4F),  # compatibility forms
            (0xFF00, 0xFFEF),  # half- and full-width forms
            (0x20000, 0x2FA1F),  # extensions B and later
        ),
    ),
)
SPECS = PREFERRED + OTHERS


@lru_cache(maxsize=8)
def _index(roots: tuple[str, ...]) -> dict[str, Path]:
    """Font file name -> path, under the roots (walked once per process)."""
    found: dict[str, Path] = {}
    for root in roots:
        for folder, _dirs, files in os.walk(root):
            for name in files:
                found.setdefault(name, Path(folder) / name)
    return found


def _find(names: Iterable[str], roots: tuple[str, ...]) -> Path | None:
    index = _index(roots)
    return next((index[n] for n in names if n in index), None)


def _covers(spec: FontSpec, codepoints: set[int]) -> bool:
    return any(lo <= cp <= hi for cp in codepoints for lo, hi in spec.ranges)


def _file(spec: FontSpec, roots: tuple[str, ...]) -> FontFile:
    regular = _find(spec.regular, roots)
    if regular is None:
        raise MissingFont(
            _(
                "PDF export needs a font for %(script)s text (%(files)s), and none is "
                "installed on this server: install the Debian package %(package)s.",
                script=spec.script,
                files=" or ".join(spec.regular),
                package=spec.package,
            )
        )
    return FontFile(spec.family, regular, _find(spec.bold, roots))


def _without(ranges: Ranges, holes: Sequence[tuple[int, int]]) -> Ranges:
    out = []
    for lo, hi in ranges:
        for h_lo, h_hi in sorted(holes):
            if h_hi < lo or h_lo > hi:
                continue
            if h_lo > lo:
                out.append((lo, h_lo - 1))
            lo = h_hi + 1
        if lo <= hi:
            out.append((lo, hi))
    return tuple(out)


def plan(characters: Iterable[str], roots: Sequence[str] = FONT_ROOTS) -> FontPlan:
    """The fonts for a document with these characters. Raises MissingFont."""
    roots = tuple(roots)
    codepoints = {ord(c) for c in characters if ord(c) > 0x024F}  # Latin is DejaVu's
    main = _file(MAIN, roots)
    needed = [spec for spec in SPECS if codepoints and _covers(spec, codepoints)]
    preferred = [r for spec in needed if spec in PREFERRED for r in spec.ranges]
    return FontPlan(
        main,
        _without(MAIN.ranges, preferred) if preferred else None,
        tuple(_file(spec, roots) for spec in needed),
    )


@lru_cache(maxsize=1)
def _shaped() -> re.Pattern[str]:
    spans = (f"\\U{lo:08x}-\\U{hi:08x}" for spec in SPECS if spec.shaped for lo, hi in spec.ranges)
    return re.compile(f"[{''.join(spans)}]")


def needs_shaping(text: str) -> bool:
    """Whether text has characters that show right only when shaped (joined, reordered,
    laid right to left). Shaping is slow, so Latin text goes without."""
    return _shaped().search(text) is not None
