"""Private transcripts' ciphertext: who may read and replace it, and the one guard every
feature that would read a transcript's text asks first.

The server never opens an envelope. It checks the shape (app/private/crypto.py), who is
asking (only the owner: private transcripts are not shared with the team), and the
revision the browser's edit was based on, then stores the bytes.

Also here: choosing private at upload (choose, attach: the owner's public key is recorded
then, for the worker to seal to), and who is acting (the signed-in person, or an API key's
maker), which listings (visible) and metadata actions (require_access) ask.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import g, has_request_context
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import ColumnElement, or_, select

from app.errors import BadRequest, Conflict, NotFound, ServiceError, TooLarge
from app.extensions import db
from app.private import crypto
from app.private.models import PrivateContent, PrivateKeyring
from app.settings import settings
from app.tenants.models import Role
from app.transcripts.models import Status, Transcript

NOT_SHARED = _l(
    "This is another member's Private Transcript: its text is encrypted for its owner "
    "alone, so it is not shared with the team."
)


class StaleEnvelope(Conflict):
    """The browser's edit was based on an older revision than the one stored."""

    def __init__(self, revision: int) -> None:
        super().__init__(
            _(
                "This transcript was saved elsewhere (another tab or device) since you opened "
                "it. Reload to see that version; your unsaved changes are still on screen."
            )
        )
        self.revision = revision


TURN_ON_FIRST = _l(
    "Turn on Private Transcript in your account first (Account → Private Transcript): "
    "the transcript is sealed to a key only you hold."
)


def refuse(t: Transcript, feature: str) -> None:
    """409 when `t` is private: `feature` (e.g. "Search", "Public links") needs the text."""
    if t.encrypted:
        raise Conflict(
            _(
                "%(feature)s is not available for a Private Transcript: its text is encrypted "
                "in its owner's browser, so the server cannot read it.",
                feature=feature,
            )
        )


def record(transcript_id: uuid.UUID, *, for_update: bool = False) -> PrivateContent | None:
    query = select(PrivateContent).where(PrivateContent.transcript_id == transcript_id)
    if for_update:
        query = query.with_for_update()
    return db.session.scalar(query)


def is_owner(t: Transcript, user_id: uuid.UUID | None) -> bool:
    content = record(t.id) if t.encrypted else None
    return content is not None and user_id is not None and content.owner_id == user_id


def require_owner(
    t: Transcript, user_id: uuid.UUID | None, *, for_update: bool = False
) -> PrivateContent:
    if not t.encrypted:
        raise NotFound(_("This transcript is not private."))
    content = record(t.id, for_update=for_update)
    # An owner who deleted their account leaves owner_id NULL: nobody matches it.
    if content is None or user_id is None or content.owner_id != user_id:
        raise Conflict(NOT_SHARED)
    return content


def _no_text_yet(t: Transcript) -> str:
    status = {
        Status.FETCHING: _("fetching"),
        Status.QUEUED: _("queued"),
        Status.PROCESSING: _("processing"),
        Status.COMPLETED: _("completed"),
        Status.FAILED: _("failed"),
        Status.CANCELLED: _("cancelled"),
    }.get(t.status, str(t.status))
    return _("This transcript has no text yet: it is %(status)s.", status=status)


def read(t: Transcript, user_id: uuid.UUID | None) -> PrivateContent:
    """The stored envelope of a finished private transcript, for its owner."""
    content = require_owner(t, user_id)
    if t.status != Status.COMPLETED or content.envelope is None:
        raise Conflict(_no_text_yet(t))
    return content


def store(t: Transcript, user_id: uuid.UUID | None, envelope: bytes, base_revision: int) -> int:
    """Replace the ciphertext with the browser's CONTENT envelope, if the edit was based on
    the revision stored; the new revision number."""
    if len(envelope) > settings().private_max_bytes:
        raise TooLarge(_("This encrypted transcript is larger than the server accepts."))
    try:
        crypto.check_envelope(envelope, crypto.CONTENT)
    except crypto.PrivateCryptoError as e:
        raise BadRequest(f"Not stored: {e}") from None
    content = require_owner(t, user_id, for_update=True)
    if t.status != Status.COMPLETED or content.envelope is None:
        raise Conflict(_no_text_yet(t))
    if content.revision != base_revision:
        raise StaleEnvelope(content.revision)
    t.revision = max(t.revision, content.revision) + 1
    content.envelope = envelope
    content.kind = crypto.CONTENT
    content.revision = t.revision
    db.session.commit()
    return t.revision


# --- Choosing private at upload ---------------------------------------------------------------


def keyring_of(user_id: uuid.UUID | None) -> PrivateKeyring | None:
    return db.session.get(PrivateKeyring, user_id) if user_id is not None else None


def wanted(raw: Any) -> bool | None:
    """A request's `private` field: True, False, or None when it was not given."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        return raw
    value = str(raw).strip().lower()
    if value in ("1", "true", "on", "yes"):
        return True
    if value in ("0", "false", "off", "no"):
        return False
    raise ServiceError(_("Say private as true or false."), field="private")


def choose(user_id: uuid.UUID | None, raw: Any) -> bool:
    """Whether a new transcript of `user_id` is private: as asked, else their default.
    Asking for it without a keyring is refused: there is no key to seal it to."""
    asked = wanted(raw)
    keyring = keyring_of(user_id)
    if asked is None:
        return bool(keyring is not None and keyring.private_by_default)
    if asked and keyring is None:
        raise ServiceError(TURN_ON_FIRST, field="private")
    return asked


def attach(t: Transcript, owner_id: uuid.UUID | None) -> PrivateContent:
    """Make `t` private, sealed (once finished) to its owner's public key as it is now. The
    caller commits; `t` must have its id and workspace set."""
    keyring = keyring_of(owner_id)
    if keyring is None:
        raise ServiceError(TURN_ON_FIRST, field="private")
    t.encrypted = True
    content = PrivateContent(
        workspace_id=t.workspace_id,
        transcript_id=t.id,
        owner_id=keyring.user_id,
        recipient_key=keyring.public_key,
        fingerprint=keyring.fingerprint,
        envelope=None,
        kind=None,
        revision=0,
    )
    db.session.add(content)
    return content


# --- Who is acting ----------------------------------------------------------------------------


def actor_id() -> uuid.UUID | None:
    """The person a request acts for: the signed-in person, or the maker of the API key
    (a key acts for whoever made it). None outside a request."""
    if not has_request_context():
        return None
    key = g.get("api_key")
    if key is not None:
        return key.created_by_id
    return current_user.id if current_user.is_authenticated else None


def _admin() -> bool:
    role = g.get("role") if has_request_context() else None
    return bool(role and role.at_least(Role.ADMIN))


def require_access(t: Transcript, *, admin_may: bool = False) -> None:
    """What may be done with a private transcript's metadata (rename, tag, file, retry) is
    its owner's alone; with `admin_may` a workspace admin may too (delete, cancel: keeping
    the workspace tidy needs no text). Anyone else gets 409 NOT_SHARED."""
    if not t.encrypted or is_owner(t, actor_id()):
        return
    if admin_may and _admin():
        return
    raise Conflict(NOT_SHARED)


def visible() -> ColumnElement[bool]:
    """Transcripts the acting person sees in listings: every ordinary one, and their own
    private ones (another member's are not shared with the team)."""
    actor = actor_id()
    if actor is None:
        return Transcript.encrypted.is_(False)
    owned = select(PrivateContent.transcript_id).where(PrivateContent.owner_id == actor)
    return or_(Transcript.encrypted.is_(False), Transcript.id.in_(owned))
