"""What privacy keeps: data-rights requests, consented usage analytics, API request
metadata, and Voice Lab's contributions and releases.

Data-rights requests, analytics and Voice Lab belong to the installation (the people who
run it answer for them), not to a workspace; API request metadata belongs to the workspace
whose key made the request.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, TimestampMixin, WorkspaceScoped, utcnow


class RequestKind:
    EXPORT = "export"
    DELETION = "deletion"


class RequestStatus:
    PENDING = "pending"  # asked, not started
    RUNNING = "running"  # a job is working on it
    READY = "ready"  # an export waiting to be downloaded
    DONE = "done"  # deletion finished / export downloaded and expired
    FAILED = "failed"
    EXPIRED = "expired"  # an export nobody downloaded in time (its file is gone)


class PrivacyRequest(IdMixin, TimestampMixin, Base):
    """A data-rights request (export or deletion) and its 30-day deadline.

    It outlives the person on purpose (the record that the request was answered), so it
    holds nothing personal: after a deletion `user_id` is cleared and `subject` is a
    pseudonym (a hash of the former user id), never an email or a name."""

    __tablename__ = "privacy_requests"
    __table_args__ = (Index("ix_privacy_requests_status_due", "status", "due_at"),)

    kind: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    subject: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=RequestStatus.PENDING)
    due_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    # Exports: the formats asked for, the file (server-chosen name under export_dir,
    # encrypted under a key kept here wrapped), and until when it may be downloaded.
    formats: Mapped[str] = mapped_column(String(120), default="")
    file_name: Mapped[str | None] = mapped_column(String(64))
    file_key: Mapped[bytes | None] = mapped_column(LargeBinary(128))
    file_size: Mapped[int] = mapped_column(BigInteger, default=0)
    expires_at: Mapped[datetime | None]
    downloads: Mapped[int] = mapped_column(default=0)
    # What happened, in words without personal data (counts, the step that failed).
    detail: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AnalyticsEvent(IdMixin, Base):
    """One page or API use by a person who opted in to usage analytics. After the
    retention period (90 days) the person is taken out: user id, IP address and browser
    details are cleared, and only the anonymous page/feature/time remain."""

    __tablename__ = "analytics_events"

    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    page: Mapped[str] = mapped_column(String(120))  # the route's endpoint, never a URL
    feature: Mapped[str] = mapped_column(String(64), default="")
    method: Mapped[str] = mapped_column(String(8), default="GET")
    status: Mapped[int] = mapped_column(default=200)
    duration_ms: Mapped[int] = mapped_column(default=0)
    browser: Mapped[str | None] = mapped_column(String(64))  # "Firefox 132"; no full UA
    ip: Mapped[str | None] = mapped_column(String(45))
    anonymised_at: Mapped[datetime | None]


class ApiRequestLog(WorkspaceScoped, IdMixin, Base):
    """Metadata of one API request (time, endpoint, status): kept 90 days, then deleted.
    No body, no query string, no IP."""

    __tablename__ = "api_request_logs"
    __table_args__ = (Index("ix_api_request_logs_at", "at"),)

    at: Mapped[datetime] = mapped_column(default=utcnow)
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL"), index=True
    )
    method: Mapped[str] = mapped_column(String(8))
    endpoint: Mapped[str] = mapped_column(String(200))  # the URL rule, ids as placeholders
    status: Mapped[int]
    duration_ms: Mapped[int] = mapped_column(default=0)


class ContributionStatus:
    WAITING = "waiting"  # consent given; the audio is kept when its transcript finishes
    HELD = "held"  # audio kept, not yet in a release
    RELEASED = "released"  # in a release
    WITHDRAWN = "withdrawn"  # withdrawn after release: left out of the next one
    DELETED = "deleted"  # withdrawn before release (audio deleted), or never captured


class VoiceContribution(IdMixin, TimestampMixin, Base):
    """A recording its owner chose to give to Voice Lab's open data set (CC-BY-SA 4.0):
    the one case where audio is kept, with the consent stored beside it."""

    __tablename__ = "voice_contributions"

    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    # Where it came from; the data set does not depend on either staying.
    workspace_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("workspaces.id", ondelete="SET NULL"), index=True
    )
    transcript_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("transcripts.id", ondelete="SET NULL"), unique=True
    )
    status: Mapped[str] = mapped_column(String(16), default=ContributionStatus.WAITING)
    # The consent: which licence, which wording (its version and SHA-256), when.
    licence: Mapped[str] = mapped_column(String(32))
    consent_version: Mapped[str] = mapped_column(String(16))
    consent_sha256: Mapped[str] = mapped_column(String(64))
    consented_at: Mapped[datetime]
    # The kept audio: a server-chosen file under voice_lab_dir, encrypted at rest.
    file_name: Mapped[str | None] = mapped_column(String(64))
    file_key: Mapped[bytes | None] = mapped_column(LargeBinary(128))
    duration_seconds: Mapped[float] = mapped_column(default=0.0)
    language: Mapped[str] = mapped_column(String(16), default="")
    text: Mapped[str] = mapped_column(Text, default="")  # the transcript when captured
    release_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("voice_releases.id", ondelete="SET NULL"), index=True
    )
    withdrawn_at: Mapped[datetime | None]


class VoiceRelease(IdMixin, TimestampMixin, Base):
    """A numbered release of the data set: the contributions held when it was cut, and
    the ids of released ones withdrawn since the previous release."""

    __tablename__ = "voice_releases"

    number: Mapped[int] = mapped_column(unique=True)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    contributions: Mapped[int] = mapped_column(default=0)
    withdrawn: Mapped[str] = mapped_column(Text, default="")  # ids, one per line
