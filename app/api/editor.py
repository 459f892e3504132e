"""API: editing: segments, find and replace, revisions, review pass.

Every change names the revision it was based on (`base_revision`, the `revision` the client
last read) and answers with the transcript's revision after it. A change on a stale base is
refused with 409 only when something it touches changed since; the answer then carries who
saved, when, and the segments as they are now. Replace-all and restore need the current
revision. Bodies over 1 MB are refused with 413.

Fields a change needs are checked after the transcript is found, so another workspace's
transcript answers 404 whatever the body.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, g, jsonify
from flask_babel import gettext as _
from marshmallow import EXCLUDE, Schema, fields, validate

from app.api.blueprint import api_blueprint
from app.api.transcript_schemas import ProblemOut, SpeakerOut, WordOut
from app.api.transcripts import problem
from app.errors import ServiceError
from app.extensions import db
from app.transcripts import editing, review, revisions, services, whole_edits
from app.transcripts.models import TranscriptSegment

bp = api_blueprint(
    "api_editor", __name__, "Editing: segments, find and replace, revisions, review pass"
)

SEGMENT = "/transcripts/<uuid:transcript_id>/segments/<uuid:segment_id>"
CHANGEABLE = ("text", "start", "end", "speaker", "new_speaker")
BASE = fields.Integer(
    allow_none=True,
    metadata={
        "description": "Required: the transcript revision the change is based on (the "
        "`revision` last read)"
    },
)


# --- schemas ---------------------------------------------------------------------------------


class _In(Schema):
    class Meta:
        unknown = EXCLUDE


class EditedSegmentOut(Schema):
    id = fields.UUID()
    number = fields.Integer(metadata={"description": "Place in the transcript, from 1"})
    start = fields.Float()
    end = fields.Float()
    text = fields.String()
    speaker = fields.String(allow_none=True, metadata={"description": "The speaker's label"})
    speaker_name = fields.String(allow_none=True)
    words = fields.List(fields.Nested(WordOut))
    changed_in = fields.Integer(metadata={"description": "The revision that last changed it"})


class EditOut(Schema):
    revision = fields.Integer(metadata={"description": "The transcript's revision now"})
    changed = fields.Boolean(metadata={"description": "False: it already was so; no revision"})
    summary = fields.String()
    segments = fields.List(fields.Nested(EditedSegmentOut), metadata={"description": "Changed"})
    removed = fields.List(fields.UUID(), metadata={"description": "Segments merged away"})
    speaker = fields.Nested(SpeakerOut, allow_none=True)
    count = fields.Integer(metadata={"description": "Replacements made (replace, fix_all)"})


class ConflictOut(ProblemOut):
    revision = fields.Integer(metadata={"description": "The transcript's current revision"})
    saved_by = fields.String(allow_none=True)
    saved_at = fields.DateTime(allow_none=True)
    segments = fields.List(
        fields.Nested(EditedSegmentOut), metadata={"description": "As they are now"}
    )


class SegmentPatchIn(_In):
    base_revision = BASE
    text = fields.String()
    start = fields.Float(allow_nan=False, metadata={"description": "Seconds"})
    end = fields.Float(allow_nan=False, metadata={"description": "Seconds"})
    speaker = fields.String(metadata={"description": "Label of one of the transcript's speakers"})
    new_speaker = fields.String(
        metadata={"description": "Name of a new speaker for this segment (empty: Speaker N)"}
    )


class SplitIn(_In):
    base_revision = BASE
    word_index = fields.Integer(metadata={"description": "Split before this word (from 0)"})
    offset = fields.Integer(metadata={"description": "Or: at this character of the text"})


class MergeIn(_In):
    base_revision = BASE
    next_id = fields.UUID(metadata={"description": "The next segment, as the client saw it"})


class ReplaceIn(_In):
    base_revision = BASE
    find = fields.String(load_default="")
    replace = fields.String(load_default="")
    match_case = fields.Boolean(load_default=False)
    whole_words = fields.Boolean(load_default=False)
    preview = fields.Boolean(
        load_default=False, metadata={"description": "Only count the matches; change nothing"}
    )


class MatchOut(Schema):
    segment_id = fields.UUID()
    number = fields.Integer()
    before = fields.String()
    found = fields.String()
    after = fields.String()


class ReplaceOut(EditOut):
    segments_matched = fields.Integer()
    matches = fields.List(fields.Nested(MatchOut), metadata={"description": "Preview: the first"})


class RevisionOut(Schema):
    number = fields.Integer()
    kind = fields.String(metadata={"description": "original, edit, split, merge, restore, ..."})
    summary = fields.String()
    author_id = fields.UUID(allow_none=True)
    author_name = fields.String(allow_none=True)
    created_at = fields.DateTime()


class RevisionsOut(Schema):
    revision = fields.Integer(metadata={"description": "The current revision"})
    revisions = fields.List(fields.Nested(RevisionOut), metadata={"description": "Newest first"})


class SnapshotSegmentOut(Schema):
    id = fields.UUID()
    start = fields.Float()
    end = fields.Float()
    text = fields.String()
    speaker = fields.String(allow_none=True)
    words = fields.List(fields.Nested(WordOut))


class SnapshotOut(Schema):
    language = fields.String(allow_none=True)
    segments = fields.List(fields.Nested(SnapshotSegmentOut))
    speakers = fields.List(fields.Nested(SpeakerOut))


class ChunkOut(Schema):
    op = fields.String(metadata={"enum": ["same", "add", "del"]})
    text = fields.String()


class SegmentChangeOut(Schema):
    status = fields.String(metadata={"enum": ["added", "removed", "changed"]})
    number = fields.Integer()
    id = fields.UUID()
    chunks = fields.List(fields.Nested(ChunkOut), metadata={"description": "Word by word"})
    text = fields.Boolean()
    times = fields.Boolean()
    speaker = fields.Boolean()
    words = fields.Boolean(metadata={"description": "Only word timings or confidence"})


class SpeakerChangeOut(Schema):
    label = fields.String()
    old = fields.String(allow_none=True)
    new = fields.String(allow_none=True)


class DiffOut(Schema):
    segments = fields.List(fields.Nested(SegmentChangeOut))
    speakers = fields.List(fields.Nested(SpeakerChangeOut))
    unchanged = fields.Integer()


class RevisionDetailOut(RevisionOut):
    revision = fields.Integer(metadata={"description": "The transcript's current revision"})
    previous = fields.Integer(allow_none=True, metadata={"description": "The one diffed against"})
    snapshot = fields.Nested(SnapshotOut)
    diff = fields.Nested(DiffOut, allow_none=True, metadata={"description": "None: the first"})


class RestoreIn(_In):
    base_revision = BASE


class ReviewQuery(Schema):
    threshold = fields.String(load_default="", metadata={"description": "0 to 1; default 0.5"})
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))
    limit = fields.Integer(load_default=review.PAGE, validate=validate.Range(min=1, max=1000))


class ReviewWordOut(Schema):
    segment_id = fields.UUID()
    number = fields.Integer(metadata={"description": "The segment's place, from 1"})
    index = fields.Integer(metadata={"description": "The word's place in its segment, from 0"})
    text = fields.String()
    probability = fields.Float()
    start = fields.Float(allow_none=True)
    end = fields.Float(allow_none=True)
    before = fields.String()
    after = fields.String()
    same = fields.Integer(metadata={"description": "Words reading the same (for fix_all)"})
    more_before = fields.Boolean(metadata={"description": "The segment goes on before"})
    more_after = fields.Boolean(metadata={"description": "The segment goes on after"})


class ReviewOut(Schema):
    revision = fields.Integer()
    threshold = fields.Float()
    total = fields.Integer()
    offset = fields.Integer()
    words = fields.List(fields.Nested(ReviewWordOut))


class ReviewIn(_In):
    base_revision = BASE
    action = fields.String(metadata={"enum": ["accept", "fix", "fix_all"]})
    segment_id = fields.UUID(metadata={"description": "accept, fix"})
    index = fields.Integer(metadata={"description": "accept, fix: the word's index"})
    word = fields.String(metadata={"description": "The word as read (fix_all: required)"})
    text = fields.String(metadata={"description": "fix, fix_all: the correct text"})


# --- helpers ---------------------------------------------------------------------------------


def author() -> uuid.UUID | None:
    # A key acts for the workspace; its revisions are credited to whoever made it.
    key = g.get("api_key")
    return key.created_by_id if key is not None else None


def _segment_out(seg: TranscriptSegment | dict[str, Any], names: dict[str, str]) -> dict:
    data = seg if isinstance(seg, dict) else editing.segment_dict(seg, names)
    return {**data, "words": [_word(w) for w in data["words"]]}


def _word(raw: list) -> dict[str, Any]:
    return {
        "text": raw[0],
        "start": raw[1],
        "end": raw[2],
        "probability": raw[3] if len(raw) > 3 else None,
    }


def _edit_out(transcript_id: uuid.UUID, saved: editing.Saved) -> tuple[dict, int, dict]:
    t = services.get(transcript_id)
    names = services.speaker_names(t)
    body = {
        "revision": saved.revision,
        "changed": saved.changed,
        "summary": saved.summary,
        "segments": [_segment_out(s, names) for s in saved.segments],
        "removed": saved.removed,
        "speaker": (
            {"label": saved.speaker.label, "name": saved.speaker.name} if saved.speaker else None
        ),
        "count": saved.count,
    }
    return body, 200, {"X-Revision": str(saved.revision)}


def refused(e: ServiceError) -> Response:
    """A refusal as JSON; a conflict also says who saved, when, and the current state."""
    if not isinstance(e, editing.EditConflict):
        return problem(e)
    db.session.rollback()
    resp = jsonify(
        error="conflict",
        message=e.message,
        revision=e.revision,
        saved_by=e.saved_by,
        saved_at=e.saved_at.isoformat() if e.saved_at else None,
        segments=[{**_segment_out(s, {}), "id": str(s["id"])} for s in e.segments],
    )
    resp.status_code = 409
    resp.headers["X-Revision"] = str(e.revision)
    return resp


def _change(transcript_id: uuid.UUID, action: Any) -> Any:
    try:
        services.get(transcript_id)
        return _edit_out(transcript_id, action())
    except ServiceError as e:
        return refused(e)


_CHANGE_ERRORS = (
    (404, "No such transcript or segment"),
    (409, "Someone changed what this touches since base_revision", ConflictOut),
    (413, "The body is over 1 MB"),
    (422, "Refused: what and why in the message (field names the input)"),
)


def _document_errors(func: Any) -> Any:
    for status, description, *schema in _CHANGE_ERRORS:
        func = bp.alt_response(status, schema=(schema or [ProblemOut])[0], description=description)(
            func
        )
    return func


# --- segments ---------------------------------------------------------------------------------


@bp.patch(SEGMENT)
@bp.arguments(SegmentPatchIn)
@bp.response(200, EditOut)
@_document_errors
def update_segment(body: dict[str, Any], transcript_id: uuid.UUID, segment_id: uuid.UUID) -> Any:
    """Change a segment's text, times and/or speaker, in one revision.

    `speaker` gives it one of the transcript's speakers (a label); `new_speaker` makes a new
    speaker with that name. Times are validated: start < end, within the recording, not
    overlapping the neighbouring segments."""

    def action() -> editing.Saved:
        given = {k: body[k] for k in CHANGEABLE if k in body}
        if not given:
            raise ServiceError(
                _("Nothing to change: send text, start, end, speaker or new_speaker.")
            )
        return editing.update_segment(
            transcript_id,
            segment_id,
            base_revision=body.get("base_revision"),
            author_id=author(),
            **given,
        )

    return _change(transcript_id, action)


@bp.post(f"{SEGMENT}/split")
@bp.arguments(SplitIn)
@bp.response(200, EditOut)
@_document_errors
def split_segment(body: dict[str, Any], transcript_id: uuid.UUID, segment_id: uuid.UUID) -> Any:
    """Cut a segment in two, before word `word_index` or at character `offset`. The first
    part keeps the id; the second is a new segment (both are in `segments`)."""
    return _change(
        transcript_id,
        lambda: editing.split(
            transcript_id,
            segment_id,
            base_revision=body.get("base_revision"),
            author_id=author(),
            word_index=body.get("word_index"),
            offset=body.get("offset"),
        ),
    )


@bp.post(f"{SEGMENT}/merge")
@bp.arguments(MergeIn)
@bp.response(200, EditOut)
@_document_errors
def merge_segment(body: dict[str, Any], transcript_id: uuid.UUID, segment_id: uuid.UUID) -> Any:
    """Join a segment with the next one; the next one's id is in `removed`."""
    return _change(
        transcript_id,
        lambda: editing.merge(
            transcript_id,
            segment_id,
            base_revision=body.get("base_revision"),
            author_id=author(),
            next_id=body.get("next_id"),
        ),
    )


# --- find and replace -------------------------------------------------------------------------


@bp.post("/transcripts/<uuid:transcript_id>/replace")
@bp.arguments(ReplaceIn)
@bp.response(200, ReplaceOut)
@_document_errors
def replace(body: dict[str, Any], transcript_id: uuid.UUID) -> Any:
    """Replace every match across the transcript in one revision (`count` says how many);
    with `preview` only count them. Needs the current revision."""
    options = {"match_case": body["match_case"], "whole_words": body["whole_words"]}
    try:
        t = services.get(transcript_id)
        if body["preview"]:
            found = whole_edits.preview_replace(transcript_id, body["find"], **options)
            return {
                "revision": t.revision,
                "changed": False,
                "summary": "",
                "segments": [],
                "removed": [],
                "speaker": None,
                "count": found.count,
                "segments_matched": found.segments,
                "matches": [m.__dict__ for m in found.samples],
            }
        saved = whole_edits.replace_all(
            transcript_id,
            body["find"],
            body["replace"],
            **options,
            base_revision=body.get("base_revision"),
            author_id=author(),
        )
    except ServiceError as e:
        return refused(e)
    out, status, headers = _edit_out(transcript_id, saved)
    return {**out, "segments_matched": len(saved.segments), "matches": []}, status, headers


# --- revisions ---------------------------------------------------------------------------------


def _revision_out(info: revisions.RevisionInfo) -> dict[str, Any]:
    return {
        "number": info.number,
        "kind": info.kind,
        "summary": info.summary,
        "author_id": info.author_id,
        "author_name": info.author_name,
        "created_at": info.created_at,
    }


@bp.get("/transcripts/<uuid:transcript_id>/revisions")
@bp.response(200, RevisionsOut)
@bp.alt_response(404, schema=ProblemOut, description="No such transcript")
def list_revisions(transcript_id: uuid.UUID) -> Any:
    """The history, newest first. Autosaves of one segment by one person within two minutes
    share a revision, so numbers can skip."""
    try:
        t = services.get(transcript_id)
    except ServiceError as e:
        return refused(e)
    return {"revision": t.revision, "revisions": [_revision_out(i) for i in revisions.history(t)]}


@bp.get("/transcripts/<uuid:transcript_id>/revisions/<int:number>")
@bp.response(200, RevisionDetailOut)
@bp.alt_response(404, schema=ProblemOut, description="No such transcript or revision")
def get_revision(transcript_id: uuid.UUID, number: int) -> Any:
    """One revision: the whole transcript as it was, and what changed from the one before."""
    try:
        t = services.get(transcript_id)
        info, snap = revisions.snapshot(t, number)
    except ServiceError as e:
        return refused(e)
    before = revisions.previous(t, number)
    changes = revisions.diff(before[1], snap) if before else None
    return {
        **_revision_out(info),
        "revision": t.revision,
        "previous": before[0].number if before else None,
        "snapshot": {
            "language": snap.get("language"),
            "segments": [{**s, "words": [_word(w) for w in s["words"]]} for s in snap["segments"]],
            "speakers": [{"label": k, "name": v} for k, v in snap["speakers"].items()],
        },
        "diff": None
        if changes is None
        else {
            "segments": [
                {
                    "status": c.status,
                    "number": c.number,
                    "id": (c.new or c.old or {}).get("id"),
                    "chunks": [{"op": ch.op, "text": ch.text} for ch in c.chunks],
                    "text": c.text,
                    "times": c.times,
                    "speaker": c.speaker,
                    "words": c.words,
                }
                for c in changes.segments
            ],
            "speakers": [c.__dict__ for c in changes.speakers],
            "unchanged": changes.unchanged,
        },
    }


@bp.post("/transcripts/<uuid:transcript_id>/revisions/<int:number>/restore")
@bp.arguments(RestoreIn)
@bp.response(200, EditOut)
@_document_errors
def restore_revision(body: dict[str, Any], transcript_id: uuid.UUID, number: int) -> Any:
    """Make revision `number` the current text again, as a new revision. Needs the current
    revision as base_revision."""
    return _change(
        transcript_id,
        lambda: whole_edits.restore(
            transcript_id, number, base_revision=body.get("base_revision"), author_id=author()
        ),
    )


# --- review pass -------------------------------------------------------------------------------


@bp.get("/transcripts/<uuid:transcript_id>/review")
@bp.arguments(ReviewQuery, location="query")
@bp.response(200, ReviewOut)
@bp.alt_response(404, schema=ProblemOut, description="No such transcript")
@bp.alt_response(422, schema=ProblemOut, description="A threshold outside 0 to 1")
def list_review(args: dict[str, Any], transcript_id: uuid.UUID) -> Any:
    """Words below the confidence threshold, in order, with a few words of context."""
    try:
        services.get(transcript_id)
        found = review.pending(
            transcript_id,
            review.parse_threshold(args["threshold"]),
            offset=args["offset"],
            limit=args["limit"],
        )
    except ServiceError as e:
        return refused(e)
    return {
        "revision": found.revision,
        "threshold": found.threshold,
        "total": found.total,
        "offset": found.offset,
        "words": [w.__dict__ for w in found.words],
    }


@bp.post("/transcripts/<uuid:transcript_id>/review")
@bp.arguments(ReviewIn)
@bp.response(200, EditOut)
@_document_errors
def review_word(body: dict[str, Any], transcript_id: uuid.UUID) -> Any:
    """accept (the word is right: its probability becomes 1), fix (new text for it), or
    fix_all (every word reading like `word` becomes `text`, in one revision; needs the
    current revision)."""

    def action() -> editing.Saved:
        common = {"base_revision": body.get("base_revision"), "author_id": author()}
        kind = body.get("action")
        if kind == "fix_all":
            return review.fix_all(transcript_id, body.get("word"), body.get("text"), **common)
        if kind not in ("accept", "fix"):
            raise ServiceError(_("action is one of accept, fix, fix_all."), field="action")
        segment_id = body.get("segment_id")
        if segment_id is None:
            raise ServiceError(_("Say which segment the word is in."), field="segment_id")
        if kind == "accept":
            return review.accept(
                transcript_id, segment_id, body.get("index"), expected=body.get("word"), **common
            )
        return review.fix(
            transcript_id,
            segment_id,
            body.get("index"),
            body.get("text"),
            expected=body.get("word"),
            **common,
        )

    return _change(transcript_id, action)
