"""Marshmallow schemas of the API; the OpenAPI description is generated from them."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class WorkspaceOut(Schema):
    id = fields.UUID()
    slug = fields.String()
    name = fields.String()
    plan = fields.String()
    seat_limit = fields.Integer()
    seats_used = fields.Integer()
    personal = fields.Boolean()


class MemberOut(Schema):
    id = fields.UUID(metadata={"description": "Membership id"})
    user_id = fields.UUID()
    email = fields.Email()
    name = fields.String()
    role = fields.String()
    joined_at = fields.DateTime()


class InvitationIn(Schema):
    email = fields.Email(required=True)
    role = fields.String(
        load_default="member", validate=validate.OneOf(["admin", "member", "viewer"])
    )


class InvitationOut(Schema):
    id = fields.UUID()
    email = fields.Email()
    role = fields.String()
    expires_at = fields.DateTime()
    created_at = fields.DateTime()


class ApiKeyOut(Schema):
    id = fields.UUID()
    name = fields.String()
    prefix = fields.String()
    created_at = fields.DateTime()
    last_used_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class AuditEventOut(Schema):
    id = fields.UUID()
    created_at = fields.DateTime()
    actor = fields.String(attribute="actor_label")
    action = fields.String()
    target_type = fields.String()
    target_id = fields.String()
    ip = fields.String()
    details = fields.Dict()


class ErrorOut(Schema):
    error = fields.String()
    message = fields.String(metadata={"description": "What went wrong, fit to show a person"})
    errors = fields.Dict(metadata={"description": "Per-field messages of a 422"})
