"""Resumable uploads: declare the size, send pieces at increasing offsets, resume after a
dropped connection from the offset the server reports. Bytes go straight into encrypted
staging, a block at a time, so memory stays flat whatever the file's size.

When the last byte arrives the file is probed (ffprobe, content not extension) and its
transcripts are queued; a file that is not usable audio is refused and deleted at once.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any, BinaryIO

from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.exceptions import ClientDisconnected

from app.audit.service import record
from app.billing import metering
from app.db import as_utc, utcnow
from app.errors import Conflict, NotFound, ServiceError, TooLarge
from app.extensions import db
from app.ingest import media_server, staging
from app.ingest.models import StagedAudio, Upload
from app.ingest.probe import MediaInfo, MediaRejected, probe
from app.privacy import voice_lab as voice_lab_service
from app.private import contents
from app.queue import redis
from app.settings import settings
from app.transcripts import services as transcripts
from app.transcripts.engines import JobOptions, parse_options
from app.transcripts.models import Source, Transcript

READ_BLOCK = 256 * 1024
OPTION_KEYS = ("engine", "model", "language", "diarize", "min_speakers", "max_speakers")


def _human_bytes(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return str(n)


def create(
    *,
    filename: str,
    size: int,
    options: dict[str, Any],
    title: str | None = None,
    source: str = Source.UPLOAD,
    user_id: uuid.UUID | None = None,
    private: Any = None,
    voice_lab: Any = None,
    voice_lab_consent: Any = None,
) -> Upload:
    """Open an upload; options are checked now so a wrong choice fails before any byte.

    `private`: seal the transcripts to `user_id`'s key (None: their default); asking for
    it without a keyring is refused here, before any byte. `voice_lab`: give the recording
    to Voice Lab, with the consent version shown (app/privacy/voice_lab.py).
    """
    cfg = settings()
    if size <= 0:
        raise ServiceError(_("The file is empty."), field="size")
    if size > cfg.upload_max_bytes:
        raise TooLarge(
            _(
                "The file is %(size)s; the limit is %(limit)s.",
                size=_human_bytes(size),
                limit=_human_bytes(cfg.upload_max_bytes),
            )
        )
    if source not in (Source.UPLOAD, Source.RECORDING):
        raise ServiceError(_("Unknown upload source."), field="source")
    chosen = parse_options(options)
    sealed = contents.choose(user_id, private)
    given = voice_lab_service.requested(
        voice_lab, voice_lab_consent, private=sealed, user_id=user_id
    )
    metering.require_some_left()
    name = " ".join((filename or "").replace("/", " ").replace("\\", " ").split())[:255]
    staged = staging.create()
    upload = Upload(
        id=uuid.uuid4(),
        user_id=user_id,
        staged_audio_id=staged.id,
        filename=name or "upload",
        size=size,
        source=source,
        options={
            "title": transcripts.clean_title(title, _stem(name) or "Recording"),
            "engine": chosen.engine,
            "model": chosen.model,
            "language": chosen.language,
            "diarize": chosen.diarize,
            "min_speakers": chosen.min_speakers,
            "max_speakers": chosen.max_speakers,
            "compare_model": chosen.compare_model,
            "private": sealed,
            "voice_lab": given,
        },
        expires_at=utcnow() + timedelta(hours=cfg.upload_ttl_hours),
    )
    db.session.add(upload)
    db.session.commit()
    return upload


def _stem(filename: str) -> str:
    return filename.rsplit(".", 1)[0] if "." in filename else filename


def get(upload_id: uuid.UUID) -> Upload:
    upload = db.session.get(Upload, upload_id)
    if upload is None:
        raise NotFound(_("No such upload."))
    return upload


def append(
    upload_id: uuid.UUID, offset: int, stream: BinaryIO, length: int | None
) -> tuple[Upload, list[Transcript]]:
    """Write one piece at `offset`; the last piece finishes the upload.

    A dropped connection keeps every byte that arrived: the reply to the next request (or
    `get`) says the offset to resume from.
    """
    cfg = settings()
    upload = get(upload_id)
    if upload.status != "open":
        raise Conflict(_("This upload is %(status)s.", status=upload.status))
    if as_utc(upload.expires_at) < utcnow():
        raise ServiceError(_("This upload expired; start again."))
    if length is not None and length > cfg.upload_chunk_max_bytes:
        raise TooLarge(
            _("Send at most %(size)s per request.", size=_human_bytes(cfg.upload_chunk_max_bytes))
        )
    if length is not None and offset + length > upload.size:
        raise TooLarge(_("This piece goes past the size declared for the file."))
    lock = redis().lock(f"verbatim:upload:{upload.id}", timeout=600, blocking=False)
    if not lock.acquire():
        raise Conflict(_("Another request is writing to this upload; resume after it ends."))
    try:
        staged = db.session.get(StagedAudio, upload.staged_audio_id)
        if staged is None or staged.wrapped_key is None:
            raise Conflict(_("This upload's data was deleted; start again."))
        writer = staging.writer(staged)
        db.session.rollback()  # no transaction held open while bytes stream in
        try:
            if writer.size != offset:
                raise Conflict(
                    _("Resume at offset %(size)d, not %(offset)d.", size=writer.size, offset=offset)
                )
            remaining = upload.size - writer.size if length is None else length
            try:
                while remaining > 0:
                    block = stream.read(min(READ_BLOCK, remaining))
                    if not block:
                        break
                    writer.write(block)
                    remaining -= len(block)
            except ClientDisconnected:
                pass  # keep what arrived; the client resumes from the reported offset
            if length is None and stream.read(1):
                raise TooLarge(_("The body is longer than the size declared for the file."))
        finally:
            writer.close()
        upload.received = staged.size = writer.size
        db.session.commit()
    finally:
        lock.release()
    if upload.received < upload.size:
        return upload, []
    return upload, finish(upload)


def finish(upload: Upload) -> list[Transcript]:
    """Probe the complete file and queue its transcripts; refuse and delete what is not
    usable audio."""
    staged = db.session.get(StagedAudio, upload.staged_audio_id)
    assert staged is not None
    staged.complete = True
    db.session.commit()
    try:
        info = probe_staged(staged)
    except MediaRejected as e:
        upload.status, upload.error = "failed", str(e)[:500]
        staging.discard(staged)
        db.session.commit()
        raise ServiceError(str(e)) from None
    opts = dict(upload.options)
    chosen = JobOptions(
        engine=opts["engine"],
        model=opts["model"],
        language=opts.get("language"),
        diarize=bool(opts.get("diarize")),
        min_speakers=opts.get("min_speakers"),
        max_speakers=opts.get("max_speakers"),
        compare_model=opts.get("compare_model"),
    )
    try:
        created = transcripts.start_from_staged(
            staged,
            info,
            chosen,
            title=opts.get("title") or "Recording",
            source=Source(upload.source),
            uploader_id=upload.user_id,
            private=bool(opts.get("private")),
        )
    except ServiceError as e:
        # Out of minutes, or the keyring was reset while the file was arriving: nothing is
        # queued and the audio goes, as with a file that is not audio.
        db.session.rollback()
        upload.status, upload.error = "failed", e.message[:500]
        staging.discard(staged)
        db.session.commit()
        raise
    voice_lab_service.open_contribution(
        created[0], opts.get("voice_lab"), upload.user_id, video=info.has_video
    )
    upload.status = "done"
    record(
        "transcript.created",
        target=created[0],
        details={"source": upload.source, "bytes": upload.size, "container": info.container},
    )
    db.session.commit()
    return created


def probe_staged(staged: StagedAudio) -> MediaInfo:
    with staging.reader(staged) as source, media_server.serve(source) as media:
        return probe(media, max_duration_s=settings().max_audio_seconds)


def abort(upload_id: uuid.UUID) -> None:
    upload = get(upload_id)
    if upload.status != "open":
        raise Conflict(_("This upload is %(status)s.", status=upload.status))
    upload.status = "failed"
    upload.error = "Cancelled."
    staged = db.session.get(StagedAudio, upload.staged_audio_id)
    if staged is not None:
        staging.discard(staged)
    db.session.commit()


def expire_stale() -> int:
    """Close uploads nobody finished; their audio goes with them (sweeper)."""
    from app.tenants.context import unscoped

    closed = 0
    with unscoped("the sweeper closes expired uploads in every workspace"):
        for upload in db.session.scalars(
            select(Upload).where(Upload.status == "open", Upload.expires_at < utcnow())
        ):
            upload.status, upload.error = "failed", "Expired before it was finished."
            staged = db.session.get(StagedAudio, upload.staged_audio_id)
            if staged is not None:
                staging.discard(staged)
            closed += 1
        db.session.commit()
    return closed
