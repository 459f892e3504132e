"""Safe file names for downloads and zip entries, and the Content-Disposition header."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from urllib.parse import quote

MAX_STEM_BYTES = 120  # leaves room for " (123).docx" under common 255-byte name limits
FALLBACK = "transcript"
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')
_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)


def safe_stem(title: str) -> str:
    """A file name (without extension) from a title: no path separators, no characters
    Windows refuses, no leading dots, not a reserved device name, bounded in length."""
    stem = unicodedata.normalize("NFC", title or "")
    stem = " ".join(_UNSAFE.sub(" ", stem).split())
    stem = stem.strip(". ")
    encoded = stem.encode()
    if len(encoded) > MAX_STEM_BYTES:
        stem = encoded[:MAX_STEM_BYTES].decode(errors="ignore").rstrip(". ")
    if _RESERVED.match(stem):
        stem = f"_{stem}"
    return stem or FALLBACK


def unique_names(titles: Iterable[str], extension: str) -> list[str]:
    """One file name per title, unique regardless of case: "Talk.txt", "Talk (2).txt"."""
    taken: set[str] = set()
    names = []
    for title in titles:
        stem = safe_stem(title)
        name, n = f"{stem}.{extension}", 1
        while name.casefold() in taken:
            n += 1
            name = f"{stem} ({n}).{extension}"
        taken.add(name.casefold())
        names.append(name)
    return names


def content_disposition(filename: str) -> str:
    """attachment; an ASCII filename for old clients and RFC 5987's filename* for the
    real (UTF-8) one when they differ."""
    stem, dot, ext = filename.rpartition(".")
    if not dot:
        stem, ext = filename, ""
    plain = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    plain = re.sub(r"[^A-Za-z0-9 ._()\[\]-]+", "_", plain).strip("._ ") or FALLBACK
    ascii_name = f"{plain}.{ext}" if ext else plain
    header = f'attachment; filename="{ascii_name}"'
    if ascii_name != filename:
        header += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return header
