"""PDF export (fpdf2): the same layout as DOCX, in fonts found on the system (fonts.py).

fpdf2 switches to a fallback font for characters the main font lacks, and shapes text with
HarfBuzz (uharfbuzz): Arabic letters join, right-to-left lines are laid out right to
left, Indic clusters reorder. Shaping is slower than plain layout, so it is switched on
only for paragraphs that need it.

Paragraphs are broken into lines here and each line is written as one cell: fpdf2's own
line breaking re-measures (and with shaping, re-shapes) the whole line for every
character it adds, which took 3 s for a three-hour English transcript and 36 s for an
Arabic one. Widths come from the fonts' advance widths, or for shaped text from shaping
each word once (HarfBuzz shapes runs between spaces independently).

With the summaries option, the AI summaries come first under a heading of their own
(laid out as in DOCX, text.py), then the transcript under its own.
"""

from __future__ import annotations

import re

from fpdf import FPDF
from fpdf.enums import Align, XPos, YPos

from app.transcripts.exports import fonts
from app.transcripts.exports.document import ExportDocument, is_rtl
from app.transcripts.exports.options import ExportOptions
from app.transcripts.exports.text import (
    SUMMARIES_HEADING,
    TRANSCRIPT_HEADING,
    about_summary,
    blocks,
    clock,
    summary_lines,
)

BODY_PT = 10.5
HEAD_PT = 9
LINE_MM = 5.4  # body lines; other sizes keep the same proportion (LEADING)
LEADING = LINE_MM / BODY_PT
GREY = (102, 102, 102)
INDENT_MM = 5.0  # per level of a nested list
SLACK = 0.98  # shaped widths are summed per word: a little room for kerning across spaces
_WIDE = (
    "\u1100-\u11ff\u2e80-\ua4cf\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60"
    "\uffe0-\uffe6\U00020000-\U0003ffff"
)
# Where a line may break: after spaces, and around each wide (CJK) character, which keeps
# the closing punctuation that follows it.
_ATOM = re.compile(f"(?:[{_WIDE}][，。、；：？！）」』】》〉”’]*|[^\\s{_WIDE}]+)\\s*|\\s+")  # noqa: RUF001


class _Pdf(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(size=8)
        self.set_text_color(*GREY)
        self.cell(0, 5, str(self.page_no()), align=Align.C)
        self.set_text_color(0, 0, 0)


def _setup(doc: ExportDocument) -> tuple[_Pdf, list[str]]:
    plan = fonts.plan(doc.characters)
    pdf = _Pdf(format="A4")
    # "{nb}" in a transcript must stay text, not become the page count.
    pdf.str_alias_nb_pages = ""
    pdf.set_margins(20, 18, 20)
    pdf.set_auto_page_break(True, margin=18)
    pdf.set_title(doc.title)
    pdf.set_creator("Verbatim")
    if doc.language:
        pdf.set_lang(doc.language)
    ranges = list(plan.main_ranges) if plan.main_ranges else None
    pdf.add_font(plan.main.family, "", plan.main.regular, unicode_range=ranges)
    if plan.main.bold:
        pdf.add_font(plan.main.family, "B", plan.main.bold, unicode_range=ranges)
    for fallback in plan.fallbacks:
        pdf.add_font(fallback.family, "", fallback.regular)
        if fallback.bold:
            pdf.add_font(fallback.family, "B", fallback.bold)
    families = [plan.main.family, *(f.family for f in plan.fallbacks)]
    if plan.fallbacks:
        # The main font is a fallback too: a paragraph may be set in another one (below).
        # exact_match=False: bold text in a script whose font has no bold face still shows.
        pdf.set_fallback_fonts([*families[1:], families[0]], exact_match=False)
    pdf.set_font(plan.main.family, size=BODY_PT)
    return pdf, families


class _Measure:
    """Widths (mm) of text in one face of the document's fonts, each character measured in
    the font that will draw it (the main one, else the first fallback that has it)."""

    def __init__(self, pdf: _Pdf, families: list[str], style: str, size: float) -> None:
        self.family = families[0]
        # fpdf2's TTFFont keeps its character map (cmap) and advance widths (cw, in
        # thousandths of the font size). A fallback without this style draws in regular.
        self._fonts = [pdf.fonts.get(f"{f}{style}") or pdf.fonts[f] for f in families]
        self._size = size
        self._k = pdf.k
        self._scale = size / 1000 / pdf.k
        self._chars: dict[str, float] = {}
        self._words: dict[str, float] = {}

    def _font(self, char: str):  # type: ignore[no-untyped-def]
        code = ord(char)
        return next((f for f in self._fonts if code in f.cmap), self._fonts[0])

    def __call__(self, text: str) -> float:
        cache, total = self._chars, 0.0
        for char in text:
            width = cache.get(char)
            if width is None:
                width = cache[char] = self._font(char).cw[ord(char)] * self._scale
            total += width
        return total

    def shaped(self, word: str) -> float:
        """The width of a word as HarfBuzz shapes it, run by run of one font."""
        width = self._words.get(word)
        if width is None:
            width, start = 0.0, 0
            for end in range(1, len(word) + 1):
                if end < len(word) and self._font(word[end]) is self._font(word[start]):
                    continue
                run = word[start:end]
                font = self._font(word[start])
                width += font.shaped_text_width(run, self._size, None)[1] / self._k
                start = end
            self._words[word] = width
        return width


def _wrap(text: str, measure: _Measure, room: float, *, shaped: bool) -> list[str] | None:
    """text in lines that fit `room` mm; None where a word alone is wider than a line."""
    width_of = measure.shaped if shaped else measure
    lines: list[str] = []
    line, width = "", 0.0
    for atom in _ATOM.findall(text):
        core = atom.rstrip()
        core_width = width_of(core) if core else 0.0
        if line and width + core_width > room:
            lines.append(line.rstrip())
            line, width = "", 0.0
        if core_width > room:
            return None
        if line or core:  # no line starts with a space
            line += atom
            width += core_width + measure(atom[len(core) :])
    if line.strip():
        lines.append(line.rstrip())
    return lines


class _Faces:
    """The measures of one document, by paragraph font, face and size. A paragraph is set in
    the font of its first character the main font lacks (its script's font), so its
    spaces and punctuation come from that font too: one font per line instead of a
    switch at every space (each switch is shaped and written on its own)."""

    def __init__(self, pdf: _Pdf, families: list[str]) -> None:
        self._pdf = pdf
        self._families = families
        self.main = families[0]
        self._main = pdf.fonts[families[0]]
        self._measures: dict[tuple[str, str, float], _Measure] = {}

    def family(self, text: str, style: str = "") -> str:
        """The font to set text in: its script's, if that font has the style (a script
        without a bold face is drawn in regular, from the main font's fallbacks)."""
        for char in text:
            code = ord(char)
            if code > 0x024F and code not in self._main.cmap:
                for family in self._families[1:]:
                    if code in self._pdf.fonts[family].cmap:
                        return family if f"{family}{style}" in self._pdf.fonts else self.main
                return self.main
        return self.main

    def measure(self, family: str, style: str, size: float) -> _Measure:
        key = (family, style, size)
        if key not in self._measures:
            order = [family, *(f for f in self._families if f != family)]
            self._measures[key] = _Measure(self._pdf, order, style, size)
        return self._measures[key]


def _paragraph(
    pdf: _Pdf, text: str, faces: _Faces, *, bold: bool, size: float, indent: float = 0.0
) -> None:
    """One paragraph, right-aligned and laid out right to left where it reads so; indented
    (mm) from the side it starts on."""
    if indent:
        left, right = pdf.l_margin, pdf.r_margin
        if is_rtl(text):
            pdf.set_right_margin(right + indent)
        else:
            pdf.set_left_margin(left + indent)
        try:
            _paragraph(pdf, text, faces, bold=bold, size=size)
        finally:
            pdf.set_left_margin(left)
            pdf.set_right_margin(right)
            pdf.set_x(left)
        return
    shaped, rtl = fonts.needs_shaping(text), is_rtl(text)
    style = "B" if bold else ""
    family = faces.family(text, style)
    measure = faces.measure(family, style, size)
    # The direction is the paragraph's, given to every line: a line of an Arabic paragraph
    # that starts with a Latin word still reads right to left.
    pdf.set_text_shaping(shaped, direction=("rtl" if rtl else "ltr") if shaped else None)
    pdf.set_font(family, style=style, size=size)
    align = Align.R if rtl else Align.L
    height = size * LEADING
    lines = _wrap(text, measure, pdf.epw * (SLACK if shaped else 1.0), shaped=shaped)
    if lines is None:  # a word wider than the page (a long link): fpdf2 cuts it
        pdf.multi_cell(0, height, text, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    else:
        for line in lines:
            pdf.cell(0, height, line, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(faces.main, style="", size=BODY_PT)


def _heading(pdf: _Pdf, text: str, faces: _Faces, size: float) -> None:
    # Keep a heading with the first lines under it.
    if pdf.will_page_break(3 * LINE_MM):
        pdf.add_page()
    pdf.ln(2)
    _paragraph(pdf, text, faces, bold=True, size=size)
    pdf.ln(1)


def _summaries(pdf: _Pdf, doc: ExportDocument, faces: _Faces) -> None:
    _heading(pdf, SUMMARIES_HEADING, faces, 14)
    for summary in doc.summaries:
        _heading(pdf, summary.title, faces, 12)
        pdf.set_text_color(*GREY)
        _paragraph(pdf, about_summary(summary), faces, bold=False, size=8.5)
        pdf.set_text_color(0, 0, 0)
        pdf.ln(1.5)
        previous = ""
        for line in summary_lines(summary.text):
            if line.kind == "heading":
                pdf.ln(1)
                if pdf.will_page_break(2 * LINE_MM):
                    pdf.add_page()
            elif previous and (line.kind != "item" or previous != "item"):
                pdf.ln(1.5)  # between paragraphs; a list's items stay together
            _paragraph(
                pdf,
                line.text,
                faces,
                bold=line.kind == "heading",
                size=BODY_PT,
                indent=INDENT_MM * line.level,
            )
            previous = line.kind
        pdf.ln(2)
    _heading(pdf, TRANSCRIPT_HEADING, faces, 14)


def render_pdf(doc: ExportDocument, options: ExportOptions) -> bytes:
    pdf, families = _setup(doc)
    faces = _Faces(pdf, [f.lower() for f in families])
    pdf.add_page()
    _paragraph(pdf, doc.title, faces, bold=True, size=16)
    about = [f"Duration {clock(doc.duration)}"]
    if doc.language:
        about.append(f"Language {doc.language}")
    if options.speakers and doc.speakers:
        about.append("Speakers: " + ", ".join(s.name for s in doc.speakers))
    pdf.set_text_color(*GREY)
    _paragraph(pdf, " · ".join(about), faces, bold=False, size=8.5)
    pdf.set_text_color(0, 0, 0)
    pdf.ln(4)
    if options.summaries and doc.summaries:
        _summaries(pdf, doc, faces)
    for block in blocks(doc, options):
        head = block.speaker or ""
        if options.timestamps:
            head = f"{head}  {clock(block.start)}" if head else clock(block.start)
        if head:
            # Keep a heading with the first line of its text.
            if pdf.will_page_break(2 * LINE_MM):
                pdf.add_page()
            _paragraph(pdf, head, faces, bold=True, size=HEAD_PT)
        _paragraph(pdf, block.text, faces, bold=False, size=BODY_PT)
        pdf.ln(2)
    return bytes(pdf.output())
