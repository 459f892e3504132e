"""Encrypted staging of audio: create, write, read, discard, sweep.

Each staged file has its own random data key, stored in the database wrapped by a key
derived from the server secret. Discarding removes the file and the key (so a copy of the
disk made earlier is unreadable once the row's key is gone).
"""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from app.db import as_utc, utcnow
from app.extensions import db
from app.ingest.crypto_file import RecordReader, RecordWriter, unwrap_key, wrap_key
from app.ingest.models import StagedAudio
from app.queue import redis
from app.settings import settings
from app.tenants.context import current_workspace_id, unscoped

log = logging.getLogger("verbatim.staging")
# What operators are alerted on: ERROR lines starting "ALERT" on this logger.
alerts = logging.getLogger("verbatim.alerts")
SUFFIX = ".vba"


def staging_root() -> Path:
    root = Path(settings().staging_dir)
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    return root


def path_of(staged: StagedAudio) -> Path:
    return staging_root() / f"{staged.id.hex}{SUFFIX}"


WRAP_INFO = b"verbatim:staging-kek:v1"


def _unwrap(staged: StagedAudio) -> bytes:
    return unwrap_key(WRAP_INFO, staged.id.bytes, staged.wrapped_key)


def create() -> StagedAudio:
    """A new, empty staged file in the current workspace (the caller commits)."""
    workspace_id = current_workspace_id()
    if workspace_id is None:
        raise RuntimeError("staging needs a workspace context")
    staged = StagedAudio(
        id=uuid.uuid4(),
        workspace_id=workspace_id,
        expires_at=utcnow() + timedelta(hours=settings().audio_deadline_hours),
    )
    staged.wrapped_key = wrap_key(WRAP_INFO, staged.id.bytes, os.urandom(32))
    db.session.add(staged)
    return staged


def writer(staged: StagedAudio) -> RecordWriter:
    return RecordWriter(path_of(staged), _unwrap(staged), staged.id.bytes)


def reader(staged: StagedAudio) -> RecordReader:
    return RecordReader(path_of(staged), _unwrap(staged), staged.id.bytes, staged.size)


def discard(staged: StagedAudio) -> None:
    """Delete the file and forget its key (the caller commits)."""
    try:
        path_of(staged).unlink(missing_ok=True)
    finally:
        staged.wrapped_key = None
        staged.discarded_at = staged.discarded_at or utcnow()


@dataclass
class SweepReport:
    swept: int = 0  # staged files removed
    overdue: int = 0  # of them, audio found kept past its deadline


def sweep(now: datetime | None = None) -> int:
    """Discard every staged file past its deadline; the number removed (sweep_report)."""
    return sweep_report(now).swept


def sweep_report(now: datetime | None = None) -> SweepReport:
    """Discard every staged file past its deadline, in any workspace, and stray files.

    Stray files are ones with no live row (a request that died between writing and
    committing); they are removed once older than the deadline too. Audio is normally
    discarded when its transcript ends, so anything found past its deadline means that
    path failed somewhere: it is counted as overdue and raises an alert.
    """
    now = now or utcnow()
    report = SweepReport()
    with unscoped("the audio sweeper enforces the deadline in every workspace"):
        expired = db.session.scalars(
            select(StagedAudio).where(
                StagedAudio.discarded_at.is_(None), StagedAudio.expires_at < now
            )
        ).all()
        for staged in expired:
            discard(staged)
            report.swept += 1
            report.overdue += 1
        db.session.commit()
        live = {
            f"{i.hex}{SUFFIX}"
            for i in db.session.scalars(
                select(StagedAudio.id).where(StagedAudio.discarded_at.is_(None))
            )
        }
        db.session.commit()
    deadline = timedelta(hours=settings().audio_deadline_hours)
    for entry in staging_root().iterdir():
        if entry.name in live or not entry.is_file():
            continue
        modified = datetime.fromtimestamp(entry.stat().st_mtime, tz=as_utc(now).tzinfo)
        too_old = as_utc(now) - modified > deadline
        # A file whose row is not committed yet is young; give it the deadline.
        if entry.suffix != SUFFIX or too_old or _row_gone(entry):
            entry.unlink(missing_ok=True)
            report.swept += 1
            report.overdue += int(too_old)
    if report.swept:
        log.info("sweeper removed %d staged audio file(s)", report.swept)
    if report.overdue:
        alerts.error(
            "ALERT audio outlived its deadline: %d staged file(s) found past the %s-hour "
            "deadline and deleted by the sweeper",
            report.overdue,
            settings().audio_deadline_hours,
        )
    return report


METRICS_KEY = "verbatim:metrics:audio"


def record_sweep(report: SweepReport, now: datetime | None = None) -> None:
    """The sweeper's metric: when it last ran and what it found (last run and totals)."""
    now = now or utcnow()
    pipe = redis().pipeline()
    fields: dict[str, str | int] = {
        "last_run": as_utc(now).isoformat(),
        "swept": report.swept,
        "overdue": report.overdue,
    }
    if report.overdue:
        fields["last_overdue_at"] = as_utc(now).isoformat()
    pipe.hset(METRICS_KEY, mapping=fields)
    pipe.hincrby(METRICS_KEY, "swept_total", report.swept)
    pipe.hincrby(METRICS_KEY, "overdue_total", report.overdue)
    pipe.execute()


def sweep_metrics() -> dict[str, str | int]:
    """The metric as stored (empty before the sweeper's first run)."""
    raw = redis().hgetall(METRICS_KEY)
    out: dict[str, str | int] = {}
    for key, value in raw.items():
        name, text = key.decode(), value.decode()
        out[name] = int(text) if text.lstrip("-").isdigit() else text
    return out


def _row_gone(entry: Path) -> bool:
    """A file whose row exists but was discarded (a discard whose unlink failed)."""
    try:
        staged_id = uuid.UUID(entry.stem)
    except ValueError:
        return True
    with unscoped("the audio sweeper checks a stray file's row"):
        row = db.session.get(StagedAudio, staged_id)
        gone = row is not None and row.discarded_at is not None
        db.session.commit()
    return gone
