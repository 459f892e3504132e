"""Schemas of Voice Lab on the API (app/api/voice_lab.py), and the upload option that
app/api/uploads.py and app/api/transcripts.py mix into theirs (kept apart from the routes
so those modules can import it without importing each other)."""

from __future__ import annotations

from marshmallow import Schema, fields


class VoiceLabOptionIn(Schema):
    """Fields an upload takes to give the recording to Voice Lab (mixed into its schema)."""

    voice_lab = fields.Boolean(
        load_default=False,
        metadata={
            "description": "Give this recording and its transcript to Voice Lab's open data "
            "set under CC-BY-SA 4.0 (audio files only; not with a Private Transcript: 409). "
            "Needs voice_lab_consent."
        },
    )
    voice_lab_consent = fields.String(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "The consent version whose wording was shown to the person "
            "(GET /voice-lab/consent); another version is refused (422)."
        },
    )


class ConsentOut(Schema):
    version = fields.String()
    sha256 = fields.String(metadata={"description": "SHA-256 of the wording, stored with it"})
    text = fields.List(fields.String(), metadata={"description": "The wording, in paragraphs"})
    licence = fields.String()
    licence_url = fields.String()


class ContributionOut(Schema):
    id = fields.UUID()
    status = fields.String(
        metadata={"description": "waiting, held, released or withdrawn (deleted: not listed)"}
    )
    transcript_id = fields.UUID(allow_none=True)
    duration_seconds = fields.Float()
    language = fields.String(allow_none=True)
    text = fields.String(metadata={"description": "The transcript as given (public once released)"})
    licence = fields.String()
    consent_version = fields.String()
    consent_sha256 = fields.String()
    consented_at = fields.DateTime()
    release = fields.Integer(allow_none=True, metadata={"description": "The release it is in"})
    withdrawn_at = fields.DateTime(allow_none=True)


class ContributionsOut(Schema):
    contributions = fields.List(fields.Nested(ContributionOut))


class WithdrawalIn(Schema):
    contribution_id = fields.String(required=True)
