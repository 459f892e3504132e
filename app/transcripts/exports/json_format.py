"""JSON export: the whole transcript, machine-readable, in a versioned structure.

    {
      "format": "verbatim.transcript",
      "version": 1,
      "transcript": {"id": "…", "title": "…", "language": "en" | null,
                     "duration_seconds": 3600.0, "created_at": "2025-01-31T12:00:00+00:00" | null,
                     "engine": "faster-whisper", "model": "large-v3", "revision": 3},
      "speakers": [{"label": "SPEAKER_00", "name": "Alice"}],
      "segments": [{"start": 0.0, "end": 4.2, "speaker": "SPEAKER_00" | null,
                    "speaker_name": "Alice" | null, "text": "Hello there.",
                    "words": [{"text": "Hello", "start": 0.0, "end": 0.4,
                               "probability": 0.98 | null}, …]}, …]
    }

Times are seconds (3 decimals). `version` changes only when a field changes meaning or goes
away; new fields may be added within a version. The export options do not apply: JSON
always carries everything, for programs to pick from.
"""

from __future__ import annotations

import json
from typing import Any

from app.transcripts.exports.document import ExportDocument
from app.transcripts.exports.options import ExportOptions

FORMAT = "verbatim.transcript"
VERSION = 1


def as_data(doc: ExportDocument) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "transcript": {
            "id": doc.id,
            "title": doc.title,
            "language": doc.language,
            "duration_seconds": round(doc.duration, 3),
            "created_at": doc.created_at.isoformat() if doc.created_at else None,
            "engine": doc.engine,
            "model": doc.model,
            "revision": doc.revision,
        },
        "speakers": [{"label": s.label, "name": s.name} for s in doc.speakers],
        "segments": [
            {
                "start": round(s.start, 3),
                "end": round(s.end, 3),
                "speaker": s.speaker,
                "speaker_name": doc.speaker_name(s.speaker),
                "text": s.text,
                "words": [
                    {
                        "text": w.text,
                        "start": round(w.start, 3),
                        "end": round(w.end, 3),
                        "probability": None if w.probability is None else round(w.probability, 4),
                    }
                    for w in s.words
                ],
            }
            for s in doc.segments
        ],
    }


def render_json(doc: ExportDocument, options: ExportOptions) -> bytes:
    # Compact: with indent, the json module falls back to its pure-Python encoder.
    return json.dumps(as_data(doc), ensure_ascii=False, separators=(",", ":")).encode()
