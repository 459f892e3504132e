"""Encrypted staging of audio: create, write, read, discard, sweep.

Each staged file has its own random data key, stored in the database wrapped by a key
derived from the server secret. Discarding removes the file and the key (so a copy of the
disk made earlier is unreadable once the row's key is gone).
"""

from __future__ import annotations

import logging
import os
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select

from app.db import as_utc, utcnow
from app.extensions import db
from app.ingest.crypto_file import RecordReader, RecordWriter
from app.ingest.models import StagedAudio
from app.settings import settings
from app.tenants.context import current_workspace_id, unscoped

log = logging.getLogger("verbatim.staging")
SUFFIX = ".vba"


def staging_root() -> Path:
    root = Path(settings().staging_dir)
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    return root


def path_of(staged: StagedAudio) -> Path:
    return staging_root() / f"{staged.id.hex}{SUFFIX}"


def _kek() -> bytes:
    secret = settings().secret_key.encode()
    return HKDF(hashes.SHA256(), 32, salt=None, info=b"verbatim:staging-kek:v1").derive(secret)


def _wrap(staged_id: uuid.UUID, key: bytes) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(_kek()).encrypt(nonce, key, staged_id.bytes)


def _unwrap(staged: StagedAudio) -> bytes:
    if not staged.wrapped_key:
        raise FileNotFoundError("the audio was deleted")
    blob = staged.wrapped_key
    return AESGCM(_kek()).decrypt(blob[:12], blob[12:], staged.id.bytes)


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
    staged.wrapped_key = _wrap(staged.id, os.urandom(32))
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


def sweep(now: datetime | None = None) -> int:
    """Discard every staged file past its deadline, in any workspace, and stray files.

    Stray files are ones with no live row (a request that died between writing and
    committing); they are removed once older than the deadline too.
    """
    now = now or utcnow()
    removed = 0
    with unscoped("the audio sweeper enforces the deadline in every workspace"):
        expired = db.session.scalars(
            select(StagedAudio).where(
                StagedAudio.discarded_at.is_(None), StagedAudio.expires_at < now
            )
        ).all()
        for staged in expired:
            discard(staged)
            removed += 1
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
        # A file whose row is not committed yet is young; give it the deadline.
        if entry.suffix != SUFFIX or as_utc(now) - modified > deadline or _row_gone(entry):
            entry.unlink(missing_ok=True)
            removed += 1
    if removed:
        log.info("sweeper removed %d staged audio file(s)", removed)
    return removed


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
