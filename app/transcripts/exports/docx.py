"""DOCX export (python-docx): a title, a line about the recording, then the transcript in
blocks, each with an optional heading (speaker, time) above its text.

Text in any script is stored as it is; what makes it show well in Word and LibreOffice is
said in the document: fonts and the language for the East Asian and complex-script slots
of the Normal style, and right-to-left paragraphs and runs for Arabic, Hebrew and the like.

The blocks are written as WordprocessingML directly and parsed once: python-docx's
paragraph API takes over a second for a three-hour transcript.

With the summaries option, the AI summaries come first under a heading of their own, each
under its title, its markdown laid out as plain paragraphs and list items (text.py).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from xml.sax.saxutils import escape

from docx import Document
from docx.document import Document as DocxDocument
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Pt, RGBColor
from docx.text.paragraph import Paragraph

from app.transcripts.exports.document import RTL_LANGUAGES, ExportDocument, is_rtl
from app.transcripts.exports.options import ExportOptions
from app.transcripts.exports.text import (
    SUMMARIES_HEADING,
    TRANSCRIPT_HEADING,
    about_summary,
    blocks,
    clock,
    summary_lines,
)

GREY = "666666"
LATIN_FONT = "Calibri"
COMPLEX_FONT = "Arial"  # has Arabic and Hebrew on Windows and macOS
EAST_ASIAN_FONTS = {"zh": "Microsoft YaHei", "ja": "Yu Gothic", "ko": "Malgun Gothic"}
EAST_ASIAN_DEFAULT = "SimSun"
INDENT = 360  # twentieths of a point (a quarter inch) per level of a nested list


def _base(language: str | None) -> str:
    return (language or "").split("-", 1)[0].lower()


def _style(document: DocxDocument, language: str | None) -> None:
    style = document.styles["Normal"]
    style.font.name = LATIN_FONT
    style.font.size = Pt(11)
    rpr = style.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:  # python-docx set it with the name above; kept for safety
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    base = _base(language)
    fonts.set(qn("w:eastAsia"), EAST_ASIAN_FONTS.get(base, EAST_ASIAN_DEFAULT))
    fonts.set(qn("w:cs"), COMPLEX_FONT)
    if base:
        lang = OxmlElement("w:lang")  # last in w:rPr's sequence, so appended
        lang.set(qn("w:val"), language or base)
        if base in EAST_ASIAN_FONTS:
            lang.set(qn("w:eastAsia"), language or base)
        if base in RTL_LANGUAGES:
            lang.set(qn("w:bidi"), language or base)
        rpr.append(lang)


def _script_fonts_from_normal(document: DocxDocument, *names: str) -> None:
    """Headings take their East Asian and complex-script fonts from Normal (set above for
    the document's language) instead of the theme's, which has none for most scripts."""
    for name in names:
        fonts = document.styles[name].element.get_or_add_rPr().find(qn("w:rFonts"))
        if fonts is not None:
            for attribute in ("w:eastAsiaTheme", "w:cstheme"):
                fonts.attrib.pop(qn(attribute), None)


def _right_to_left(paragraph: Paragraph) -> None:
    """Only for paragraphs without other properties: w:bidi's place in w:pPr matters."""
    paragraph._p.get_or_add_pPr().append(OxmlElement("w:bidi"))
    for run in paragraph.runs:
        run._r.get_or_add_rPr().append(OxmlElement("w:rtl"))


def _run(text: str, *, bold: bool = False, small_grey: bool = False, rtl: bool = False) -> str:
    # w:rPr children in schema order: b, color, sz, rtl.
    props = ("<w:b/>" if bold else "") + (
        f'<w:color w:val="{GREY}"/><w:sz w:val="18"/>' if small_grey else ""
    )
    props += "<w:rtl/>" if rtl else ""
    rpr = f"<w:rPr>{props}</w:rPr>" if props else ""
    return f'<w:r>{rpr}<w:t xml:space="preserve">{escape(text)}</w:t></w:r>'


def _blocks_xml(doc: ExportDocument, options: ExportOptions) -> Iterator[str]:
    for block in blocks(doc, options):
        if block.speaker or options.timestamps:
            rtl = bool(block.speaker) and is_rtl(block.speaker or "")
            # w:pPr children in schema order: keepNext, bidi, spacing.
            runs = _run(block.speaker, bold=True, rtl=rtl) if block.speaker else ""
            if options.timestamps:
                stamp = ("  " if block.speaker else "") + clock(block.start)
                runs += _run(stamp, small_grey=True)
            bidi = "<w:bidi/>" if rtl else ""
            yield f'<w:p><w:pPr><w:keepNext/>{bidi}<w:spacing w:after="0"/></w:pPr>{runs}</w:p>'
        # A right-to-left paragraph starts at the right margin by itself.
        rtl = is_rtl(block.text)
        ppr = "<w:pPr><w:bidi/></w:pPr>" if rtl else ""
        yield f"<w:p>{ppr}{_run(block.text, rtl=rtl)}</w:p>"


def _paragraph_xml(
    text: str, *, style: str = "", bold: bool = False, small_grey: bool = False, level: int = 0
) -> str:
    rtl = is_rtl(text)
    # w:pPr children in schema order: pStyle, keepNext, bidi, spacing, ind.
    ppr = f'<w:pStyle w:val="{style}"/>' if style else ""
    ppr += "<w:keepNext/>" if bold or small_grey else ""
    ppr += "<w:bidi/>" if rtl else ""
    ppr += '<w:spacing w:after="60"/>' if level or bold or small_grey else ""
    ppr += f'<w:ind w:left="{INDENT * level}"/>' if level else ""
    props = f"<w:pPr>{ppr}</w:pPr>" if ppr else ""
    return f"<w:p>{props}{_run(text, bold=bold, small_grey=small_grey, rtl=rtl)}</w:p>"


def _summaries_xml(doc: ExportDocument) -> Iterator[str]:
    yield _paragraph_xml(SUMMARIES_HEADING, style="Heading1")
    for summary in doc.summaries:
        yield _paragraph_xml(summary.title, style="Heading2")
        yield _paragraph_xml(about_summary(summary), small_grey=True)
        for line in summary_lines(summary.text):
            heading = line.kind == "heading"
            yield _paragraph_xml(line.text, bold=heading, level=line.level)
    yield _paragraph_xml(TRANSCRIPT_HEADING, style="Heading1")


def render_docx(doc: ExportDocument, options: ExportOptions) -> bytes:
    document = Document()
    props = document.core_properties
    props.title = doc.title[:255]
    props.language = doc.language or ""
    props.comments = f"Transcript exported from Verbatim (revision {doc.revision})"
    _style(document, doc.language)

    title = document.add_heading(doc.title, level=0)
    if is_rtl(doc.title):
        _right_to_left(title)
    about = [f"Duration {clock(doc.duration)}"]
    if doc.language:
        about.append(f"Language {doc.language}")
    if options.speakers and doc.speakers:
        about.append("Speakers: " + ", ".join(s.name for s in doc.speakers))
    run = document.add_paragraph().add_run(" · ".join(about))
    run.font.size = Pt(9)
    run.font.color.rgb = RGBColor.from_string(GREY)

    body = "".join(_blocks_xml(doc, options))
    if options.summaries and doc.summaries:
        _script_fonts_from_normal(document, "Heading 1", "Heading 2")
        body = "".join(_summaries_xml(doc)) + body
    fragment = parse_xml(f"<w:body {nsdecls('w')}>{body}</w:body>")
    end = document.element.body.sectPr  # the section properties stay last
    for paragraph in list(fragment):
        if end is not None:
            end.addprevious(paragraph)
        else:
            document.element.body.append(paragraph)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
