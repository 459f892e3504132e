"""A segment as the transcript page shows it, built in Python: a 3-hour transcript has ~1,700
segments, and a Jinja macro per segment cost a third of the page's time.

Markup contract (static/js/player.js and editor.js read it):
div.segment#seg-<id>[data-id][data-start][data-end][data-speaker][data-rev] > span.ts,
span.speaker, p.text > span.w (app.transcripts.render.words_html).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from html import escape
from typing import Any

from markupsafe import Markup
from sqlalchemy import Row, select

from app.extensions import db
from app.transcripts.models import SEGMENT_COLUMNS, Transcript, TranscriptSegment
from app.transcripts.render import seconds, stamp, words_html


def rows(t: Transcript) -> list[Row]:
    """The transcript's segments for showing them: plain rows, not ORM objects (no identity
    map, no change tracking for ~1,700 segments nobody changes here)."""
    return list(
        db.session.execute(
            select(*SEGMENT_COLUMNS)
            .where(TranscriptSegment.transcript_id == t.id)
            .order_by(TranscriptSegment.position)
        )
    )


def _segment(s: Any, names: Mapping[str, str], joiner: str, low: float, extra: str = "") -> str:
    sid: uuid.UUID = s.id
    speaker = s.speaker
    if speaker:
        extra = f' data-speaker="{escape(speaker)}"{extra}'
        name = f'<span class="speaker">{escape(names.get(speaker, speaker), quote=False)}</span>'
    else:
        name = ""
    text = words_html(s.words, joiner, low) if s.words else escape(s.text, quote=False)
    return (
        f'<div class="segment" id="seg-{sid}" data-id="{sid}" data-start="{seconds(s.start)}"'
        f' data-end="{seconds(s.end)}"{extra}>\n'
        f'  <span class="ts">[{stamp(s.start)}]</span>\n'
        f"  {name}\n"
        f'  <p class="text">{text}</p>\n'
        "</div>"
    )


def segment_html(
    s: Any,
    names: Mapping[str, str],
    joiner: str,
    low: float,
    rev: int | None = None,
    *,
    oob: bool = False,
) -> Markup:
    """One segment. `rev`: the revision this copy is current as of, when newer than the
    page's (the editor bases its next save of the segment on it). `oob`: swapped in by
    htmx where the segment is, whatever the answer's target."""
    extra = f' data-rev="{int(rev)}"' if rev else ""
    if oob:
        extra += ' hx-swap-oob="true"'
    return Markup(_segment(s, names, joiner, low, extra))  # noqa: S704 - text escaped above


def segments_html(
    segments: Iterable[Any], names: Mapping[str, str], joiner: str, low: float
) -> Markup:
    return Markup("\n".join(_segment(s, names, joiner, low) for s in segments))  # noqa: S704
