"""Deleting a person: their account, their personal workspace's contents, every transcript
they uploaded anywhere, and every trace of them in the other stores.

What goes at once, in one transaction: the user row (sign-in methods, tokens, sessions,
memberships, keyrings and chat conversations go with it), the personal workspace's
contents, the transcripts they uploaded in any workspace (their audio, share links,
summaries and search documents: the outbox removes those from the index within a minute),
their uploads, the API keys they made, invitations to their address, mail waiting for
them, their usage analytics and Voice Lab contributions not yet released; their name and
address are scrubbed from audit logs. Right after the commit, Redis keys that could hold
their words (AI answer streams) are deleted.

What stays, as the law requires, detached from the person: payments, credits and the
billing account of the personal workspace (which is kept as an empty tombstone for that
reason), usage records (user cleared). The request itself stays as the record that it was
answered, naming the person only by a pseudonym.

A team the person owns must get a new owner or be deleted first (`blockers`).

Deletion requested in the page runs at once; a request filed otherwise (an operator, or
one interrupted half-way) is finished by the scheduled `privacy_deletions` job, and
everything is gone within DEADLINE (30 days) at the latest.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import String, cast, delete, func, or_, select, update

from app.ai import streams
from app.ai.models import AiConversation, AiMessage
from app.audit.models import AuditEvent
from app.auth.models import ApiKey, User
from app.auth.passwords import verify_password
from app.billing import subscriptions
from app.billing.models import BillingAccount, CreditGrant, Payment
from app.db import Base, WorkspaceScoped, as_utc, rowcount, utcnow
from app.errors import Conflict, ServiceError
from app.extensions import db
from app.ingest import staging
from app.ingest.models import StagedAudio, Upload
from app.mail.models import OutboundEmail
from app.privacy import analytics, voice_lab
from app.privacy.models import PrivacyRequest, RequestKind, RequestStatus
from app.queue import redis
from app.tenants.context import unscoped, workspace_scope
from app.tenants.models import Invitation, Membership, Role, Workspace
from app.transcripts import lifecycle
from app.transcripts.models import ShareLink, Status, Transcript

log = logging.getLogger("verbatim.privacy")
alerts = logging.getLogger("verbatim.alerts")

DEADLINE = timedelta(days=30)
DELETED_LABEL = "deleted user"
# Kept when a personal workspace is emptied: billing records the law requires (no personal
# data in them once the user is cleared), and the outbox rows that take its transcripts
# out of the search index.
KEPT_TABLES = frozenset(
    {
        "billing_accounts",
        "billing_payments",
        "credit_grants",
        "usage_records",
        "billing_checkouts",
        "search_outbox",
    }
)


def pseudonym(user_id: uuid.UUID) -> str:
    """How a request names its person once the person is gone."""
    return "u-" + hashlib.sha256(user_id.bytes).hexdigest()[:16]


@dataclass(frozen=True)
class OwnedTeam:
    name: str
    slug: str
    members: int


def blockers(user_id: uuid.UUID) -> list[OwnedTeam]:
    """Teams the person owns: each needs a new owner, or to be deleted, first."""
    with unscoped("account deletion looks at the person's own memberships"):
        rows = db.session.execute(
            select(Workspace, Membership.role)
            .join(Membership, Membership.workspace_id == Workspace.id)
            .where(Membership.user_id == user_id, Workspace.personal.is_(False))
        ).all()
        owned = [ws for ws, role in rows if role == Role.OWNER.value]
        out = []
        for ws in owned:
            count = db.session.scalar(
                select(func.count(Membership.id)).where(Membership.workspace_id == ws.id)
            )
            out.append(OwnedTeam(ws.name, ws.slug, int(count or 0)))
    return out


def request_deletion(user: User, *, password: str = "", confirm: str = "") -> PrivacyRequest:
    """The person asks to be deleted: checked, recorded, and done at once.

    A password account confirms with its password; an account without one (Google) types
    its email address. Raises ServiceError / Conflict without changing anything."""
    if user.password_hash:
        if not verify_password(user.password_hash, password or ""):
            raise ServiceError(_("That password is not right."), field="password")
    elif (confirm or "").strip().lower() != user.email.lower():
        raise ServiceError(_("Type %(email)s to confirm.", email=user.email), field="confirm")
    owned = blockers(user.id)
    if owned:
        names = ", ".join(t.name for t in owned)
        raise Conflict(
            _(
                "You own %(teams)s. Give each team a new owner (Members page) or delete it "
                "(Settings page) first; then delete your account.",
                teams=names,
            )
        )
    request = file_request(user.id)
    user_id, request_id = user.id, request.id
    erase_user(user_id)
    return _finish(request_id)


def file_request(user_id: uuid.UUID, now: datetime | None = None) -> PrivacyRequest:
    """Record a deletion request (committed, so an interrupted erase is finished by the
    scheduled job)."""
    now = now or utcnow()
    request = PrivacyRequest(
        kind=RequestKind.DELETION,
        user_id=user_id,
        subject=pseudonym(user_id),
        status=RequestStatus.RUNNING,
        due_at=now + DEADLINE,
    )
    request.created_at = now
    db.session.add(request)
    db.session.commit()
    return request


def _finish(request_id: uuid.UUID, detail: str = "") -> PrivacyRequest:
    request = db.session.get(PrivacyRequest, request_id)
    assert request is not None
    request.status = RequestStatus.DONE
    request.completed_at = utcnow()
    request.detail = detail or request.detail
    db.session.commit()
    return request


def erase_user(user_id: uuid.UUID, now: datetime | None = None) -> dict[str, int]:
    """Delete the person everywhere (see the module's docstring); counts of what went.
    Idempotent: a second run finds nothing. Commits."""
    user = db.session.get(User, user_id)
    if user is None:
        return {}
    email, name = user.email, user.name
    counts: Counter[str] = Counter()
    with unscoped("account deletion finds the person's rows in every workspace"):
        memberships = db.session.execute(
            select(Workspace.id, Workspace.personal)
            .join(Membership, Membership.workspace_id == Workspace.id)
            .where(Membership.user_id == user_id)
        ).all()
        uploaded_in = set(
            db.session.scalars(
                select(Transcript.workspace_id).where(Transcript.uploader_id == user_id).distinct()
            )
        )
    message_ids: list[uuid.UUID] = []
    for workspace_id, personal in memberships:
        with workspace_scope(workspace_id):
            message_ids += _chat_messages(user_id)
            if personal:
                _empty_personal(workspace_id, counts)
            else:
                _leave_team(user_id, counts)
    for workspace_id in uploaded_in - {ws for ws, _personal in memberships}:
        with workspace_scope(workspace_id):  # teams the person left, their uploads stayed
            _delete_transcripts(user_id, counts)
    with unscoped("account deletion scrubs the person from every workspace's records"):
        counts["invitations"] += rowcount(
            db.session.execute(delete(Invitation).where(Invitation.email == email))
        )
        _scrub_audit(user_id, email, name, counts)
        db.session.flush()  # inside the unscoped block: the rows belong to many workspaces
    _forget_elsewhere(user_id, email, counts)
    from app.privacy import exports  # here: exports imports this module's pseudonym

    counts["export_files"] += exports.discard_user_exports(user_id)
    db.session.delete(user)
    db.session.commit()
    _clear_redis(message_ids)
    log.info("account erased: %s (%s)", pseudonym(user_id), dict(counts))
    return dict(counts)


def _chat_messages(user_id: uuid.UUID) -> list[uuid.UUID]:
    return list(
        db.session.scalars(
            select(AiMessage.id)
            .join(AiConversation, AiConversation.id == AiMessage.conversation_id)
            .where(AiConversation.user_id == user_id)
        )
    )


def _delete_transcripts(user_id: uuid.UUID | None, counts: Counter[str]) -> None:
    """Through the ORM, so the outbox takes them out of search and audio is released.
    `user_id` None: every transcript of the workspace."""
    query = select(Transcript).with_for_update()
    if user_id is not None:
        query = query.where(Transcript.uploader_id == user_id)
    for t in db.session.scalars(query).all():
        if not Status(t.status).terminal:
            lifecycle.cancel(t)
        elif t.staged_audio_id is not None:
            lifecycle._release_audio(t)
        db.session.delete(t)
        counts["transcripts"] += 1
    db.session.flush()


def _discard_audio(user_id: uuid.UUID | None, counts: Counter[str]) -> None:
    uploads = select(Upload)
    if user_id is not None:
        uploads = uploads.where(Upload.user_id == user_id)
    for upload in db.session.scalars(uploads).all():
        if upload.staged_audio_id is not None:
            staged = db.session.get(StagedAudio, upload.staged_audio_id)
            if staged is not None:
                staging.discard(staged)
        db.session.delete(upload)
        counts["uploads"] += 1
    if user_id is None:
        for staged in db.session.scalars(select(StagedAudio)).all():
            staging.discard(staged)
    db.session.flush()


def delete_team(workspace_id: uuid.UUID, now: datetime | None = None) -> dict[str, int]:
    """Delete a team workspace, everything in it, from every store (its transcripts leave
    the search index, their audio is released, files and keys go). A live subscription is
    cancelled at Stripe first (ProcessorError, nothing changed, when that fails). Where
    money changed hands, its payment records stay, as the law requires, under a nameless
    tombstone no one can open. Call inside the workspace's scope. Commits."""
    counts: Counter[str] = Counter()
    account = _end_subscription(counts, now)
    paid = bool(
        (account is not None and account.stripe_customer_id)
        or db.session.scalar(select(Payment.id).limit(1))
        or db.session.scalar(select(CreditGrant.id).limit(1))
    )
    if paid:
        _empty_workspace(workspace_id, counts, "Deleted workspace")
        counts["memberships"] += rowcount(
            db.session.execute(delete(Membership).where(Membership.workspace_id == workspace_id))
        )
    else:
        _delete_transcripts(None, counts)
        _discard_audio(None, counts)
        workspace = db.session.get(Workspace, workspace_id)
        assert workspace is not None
        db.session.delete(workspace)  # the rest goes by ON DELETE CASCADE
        counts["workspaces"] += 1
    db.session.commit()
    log.info("workspace %s deleted (%s)", workspace_id, dict(counts))
    return dict(counts)


def _end_subscription(counts: Counter[str], now: datetime | None = None) -> BillingAccount | None:
    """Cancel the scoped workspace's live subscription at Stripe (ProcessorError when it
    cannot be); its billing account, locked, or None."""
    account = db.session.scalar(select(BillingAccount).with_for_update())
    if account is not None and subscriptions.end_now(account, now):
        counts["subscriptions_cancelled"] += 1
    return account


def _empty_personal(workspace_id: uuid.UUID, counts: Counter[str]) -> None:
    _end_subscription(counts)
    _empty_workspace(workspace_id, counts, "Deleted account")


def _empty_workspace(workspace_id: uuid.UUID, counts: Counter[str], label: str) -> None:
    """Everything of the workspace goes but its billing records; the workspace stays as a
    nameless tombstone they can point at."""
    _delete_transcripts(None, counts)
    _discard_audio(None, counts)
    tables = [
        t
        for t in reversed(Base.metadata.sorted_tables)
        if "workspace_id" in t.c
        and t.name not in KEPT_TABLES
        and t.name != "memberships"
        and _is_scoped(t.name)
    ]
    for table in tables:
        counts[table.name] += rowcount(
            db.session.execute(delete(table).where(table.c.workspace_id == workspace_id))
        )
    workspace = db.session.get(Workspace, workspace_id)
    assert workspace is not None
    workspace.name = label
    workspace.slug = f"deleted-{uuid.uuid4().hex[:24]}"


def _is_scoped(table_name: str) -> bool:
    return any(
        getattr(mapper.class_, "__tablename__", None) == table_name
        and issubclass(mapper.class_, WorkspaceScoped)
        for mapper in Base.registry.mappers
    )


def _leave_team(user_id: uuid.UUID, counts: Counter[str]) -> None:
    _delete_transcripts(user_id, counts)
    _discard_audio(user_id, counts)
    counts["api_keys"] += rowcount(
        db.session.execute(delete(ApiKey).where(ApiKey.created_by_id == user_id))
    )
    counts["share_links"] += rowcount(
        db.session.execute(delete(ShareLink).where(ShareLink.created_by_id == user_id))
    )


def _scrub_audit(user_id: uuid.UUID, email: str, name: str, counts: Counter[str]) -> None:
    """Audit logs keep what happened, not who: the person's label, address and browser go,
    and their address and name are replaced wherever an event's details quote them."""
    counts["audit_events"] += rowcount(
        db.session.execute(
            update(AuditEvent)
            .where(AuditEvent.actor_user_id == user_id)
            .values(actor_label=DELETED_LABEL, ip="", user_agent="", actor_user_id=None)
        )
    )
    needles = [email] + ([name] if len(name.strip()) >= 3 else [])
    text = cast(AuditEvent.details, String)
    quoted = db.session.scalars(
        select(AuditEvent).where(
            or_(
                *(text.contains(n) for n in needles),
                *(AuditEvent.actor_label == n for n in needles),
            )
        )
    ).all()
    for event in quoted:
        event.details = _replace(event.details, needles)
        if event.actor_label in needles:
            event.actor_label = DELETED_LABEL
        counts["audit_events_scrubbed"] += 1


def _replace(value: Any, needles: list[str]) -> Any:
    if isinstance(value, str):
        for n in needles:
            value = value.replace(n, DELETED_LABEL)
        return value
    if isinstance(value, dict):
        return {k: _replace(v, needles) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, needles) for v in value]
    return value


def _forget_elsewhere(user_id: uuid.UUID, email: str, counts: Counter[str]) -> None:
    counts["emails"] += rowcount(
        db.session.execute(delete(OutboundEmail).where(OutboundEmail.to == email))
    )
    analytics.forget_user(user_id)
    voice_lab.on_account_deleted(user_id)


def _clear_redis(message_ids: list[uuid.UUID]) -> None:
    """AI answer streams expire within minutes anyway; the person's go now. Never raises:
    the deletion is committed, and the streams' own expiry is the safety net."""
    if not message_ids:
        return
    try:
        redis().delete(*(streams.key(m) for m in message_ids))
    except Exception:
        log.warning("AI streams of an erased account left to expire", exc_info=True)


def finish_pending(now: datetime | None = None) -> dict[str, int]:
    """The scheduled job's work: finish every deletion request not done (filed by an
    operator, or interrupted), and raise an alert for any past its deadline."""
    now = now or utcnow()
    done = overdue = 0
    rows = db.session.execute(
        select(PrivacyRequest.id, PrivacyRequest.user_id, PrivacyRequest.due_at).where(
            PrivacyRequest.kind == RequestKind.DELETION,
            PrivacyRequest.status.in_([RequestStatus.PENDING, RequestStatus.RUNNING]),
        )
    ).all()
    db.session.commit()
    for request_id, user_id, due_at in rows:
        counts = erase_user(user_id, now) if user_id is not None else {}
        _finish(request_id, detail=_describe(counts))
        done += 1
        if as_utc(due_at) < now:
            overdue += 1
            alerts.error("ALERT deletion request %s finished after its deadline", request_id)
    return {"finished": done, "overdue": overdue}


def _describe(counts: dict[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()) if v) or "nothing left"


def requests_page(now: datetime | None = None) -> list[dict[str, Any]]:
    """Every data-rights request, newest first, with its deadline (the operators' view)."""
    now = now or utcnow()
    rows = db.session.scalars(
        select(PrivacyRequest).order_by(PrivacyRequest.created_at.desc()).limit(500)
    ).all()
    out = []
    for r in rows:
        open_ = r.status in (RequestStatus.PENDING, RequestStatus.RUNNING)
        left = (as_utc(r.due_at) - now).days
        out.append(
            {
                "request": r,
                "open": open_,
                "days_left": left,
                "overdue": open_ and left < 0,
            }
        )
    return out


def file_for_email(email: str, now: datetime | None = None) -> PrivacyRequest:
    """An operator files a deletion request received another way (mail, a letter);
    the scheduled job carries it out."""
    email = (email or "").strip().lower()
    user = db.session.scalar(select(User).where(func.lower(User.email) == email))
    if user is None:
        raise ServiceError(_("No account has that address."), field="email")
    if blockers(user.id):
        raise Conflict(_("That person owns a team: it needs a new owner or to be deleted first."))
    return file_request(user.id, now)
