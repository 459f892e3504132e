"""First-party plugin: the export formats that ship with Verbatim (TXT, SRT, VTT, DOCX, JSON,
PDF). Importing this module imports neither python-docx nor fpdf2: each format's module is
imported the first time something is exported in it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from flask_babel import lazy_gettext as _l

from app.plugins.api import PluginInfo
from app.plugins.hookspecs import hookimpl
from app.transcripts.exports.base import Exporter

if TYPE_CHECKING:
    from app.transcripts.exports.document import ExportDocument
    from app.transcripts.exports.options import ExportOptions

PACKAGE = "app.transcripts.exports"
READING = frozenset({"timestamps", "speakers", "paragraphs", "summaries"})
SUBTITLES = frozenset({"speakers"})


def _lazy(module: str, function: str) -> Any:
    def render(doc: ExportDocument, options: ExportOptions) -> bytes:
        renderer = getattr(importlib.import_module(f"{PACKAGE}.{module}"), function)
        return renderer(doc, options)

    render.__name__ = function
    return render


EXPORTERS = (
    Exporter(
        "txt",
        _l("Plain text"),
        "text/plain; charset=utf-8",
        _lazy("text", "render_txt"),
        options=READING,
        description=_l("UTF-8 text: one line per segment, or paragraphs."),
    ),
    Exporter(
        "srt",
        _l("SubRip subtitles"),
        "application/x-subrip; charset=utf-8",
        _lazy("subtitles", "render_srt"),
        options=SUBTITLES,
        description=_l("Subtitles: up to 2 lines of 42 characters and 7 seconds per cue."),
    ),
    Exporter(
        "vtt",
        _l("WebVTT subtitles"),
        "text/vtt; charset=utf-8",
        _lazy("subtitles", "render_vtt"),
        options=SUBTITLES,
        description=_l("Subtitles for the web, speakers as voice spans."),
    ),
    Exporter(
        "docx",
        _l("Word document"),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        _lazy("docx", "render_docx"),
        options=READING,
        description=_l("For Word, LibreOffice and Google Docs."),
    ),
    Exporter(
        "json",
        "JSON",
        "application/json",
        _lazy("json_format", "render_json"),
        options=frozenset({"summaries"}),
        description=_l("Everything, with word timings, in a versioned structure for programs."),
    ),
    Exporter(
        "pdf",
        "PDF",
        "application/pdf",
        _lazy("pdf", "render_pdf"),
        options=READING,
        description=_l("For reading and printing; any script, right-to-left included."),
    ),
)


class ExportersPlugin:
    @hookimpl
    def verbatim_plugin_info(self) -> PluginInfo:
        return PluginInfo(
            name="exporters",
            title=_l("Export formats"),
            description=_l("Transcripts as TXT, SRT and VTT subtitles, DOCX, JSON and PDF."),
        )

    @hookimpl
    def verbatim_exporters(self) -> list[Any]:
        return list(EXPORTERS)


plugin = ExportersPlugin()
