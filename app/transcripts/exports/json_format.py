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
                               "probability": 0.98 | null}, …]}, …],
      "summaries": [{"template": "overview", "title": "Overview", "text": "markdown…",
                     "provider": "openai", "model": "gpt-4o-mini", "revision": 3,
                     "stale": false, "finished_at": "2025-01-31T12:05:00+00:00" | null}, …]
    }

Times are seconds (3 decimals). `version` changes only when a field changes meaning or goes
away; new fields may be added within a version. The reading options (timestamps, speakers,
paragraphs) do not apply: JSON always carries the whole transcript, for programs to pick
from. `summaries` is there only with the summaries option: the newest completed AI summary
of each template, its text as the model wrote it (markdown, [12:34] citations), `stale`
when the transcript changed since (its `revision` is older). It was added within version 1:
programs that do not know it are not affected.
"""

from __future__ import annotations

import json
from typing import Any

from app.transcripts.exports.document import ExportDocument
from app.transcripts.exports.options import ExportOptions

FORMAT = "verbatim.transcript"
VERSION = 1


def as_data(doc: ExportDocument, options: ExportOptions | None = None) -> dict[str, Any]:
    data = {
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
    if options is not None and options.summaries:
        data["summaries"] = [
            {
                "template": s.template,
                "title": s.title,
                "text": s.text,
                "provider": s.provider,
                "model": s.model,
                "revision": s.revision,
                "stale": s.stale,
                "finished_at": s.finished_at.isoformat() if s.finished_at else None,
            }
            for s in doc.summaries
        ]
    return data


def render_json(doc: ExportDocument, options: ExportOptions) -> bytes:
    # Compact: with indent, the json module falls back to its pure-Python encoder.
    return json.dumps(as_data(doc, options), ensure_ascii=False, separators=(",", ":")).encode()
