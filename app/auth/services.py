"""Accounts: sign-up, sign-in, email verification, password reset, OIDC linking."""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import timedelta

from flask_babel import LazyString
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.auth.models import OAuthIdentity, User, UserToken
from app.auth.passwords import check_strength, hash_password, needs_rehash, verify_password
from app.db import as_utc, utcnow
from app.errors import ServiceError
from app.extensions import db
from app.mail.service import queue_mail
from app.queue import redis
from app.security.tokens import hash_token, new_token
from app.settings import settings
from app.tenants.services import create_personal_workspace
from app.web.urls import external_url

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
VERIFY_EMAIL = "verify_email"
RESET_PASSWORD = "reset_password"  # noqa: S105 (a purpose name, not a secret)


def normalize_email(email: str) -> str:
    email = (email or "").strip().lower()
    if len(email) > 320 or not _EMAIL.match(email):
        raise ServiceError(_("Enter a valid email address."), field="email")
    return email


def user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email.strip().lower()))


def check_age_confirmed(confirmed: bool) -> None:
    """A new account, with a password or Google, needs the person to confirm 13 or older."""
    if not confirmed:
        raise ServiceError(_("Confirm that you are 13 or older."), field="age_13")


def sign_up(email: str, password: str, name: str = "", *, age_confirmed: bool = False) -> User:
    """`age_confirmed`: the person confirmed they are 13 or older (the sign-up form
    requires it; the moment is kept)."""
    email = normalize_email(email)
    check_strength(password, email)
    if user_by_email(email) is not None:
        raise ServiceError(
            _("An account with this email already exists. Sign in instead."), field="email"
        )
    user = User(
        email=email,
        name=name.strip()[:120],
        password_hash=hash_password(password),
        age_confirmed_at=utcnow() if age_confirmed else None,
    )
    db.session.add(user)
    try:
        db.session.flush()
        create_personal_workspace(user)
        _send_token_mail(
            user,
            VERIFY_EMAIL,
            _l("Confirm your email address"),
            "verify_email",
            timedelta(days=2),
            "auth.verify_email",
        )
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ServiceError(
            _("An account with this email already exists. Sign in instead."), field="email"
        ) from None
    return user


def authenticate(email: str, password: str) -> User | None:
    user = user_by_email(email or "")
    ok = verify_password(user.password_hash if user else None, password or "")
    if not ok or user is None:
        return None
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    db.session.commit()
    return user


def load_session_user(session_id: str) -> User | None:
    user_id, _sep, version = session_id.partition(":")
    try:
        user = db.session.get(User, uuid.UUID(user_id))
    except ValueError:
        return None
    if user is None or str(user.session_version) != version:
        return None
    return user


_ENDED_SESSION = "verbatim:session-ended:"


def new_session_id() -> str:
    return secrets.token_urlsafe(24)


def end_session(sid: str | None, lifetime_seconds: int) -> None:
    """Sessions live in a signed cookie; remembering the ended id makes a copy of it useless.

    Kept as long as the cookie's signature could still be accepted.
    """
    if sid:
        redis().set(_ENDED_SESSION + sid, "1", ex=max(lifetime_seconds, 1))


def session_ended(sid: str | None) -> bool:
    # No id: not made by sign-in (start_session), so not trusted.
    return not sid or bool(redis().exists(_ENDED_SESSION + sid))


def _send_token_mail(
    user: User,
    purpose: str,
    subject: str | LazyString,
    template: str,
    ttl: timedelta,
    endpoint: str,
) -> None:
    raw, digest = new_token()
    db.session.add(
        UserToken(user_id=user.id, purpose=purpose, token_hash=digest, expires_at=utcnow() + ttl)
    )
    link = external_url(endpoint, token=raw)
    queue_mail(
        user.email, subject, template, user=user, link=link, minutes=int(ttl.total_seconds() // 60)
    )


def _consume_token(raw: str, purpose: str) -> UserToken:
    token = db.session.scalar(
        select(UserToken)
        .where(UserToken.token_hash == hash_token(raw or ""), UserToken.purpose == purpose)
        .with_for_update()
    )
    if token is None or token.used_at is not None:
        raise ServiceError(_("This link is invalid or has already been used."))
    if as_utc(token.expires_at) < utcnow():
        raise ServiceError(_("This link has expired. Ask for a new one."))
    token.used_at = utcnow()
    return token


def request_password_reset(email: str) -> None:
    """Always looks the same to the caller, so it cannot tell which emails have accounts."""
    user = user_by_email(email or "")
    if user is None:
        return
    ttl = timedelta(minutes=settings().reset_token_ttl_minutes)
    _send_token_mail(
        user,
        RESET_PASSWORD,
        _l("Reset your Verbatim password"),
        "reset_password",
        ttl,
        "auth.reset_password",
    )
    db.session.commit()


def check_reset_token(raw: str) -> None:
    """Raises if the link cannot be used, without spending it."""
    try:
        _consume_token(raw, RESET_PASSWORD)
    finally:
        db.session.rollback()


def reset_password(raw: str, password: str) -> User:
    token = _consume_token(raw, RESET_PASSWORD)
    user = db.session.get(User, token.user_id)
    assert user is not None
    try:
        check_strength(password, user.email)
    except ServiceError:
        db.session.rollback()
        raise
    user.password_hash = hash_password(password)
    user.session_version += 1  # every other session of the account ends
    user.email_verified_at = user.email_verified_at or utcnow()  # the link proved the inbox
    db.session.commit()
    return user


def verify_email(raw: str) -> User:
    token = _consume_token(raw, VERIFY_EMAIL)
    user = db.session.get(User, token.user_id)
    assert user is not None
    user.email_verified_at = user.email_verified_at or utcnow()
    db.session.commit()
    return user


def change_password(user: User, current: str, new: str) -> None:
    if user.password_hash and not verify_password(user.password_hash, current):
        raise ServiceError(_("Your current password is not right."), field="current_password")
    check_strength(new, user.email)
    user.password_hash = hash_password(new)
    user.session_version += 1
    db.session.commit()


def sign_in_with_oidc(
    provider: str,
    subject: str,
    email: str,
    email_verified: bool,
    name: str = "",
    *,
    age_confirmed: bool = False,
) -> User | None:
    """Find or create the account for a verified OIDC identity.

    An account with the same email is linked only when one of the two sides proves the
    inbox. When the local account never verified its email, the provider's verified email
    wins: the unverified password (possibly set by someone else, pre-hijacking) is removed
    and its sessions end.

    A new account needs the person's confirmation that they are 13 or older, as sign-up
    with a password does: without `age_confirmed`, None and nothing is created.
    """
    identity = db.session.scalar(
        select(OAuthIdentity).where(
            OAuthIdentity.provider == provider, OAuthIdentity.subject == subject
        )
    )
    if identity is not None:
        user = db.session.get(User, identity.user_id)
        assert user is not None
        user.last_login_at = utcnow()
        db.session.commit()
        return user
    if not email_verified:
        raise ServiceError(_("Your Google account's email address is not verified."))
    email = normalize_email(email)
    user = user_by_email(email)
    try:
        if user is None:
            if not age_confirmed:
                return None
            now = utcnow()
            user = User(email=email, name=name[:120], email_verified_at=now, age_confirmed_at=now)
            db.session.add(user)
            db.session.flush()
            create_personal_workspace(user)
        elif user.email_verified_at is None:
            _take_over_unproven_account(user)
        db.session.add(
            OAuthIdentity(user_id=user.id, provider=provider, subject=subject, email=email)
        )
        user.last_login_at = utcnow()
        db.session.commit()
    except IntegrityError:  # a simultaneous first sign-in or sign-up with the same email
        db.session.rollback()
        raise ServiceError(_("Sign-in is already under way for this account; try again.")) from None
    return user


def _take_over_unproven_account(user: User) -> None:
    """The inbox's owner arrives: whatever the unproven account set up stops working.

    Its password, sessions, API keys and integrations may belong to someone who signed up
    with an address that was not theirs.
    """
    from app.auth.models import ApiKey
    from app.plugins.models import PluginSetting
    from app.tenants.context import unscoped
    from app.tenants.models import Membership, Role

    user.password_hash = None
    user.session_version += 1
    user.email_verified_at = utcnow()
    with unscoped("account takeover: revoke what an unproven account created"):
        now = utcnow()
        for key in db.session.scalars(
            select(ApiKey).where(ApiKey.created_by_id == user.id, ApiKey.revoked_at.is_(None))
        ):
            key.revoked_at = now
        owned = select(Membership.workspace_id).where(
            Membership.user_id == user.id, Membership.role == Role.OWNER.value
        )
        for setting in db.session.scalars(
            select(PluginSetting).where(
                PluginSetting.workspace_id.in_(owned), PluginSetting.enabled.is_(True)
            )
        ):
            setting.enabled = False
        db.session.flush()
