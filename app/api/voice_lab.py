"""API: Voice Lab, the open speech data set people may give recordings to (CC-BY-SA 4.0).

GET  /voice-lab/consent        the wording in force: what `voice_lab_consent` must name
GET  /voice-lab/contributions  the key maker's contributions from this workspace
POST /voice-lab/withdrawals    take one back (deleted if unreleased; else withdrawn)

Giving is an option of an upload (POST /uploads or /transcripts/file): `voice_lab: true`
with `voice_lab_consent` set to the consent version the caller showed. A key acts for its
maker, within its workspace: it sees and withdraws only their contributions from there.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import g
from flask_babel import gettext as _

from app.api.blueprint import api_blueprint
from app.api.transcript_schemas import ProblemOut
from app.api.transcripts import key_maker, problem
from app.api.voice_lab_schemas import ConsentOut, ContributionOut, ContributionsOut, WithdrawalIn
from app.errors import NotFound, ServiceError
from app.privacy import voice_lab
from app.privacy.models import VoiceContribution

bp = api_blueprint("api_voice_lab", __name__, "Voice Lab: give recordings to an open data set")


def _workspace_id() -> uuid.UUID | None:
    key = g.get("api_key")
    return key.workspace_id if key is not None else None


def contribution_out(c: VoiceContribution, release: int | None) -> dict[str, Any]:
    return {
        "id": c.id,
        "status": c.status,
        "transcript_id": c.transcript_id,
        "duration_seconds": c.duration_seconds,
        "language": c.language or None,
        "text": c.text,
        "licence": c.licence,
        "consent_version": c.consent_version,
        "consent_sha256": c.consent_sha256,
        "consented_at": c.consented_at,
        "release": release,
        "withdrawn_at": c.withdrawn_at,
    }


@bp.get("/voice-lab/consent")
@bp.response(200, ConsentOut)
def get_consent() -> Any:
    """The consent wording in force: show it, then send its version as voice_lab_consent."""
    wording = voice_lab.consent()
    return {
        "version": wording["version"],
        "sha256": wording["sha256"],
        "text": list(wording["paragraphs"]),
        "licence": wording["licence"],
        "licence_url": wording["licence_url"],
    }


@bp.get("/voice-lab/contributions")
@bp.response(200, ContributionsOut)
def list_contributions() -> Any:
    """The key maker's recordings given from this workspace, newest first."""
    maker, workspace_id = key_maker(), _workspace_id()
    if maker is None or workspace_id is None:
        return {"contributions": []}
    mine = voice_lab.contributions_of(maker, workspace_id=workspace_id)
    numbers = voice_lab.release_numbers(mine)
    return {"contributions": [contribution_out(c, numbers.get(c.release_id)) for c in mine]}


@bp.post("/voice-lab/withdrawals")
@bp.arguments(WithdrawalIn)
@bp.response(200, ContributionOut)
@bp.alt_response(404, schema=ProblemOut, description="No such contribution (of the key maker)")
@bp.alt_response(409, schema=ProblemOut, description="Already withdrawn")
def withdraw(body: dict[str, Any]) -> Any:
    """Take a recording back. Unreleased: its audio, key and text are deleted at once.
    Released: the same, and the next release lists it as withdrawn; copies already
    published cannot be recalled."""
    maker, workspace_id = key_maker(), _workspace_id()
    try:
        if maker is None or workspace_id is None:
            raise NotFound(_("No such contribution."))
        c = voice_lab.withdraw(maker, body["contribution_id"], workspace_id=workspace_id)
    except ServiceError as e:
        return problem(e)
    return contribution_out(c, voice_lab.release_numbers([c]).get(c.release_id))
