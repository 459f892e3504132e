"""Two workspaces, X and Y, each with an owner, a member, an invitation, an API key, a
plugin setting, a transcript with what hangs off it (share link, folder, AI summary, the
owner's chat with it) and a summary template: what the isolation tests try to reach across."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from app.ai.models import AiConversation, AiMessage, AiSummary, AiTemplate, RunStatus
from app.auth.api_keys import create_api_key
from app.db import utcnow
from app.extensions import db
from app.ingest import staging
from app.ingest.models import Upload
from app.plugins.models import PluginSetting
from app.security.tokens import new_token
from app.tenants.context import workspace_scope
from app.tenants.models import Invitation, Membership, Role
from app.tenants.services import create_workspace
from app.transcripts.models import (
    Folder,
    ShareLink,
    Status,
    Transcript,
    TranscriptSegment,
    TranscriptSpeaker,
)
from tests.web import make_user, unique_email


@dataclass
class Side:
    slug: str
    workspace_id: uuid.UUID
    owner: object
    member_email: str
    membership_id: uuid.UUID
    invitation_id: uuid.UUID
    invitation_token: str
    api_key_id: uuid.UUID
    api_key: str
    transcript_id: uuid.UUID
    upload_id: uuid.UUID
    group_id: uuid.UUID
    segment_id: uuid.UUID
    share_id: uuid.UUID
    folder_id: uuid.UUID
    summary_id: uuid.UUID
    message_id: uuid.UUID
    template_id: uuid.UUID


@dataclass
class World:
    x: Side
    y: Side


def _side(app: Flask, tag: str) -> Side:
    owner = make_user(app, unique_email(f"owner-{tag}"))
    member = make_user(app, unique_email(f"member-{tag}"))
    with app.app_context():
        ws = create_workspace(owner.id, f"Team {tag}", f"team-{tag}-{uuid.uuid4().hex[:8]}")
        with workspace_scope(ws.id):
            membership = Membership(user_id=member.id, role=Role.MEMBER.value)
            raw, digest = new_token()
            invitation = Invitation(
                email=unique_email(f"invitee-{tag}"),
                role="member",
                token_hash=digest,
                expires_at=utcnow() + timedelta(days=1),
            )
            db.session.add_all(
                [membership, invitation, PluginSetting(plugin="webhooks", enabled=False, config={})]
            )
            db.session.commit()
            key, key_raw = create_api_key(f"key {tag}", owner.id)
            transcript, upload = _transcript_and_upload(owner.id, tag)
            segment_id, share_id, folder_id = _organised(transcript, owner.id, tag)
            summary_id, message_id, template_id = _ai(transcript, owner.id, tag)
            return Side(
                ws.slug,
                ws.id,
                owner,
                member.email,
                membership.id,
                invitation.id,
                raw,
                key.id,
                key_raw,
                transcript.id,
                upload.id,
                transcript.compare_group,
                segment_id,
                share_id,
                folder_id,
                summary_id,
                message_id,
                template_id,
            )


def _transcript_and_upload(owner_id: uuid.UUID, tag: str) -> tuple[Transcript, Upload]:
    """A completed transcript with a speaker, and an open upload (current workspace)."""
    staged = staging.create()
    transcript = Transcript(
        title=f"Secret transcript {tag}",
        uploader_id=owner_id,
        status=Status.COMPLETED,
        engine="faster-whisper",
        model="tiny-random",
        duration_seconds=3.0,
        compare_group=uuid.uuid4(),
        speaker_count=1,
    )
    db.session.add(transcript)
    db.session.flush()
    db.session.add_all(
        [
            TranscriptSegment(
                transcript_id=transcript.id,
                position=0,
                start=0.0,
                end=1.0,
                text=f"the words of {tag}",
                speaker="SPEAKER_00",
                words=[],
            ),
            TranscriptSpeaker(transcript_id=transcript.id, label="SPEAKER_00", name="Speaker 1"),
        ]
    )
    upload = Upload(
        user_id=owner_id,
        staged_audio_id=staged.id,
        filename=f"{tag}.mp3",
        size=10,
        options={},
        expires_at=utcnow() + timedelta(days=1),
    )
    db.session.add(upload)
    db.session.commit()
    return transcript, upload


def _organised(
    transcript: Transcript, owner_id: uuid.UUID, tag: str
) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """The transcript's segment, a live share link to it, and a folder holding it."""
    folder = Folder(name=f"Folder {tag}")
    share = ShareLink(
        transcript_id=transcript.id, token_hash=new_token()[1], created_by_id=owner_id
    )
    db.session.add_all([folder, share])
    db.session.flush()
    transcript.folder_id = folder.id
    segment = db.session.scalars(
        select(TranscriptSegment).where(TranscriptSegment.transcript_id == transcript.id)
    ).one()
    db.session.commit()
    return segment.id, share.id, folder.id


def _ai(transcript: Transcript, owner_id: uuid.UUID, tag: str) -> tuple[uuid.UUID, ...]:
    """A finished summary of the transcript, a finished answer in the owner's chat with it,
    and a summary template of the workspace's own."""
    cited = [
        {
            "label": "[00:00]",
            "valid": True,
            "source": "",
            "transcript_id": str(transcript.id),
            "start": 0.0,
            "position": 0,
        }
    ]
    done = {"status": RunStatus.COMPLETED, "provider": "extractive", "model": "extractive-1"}
    summary = AiSummary(
        transcript_id=transcript.id,
        template_key="overview",
        template_title="Overview",
        prompt="Write a short overview.",
        revision=transcript.revision,
        content=f"[00:00] the words of {tag}",
        citations=cited,
        created_by_id=owner_id,
        **done,
    )
    conversation = AiConversation(
        user_id=owner_id, transcript_id=transcript.id, scope=transcript.id.hex
    )
    template = AiTemplate(name=f"Template {tag}", instructions="Summarise.", created_by_id=owner_id)
    db.session.add_all([summary, conversation, template])
    db.session.flush()
    answer = AiMessage(
        conversation_id=conversation.id,
        role="assistant",
        revision=transcript.revision,
        content=f"They said [00:00] the words of {tag}.",
        citations=cited,
        finished_at=utcnow(),
        **done,
    )
    db.session.add(answer)
    db.session.commit()
    return summary.id, answer.id, template.id


@pytest.fixture(scope="module")
def world(app: Flask) -> World:
    return World(_side(app, "x"), _side(app, "y"))
