"""Exports: which formats this workspace has, one transcript in a format, a selection as one
zip. Runs in the current workspace context only (no signed-in user needed), so public
share pages call export_one too.
"""

from __future__ import annotations

import logging
import re
import uuid
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from app.errors import Conflict, NotFound, ServiceError
from app.extensions import db
from app.plugins.manager import enabled_plugins, registry
from app.tenants.context import current_workspace_id, workspace_scope
from app.transcripts import services
from app.transcripts.exports import document as documents
from app.transcripts.exports.base import Exporter, ExportFailed, Unprocessable
from app.transcripts.exports.filenames import safe_stem, unique_names
from app.transcripts.exports.options import ExportOptions, parse_options
from app.transcripts.models import Status, Transcript, TranscriptSegment, status_name
from app.zip_sink import ZipSink

EXPORTERS_HOOK = "verbatim_exporters"
FORMAT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,15}$")
MAX_SELECTION = 200
ZIP_MEDIA_TYPE = "application/zip"
log = logging.getLogger("verbatim.exports")


@dataclass(frozen=True)
class Exported:
    filename: str
    media_type: str
    body: bytes


@dataclass(frozen=True)
class ZipExport:
    """A zip of several exports, made while it is sent: `chunks` renders one transcript at
    a time, so no more than one transcript's export is held in memory."""

    filename: str
    media_type: str
    chunks: Iterator[bytes]
    names: tuple[str, ...]  # the files inside, in order

    def body(self) -> bytes:
        return b"".join(self.chunks)


# --- formats ---------------------------------------------------------------------------------


def _valid(item: Any, plugin: str) -> bool:
    if isinstance(item, Exporter) and FORMAT_NAME.match(item.name) and callable(item.render):
        return True
    log.warning("plugin %s offered an exporter that is not valid: %r", plugin, item)
    return False


def _exporters() -> dict[str, Exporter]:
    """First-party exporters, then those of third-party plugins the workspace enabled; a
    plugin cannot take over a format name already given."""
    found: dict[str, Exporter] = {}
    for name, item in registry().offerings(EXPORTERS_HOOK, enabled_plugins()):
        if _valid(item, name):
            found.setdefault(item.name, item)
    return found


def formats() -> list[Exporter]:
    """The formats the current workspace can export to."""
    return list(_exporters().values())


def exporter(fmt: str) -> Exporter:
    found = _exporters()
    chosen = found.get((fmt or "").strip().lower())
    if chosen is None:
        shown = (fmt or "")[:20]
        raise NotFound(
            _(
                "There is no export format '%(format)s'. Formats: %(formats)s.",
                format=shown,
                formats=", ".join(found) or _("none"),
            )
        )
    return chosen


# --- documents -------------------------------------------------------------------------------


def _ready(t: Transcript) -> None:
    if t.encrypted:
        # Refused, not skipped: a zip quietly missing a file is worse than being told.
        # The person exports it from its page, where their browser decrypts it.
        raise Conflict(
            _(
                "“%(title)s” is a Private Transcript: the server cannot read its text, so it "
                "cannot be exported here. Export it from its own page, where your browser "
                "decrypts it.",
                title=t.title,
            )
        )
    if t.status == Status.COMPLETED:
        return
    if t.status == Status.FAILED:
        raise Conflict(_("“%(title)s” failed; it has no text to export.", title=t.title))
    if t.status == Status.CANCELLED:
        raise Conflict(_("“%(title)s” was cancelled; it has no text to export.", title=t.title))
    raise Conflict(
        _(
            "“%(title)s” is %(status)s; it can be exported once it is completed.",
            title=t.title,
            status=status_name(t.status),
        )
    )


def summaries(t: Transcript) -> list[documents.Summary]:
    """The newest completed AI summary of each template, in the order templates are listed;
    none for a Private (encrypted) transcript, whose text the AI never reads."""
    if t.encrypted:
        return []
    # Imported here: the AI package imports the transcripts package.
    from app.ai import config, service

    rows = service.latest_summaries(t.id, completed=True)
    classes = config.provider_classes() if rows else {}
    return [
        documents.Summary(
            template=r.template_key,
            title=r.template_title,
            text=r.content,
            made_by=config.made_by(r.provider, r.model, classes),
            provider=r.provider,
            model=r.model,
            revision=r.revision,
            stale=r.revision != t.revision,
            finished_at=r.finished_at,
        )
        for r in rows
    ]


def load(t: Transcript, options: ExportOptions | None = None) -> documents.ExportDocument:
    """The export document of a transcript of the current workspace, with its AI summaries
    where the options ask for them."""
    _ready(t)
    # Plain columns, not ORM objects: a three-hour transcript is 2,000 rows.
    rows = db.session.execute(
        select(
            TranscriptSegment.start,
            TranscriptSegment.end,
            TranscriptSegment.text,
            TranscriptSegment.speaker,
            TranscriptSegment.words,
        )
        .where(TranscriptSegment.transcript_id == t.id)
        .order_by(TranscriptSegment.position)
    ).all()
    names = services.speaker_names(t)
    return documents.build(
        transcript_id=t.id,
        title=t.title,
        language=t.language or t.language_requested,
        duration=t.duration_seconds,
        segments=rows,
        speakers=names,
        created_at=t.created_at,
        engine=t.engine,
        model=t.model,
        revision=t.revision,
        summaries=summaries(t) if options is not None and options.summaries else (),
    )


def _render(chosen: Exporter, doc: documents.ExportDocument, options: ExportOptions) -> bytes:
    try:
        body = chosen.render(doc, options)
    except ServiceError:
        raise
    except Exception:
        log.exception("the %s exporter failed on transcript %s", chosen.name, doc.id)
        raise ExportFailed(
            _(
                "Exporting as %(format)s failed on our side; it has been logged.",
                format=chosen.label,
            )
        ) from None
    if not isinstance(body, bytes | bytearray):
        log.error("the %s exporter returned %s, not bytes", chosen.name, type(body).__name__)
        raise ExportFailed(
            _(
                "Exporting as %(format)s failed on our side; it has been logged.",
                format=chosen.label,
            )
        )
    return bytes(body)


# --- exports ---------------------------------------------------------------------------------


def export_one(
    transcript_id: uuid.UUID,
    fmt: str,
    options: ExportOptions | Mapping[str, Any] | None = None,
) -> Exported:
    """One transcript of the current workspace in format `fmt`.

    NotFound for an unknown format or a transcript not in this workspace; Conflict for
    one not completed; Unprocessable for a bad option; MissingFont when the server lacks a
    font the text needs (PDF).
    """
    chosen = exporter(fmt)
    opts = parse_options(options)
    t = services.get(transcript_id)
    body = _render(chosen, load(t, opts), opts)
    return Exported(f"{safe_stem(t.title)}.{chosen.ext}", chosen.media_type, body)


def _selection(ids: Sequence[uuid.UUID]) -> list[Transcript]:
    unique = list(dict.fromkeys(ids))
    if not unique:
        raise Unprocessable(_("Choose at least one transcript to export."), field="ids")
    if len(unique) > MAX_SELECTION:
        raise Unprocessable(
            _("Export at most %(max)d transcripts at a time.", max=MAX_SELECTION), field="ids"
        )
    rows = {
        t.id: t for t in db.session.scalars(select(Transcript).where(Transcript.id.in_(unique)))
    }
    if len(rows) != len(unique):  # another workspace's id answers like a missing one
        raise NotFound(_("No such transcript."))
    chosen = [rows[i] for i in unique]
    for t in chosen:
        _ready(t)
    return chosen


def export_zip(
    ids: Sequence[uuid.UUID],
    fmt: str,
    options: ExportOptions | Mapping[str, Any] | None = None,
) -> ZipExport:
    """Several transcripts of the current workspace, one file each, in one zip.

    Everything that can be refused is checked before the first byte: the format, the
    options, that every id is a transcript of this workspace (NotFound otherwise) and
    that each is completed (Conflict). A transcript deleted while the zip is being sent
    is left out and named in errors.txt inside it.
    """
    chosen_format = exporter(fmt)
    opts = parse_options(options)
    transcripts = _selection(ids)
    names = unique_names((t.title for t in transcripts), chosen_format.ext)
    workspace_id = current_workspace_id()
    if workspace_id is None:  # the scoped query above would have refused already
        raise NotFound(_("No such transcript."))
    items = [(t.id, name) for t, name in zip(transcripts, names, strict=True)]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    return ZipExport(
        f"transcripts-{chosen_format.ext}-{stamp}.zip",
        ZIP_MEDIA_TYPE,
        _zip_chunks(workspace_id, items, chosen_format, opts),
        tuple(names),
    )


def _zip_chunks(
    workspace_id: uuid.UUID,
    items: list[tuple[uuid.UUID, str]],
    chosen: Exporter,
    options: ExportOptions,
) -> Iterator[bytes]:
    sink = ZipSink()
    problems: list[str] = []
    now = datetime.now(UTC).timetuple()[:6]
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for transcript_id, name in items:
            # The response is sent after the view returned: the workspace is set again here
            # for each transcript, never held across a yield.
            with workspace_scope(workspace_id):
                try:
                    # A query, not session.get: a transcript deleted since the checks is
                    # gone from the database, though still in the session's identity map.
                    t = db.session.scalar(select(Transcript).where(Transcript.id == transcript_id))
                    if t is None:
                        raise NotFound("It was deleted.")
                    body = _render(chosen, load(t, options), options)
                except ServiceError as e:
                    db.session.rollback()
                    problems.append(f"{name}: {e.message}")
                    continue
            entry = zipfile.ZipInfo(name, date_time=now)
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, body)
            yield sink.take()
        if problems:
            note = "These transcripts could not be exported:\n" + "\n".join(problems) + "\n"
            archive.writestr(zipfile.ZipInfo("errors.txt", date_time=now), note.encode())
    yield sink.take()
