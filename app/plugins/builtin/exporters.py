"""First-party plugin: the export formats that ship with Verbatim (TXT, SRT, VTT, DOCX, JSON,
PDF). Importing this module imports neither python-docx nor fpdf2: each format's module is
imported the first time something is exported in it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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
        "Plain text",
        "text/plain; charset=utf-8",
        _lazy("text", "render_txt"),
        options=READING,
        description="UTF-8 text: one line per segment, or paragraphs.",
    ),
    Exporter(
        "srt",
        "SubRip subtitles",
        "application/x-subrip; charset=utf-8",
        _lazy("subtitles", "render_srt"),
        options=SUBTITLES,
        description="Subtitles: up to 2 lines of 42 characters and 7 seconds per cue.",
    ),
    Exporter(
        "vtt",
        "WebVTT subtitles",
        "text/vtt; charset=utf-8",
        _lazy("subtitles", "render_vtt"),
        options=SUBTITLES,
        description="Subtitles for the web, speakers as voice spans.",
    ),
    Exporter(
        "docx",
        "Word document",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        _lazy("docx", "render_docx"),
        options=READING,
        description="For Word, LibreOffice and Google Docs.",
    ),
    Exporter(
        "json",
        "JSON",
        "application/json",
        _lazy("json_format", "render_json"),
        options=frozenset({"summaries"}),
        description="Everything, with word timings, in a versioned structure for programs.",
    ),
    Exporter(
        "pdf",
        "PDF",
        "application/pdf",
        _lazy("pdf", "render_pdf"),
        options=READING,
        description="For reading and printing; any script, right-to-left included.",
    ),
)


class ExportersPlugin:
    @hookimpl
    def verbatim_plugin_info(self) -> PluginInfo:
        return PluginInfo(
            name="exporters",
            title="Export formats",
            description="Transcripts as TXT, SRT and VTT subtitles, DOCX, JSON and PDF.",
        )

    @hookimpl
    def verbatim_exporters(self) -> list[Any]:
        return list(EXPORTERS)


plugin = ExportersPlugin()
