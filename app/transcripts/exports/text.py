"""The reading formats' shared layout (blocks of text with a heading), and plain text.

A block is one segment, or with the paragraphs option one speaker's consecutive segments
merged. A paragraph also ends at a long silence, so a transcript without speakers does
not become one wall of text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from app.transcripts.exports.document import ExportDocument
from app.transcripts.exports.options import ExportOptions

PARAGRAPH_PAUSE = 4.0  # seconds of silence that end a paragraph even within one speaker


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


def render_txt(doc: ExportDocument, options: ExportOptions) -> bytes:
    """UTF-8 text. One line per segment ("[00:01:02] Alice: text"), or with paragraphs a
    heading line, the paragraph, and a blank line between paragraphs."""
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
    return ("\n".join(lines) + "\n").encode() if lines else b""
