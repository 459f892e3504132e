"""Public share links of a transcript: create, list, revoke; resolve a token; passwords.

A link is 32 random bytes handed out once; only its SHA-256 is stored. Passwords are hashed
with argon2 like account passwords. What a link may be (password, lifetime, permanent) is
the workspace plan's call, asked through app.billing.entitlements. Each function owns its
transaction, as in app.transcripts.services.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from app.audit.service import record
from app.auth.models import User
from app.auth.passwords import hash_password, verify_password
from app.billing import entitlements
from app.db import as_utc, utcnow
from app.errors import Conflict, NotFound, ServiceError
from app.extensions import db
from app.private import contents
from app.security.tokens import hash_token, new_token
from app.settings import settings
from app.tenants.context import current_workspace_id, unscoped, workspace_scope
from app.tenants.models import Workspace
from app.transcripts import services
from app.transcripts.models import ShareLink, Status, Transcript, status_name

MIN_PASSWORD = 8
MAX_PASSWORD = 256
# Even "no limit" plans get a ceiling on a dated expiry; "never" is the permanent choice.
MAX_DAYS = 3650
# One message for unknown, revoked and expired links and for transcripts no longer shared:
# the answer must not tell which.
GONE = _l("This link does not work. It may have expired or been turned off.")
# secrets.token_urlsafe(32) is 43 characters; anything far from that shape is not a token.
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{32,64}")


class WrongPassword(ServiceError):
    status = 401

    def __init__(self) -> None:
        super().__init__(_("That password is not right for this link."), field="password")


@dataclass(frozen=True)
class ShareOptions:
    """What a new link should be. At most one of days, expires_at and permanent; none of
    them means the plan's default lifetime."""

    password: str = ""
    days: int | None = None
    expires_at: datetime | None = None
    permanent: bool = False
    allow_download: bool = False


@dataclass(frozen=True)
class ShareRules:
    """What the current workspace's plan lets a link be, for forms and messages."""

    plan: str  # "the Free plan"
    password: bool
    permanent: bool
    max_days: int  # MAX_DAYS where the plan sets no limit
    default_days: int


@dataclass(frozen=True)
class NewLink:
    link: ShareLink
    token: str  # the raw token: shown once, never stored


@dataclass(frozen=True)
class Resolved:
    link: ShareLink
    transcript: Transcript


# --- Rules -----------------------------------------------------------------------------------


def ensure_shareable(t: Transcript) -> None:
    """Refuse a transcript that may not have a public link.

    Only completed transcripts have text to show, and never a Private Transcript (its text
    is ciphertext only its owner opens): 409. Every way in (create, list, revoke, and a
    visitor resolving a token) asks this one function.
    """
    contents.refuse(t, _("A public link"))
    if t.status != Status.COMPLETED:
        raise Conflict(
            _(
                "Only a completed transcript can be shared; this one is %(status)s.",
                status=status_name(t.status),
            )
        )


def rules() -> ShareRules:
    """The current workspace's plan, as it applies to links."""
    ws = _workspace()
    max_days = entitlements.limit(ws, "share_link_max_days")
    default_days = entitlements.limit(ws, "share_link_default_days") or 30
    return ShareRules(
        plan=entitlements.plan_title(ws),
        password=entitlements.allows(ws, "share_password"),
        permanent=entitlements.allows(ws, "share_permanent"),
        max_days=min(max_days or MAX_DAYS, MAX_DAYS),
        default_days=min(default_days, max_days or default_days),
    )


def _workspace() -> Workspace:
    workspace_id = current_workspace_id()
    ws = db.session.get(Workspace, workspace_id) if workspace_id else None
    if ws is None:
        raise NotFound(_("No such workspace."))
    return ws


def _upgrade_hint(feature: str) -> str:
    plans = entitlements.plans_allowing(feature)
    if not plans:
        return _("a paid")
    hint = plans[0]
    for title in plans[1:]:
        hint = _("%(first)s or %(second)s", first=hint, second=title)
    return hint


def _expiry(r: ShareRules, options: ShareOptions, now: datetime) -> datetime | None:
    chosen = [options.days is not None, options.expires_at is not None, options.permanent]
    if sum(chosen) > 1:
        raise ServiceError(
            _("Choose one expiry: a number of days, a date, or never."), field="expiry"
        )
    if options.permanent:
        if not r.permanent:
            raise ServiceError(
                _(
                    "Links that never expire need the %(plans)s plan; "
                    "on %(plan)s a link expires within %(days)d days.",
                    plans=_upgrade_hint("share_permanent"),
                    plan=r.plan,
                    days=r.max_days,
                ),
                field="expiry",
            )
        return None
    if options.days is not None:
        if options.days < 1:
            raise ServiceError(_("A link lasts at least 1 day."), field="days")
        if options.days > r.max_days:
            raise ServiceError(_too_long(r), field="days")
        return now + timedelta(days=options.days)
    if options.expires_at is not None:
        at = as_utc(options.expires_at)
        if at <= now:
            raise ServiceError(_("Choose an expiry in the future."), field="expires_at")
        if at > now + timedelta(days=r.max_days):
            raise ServiceError(_too_long(r), field="expires_at")
        return at
    return now + timedelta(days=r.default_days)


def _too_long(r: ShareRules) -> str:
    if r.permanent:
        return _(
            "A dated link lasts at most %(days)d days; choose “never” for a permanent link.",
            days=r.max_days,
        )
    return _(
        "On %(plan)s a link lasts at most %(days)d days; longer links need the %(plans)s plan.",
        plan=r.plan,
        days=r.max_days,
        plans=_upgrade_hint("share_permanent"),
    )


def _password_hash(r: ShareRules, password: str) -> str | None:
    if not password:
        return None
    if not r.password:
        raise ServiceError(
            _(
                "Passwords on links need the %(plans)s plan; this workspace is on %(plan)s.",
                plans=_upgrade_hint("share_password"),
                plan=r.plan,
            ),
            field="password",
        )
    if not password.strip():
        raise ServiceError(_("A password cannot be only spaces."), field="password")
    if len(password) < MIN_PASSWORD:
        raise ServiceError(
            _("Choose a link password of at least %(min)d characters.", min=MIN_PASSWORD),
            field="password",
        )
    if len(password) > MAX_PASSWORD:
        raise ServiceError(
            _("Link passwords are limited to %(max)d characters.", max=MAX_PASSWORD),
            field="password",
        )
    return hash_password(password)


# --- Inside the workspace ----------------------------------------------------------------------


def create(
    transcript_id: uuid.UUID, options: ShareOptions, *, created_by_id: uuid.UUID | None
) -> NewLink:
    """A new public link; every option is checked before anything is written."""
    t = services.get(transcript_id)
    ensure_shareable(t)
    r = rules()
    now = utcnow()
    expires_at = _expiry(r, options, now)
    password_hash = _password_hash(r, options.password)
    raw, digest = new_token()
    link = ShareLink(
        transcript_id=t.id,
        token_hash=digest,
        password_hash=password_hash,
        expires_at=expires_at,
        allow_download=bool(options.allow_download),
        created_by_id=created_by_id,
    )
    db.session.add(link)
    db.session.flush()
    record(
        "share.created",
        target=link,
        details={
            "transcript_id": str(t.id),
            "expires_at": expires_at.isoformat() if expires_at else None,
            "password": password_hash is not None,
            "allow_download": link.allow_download,
        },
    )
    db.session.commit()
    return NewLink(link, raw)


def links(transcript_id: uuid.UUID) -> list[ShareLink]:
    """Every link of the transcript, revoked and expired ones too, newest first."""
    t = services.get(transcript_id)
    contents.refuse(t, _("A public link"))
    return list(
        db.session.scalars(
            select(ShareLink)
            .where(ShareLink.transcript_id == t.id)
            .order_by(ShareLink.created_at.desc(), ShareLink.id)
        )
    )


def get(transcript_id: uuid.UUID, share_id: uuid.UUID) -> ShareLink:
    """One link, checked to belong to the transcript (and so to the workspace)."""
    t = services.get(transcript_id)
    contents.refuse(t, _("A public link"))
    link = db.session.get(ShareLink, share_id)
    if link is None or link.transcript_id != t.id:
        raise NotFound(_("No such link."))
    return link


def revoke(transcript_id: uuid.UUID, share_id: uuid.UUID) -> ShareLink:
    link = get(transcript_id, share_id)
    if link.revoked_at is not None:
        raise Conflict(_("This link is already revoked."))
    link.revoked_at = utcnow()
    record("share.revoked", target=link, details={"transcript_id": str(transcript_id)})
    db.session.commit()
    return link


def state(link: ShareLink, now: datetime | None = None) -> str:
    """ "revoked", "expired" or "active"."""
    if link.revoked_at is not None:
        return "revoked"
    if link.expires_at is not None and as_utc(link.expires_at) <= (now or utcnow()):
        return "expired"
    return "active"


def creators(items: Iterable[ShareLink]) -> dict[uuid.UUID, str]:
    """Display names of the people who made these links (users are not workspace rows)."""
    ids = {link.created_by_id for link in items if link.created_by_id}
    if not ids:
        return {}
    users = db.session.scalars(select(User).where(User.id.in_(ids)))
    return {u.id: u.display_name for u in users}


def public_url(token: str) -> str:
    """The link as people share it: on the configured public address, not whichever host
    the request that made it came through."""
    return settings().base_url.rstrip("/") + url_for("public_share.show", token=token)


# --- The public side ---------------------------------------------------------------------------


def resolve(token: str) -> Resolved:
    """The live link behind `token` and its transcript, or NotFound(GONE).

    The token is the only thing a visitor brings, so the link is found across workspaces
    (the one unscoped read here); everything after it reads in the link's workspace. The
    caller enters that workspace for the rest of its work (enter_workspace).
    """
    if not _TOKEN_SHAPE.fullmatch(token or ""):
        raise NotFound(GONE)
    digest = hash_token(token)
    # Looked up by the hash of a 256-bit secret: timing cannot guess its way to a match.
    with unscoped("a public share link is found by its token's hash"):
        link = db.session.scalar(select(ShareLink).where(ShareLink.token_hash == digest))
    if link is None:
        raise NotFound(GONE)
    with workspace_scope(link.workspace_id):
        if state(link) != "active":
            raise NotFound(GONE)
        t = db.session.get(Transcript, link.transcript_id)
        if t is None:
            raise NotFound(GONE)
        try:
            ensure_shareable(t)
        except ServiceError:
            raise NotFound(GONE) from None
    return Resolved(link, t)


def check_password(link: ShareLink, password: str) -> bool:
    """Whether `password` opens the link. argon2 verifies in constant time; a link without
    a password is checked against a dummy hash, so it takes as long and says no."""
    if len(password) > MAX_PASSWORD:
        return False
    return verify_password(link.password_hash, password)


def unlock(link: ShareLink, password: str) -> None:
    """Raise WrongPassword unless `password` opens this password-protected link."""
    if link.password_hash is None or not check_password(link, password):
        raise WrongPassword()


def record_open(link: ShareLink) -> None:
    """Count one opening of the page; in the link's workspace, one statement (no lost
    counts when two visitors open it at once)."""
    db.session.execute(
        update(ShareLink)
        .where(ShareLink.id == link.id)
        .values(opened_count=ShareLink.opened_count + 1, last_opened_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
