"""What people do with transcripts: start them, watch them, cancel, retry, rename, delete.

Routes (web and API) call these; each function owns its transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import String, cast, func, or_, select

from app.audit.service import record
from app.billing import metering
from app.db import utcnow
from app.errors import NotFound, ServiceError
from app.extensions import db
from app.ingest.models import StagedAudio
from app.ingest.probe import MediaInfo
from app.private import contents
from app.queue import position, redis, running_count
from app.transcripts import lifecycle
from app.transcripts.engines import JobOptions
from app.transcripts.models import (
    ACTIVE,
    Source,
    Status,
    Transcript,
    TranscriptSegment,
    TranscriptSpeaker,
    status_name,
)

MAX_TITLE = 300
SORTS = {
    "newest": Transcript.created_at.desc(),
    "oldest": Transcript.created_at.asc(),
    "title": func.lower(Transcript.title).asc(),
    "duration": Transcript.duration_seconds.desc(),
}
SPEED_KEY = "verbatim:speed:gpu"  # seconds of work per second of audio, moving average


def clean_title(raw: str | None, fallback: str) -> str:
    title = " ".join((raw or "").split())[:MAX_TITLE]
    return title or fallback[:MAX_TITLE] or "Untitled recording"


def _runs(options: JobOptions) -> list[tuple[str, uuid.UUID | None]]:
    """(model, compare group) per transcript to make: one, or two when comparing."""
    if options.compare_model is None:
        return [(options.model, None)]
    group = uuid.uuid4()
    return [(options.model, group), (options.compare_model, group)]


def _new(options: JobOptions, model: str, group: uuid.UUID | None, **fields: Any) -> Transcript:
    return Transcript(
        id=uuid.uuid4(),
        compare_group=group,
        engine=options.engine,
        model=model,
        language_requested=options.language,
        diarize=options.diarize,
        min_speakers=options.min_speakers,
        max_speakers=options.max_speakers,
        queued_at=utcnow(),
        **fields,
    )


def start_from_staged(
    staged: StagedAudio,
    info: MediaInfo,
    options: JobOptions,
    *,
    title: str,
    source: Source,
    uploader_id: uuid.UUID | None,
    private: bool = False,
) -> list[Transcript]:
    """Queue one transcript (two when comparing models) of audio already staged and probed.

    `private`: each is sealed, once finished, to the uploader's public key as it is now
    (app/private/); refused when they have no keyring. Their minutes are reserved now
    (app/billing/metering.py): a file longer than what is left is refused here, before any
    work. The caller commits; jobs are enqueued once it does.
    """
    created = []
    for model, group in _runs(options):
        t = _new(
            options,
            model,
            group,
            workspace_id=staged.workspace_id,
            title=title if group is None else f"{title} ({model})"[:MAX_TITLE],
            uploader_id=uploader_id,
            status=Status.QUEUED,
            source=source,
            staged_audio_id=staged.id,
            container=info.container,
            duration_seconds=info.duration_s,
            has_video=info.has_video,
            stage="queued",
        )
        db.session.add(t)
        if private:
            contents.attach(t, uploader_id)
        lifecycle.enqueue_after_commit(t)
        created.append(t)
    metering.reserve(created, info.duration_s, uploader_id)
    return created


def start_from_url(
    url: str,
    options: JobOptions,
    *,
    title: str | None,
    uploader_id: uuid.UUID | None,
    private: Any = None,
) -> list[Transcript]:
    """Queue a link for download; the fetch job probes it, then queues the transcription.
    `private` as asked (None: the uploader's default; see contents.choose)."""
    from app.ingest.url_fetch import UrlRefused, validate_url
    from app.settings import settings

    cfg = settings()
    sealed = contents.choose(uploader_id, private)
    metering.require_some_left()
    try:
        url = validate_url(url, allow_http=cfg.url_allow_http)
    except UrlRefused as e:
        raise ServiceError(str(e), field="url") from None
    # Compare runs share one download: the first transcript fetches, the second waits for
    # its audio (see workers/jobs/fetch_url.py).
    created = []
    for model, group in _runs(options):
        t = _new(
            options,
            model,
            group,
            title=clean_title(title, "Link"),
            uploader_id=uploader_id,
            status=Status.FETCHING,
            source=Source.URL,
            source_url=url if not created else None,
            stage="waiting to download",
        )
        db.session.add(t)
        if sealed:
            contents.attach(t, uploader_id)
        created.append(t)
    db.session.flush()
    metering.open_records(created, uploader_id)
    lifecycle.enqueue_after_commit(created[0])
    record("transcript.created", target=created[0], details={"source": "url"})
    db.session.commit()
    return created


def get(transcript_id: uuid.UUID) -> Transcript:
    t = db.session.get(Transcript, transcript_id)
    if t is None:  # another workspace's id is filtered out: the same answer
        raise NotFound(_("No such transcript."))
    return t


@dataclass(frozen=True)
class Listing:
    items: Sequence[Transcript]
    total: int


def listing(
    *,
    q: str = "",
    sort: str = "newest",
    status: str = "",
    folder: str = "",
    tag: str = "",
    offset: int = 0,
    limit: int = 50,
) -> Listing:
    """A page of the workspace's transcripts. `folder` is a folder id or "none" (in no
    folder); `tag` one tag. Another member's Private Transcripts are not listed."""
    query = select(Transcript).where(contents.visible())
    if folder == "none":
        query = query.where(Transcript.folder_id.is_(None))
    elif folder:
        try:
            query = query.where(Transcript.folder_id == uuid.UUID(folder))
        except ValueError:
            raise ServiceError(_("Unknown folder."), field="folder") from None
    wanted_tag = tag.strip().lower()
    if wanted_tag and wanted_tag.isascii():
        # A coarse filter on the JSON text narrows the rows in SQL on SQLite and PostgreSQL
        # alike (SQLite escapes other characters in JSON, hence ASCII only); the exact check
        # below rules out partial matches.
        query = query.where(func.lower(cast(Transcript.tags, String)).contains(wanted_tag))
    if q.strip():
        needle = f"%{q.strip().lower()}%"
        query = query.where(func.lower(Transcript.title).like(needle))
    if status:
        if status == "active":
            query = query.where(Transcript.status.in_(ACTIVE))
        elif status in {s.value for s in Status}:
            query = query.where(Transcript.status == status)
        else:
            raise ServiceError(_("Unknown status '%(status)s'.", status=status), field="status")
    if sort not in SORTS:
        raise ServiceError(_("Sort by one of: %(sorts)s.", sorts=", ".join(SORTS)), field="sort")
    if wanted_tag:
        rows = db.session.scalars(query.order_by(SORTS[sort], Transcript.id))
        exact = [t for t in rows if wanted_tag in (t.tags or [])]
        return Listing(exact[max(0, offset) : max(0, offset) + limit], len(exact))
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = db.session.scalars(
        query.order_by(SORTS[sort], Transcript.id).offset(max(0, offset)).limit(limit)
    ).all()
    return Listing(items, total)


def segments(t: Transcript) -> list[TranscriptSegment]:
    return list(
        db.session.scalars(
            select(TranscriptSegment)
            .where(TranscriptSegment.transcript_id == t.id)
            .order_by(TranscriptSegment.position)
        )
    )


def speakers(t: Transcript) -> dict[str, TranscriptSpeaker]:
    rows = db.session.scalars(
        select(TranscriptSpeaker).where(TranscriptSpeaker.transcript_id == t.id)
    )
    return {s.label: s for s in rows}


def speaker_names(t: Transcript) -> dict[str, str]:
    """Label (the engine's, e.g. SPEAKER_00) -> the name people call that speaker, in
    label order; read as two columns, for pages and documents that only show names."""
    rows = db.session.execute(
        select(TranscriptSpeaker.label, TranscriptSpeaker.name)
        .where(TranscriptSpeaker.transcript_id == t.id)
        .order_by(TranscriptSpeaker.label)
    ).all()
    return {label: name for label, name in rows}


def compare_siblings(t: Transcript) -> list[Transcript]:
    if t.compare_group is None:
        return []
    return list(
        db.session.scalars(
            select(Transcript)
            .where(Transcript.compare_group == t.compare_group)
            .order_by(Transcript.created_at, Transcript.model)
        )
    )


@dataclass(frozen=True)
class QueueInfo:
    position: int | None  # 0: next to start
    eta_seconds: float | None  # until the transcript is done


def queue_info(t: Transcript) -> QueueInfo:
    state = Status(t.status)
    speed = _speed()
    own = t.duration_seconds * speed
    if state == Status.PROCESSING:
        return QueueInfo(None, max(0.0, own * (1.0 - t.progress)))
    if state != Status.QUEUED or not t.rq_job_id:
        return QueueInfo(None, None)
    pos = position("gpu", t.rq_job_id)
    if pos is None:
        return QueueInfo(None, None)
    workers = max(1, running_count("gpu"))
    # Jobs ahead are assumed to be as long as this one: a guess, said as one in the UI.
    return QueueInfo(pos, own + (pos // workers + 1) * max(own, 30.0 * speed))


def _speed() -> float:
    raw = redis().get(SPEED_KEY)
    try:
        return float(raw) if raw else 0.5
    except ValueError:
        return 0.5


def note_speed(work_seconds: float, audio_seconds: float) -> None:
    """Fold one finished job into the moving average the ETA uses."""
    if audio_seconds <= 0:
        return
    sample = work_seconds / audio_seconds
    old = _speed()
    redis().set(SPEED_KEY, f"{0.8 * old + 0.2 * sample:.4f}")


def cancel(transcript_id: uuid.UUID) -> Transcript:
    t = get(transcript_id)
    contents.require_access(t, admin_may=True)
    t = db.session.scalar(select(Transcript).where(Transcript.id == t.id).with_for_update())
    assert t is not None
    if Status(t.status).terminal:
        raise ServiceError(
            _("This transcript is already %(status)s.", status=status_name(t.status))
        )
    lifecycle.cancel(t)
    record("transcript.cancelled", target=t)
    db.session.commit()
    return t


def retry(transcript_id: uuid.UUID) -> Transcript:
    """Run a failed or cancelled transcript again, if its audio is still here."""
    t = get(transcript_id)
    contents.require_access(t)
    if t.status not in (Status.FAILED, Status.CANCELLED):
        raise ServiceError(_("Only a failed or cancelled transcript can be retried."))
    staged = db.session.get(StagedAudio, t.staged_audio_id) if t.staged_audio_id else None
    if staged is None or staged.wrapped_key is None or not staged.complete:
        raise ServiceError(
            _(
                "The audio of this transcript was deleted when it ended, as promised; "
                "upload the file again to retry."
            )
        )
    metering.reserve([t], t.duration_seconds, t.uploader_id)
    t.status = Status.QUEUED
    t.error = ""
    t.progress = 0.0
    t.attempts = 0
    t.stage = "queued"
    t.queued_at = utcnow()
    t.finished_at = None
    lifecycle.enqueue_after_commit(t)
    record("transcript.retried", target=t)
    db.session.commit()
    return t


def rename(transcript_id: uuid.UUID, title: str) -> Transcript:
    """A new title; a private transcript's title is metadata its owner may change."""
    t = get(transcript_id)
    contents.require_access(t)
    new = " ".join((title or "").split())
    if not new:
        raise ServiceError(_("A title cannot be empty."), field="title")
    if len(new) > MAX_TITLE:
        raise ServiceError(
            _("Keep the title under %(max)d characters.", max=MAX_TITLE), field="title"
        )
    t.title = new
    db.session.commit()
    return t


def rename_speaker(
    transcript_id: uuid.UUID,
    label: str,
    name: str,
    *,
    base_revision: int | str | None = None,
    author_id: uuid.UUID | None = None,
) -> TranscriptSpeaker:
    """Rename a speaker everywhere at once, as a revision of the transcript; a stale
    `base_revision` is refused when someone renamed this speaker since (see
    app.transcripts.editing.rename_speaker)."""
    from app.transcripts import editing  # editing builds on this module

    contents.refuse(get(transcript_id), _("Renaming speakers on the server"))
    saved = editing.rename_speaker(
        transcript_id, label, name, base_revision=base_revision, author_id=author_id
    )
    assert saved.speaker is not None
    return saved.speaker


def delete(ids: Sequence[uuid.UUID]) -> int:
    """Delete transcripts for good; active ones are cancelled first so their audio goes.
    Another member's Private Transcript may be deleted by a workspace admin only."""
    if not ids:
        raise ServiceError(_("Choose at least one transcript."))
    rows = db.session.scalars(
        select(Transcript).where(Transcript.id.in_(list(ids))).with_for_update()
    ).all()
    if len(rows) != len(set(ids)):
        raise NotFound(_("No such transcript."))
    for t in rows:
        contents.require_access(t, admin_may=True)
    for t in rows:
        if not Status(t.status).terminal:
            lifecycle.cancel(t)
        elif t.staged_audio_id is not None:
            lifecycle._release_audio(t)
        db.session.delete(t)
        record("transcript.deleted", target=t, details={"title": t.title})
    db.session.commit()
    return len(rows)


def active_count() -> int:
    return (
        db.session.scalar(
            select(func.count(Transcript.id)).where(or_(*(Transcript.status == s for s in ACTIVE)))
        )
        or 0
    )


def as_dict(t: Transcript, info: QueueInfo | None = None) -> dict[str, Any]:
    return {
        "id": t.id,
        "title": t.title,
        "status": t.status,
        "source": t.source,
        "engine": t.engine,
        "model": t.model,
        "language_requested": t.language_requested,
        "language": t.language,
        "diarize": t.diarize,
        "min_speakers": t.min_speakers,
        "max_speakers": t.max_speakers,
        "duration_seconds": t.duration_seconds,
        "container": t.container,
        "speaker_count": t.speaker_count,
        "progress": t.progress,
        "stage": t.stage,
        "error": t.error or None,
        "warnings": list(t.warnings or []),
        "timings": dict(t.timings or {}),
        "compare_group": t.compare_group,
        "private": t.encrypted,
        "queue_position": info.position if info else None,
        "eta_seconds": round(info.eta_seconds, 1) if info and info.eta_seconds else None,
        "created_at": t.created_at,
        "finished_at": t.finished_at,
    }
