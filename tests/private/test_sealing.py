"""The worker seals a Private Transcript before anything is written: the production worker
entry point as its own process (`python -m workers --queues gpu`), real PostgreSQL, Redis,
ffmpeg and the tiny faster-whisper model, as in tests/integration/test_pipeline.py.

The same file is uploaded twice, once private: the ordinary one's stored segments are the
reference the private one's sealed document must equal, and where the ordinary one has text
(rows, search documents) the private one has none.
"""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from rq.job import Job
from sqlalchemy import func, select

from app.extensions import db
from app.ingest import uploads
from app.plugins.models import IntegrationEvent
from app.private import crypto, sealing
from app.private.models import PrivateContent
from app.search.backend import backend
from app.search.models import SearchOutbox
from app.tenants.context import workspace_scope
from app.tenants.services import create_workspace
from app.transcripts.models import (
    Status,
    Transcript,
    TranscriptRevision,
    TranscriptSegment,
    TranscriptSpeaker,
)
from tests.integration.test_pipeline import _worker
from tests.private.support import make_keyring
from tests.speech import make_speech
from tests.transcripts import drain_index
from tests.web import make_user, unique_email

SENTENCE = "The harbour master counts eleven boats before the evening tide."


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_speech(SENTENCE, tmp_path_factory.mktemp("sealing"), "mp3")


def _upload(app: Any, ws_id: uuid.UUID, user_id: uuid.UUID, path: Path, private: bool) -> uuid.UUID:
    data = path.read_bytes()
    with app.app_context(), workspace_scope(ws_id):
        upload = uploads.create(
            filename=path.name,
            size=len(data),
            options={"language": "en"},
            user_id=user_id,
            private=private,
        )
        _, [t] = uploads.append(upload.id, 0, io.BytesIO(data), len(data))
        db.session.remove()
        return t.id


def _count(model: type, tid: uuid.UUID) -> int:
    return db.session.scalar(
        select(func.count()).select_from(model).where(model.transcript_id == tid)
    )


def test_a_private_upload_is_sealed_by_the_worker_and_nothing_textual_is_stored(
    app: Any, app_env: dict[str, str], speech: Path, redis_conn: Redis
) -> None:
    user = make_user(app, unique_email("sealing"))
    with app.app_context():
        ws_id = create_workspace(user.id, "Sealing", f"sealing-{uuid.uuid4().hex[:8]}").id
    keys = make_keyring(app, user.id)
    plain = _upload(app, ws_id, user.id, speech, private=False)
    private = _upload(app, ws_id, user.id, speech, private=True)

    worker = _worker(app_env)

    with app.app_context(), workspace_scope(ws_id):
        t = db.session.get(Transcript, private)
        reference = db.session.get(Transcript, plain)
        assert t.status == reference.status == Status.COMPLETED, worker.output[-3000:]
        assert t.encrypted and not reference.encrypted
        # The engine's text went into the envelope only.
        for model in (TranscriptSegment, TranscriptSpeaker, TranscriptRevision):
            assert _count(model, private) == 0, model.__name__
        rows = db.session.scalars(
            select(TranscriptSegment)
            .where(TranscriptSegment.transcript_id == plain)
            .order_by(TranscriptSegment.position)
        ).all()
        assert rows, "the ordinary upload has text to compare with"
        names = dict(
            db.session.execute(
                select(TranscriptSpeaker.label, TranscriptSpeaker.name).where(
                    TranscriptSpeaker.transcript_id == plain
                )
            ).all()
        )
        content = db.session.scalar(
            select(PrivateContent).where(PrivateContent.transcript_id == private)
        )
        assert content.kind == crypto.SEALED and content.revision == t.revision
        envelope = content.envelope
        # Metadata the server keeps, as for any transcript.
        assert (t.language, t.model, t.speaker_count) == (
            reference.language,
            reference.model,
            reference.speaker_count,
        )
        assert t.warnings == reference.warnings and t.progress == 1.0
        events = db.session.scalars(
            select(IntegrationEvent.payload).where(IntegrationEvent.type == "transcript.completed")
        ).all()
        job_ids = (t.rq_job_id, reference.rq_job_id)
        texts = [r.text for r in rows] + [w[0] for r in rows for w in r.words]

    doc = crypto.open_envelope(
        envelope, str(ws_id), str(private), private_key=keys.unlocked.private_key
    )
    assert doc["v"] == sealing.DOCUMENT_VERSION and doc["language"] == reference.language
    assert doc["duration"] == pytest.approx(t.duration_seconds)
    assert doc["segments"] == [
        {"start": r.start, "end": r.end, "text": r.text, "speaker": r.speaker, "words": r.words}
        for r in rows
    ]
    assert doc["speakers"] == [{"label": k, "name": v} for k, v in names.items()]

    # What the job left in Redis (its return value) says how it went, not what was said.
    results = {jid: Job.fetch(jid, connection=redis_conn).return_value() for jid in job_ids}
    assert results[t.rq_job_id].startswith("completed:")
    words = {x for x in texts if len(x.strip()) >= 4}
    for value in results.values():
        assert not any(w in value for w in words), value
    # The completion event (and so the webhook body) carries no text, and says "private".
    mine = [e for e in events if e["transcript_id"] == str(private)]
    assert mine and mine[0]["private"] is True
    assert not any(w in json.dumps(mine) for w in words)

    # Search: the ordinary one is indexed, the private one never.
    drain_index(app)
    with app.app_context(), workspace_scope(ws_id):
        indexed = backend().versions(ws_id)
        pending = db.session.scalar(select(func.count(SearchOutbox.id)))
        db.session.remove()
    assert plain in indexed and private not in indexed
    assert pending == 0


def test_engine_details_in_warnings_are_dropped_for_private_transcripts() -> None:
    shown = sealing.safe_warnings(
        [
            "Word alignment failed (KeyError: 'harbour'); word timings are approximate.",
            "Speaker diarization failed (bad (nested) detail); speakers are not labelled.",
            "Speaker diarization needs a Hugging Face access token.",
        ]
    )
    assert shown == [
        "Word alignment failed; word timings are approximate.",
        "Speaker diarization failed; speakers are not labelled.",
        "Speaker diarization needs a Hugging Face access token.",
    ]
