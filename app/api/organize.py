"""API: folders, tags, and moving transcripts between workspaces."""

from __future__ import annotations

import uuid
from typing import Any

from flask import g
from flask_babel import gettext as _
from marshmallow import EXCLUDE, Schema, fields, validate

from app.api.blueprint import api_blueprint
from app.api.transcript_schemas import ProblemOut, TranscriptOut
from app.api.transcripts import problem, transcript_out
from app.errors import Forbidden, ServiceError
from app.transcripts import organizing, services

bp = api_blueprint("api_organize", __name__, "Folders, tags, moving transcripts between workspaces")


class FolderOut(Schema):
    id = fields.UUID()
    name = fields.String()
    count = fields.Integer(metadata={"description": "Transcripts in the folder"})


class FoldersOut(Schema):
    folders = fields.List(fields.Nested(FolderOut))


class FolderIn(Schema):
    class Meta:
        unknown = EXCLUDE

    name = fields.String(required=True, validate=validate.Length(max=1000))


class FolderDeletedOut(Schema):
    released = fields.Integer(
        metadata={"description": "Transcripts that were in it (they stay, in no folder)"}
    )


class FolderChoiceIn(Schema):
    class Meta:
        unknown = EXCLUDE

    folder_id = fields.UUID(
        required=True, allow_none=True, metadata={"description": "null: in no folder"}
    )


class TagsIn(Schema):
    class Meta:
        unknown = EXCLUDE

    tags = fields.List(
        fields.String(validate=validate.Length(max=200)),
        required=True,
        validate=validate.Length(max=100),
    )


class MoveIn(Schema):
    class Meta:
        unknown = EXCLUDE

    workspace = fields.String(
        required=True, metadata={"description": "Address (slug) of the destination workspace"}
    )


class MovedOut(Schema):
    id = fields.UUID()
    workspace = fields.String(metadata={"description": "Where the transcript is now"})


def _folder_out(folder_id: uuid.UUID) -> dict[str, Any]:
    info = next(f for f in organizing.folders() if f.id == folder_id)
    return {"id": info.id, "name": info.name, "count": info.count}


@bp.get("/folders")
@bp.response(200, FoldersOut)
def list_folders() -> Any:
    return {"folders": [vars(f) for f in organizing.folders()]}


@bp.post("/folders")
@bp.arguments(FolderIn)
@bp.response(201, FolderOut)
@bp.alt_response(422, schema=ProblemOut, description="A bad or taken name")
def create_folder(body: dict[str, Any]) -> Any:
    try:
        folder = organizing.create_folder(body["name"])
    except ServiceError as e:
        return problem(e)
    return _folder_out(folder.id)


@bp.patch("/folders/<uuid:folder_id>")
@bp.arguments(FolderIn)
@bp.response(200, FolderOut)
@bp.alt_response(404, schema=ProblemOut, description="No such folder")
@bp.alt_response(422, schema=ProblemOut, description="A bad or taken name")
def update_folder(body: dict[str, Any], folder_id: uuid.UUID) -> Any:
    try:
        organizing.rename_folder(folder_id, body["name"])
    except ServiceError as e:
        return problem(e)
    return _folder_out(folder_id)


@bp.delete("/folders/<uuid:folder_id>")
@bp.response(200, FolderDeletedOut)
@bp.alt_response(404, schema=ProblemOut, description="No such folder")
def delete_folder(folder_id: uuid.UUID) -> Any:
    try:
        return {"released": organizing.delete_folder(folder_id)}
    except ServiceError as e:
        return problem(e)


@bp.put("/transcripts/<uuid:transcript_id>/folder")
@bp.arguments(FolderChoiceIn)
@bp.response(200, TranscriptOut)
@bp.alt_response(404, schema=ProblemOut, description="No such transcript or folder")
def set_folder(body: dict[str, Any], transcript_id: uuid.UUID) -> Any:
    try:
        organizing.file_into([transcript_id], body["folder_id"])
    except ServiceError as e:
        return problem(e)
    return transcript_out(services.get(transcript_id))


@bp.put("/transcripts/<uuid:transcript_id>/tags")
@bp.arguments(TagsIn)
@bp.response(200, TranscriptOut)
@bp.alt_response(404, schema=ProblemOut, description="No such transcript")
@bp.alt_response(422, schema=ProblemOut, description="A malformed tag or too many")
def set_tags(body: dict[str, Any], transcript_id: uuid.UUID) -> Any:
    try:
        t = organizing.set_tags(transcript_id, body["tags"])
    except ServiceError as e:
        return problem(e)
    return transcript_out(t)


@bp.post("/transcripts/<uuid:transcript_id>/move")
@bp.arguments(MoveIn)
@bp.response(200, MovedOut)
@bp.alt_response(403, schema=ProblemOut, description="The key's owner is not admin of both")
@bp.alt_response(404, schema=ProblemOut, description="No such transcript")
@bp.alt_response(422, schema=ProblemOut, description="Not a destination")
def move_transcript(body: dict[str, Any], transcript_id: uuid.UUID) -> Any:
    """Move a finished transcript to another workspace. The key acts for the person who made
    it, who must be an admin (or the owner) of both workspaces. Afterwards the transcript is
    no longer reachable with this key: it answers 404 here like any other workspace's."""
    try:
        person = g.api_key.created_by_id
        if person is None:
            raise Forbidden(_("This key's maker has left; a key cannot move transcripts alone."))
        target = organizing.move(transcript_id, body["workspace"], person)
    except ServiceError as e:
        return problem(e)
    return {"id": transcript_id, "workspace": target.slug}
