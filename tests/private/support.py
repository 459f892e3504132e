"""Private Transcript test helpers: a keyring made the way the browser makes one (with the
reference implementation, app/private/crypto.py), and private transcripts sealed the way
the worker seals them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from flask import Flask
from sqlalchemy import select

from app.private import crypto, keyrings
from app.private.models import PrivateContent
from app.transcripts.models import Status, Transcript
from tests.integration.test_workspaces import database

PASSPHRASE = "correct horse battery staple"
# What the tests' documents say: it must never reach the server in the clear.
CANARY = "yellow zebra chocolate"


@dataclass
class Keys:
    user_id: uuid.UUID
    passphrase: str
    material: crypto.KeyringMaterial
    recovery_code: str
    unlocked: crypto.Unlocked


def make_keyring(
    app: Flask, user_id: uuid.UUID, passphrase: str = PASSPHRASE, *, default: bool = False
) -> Keys:
    """A keyring stored for `user_id`, at the minimum cost so tests stay quick."""
    material, code, unlocked = crypto.new_keyring(passphrase, str(user_id), crypto.MIN_ITERATIONS)
    with database(app) as s:
        s.add(keyrings.row(user_id, material, default))
        s.commit()
    return Keys(user_id, passphrase, material, code, unlocked)


def document(
    segments: list[tuple[float, float, str, str | None]],
    speakers: dict[str, str] | None = None,
    *,
    language: str = "en",
    duration: float = 65.0,
) -> dict[str, Any]:
    """A transcript document as envelopes hold it (version 1)."""
    return {
        "v": 1,
        "language": language,
        "duration": duration,
        "speakers": [{"label": k, "name": v} for k, v in (speakers or {}).items()],
        "segments": [
            {
                "start": start,
                "end": end,
                "text": text,
                "speaker": speaker,
                "words": [
                    [w, round(start + i * 0.4, 3), round(start + i * 0.4 + 0.3, 3), 0.9]
                    for i, w in enumerate(text.split())
                ],
            }
            for start, end, text, speaker in segments
        ],
    }


def make_private_transcript(
    app: Flask,
    workspace_id: uuid.UUID,
    keys: Keys,
    doc: dict[str, Any],
    title: str = "Private meeting",
) -> uuid.UUID:
    """A completed private transcript whose text is sealed to `keys`, as the worker leaves it."""
    with database(app, workspace_id) as s:
        t = Transcript(
            title=title,
            status=Status.COMPLETED,
            engine="faster-whisper",
            model="tiny-random",
            duration_seconds=doc.get("duration", 65.0),
            language=doc.get("language"),
            speaker_count=len(doc.get("speakers", [])),
            uploader_id=keys.user_id,
            encrypted=True,
        )
        s.add(t)
        s.flush()
        s.add(
            PrivateContent(
                transcript_id=t.id,
                owner_id=keys.user_id,
                recipient_key=keys.material.public_key,
                fingerprint=crypto.fingerprint(keys.material.public_key),
                envelope=crypto.seal(doc, keys.material.public_key, str(workspace_id), str(t.id)),
                kind=crypto.SEALED,
                revision=t.revision or 1,
            )
        )
        s.commit()
        return t.id


def stored_envelope(app: Flask, workspace_id: uuid.UUID, transcript_id: uuid.UUID) -> bytes:
    with database(app, workspace_id) as s:
        return s.scalar(
            select(PrivateContent.envelope).where(PrivateContent.transcript_id == transcript_id)
        )
