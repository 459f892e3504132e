"""The worker's half of Private Transcript: turn an engine's result into the v1 document and
seal it to the owner's public key, so the text is never written anywhere in the clear.

lifecycle.complete() calls seal() inside the transaction that marks the transcript
completed: no segment, speaker or revision row is written for a private transcript, and
the only copy of its text the server keeps is the envelope (app/private/crypto.py).
"""

from __future__ import annotations

import re
from typing import Any

from app.private import contents, crypto
from app.private.models import PrivateContent
from app.transcripts.models import Transcript
from workers.engines.base import EngineResult

DOCUMENT_VERSION = 1
# "Word alignment failed (<the library's message>); ..." -> without the parenthesis: an
# engine library's message could quote a word of the audio.
_DETAIL = re.compile(r"\s*\([^()]*(?:\([^()]*\)[^()]*)*\)")


class NotSealable(RuntimeError):
    """A private transcript without its recipient row: nothing may be stored for it."""


def document_from_result(result: EngineResult, *, duration: float) -> dict[str, Any]:
    """The v1 document (the shape app/static/js/private/document.js reads), with the text
    cleaned exactly as lifecycle.complete() cleans what it stores for ordinary transcripts."""
    # Imported here: lifecycle imports this module.
    from app.transcripts.lifecycle import segment_fields

    return {
        "v": DOCUMENT_VERSION,
        "language": result.language or None,
        "duration": duration,
        "speakers": [
            {"label": label, "name": f"Speaker {number}"}
            for number, label in enumerate(result.speakers, start=1)
        ],
        "segments": [segment_fields(seg) for seg in result.segments],
    }


def seal(t: Transcript, result: EngineResult) -> PrivateContent:
    """Seal the result to the key recorded at upload; the caller's commit stores it with
    the transcript's completion (the row is locked until then)."""
    content = contents.record(t.id, for_update=True)
    if content is None:
        raise NotSealable("This Private Transcript has no key to seal it to; upload it again.")
    document = document_from_result(result, duration=t.duration_seconds)
    content.envelope = crypto.seal(document, content.recipient_key, str(t.workspace_id), str(t.id))
    content.kind = crypto.SEALED
    content.revision = t.revision
    return content


def safe_warnings(warnings: list[str]) -> list[str]:
    """Engine warnings of a private transcript without the libraries' details."""
    return [_DETAIL.sub("", w) for w in warnings]
