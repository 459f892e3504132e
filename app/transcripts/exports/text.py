"""The reading formats' shared layout (blocks of text with a heading), and plain text.

A block is one segment, or with the paragraphs option one speaker's consecutive segments
merged. A paragraph also ends at a long silence, so a transcript without speakers does
not become one wall of text.

AI summaries (the summaries option) come first. Their markdown is read by markdown-it and
laid out as plain lines: headings, paragraphs and list items, emphasis markers and
backslash escapes gone, [12:34] citations kept as text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from app.transcripts.exports.document import ExportDocument, Summary, clean
from app.transcripts.exports.options import ExportOptions

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

PARAGRAPH_PAUSE = 4.0  # seconds of silence that end a paragraph even within one speaker
SUMMARIES_HEADING = "AI summaries"
TRANSCRIPT_HEADING = "Transcript"
SEPARATOR = "-" * 40


@dataclass(frozen=True, slots=True)
class Block:
    start: float
    end: float
    speaker: str | None  # the name to show; None when names are off or nobody is known
    text: str


def clock(seconds: float) -> str:
    """H:MM:SS style stamp, always with hours: 00:04:05, 01:02:03."""
    total = int(max(0.0, seconds))
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def blocks(doc: ExportDocument, options: ExportOptions) -> Iterator[Block]:
    sep = doc.joiner
    if not options.paragraphs:
        for s in doc.segments:
            if s.text:
                name = doc.speaker_name(s.speaker) if options.speakers else None
                yield Block(s.start, s.end, name, s.text)
        return
    label: str | None = None
    parts: list[str] = []
    start = end = 0.0
    for s in doc.segments:
        if not s.text:
            continue
        if parts and (s.speaker != label or s.start - end > PARAGRAPH_PAUSE):
            yield _paragraph(doc, options, label, start, end, sep.join(parts))
            parts = []
        if not parts:
            label, start, end = s.speaker, s.start, s.end
        parts.append(s.text)
        end = max(end, s.end)
    if parts:
        yield _paragraph(doc, options, label, start, end, sep.join(parts))


def _paragraph(
    doc: ExportDocument,
    options: ExportOptions,
    label: str | None,
    start: float,
    end: float,
    text: str,
) -> Block:
    return Block(start, end, doc.speaker_name(label) if options.speakers else None, text)


def heading(block: Block, options: ExportOptions) -> str:
    """What the options ask to show above a block: "[00:01:02] Alice", "Alice" or ""."""
    parts = []
    if options.timestamps:
        parts.append(f"[{clock(block.start)}]")
    if block.speaker:
        parts.append(block.speaker)
    return " ".join(parts)


# --- AI summaries -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a summary as plain text: a heading, a paragraph or a list item (its
    bullet "• " or number "2. " already in front)."""

    kind: str  # "heading", "paragraph" or "item"
    text: str
    level: int = 0  # list nesting: 0 at the top


@cache
def _markdown() -> MarkdownIt:
    # Imported when first needed: most exports have no summaries.
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def _inline(token: Any) -> str:
    parts = []
    for child in token.children or ():
        if child.type in ("text", "code_inline", "html_inline", "image"):
            parts.append(child.content)  # an image's content is its alt text
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return clean("".join(parts))


def summary_lines(markdown: str) -> list[Line]:
    """A summary's markdown as lines of plain text."""
    lines: list[Line] = []
    lists: list[str] = []  # the open lists' kinds, outermost first
    marker = ""  # the bullet or number of a list item whose first line is still to come
    row: list[str] | None = None  # the cells of a table row being read
    kind = "paragraph"
    for token in _markdown().parse(markdown):
        kind_of = token.type
        if kind_of in ("bullet_list_open", "ordered_list_open"):
            lists.append(kind_of)
        elif kind_of in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif kind_of == "list_item_open":
            marker = "• " if lists[-1] == "bullet_list_open" else f"{token.info or 1}. "
        elif kind_of == "heading_open":
            kind = "heading"
        elif kind_of == "tr_open":
            row = []
        elif kind_of == "tr_close" and row is not None:
            if any(row):
                lines.append(Line("paragraph", " | ".join(row)))
            row = None
        elif kind_of == "inline":
            text = _inline(token)
            if row is not None:
                row.append(text)
            elif kind == "heading":
                if text:
                    lines.append(Line("heading", text))
                kind = "paragraph"
            elif lists:
                level = len(lists) - 1
                if marker or text:
                    lines.append(Line("item", marker + text, level))
                marker = ""
            elif text:
                lines.append(Line("paragraph", text))
        elif kind_of in ("fence", "code_block"):
            lines += (Line("paragraph", clean(c)) for c in token.content.splitlines() if c.strip())
    return lines


def about_summary(summary: Summary) -> str:
    """The line under a summary's title: "(made by …; stale: …)" with the date it was made."""
    made = f"made by {summary.made_by}"
    if summary.finished_at is not None:
        made += f" on {summary.finished_at:%Y-%m-%d}"
    if summary.stale:
        made += "; stale: the transcript changed since"
    return f"({made})"


def _summaries_txt(doc: ExportDocument) -> list[str]:
    out = [SUMMARIES_HEADING, "=" * len(SUMMARIES_HEADING)]
    for summary in doc.summaries:
        out += ["", summary.title, about_summary(summary)]
        previous = ""
        for line in summary_lines(summary.text):
            # A blank line between paragraphs; a list's items stay together.
            if line.kind != "item" or previous != "item":
                out.append("")
            out.append("  " * line.level + line.text)
            previous = line.kind
    return [*out, "", SEPARATOR, ""]


# --- plain text -------------------------------------------------------------------------------


def render_txt(doc: ExportDocument, options: ExportOptions) -> bytes:
    """UTF-8 text. One line per segment ("[00:01:02] Alice: text"), or with paragraphs a
    heading line, the paragraph, and a blank line between paragraphs. AI summaries, when
    asked for, come first, then a separator line."""
    lines: list[str] = []
    if options.paragraphs:
        for block in blocks(doc, options):
            head = heading(block, options)
            if lines:
                lines.append("")
            if head:
                lines.append(head)
            lines.append(block.text)
    else:
        for block in blocks(doc, options):
            prefix = f"[{clock(block.start)}] " if options.timestamps else ""
            if block.speaker:
                prefix += f"{block.speaker}: "
            lines.append(prefix + block.text)
    if options.summaries and doc.summaries:
        lines = _summaries_txt(doc) + lines
    return ("\n".join(lines) + "\n").encode() if lines else b""
