"""Export all of my data: a zip made by a job, kept encrypted until it is downloaded or
expires.

A request (page or API) makes a PrivacyRequest of kind "export" and queues
workers.jobs.privacy_export with its id. The job claims the request with a compare-and-set
on its status (a second delivery finds it taken and does nothing), then writes the zip
straight into an encrypted file (app/ingest/crypto_file.py records, a per-file key stored
wrapped by a key derived from the server secret, as staged audio), so no plaintext copy
touches the disk and at most one transcript's files are held in memory. What goes in:
only the person's own data (see README below); other members' transcripts, chats and
usage stay out even where they share a workspace.

The person downloads it from the privacy page (or the API) until `expires_at`;
workers.jobs.privacy_exports_expire deletes the file after that, or at once when the
account is gone.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import uuid
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select, update

from app.ai.models import AiConversation, AiMessage, AiSummary, AiUsage
from app.auth.models import ApiKey, OAuthIdentity, User
from app.billing.models import UsageRecord
from app.db import as_utc, utcnow
from app.errors import Conflict, NotFound, ServiceError
from app.extensions import db
from app.ingest.crypto_file import (
    CorruptStagedFile,
    RecordReader,
    RecordWriter,
    unwrap_key,
    wrap_key,
)
from app.mail.service import queue_mail
from app.privacy.deletion import pseudonym
from app.privacy.models import (
    AnalyticsEvent,
    ApiRequestLog,
    PrivacyRequest,
    RequestKind,
    RequestStatus,
    VoiceContribution,
    VoiceRelease,
)
from app.private.models import PrivateContent
from app.queue import enqueue, on_commit
from app.settings import settings
from app.tenants.context import unscoped, workspace_scope
from app.tenants.models import Membership, Workspace
from app.transcripts.exports import document as documents
from app.transcripts.exports import service as export_service
from app.transcripts.exports.base import Exporter
from app.transcripts.exports.document import ExportDocument
from app.transcripts.exports.options import ExportOptions
from app.transcripts.models import (
    Folder,
    Status,
    Transcript,
    TranscriptSegment,
    TranscriptSpeaker,
)
from app.web.urls import external_url

log = logging.getLogger("verbatim.privacy.exports")

JOB = "workers.jobs.privacy_export.privacy_export"
JOB_TIMEOUT = 4 * 3600  # a person with thousands of transcripts and PDF chosen
# The formats a person can add; JSON is always in (machine-readable is the point).
FORMATS = ("txt", "srt", "vtt", "docx", "pdf")
FORMAT_LABELS = {
    "txt": _l("Plain text (TXT)"),
    "srt": _l("Subtitles (SRT)"),
    "vtt": _l("Web subtitles (VTT)"),
    "docx": _l("Word (DOCX)"),
    "pdf": "PDF",
}
ACTIVE = (RequestStatus.PENDING, RequestStatus.RUNNING)
MAX_PER_DAY = 5  # one at a time already; this bounds repeats of a finished one
DUE_DAYS = 30  # the legal deadline to answer a data-rights request
# A request that has not finished by then lost its job (worker killed, Redis emptied):
# the expiry job marks it failed so the person can ask again.
STALE_AFTER = timedelta(seconds=JOB_TIMEOUT + 3600)
SUFFIX = ".vbx"
CHUNK = 1024 * 1024
_IN_BATCH = 500  # ids per IN (...) list
_DOC_BATCH = 50  # transcripts whose segments are read in one query
_DOC_BATCH_SECONDS = 6 * 3600  # ... unless they are this long together


class TooManyExports(ServiceError):
    status = 429


class ExportGone(ServiceError):
    """The download link expired (or the file was deleted): 410."""

    status = 410


# --- files ------------------------------------------------------------------------------------


def export_root() -> Path:
    root = Path(settings().export_dir)
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    return root


def _path(req: PrivacyRequest) -> Path:
    assert req.file_name
    return export_root() / req.file_name


WRAP_INFO = b"verbatim:export-kek:v1"


def _unwrap(req: PrivacyRequest) -> bytes:
    return unwrap_key(WRAP_INFO, req.id.bytes, req.file_key)


def _discard(req: PrivacyRequest) -> bool:
    """Delete the file and forget its key (the caller commits). True if a file was there."""
    removed = False
    if req.file_name:
        path = _path(req)
        removed = path.exists()
        path.unlink(missing_ok=True)
    req.file_name = None
    req.file_key = None
    return removed


# --- asking -----------------------------------------------------------------------------------


def subject_of(user_id: uuid.UUID) -> str:
    """The pseudonym a request keeps (it outlives the account): never an email or name;
    the same one deletion requests use, so an operator sees one person's requests."""
    return pseudonym(user_id)


def parse_formats(raw: Iterable[str] | str | None) -> list[str]:
    """The extra formats asked for, in FORMATS order; JSON is always included, so "json"
    is accepted and dropped."""
    items = [raw] if isinstance(raw, str) else list(raw or [])
    chosen: set[str] = set()
    for item in items:
        for part in str(item).split(","):
            name = part.strip().lower()
            if not name or name == "json":
                continue
            if name not in FORMATS:
                raise ServiceError(
                    _(
                        "There is no export format '%(name)s'. Choose from %(formats)s (JSON "
                        "is always included).",
                        name=name[:20],
                        formats=", ".join(FORMATS),
                    ),
                    field="formats",
                )
            chosen.add(name)
    return [f for f in FORMATS if f in chosen]


def request_export(
    user: User, formats: Iterable[str] | str | None = None, *, now: datetime | None = None
) -> PrivacyRequest:
    """Ask for an export of everything of `user`; the job is queued once this commits.

    Conflict while one is pending or running (one at a time per person); TooManyExports
    after MAX_PER_DAY requests in 24 hours.
    """
    now = now or utcnow()
    chosen = parse_formats(formats)
    # Taken in a row lock on the person, so two clicks cannot both pass the check.
    db.session.execute(select(User.id).where(User.id == user.id).with_for_update())
    active = db.session.scalar(
        select(PrivacyRequest).where(
            PrivacyRequest.user_id == user.id,
            PrivacyRequest.kind == RequestKind.EXPORT,
            PrivacyRequest.status.in_(ACTIVE),
        )
    )
    if active is not None:
        db.session.rollback()
        raise Conflict(
            _(
                "An export of your data is already being prepared; you will get an email "
                "when it is ready. Ask for another once it is done."
            )
        )
    recent = db.session.scalar(
        select(func.count(PrivacyRequest.id)).where(
            PrivacyRequest.user_id == user.id,
            PrivacyRequest.kind == RequestKind.EXPORT,
            PrivacyRequest.created_at > now - timedelta(days=1),
        )
    )
    if (recent or 0) >= MAX_PER_DAY:
        db.session.rollback()
        raise TooManyExports(
            _(
                "You asked for %(num)d exports in the last 24 hours; download the latest "
                "one, or ask again tomorrow.",
                num=MAX_PER_DAY,
            )
        )
    req = PrivacyRequest(
        id=uuid.uuid4(),
        kind=RequestKind.EXPORT,
        user_id=user.id,
        subject=subject_of(user.id),
        status=RequestStatus.PENDING,
        due_at=now + timedelta(days=DUE_DAYS),
        formats=",".join(chosen),
        created_at=now,
        updated_at=now,
    )
    db.session.add(req)
    request_id = str(req.id)
    on_commit(
        db.session(),
        lambda: enqueue(JOB, request_id, retries=2, timeout=JOB_TIMEOUT),
    )
    db.session.commit()
    return req


def list_exports(user_id: uuid.UUID, limit: int = 10) -> list[PrivacyRequest]:
    return list(
        db.session.scalars(
            select(PrivacyRequest)
            .where(PrivacyRequest.user_id == user_id, PrivacyRequest.kind == RequestKind.EXPORT)
            .order_by(PrivacyRequest.created_at.desc())
            .limit(limit)
        )
    )


def get_export(user_id: uuid.UUID, export_id: uuid.UUID) -> PrivacyRequest:
    """The person's own export; anyone else's answers like a missing one."""
    req = db.session.scalar(
        select(PrivacyRequest).where(
            PrivacyRequest.id == export_id,
            PrivacyRequest.user_id == user_id,
            PrivacyRequest.kind == RequestKind.EXPORT,
        )
    )
    if req is None:
        raise NotFound(_("No such export."))
    return req


def downloadable(req: PrivacyRequest, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return (
        req.status == RequestStatus.READY
        and req.file_name is not None
        and req.expires_at is not None
        and as_utc(req.expires_at) > now
    )


def describe(req: PrivacyRequest, now: datetime | None = None) -> str:
    """Where a request stands, in words for the page (in its language)."""
    now = now or utcnow()
    if req.status == RequestStatus.READY and not downloadable(req, now):
        return _("expired")
    return {
        RequestStatus.PENDING: _("waiting to start"),
        RequestStatus.RUNNING: _("being prepared"),
        RequestStatus.READY: _("ready to download"),
        RequestStatus.EXPIRED: _("expired"),
        RequestStatus.FAILED: _("failed"),
        RequestStatus.DONE: _("done"),
    }.get(req.status, req.status)


def page_context(user: User, now: datetime | None = None) -> dict[str, Any]:
    """What templates/privacy/_export.html shows: the formats to pick, the person's recent
    exports with their state, and whether one is under way."""
    now = now or utcnow()
    rows = list_exports(user.id, limit=5)
    return {
        "formats": [{"name": f, "label": FORMAT_LABELS[f]} for f in FORMATS],
        "exports": [
            {
                "id": r.id,
                "status": r.status,
                "state": describe(r, now),
                "requested_at": r.created_at,
                "completed_at": r.completed_at,
                "expires_at": r.expires_at,
                "formats": ["json", *[f for f in r.formats.split(",") if f]],
                "size": r.file_size,
                "downloads": r.downloads,
                "downloadable": downloadable(r, now),
            }
            for r in rows
        ],
        "active": any(r.status in ACTIVE for r in rows),
        "link_hours": settings().export_link_hours,
    }


# --- downloading ------------------------------------------------------------------------------


@dataclass
class Download:
    filename: str
    size: int
    chunks: Iterator[bytes]


def open_download(
    user_id: uuid.UUID, export_id: uuid.UUID, *, now: datetime | None = None
) -> Download:
    """The person's ready export, decrypted as it is read; counts the download.

    NotFound for another person's or a missing one, ExportGone (410) once expired,
    Conflict while it is being prepared or when it failed.
    """
    now = now or utcnow()
    req = get_export(user_id, export_id)
    if req.status in ACTIVE:
        raise Conflict(
            _("Your export is still being prepared; you will get an email when it is ready.")
        )
    if req.status == RequestStatus.FAILED:
        raise Conflict(_("This export failed. Ask for a new one on the privacy page."))
    if not downloadable(req, now):
        raise ExportGone(
            _(
                "This export has expired and its file was deleted. Ask for a new one on the "
                "privacy page."
            )
        )
    try:
        reader = RecordReader(_path(req), _unwrap(req), req.id.bytes, req.file_size)
    except (FileNotFoundError, CorruptStagedFile):
        log.warning("export %s: its file is missing or unreadable", req.id)
        raise ExportGone(
            _("This export's file is no longer there. Ask for a new one on the privacy page.")
        ) from None
    db.session.execute(
        update(PrivacyRequest)
        .where(PrivacyRequest.id == req.id)
        .values(downloads=PrivacyRequest.downloads + 1)
    )
    db.session.commit()
    stamp = as_utc(req.completed_at or now).strftime("%Y-%m-%d")
    return Download(f"verbatim-data-{stamp}.zip", req.file_size, _read(reader))


def _read(reader: RecordReader) -> Iterator[bytes]:
    try:
        for offset in range(0, reader.size, CHUNK):
            yield reader.read_at(offset, CHUNK)
    finally:
        reader.close()


# --- the job ----------------------------------------------------------------------------------


def run_export(request_id: uuid.UUID, *, now: datetime | None = None) -> str:
    """Prepare one requested export (workers.jobs.privacy_export). Idempotent: only the
    delivery that moves the request from pending to running does the work."""
    now = now or utcnow()
    claimed = db.session.execute(
        update(PrivacyRequest)
        .where(
            PrivacyRequest.id == request_id,
            PrivacyRequest.kind == RequestKind.EXPORT,
            PrivacyRequest.status == RequestStatus.PENDING,
        )
        .values(status=RequestStatus.RUNNING, updated_at=now)
        .returning(PrivacyRequest.id)
    ).first()
    db.session.commit()
    if claimed is None:
        status = db.session.scalar(
            select(PrivacyRequest.status).where(PrivacyRequest.id == request_id)
        )
        db.session.commit()
        return f"export {request_id}: nothing to do ({status or 'no such request'})"
    # The UPDATE above bypassed any copy already in the session: read the row afresh.
    req = db.session.get(PrivacyRequest, request_id, populate_existing=True)
    assert req is not None
    user = db.session.get(User, req.user_id) if req.user_id else None
    if user is None:
        return _fail(req, "the account was deleted before the export started", now)
    user_id = user.id
    # The file and its key are on the row before a byte is written, so whatever happens
    # next, the expiry job can find the file and delete it.
    key = os.urandom(32)
    req.file_name = f"{uuid.uuid4().hex}{SUFFIX}"
    req.file_key = wrap_key(WRAP_INFO, req.id.bytes, key)
    written = _path(req)
    db.session.commit()
    formats = [f for f in req.formats.split(",") if f]
    step = ["starting"]
    try:
        size, counts = _write(user, req, key, formats, now, step)
    except Exception as e:
        log.exception("export %s failed while %s", request_id, step[0])
        db.session.rollback()
        req = db.session.get(PrivacyRequest, request_id)
        assert req is not None
        return _fail(req, f"failed while {step[0]} ({type(e).__name__})", now)
    # Writing let go of every object it read (one workspace at a time): read these again.
    req = db.session.get(PrivacyRequest, request_id)
    user = db.session.get(User, user_id)
    assert req is not None
    if user is None or req.file_name != written.name:
        # The account was deleted meanwhile (and its exports' files with it).
        written.unlink(missing_ok=True)
        return _fail(req, "the account was deleted while the export was prepared", now)
    req.status = RequestStatus.READY
    req.file_size = size
    req.completed_at = now
    req.expires_at = now + timedelta(hours=settings().export_link_hours)
    req.updated_at = now
    req.detail = (
        f"{counts['transcripts']} transcripts in {counts['workspaces']} workspaces, "
        f"{counts['files']} files, {size} bytes"
        + (f"; {counts['problems']} files could not be made" if counts["problems"] else "")
    )
    _tell_ready(user, req)
    db.session.commit()
    return f"export {request_id}: {req.detail}"


def _fail(req: PrivacyRequest, detail: str, now: datetime) -> str:
    _discard(req)
    req.status = RequestStatus.FAILED
    req.detail = detail
    req.updated_at = now
    db.session.commit()
    return f"export {req.id}: {detail}"


def _tell_ready(user: User, req: PrivacyRequest) -> None:
    assert req.expires_at is not None
    queue_mail(
        user.email,
        _l("Your Verbatim data export is ready"),
        "privacy_export_ready",
        name=user.display_name,
        link=external_url("privacy.page") + "#privacy-export",
        until=as_utc(req.expires_at),
        size_mb=max(0.1, round(req.file_size / 1_000_000, 1)),
    )


class _Out:
    """What zipfile writes to: the encrypted file. No seek or tell, so zipfile streams
    (sizes after each entry's data) and never reads back."""

    def __init__(self, writer: RecordWriter) -> None:
        self._writer = writer

    def write(self, data: bytes) -> int:
        self._writer.write(data)
        return len(data)

    def flush(self) -> None:
        pass  # durability once, at the end (RecordWriter.close fsyncs)


class _Archive:
    def __init__(self, archive: zipfile.ZipFile, now: datetime) -> None:
        self.zip = archive
        self.stamp = as_utc(now).timetuple()[:6]
        self.files = 0
        self.problems: list[str] = []

    def add(self, name: str, body: bytes) -> None:
        entry = zipfile.ZipInfo(name, date_time=self.stamp)
        entry.compress_type = zipfile.ZIP_DEFLATED
        self.zip.writestr(entry, body)
        self.files += 1

    def json(self, name: str, data: Any) -> None:
        self.add(name, _dumps(data))


def _dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=2, default=_plain).encode()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _write(
    user: User,
    req: PrivacyRequest,
    key: bytes,
    formats: list[str],
    now: datetime,
    step: list[str],
) -> tuple[int, dict[str, int]]:
    path = _path(req)
    path.unlink(missing_ok=True)  # a retry starts over
    writer = RecordWriter(path, key, req.id.bytes)
    try:
        with zipfile.ZipFile(
            _Out(writer), "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6
        ) as archive:
            out = _Archive(archive, now)
            counts = _fill(out, user, formats, now, step)
        writer.close()
    except BaseException:
        writer.abandon()
        path.unlink(missing_ok=True)
        raise
    return writer.size, counts


def _fill(
    out: _Archive, user: User, formats: list[str], now: datetime, step: list[str]
) -> dict[str, int]:
    step[0] = "writing the account"
    out.json("account.json", _account(user))
    memberships = _memberships(user.id)
    out.json("memberships.json", [m for m, _workspace_id in memberships])
    index: list[dict[str, Any]] = []
    summaries: list[dict[str, Any]] = []
    conversations: list[dict[str, Any]] = []
    usage: list[dict[str, Any]] = []
    ai_usage: list[dict[str, Any]] = []
    keys: list[dict[str, Any]] = []
    for entry, workspace_id in memberships:
        slug = entry["workspace_slug"]
        with workspace_scope(workspace_id):
            step[0] = f"exporting the transcripts of workspace {workspace_id}"
            ids = _transcripts(out, user.id, slug, formats, index)
            step[0] = f"reading the rest of workspace {workspace_id}"
            summaries += _summaries(ids, user.id, slug)
            conversations += _conversations(user.id, set(ids), slug)
            usage += _usage(user.id, slug)
            ai_usage += _ai_usage(user.id, slug)
            keys += _api_keys(user.id, slug)
            db.session.commit()  # ends the transaction: no snapshot held across workspaces
            db.session.expunge_all()
    step[0] = "writing the summaries, chats, usage and keys"
    out.json("transcripts.json", index)
    out.json("summaries.json", summaries)
    out.json("conversations.json", conversations)
    out.json("usage.json", {"transcription": usage, "ai": ai_usage})
    out.json("api_keys.json", keys)
    out.json("voice_lab.json", _voice_lab(user.id))
    out.json("analytics.json", _analytics(user.id))
    db.session.commit()
    if out.problems:
        note = "These files could not be made:\n" + "\n".join(out.problems) + "\n"
        out.add("errors.txt", note.encode())
    out.add("README.txt", _readme(formats, now).encode())
    return {
        "transcripts": len(index),
        "workspaces": len(memberships),
        "files": out.files,
        "problems": len(out.problems),
    }


def _account(user: User) -> dict[str, Any]:
    identities = db.session.scalars(
        select(OAuthIdentity).where(OAuthIdentity.user_id == user.id)
    ).all()
    methods: list[dict[str, Any]] = []
    if user.password_hash:
        methods.append({"method": "password"})  # that there is one; never the hash
    methods += [
        {"method": i.provider, "email": i.email, "linked_at": i.created_at} for i in identities
    ]
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "email_verified_at": user.email_verified_at,
        "created_at": user.created_at,
        "last_sign_in_at": user.last_login_at,
        "locale": user.locale,
        "analytics_consent": user.analytics_consent,
        "analytics_consent_at": user.analytics_consent_at,
        "age_confirmed_at": user.age_confirmed_at,
        "sign_in_methods": methods,
    }


def _memberships(user_id: uuid.UUID) -> list[tuple[dict[str, Any], uuid.UUID]]:
    with unscoped("a person's own memberships, for their data export"):
        rows = db.session.execute(
            select(Workspace, Membership.role, Membership.created_at)
            .join(Membership, Membership.workspace_id == Workspace.id)
            .where(Membership.user_id == user_id)
            .order_by(Workspace.personal.desc(), Workspace.name)
        ).all()
    return [
        (
            {
                "workspace_name": ws.name,
                "workspace_slug": ws.slug,
                "personal": ws.personal,
                "role": role,
                "joined_at": joined,
            },
            ws.id,
        )
        for ws, role, joined in rows
    ]


def _transcripts(
    out: _Archive,
    user_id: uuid.UUID,
    slug: str,
    formats: list[str],
    index: list[dict[str, Any]],
) -> list[uuid.UUID]:
    """Every transcript the person uploaded in the current workspace: transcript.json and
    each chosen format (completed ones), private.json (Private Transcripts)."""
    transcripts = db.session.scalars(
        select(Transcript)
        .where(Transcript.uploader_id == user_id)
        .order_by(Transcript.created_at, Transcript.id)
    ).all()
    if not transcripts:
        return []
    folders = dict(db.session.execute(select(Folder.id, Folder.name)).tuples().all())
    exporters = _exporters(formats)
    options = ExportOptions()
    for batch in _batches(transcripts):
        docs = _documents(batch)
        for t in batch:
            base = f"transcripts/{t.id}"
            files: list[str] = []
            doc = docs.pop(t.id, None)
            if t.encrypted:
                files.append(_private(out, t, base))
            elif doc is not None:
                for chosen in exporters:
                    file_name = f"{base}/transcript.{chosen.ext}"
                    body = _render(out, chosen, doc, options, file_name)
                    if body is not None:
                        out.add(file_name, body)
                        files.append(file_name)
            else:
                out.json(f"{base}/transcript.json", {"transcript": _meta(t), "segments": []})
                files.append(f"{base}/transcript.json")
            index.append(
                {
                    **_meta(t),
                    "workspace": slug,
                    "folder": folders.get(t.folder_id) if t.folder_id else None,
                    "tags": t.tags,
                    "files": files,
                }
            )
            # Drop the ORM object too: thousands of transcripts need not fill the session.
            db.session.expunge(t)
    return [t.id for t in transcripts]


def _batches(transcripts: Sequence[Transcript]) -> Iterator[list[Transcript]]:
    """Runs of transcripts whose segments are read together: up to _DOC_BATCH of them
    and _DOC_BATCH_SECONDS of speech, so memory stays bounded for long recordings."""
    batch: list[Transcript] = []
    seconds = 0.0
    for t in transcripts:
        if batch and (
            len(batch) >= _DOC_BATCH or seconds + t.duration_seconds > _DOC_BATCH_SECONDS
        ):
            yield batch
            batch, seconds = [], 0.0
        batch.append(t)
        seconds += t.duration_seconds or 0.0
    if batch:
        yield batch


def _documents(batch: list[Transcript]) -> dict[uuid.UUID, ExportDocument]:
    """The export documents of the completed, readable transcripts of `batch`, as
    app/transcripts/exports/service.py: load builds them, with two queries for the whole
    batch instead of two per transcript (round trips were most of an export's time)."""
    wanted = [t for t in batch if t.status == Status.COMPLETED and not t.encrypted]
    if not wanted:
        return {}
    ids = [t.id for t in wanted]
    segments: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for row in db.session.execute(
        select(
            TranscriptSegment.transcript_id,
            TranscriptSegment.start,
            TranscriptSegment.end,
            TranscriptSegment.text,
            TranscriptSegment.speaker,
            TranscriptSegment.words,
        )
        .where(TranscriptSegment.transcript_id.in_(ids))
        .order_by(TranscriptSegment.transcript_id, TranscriptSegment.position)
    ):
        segments[row[0]].append(row[1:])
    names: dict[uuid.UUID, dict[str, str]] = defaultdict(dict)
    for transcript_id, label, name in db.session.execute(
        select(TranscriptSpeaker.transcript_id, TranscriptSpeaker.label, TranscriptSpeaker.name)
        .where(TranscriptSpeaker.transcript_id.in_(ids))
        .order_by(TranscriptSpeaker.transcript_id, TranscriptSpeaker.label)
    ):
        names[transcript_id][label] = name
    return {
        t.id: documents.build(
            transcript_id=t.id,
            title=t.title,
            language=t.language or t.language_requested,
            duration=t.duration_seconds,
            segments=segments.pop(t.id, []),
            speakers=names.get(t.id, {}),
            created_at=t.created_at,
            engine=t.engine,
            model=t.model,
            revision=t.revision,
        )
        for t in wanted
    }


def _exporters(formats: list[str]) -> list[Exporter]:
    """JSON first, then the chosen formats, as the current workspace offers them."""
    found: list[Exporter] = []
    for name in ["json", *formats]:
        try:
            found.append(export_service.exporter(name))
        except NotFound:
            log.warning("export format %s is not available here", name)
    return found


def _render(
    out: _Archive, chosen: Exporter, doc: Any, options: ExportOptions, file_name: str
) -> bytes | None:
    try:
        body = chosen.render(doc, options)
    except ServiceError as e:  # a missing font (PDF), named in errors.txt
        out.problems.append(f"{file_name}: {e.message}")
        return None
    except Exception:
        log.exception("the %s exporter failed on transcript %s", chosen.name, doc.id)
        out.problems.append(f"{file_name}: the {chosen.label} exporter failed on our side")
        return None
    return bytes(body)


def _meta(t: Transcript) -> dict[str, Any]:
    return {
        "id": t.id,
        "title": t.title,
        "status": t.status,
        "source": t.source,
        "private": t.encrypted,
        "language": t.language or t.language_requested,
        "duration_seconds": round(t.duration_seconds or 0.0, 3),
        "engine": t.engine,
        "model": t.model,
        "revision": t.revision,
        "created_at": t.created_at,
        "finished_at": t.finished_at,
    }


def _private(out: _Archive, t: Transcript, base: str) -> str:
    row = db.session.scalar(select(PrivateContent).where(PrivateContent.transcript_id == t.id))
    name = f"{base}/private.json"
    out.json(
        name,
        {
            "note": "A Private Transcript: its text is encrypted with your key and we cannot "
            "read it. This is the envelope exactly as stored (base64); your keyring opens "
            "it (app/private/crypto.py documents the format), as the transcript's page "
            "does in your browser.",
            "transcript": _meta(t),
            "envelope": row.envelope if row is not None else None,
            "envelope_kind": {1: "content", 2: "sealed"}.get(row.kind or 0) if row else None,
            "fingerprint": row.fingerprint if row is not None else None,
            "revision": row.revision if row is not None else None,
        },
    )
    return name


def _chunks(ids: list[uuid.UUID]) -> Iterator[list[uuid.UUID]]:
    for i in range(0, len(ids), _IN_BATCH):
        yield ids[i : i + _IN_BATCH]


def _summaries(ids: list[uuid.UUID], user_id: uuid.UUID, slug: str) -> list[dict[str, Any]]:
    """AI summaries of the person's transcripts (who asked for one is left out: it may
    be another member)."""
    found: list[dict[str, Any]] = []
    for part in _chunks(ids):
        rows = db.session.scalars(
            select(AiSummary)
            .where(AiSummary.transcript_id.in_(part))
            .order_by(AiSummary.transcript_id, AiSummary.created_at)
        ).all()
        found += [
            {
                "id": s.id,
                "transcript_id": s.transcript_id,
                "workspace": slug,
                "template": s.template_key,
                "title": s.template_title,
                "status": s.status,
                "text": s.content,
                "provider": s.provider,
                "model": s.model,
                "revision": s.revision,
                "asked_by_you": s.created_by_id == user_id,
                "created_at": s.created_at,
                "finished_at": s.finished_at,
            }
            for s in rows
        ]
    return found


def _conversations(user_id: uuid.UUID, own: set[uuid.UUID], slug: str) -> list[dict[str, Any]]:
    """The person's own AI chats: every question they asked; the answers only in chats
    about their own transcripts (elsewhere answers quote other people's transcripts)."""
    chats = db.session.scalars(
        select(AiConversation)
        .where(AiConversation.user_id == user_id)
        .order_by(AiConversation.created_at)
    ).all()
    found: list[dict[str, Any]] = []
    for chat in chats:
        answers = chat.transcript_id is not None and chat.transcript_id in own
        messages = db.session.scalars(
            select(AiMessage)
            .where(AiMessage.conversation_id == chat.id)
            .order_by(AiMessage.created_at, AiMessage.id)
        ).all()
        found.append(
            {
                "id": chat.id,
                "workspace": slug,
                "about": "transcript" if chat.transcript_id else "workspace",
                "transcript_id": chat.transcript_id,
                "created_at": chat.created_at,
                "answers_included": answers,
                "messages": [
                    {
                        "role": m.role,
                        "text": m.content,
                        "status": m.status,
                        "filters": m.filters or {},
                        "provider": m.provider,
                        "model": m.model,
                        "created_at": m.created_at,
                    }
                    for m in messages
                    if m.role == "user" or answers
                ],
            }
        )
    return found


def _usage(user_id: uuid.UUID, slug: str) -> list[dict[str, Any]]:
    rows = db.session.scalars(
        select(UsageRecord)
        .where(UsageRecord.user_id == user_id)
        .order_by(UsageRecord.created_at, UsageRecord.id)
    ).all()
    return [
        {
            "workspace": slug,
            "transcript_id": r.transcript_id,
            "kind": r.kind,
            "via": r.via,
            "state": r.state,
            "seconds": r.seconds,
            "allowance_seconds": r.allowance_seconds,
            "credit_seconds": r.credit_seconds,
            "model": r.model,
            "period_start": r.period_start,
            "created_at": r.created_at,
            "charged_at": r.charged_at,
        }
        for r in rows
    ]


def _ai_usage(user_id: uuid.UUID, slug: str) -> list[dict[str, Any]]:
    rows = db.session.scalars(
        select(AiUsage).where(AiUsage.user_id == user_id).order_by(AiUsage.created_at)
    ).all()
    return [
        {
            "workspace": slug,
            "feature": r.feature,
            "provider": r.provider,
            "model": r.model,
            "calls": r.calls,
            "prompt_tokens": r.prompt_tokens,
            "completion_tokens": r.completion_tokens,
            "estimated": r.estimated,
            "created_at": r.created_at,
        }
        for r in rows
    ]


def _api_keys(user_id: uuid.UUID, slug: str) -> list[dict[str, Any]]:
    rows = db.session.scalars(
        select(ApiKey).where(ApiKey.created_by_id == user_id).order_by(ApiKey.created_at)
    ).all()
    calls: dict[uuid.UUID, list[dict[str, Any]]] = {k.id: [] for k in rows}
    if calls:
        for r in db.session.scalars(
            select(ApiRequestLog)
            .where(ApiRequestLog.api_key_id.in_(list(calls)))
            .order_by(ApiRequestLog.at)
        ):
            calls[r.api_key_id].append(  # type: ignore[index]
                {
                    "at": r.at,
                    "method": r.method,
                    "endpoint": r.endpoint,
                    "status": r.status,
                    "duration_ms": r.duration_ms,
                }
            )
    return [
        {
            "name": k.name,
            "prefix": k.prefix,  # public: shown on the keys page; never the hash
            "workspace": slug,
            "created_at": k.created_at,
            "last_used_at": k.last_used_at,
            "revoked_at": k.revoked_at,
            "requests": calls[k.id],  # the last 90 days' metadata, as the keys page shows
        }
        for k in rows
    ]


def _voice_lab(user_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = db.session.execute(
        select(VoiceContribution, VoiceRelease.number)
        .outerjoin(VoiceRelease, VoiceRelease.id == VoiceContribution.release_id)
        .where(VoiceContribution.user_id == user_id)
        .order_by(VoiceContribution.created_at)
    ).all()
    return [
        {
            "id": c.id,
            "transcript_id": c.transcript_id,
            "status": c.status,
            "licence": c.licence,
            "consent_version": c.consent_version,
            "consent_sha256": c.consent_sha256,
            "consented_at": c.consented_at,
            "duration_seconds": c.duration_seconds,
            "language": c.language,
            "release": number,
            "withdrawn_at": c.withdrawn_at,
        }
        for c, number in rows
    ]


def _analytics(user_id: uuid.UUID) -> list[dict[str, Any]]:
    """Usage analytics still tied to the person (they opted in; after the retention
    period events no longer carry anyone)."""
    rows = db.session.scalars(
        select(AnalyticsEvent).where(AnalyticsEvent.user_id == user_id).order_by(AnalyticsEvent.at)
    ).all()
    return [
        {
            "at": e.at,
            "page": e.page,
            "feature": e.feature,
            "method": e.method,
            "status": e.status,
            "duration_ms": e.duration_ms,
            "browser": e.browser,
            "ip": e.ip,
        }
        for e in rows
    ]


def _readme(formats: list[str], now: datetime) -> str:
    chosen = ", ".join(f.upper() for f in ["json", *formats])
    return f"""Your data on Verbatim, exported {as_utc(now):%Y-%m-%d %H:%M} UTC.

Everything is UTF-8; times are ISO 8601 in UTC; ids are UUIDs.

account.json        Your account: email, name, when it was made, last sign-in, language,
                    analytics consent, age confirmation, how you sign in (password: that
                    you have one, never the password; Google: the linked address).
memberships.json    The workspaces you belong to, your role and when you joined.
transcripts.json    Every transcript you uploaded, in every workspace you belong to: title,
                    status, workspace, folder, tags and the files below that hold it.
transcripts/<id>/   One folder per transcript: transcript.json (machine-readable; format
                    "verbatim.transcript" version 1: segments with times, speakers and
                    words) and the formats you chose ({chosen}).
                    Transcripts that did not complete have transcript.json without text.
                    Private Transcripts have private.json instead: the encrypted text as
                    stored. We cannot read it; your Private Transcript key opens it.
summaries.json      The AI summaries of your transcripts (markdown).
conversations.json  Your AI chats: your questions, and the answers in chats about your
                    own transcripts (answers elsewhere quote other people's transcripts).
usage.json          Transcription minutes you used (per transcript) and AI tokens you spent.
api_keys.json       API keys you made: name, public prefix, workspace, dates, and the
                    requests made with each (time, call, status), kept 90 days. Never the key.
voice_lab.json      Recordings you gave to Voice Lab: consent, licence, status, release.
analytics.json      Usage analytics still tied to you (only if you opted in).
errors.txt          Files that could not be made, if any.

Other members' transcripts, chats and usage are not here, even in workspaces you share.
Payment records belong to the workspace's billing; a workspace owner can download them.
"""


def discard_user_exports(user_id: uuid.UUID, now: datetime | None = None) -> int:
    """Delete the person's export files now (account deletion; the caller commits). The
    requests stay, as the record that they were answered. Returns files removed."""
    now = now or utcnow()
    removed = 0
    rows = db.session.scalars(
        select(PrivacyRequest).where(
            PrivacyRequest.user_id == user_id,
            PrivacyRequest.kind == RequestKind.EXPORT,
            PrivacyRequest.file_name.is_not(None),
        )
    ).all()
    for req in rows:
        removed += _discard(req)
        if req.status == RequestStatus.READY:
            req.status = RequestStatus.EXPIRED
        req.detail = (req.detail + "; " if req.detail else "") + "file deleted with the account"
        req.updated_at = now
    return removed


# --- expiry -----------------------------------------------------------------------------------


def expire_exports(now: datetime | None = None) -> dict[str, int]:
    """Delete every export file past its link's expiry, or whose person is gone, or left
    by a failed run; fail requests whose job was lost. Idempotent."""
    now = now or utcnow()
    expired = removed = failed = 0
    rows = db.session.scalars(
        select(PrivacyRequest).where(
            PrivacyRequest.kind == RequestKind.EXPORT,
            or_(
                PrivacyRequest.file_name.is_not(None),
                PrivacyRequest.status.in_((*ACTIVE, RequestStatus.READY)),
            ),
        )
    ).all()
    for req in rows:
        stale = req.status in ACTIVE and as_utc(req.updated_at) < now - STALE_AFTER
        if req.status in ACTIVE and not stale and req.user_id is not None:
            continue  # a job is (or will be) working on it
        past = req.expires_at is not None and as_utc(req.expires_at) <= now
        gone = req.user_id is None
        if req.status == RequestStatus.READY and not (past or gone):
            continue
        removed += _discard(req)
        if req.status == RequestStatus.READY:
            req.status = RequestStatus.EXPIRED
            req.detail = (req.detail + "; " if req.detail else "") + (
                "file deleted: the account was deleted" if gone else "file deleted: expired"
            )
            expired += 1
        elif req.status in ACTIVE:
            req.status = RequestStatus.FAILED
            req.detail = "the account was deleted" if gone else "did not finish in time; ask again"
            failed += 1
        req.updated_at = now
    db.session.commit()
    if expired or removed or failed:
        log.info("exports: %d expired, %d files removed, %d failed", expired, removed, failed)
    return {"expired": expired, "removed": removed, "failed": failed}
