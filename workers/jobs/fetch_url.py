"""Job: download a link's audio into encrypted staging, probe it, queue its transcription.

The link is forgotten when this ends, whatever the outcome (PRODUCT.md). A compare run's
second transcript waits in "fetching" without a link and follows the first.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from app.billing import metering
from app.billing.metering import QuotaExceeded
from app.extensions import db
from app.i18n.js_strings import N_
from app.ingest import staging
from app.ingest.probe import MediaRejected
from app.ingest.uploads import probe_staged
from app.ingest.url_fetch import FetchFailed, UrlRefused, fetch
from app.settings import settings
from app.tenants.models import Workspace
from app.transcripts import lifecycle
from app.transcripts.models import Status, Transcript
from workers.heartbeat import Heartbeat
from workers.runtime import job_context


def fetch_url(transcript_id: str, workspace_id: str) -> str:
    with job_context(workspace_id) as app:
        tid, token = uuid.UUID(transcript_id), uuid.uuid4().hex
        t = lifecycle.claim(tid, token, Status.FETCHING)
        if t is None:
            return "not claimable"
        url = t.source_url
        if not url:
            # Stored in English, translated where it is shown (an exact msgid).
            lifecycle.fail(tid, token, N_("The link was removed before it could be downloaded."))
            return "failed: no link"
        cfg = settings()
        staged = staging.create()
        for row in _group(t):
            row.staged_audio_id = staged.id
        db.session.commit()

        def beat(progress: float, stage: str) -> bool:
            return lifecycle.heartbeat(tid, token, progress, stage)

        try:
            with Heartbeat(app, t.workspace_id, beat, cfg.heartbeat_seconds) as pulse:
                pulse.progress(0.0, "downloading")
                writer = staging.writer(staged)
                db.session.rollback()
                try:
                    result = fetch(
                        url,
                        writer,
                        max_bytes=cfg.url_max_bytes,
                        max_duration_s=_max_duration(t),
                        extractors=cfg.url_extractor_list,
                        allow_private=cfg.outbound_allow_private,
                        allow_http=cfg.url_allow_http,
                    )
                finally:
                    writer.close()
                staged.size, staged.complete = writer.size, True
                db.session.commit()
                pulse.progress(0.0, "checking the file")
                info = probe_staged(staged)
        except (UrlRefused, FetchFailed, MediaRejected) as e:
            db.session.rollback()
            _fail_group(tid, token, str(e))
            return "failed"
        except Exception:
            db.session.rollback()
            if t.attempts >= 2:
                _fail_group(tid, token, "The link could not be downloaded; try again later.")
                return "failed"
            lifecycle.release_for_retry(tid, token)
            raise
        t = db.session.scalar(
            select(Transcript).where(Transcript.id == tid, Transcript.claim_token == token)
        )
        if t is None:  # cancelled meanwhile: its audio was released by the cancel
            staging.discard(staged)
            db.session.commit()
            return "cancelled"
        waiting = [row for row in _group(t) if row.status == Status.FETCHING]
        try:
            metering.reserve(waiting, info.duration_s)
        except QuotaExceeded as e:
            db.session.rollback()
            staging.discard(staged)
            _fail_group(tid, token, e.message)
            return "failed: out of minutes"
        for row in waiting:
            row.status = Status.QUEUED
            row.claim_token = None
            row.source_url = None
            row.container, row.duration_seconds = info.container, info.duration_s
            row.has_video = info.has_video
            if row.title == "Link" and result.title:
                row.title = result.title[:300]
            row.stage = "queued"
            lifecycle.enqueue_after_commit(row)
        db.session.commit()
        return f"fetched {result.bytes} bytes"


def _max_duration(t: Transcript) -> float:
    workspace = db.session.get(Workspace, t.workspace_id)
    assert workspace is not None
    return metering.max_file_seconds(workspace)


def _group(t: Transcript) -> list[Transcript]:
    if t.compare_group is None:
        return [t]
    return list(
        db.session.scalars(select(Transcript).where(Transcript.compare_group == t.compare_group))
    )


def _fail_group(tid: uuid.UUID, token: str, message: str) -> None:
    t = db.session.get(Transcript, tid)
    siblings = [r.id for r in _group(t) if r.id != tid] if t else []
    lifecycle.fail(tid, token, message)
    for sid in siblings:
        lifecycle.fail(sid, None, message)
