"""What an exporter is, for first-party and third-party plugins alike (hook
`verbatim_exporters`), and the refusals exports answer with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.errors import ServiceError

if TYPE_CHECKING:
    from app.transcripts.exports.document import ExportDocument
    from app.transcripts.exports.options import ExportOptions

Render = Callable[["ExportDocument", "ExportOptions"], bytes]


@dataclass(frozen=True)
class Exporter:
    """One export format. `name` is the format in URLs and, unless `extension` says
    otherwise, the file extension; `options` names the ExportOptions fields it honours."""

    name: str
    title: str
    media_type: str
    render: Render
    extension: str = ""
    options: frozenset[str] = frozenset()
    description: str = ""

    @property
    def ext(self) -> str:
        return self.extension or self.name

    @property
    def label(self) -> str:
        return self.name.upper()


class Unprocessable(ServiceError):
    """Understood but refused (an empty selection, a bad option): 422 on pages and API."""

    status = 422


class MissingFont(ServiceError):
    """The server lacks a font the document needs; the message names the package."""

    status = 503


class ExportFailed(ServiceError):
    """An exporter broke; the details are in the log, not in the answer."""

    status = 500
