"""Password hashing (argon2id) and the strength rule."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import gettext as _

from app.errors import ServiceError

_hasher = PasswordHasher()
# Verified against when the account does not exist, so timing does not tell.
_DUMMY = _hasher.hash("verbatim-dummy-password")

MIN_LENGTH = 10
MAX_LENGTH = 256
_COMMON = frozenset(
    [
        "password",
        "password1",
        "password12",
        "password123",
        "passw0rd",
        "1234567890",
        "0123456789",
        "qwertyuiop",
        "123456789a",
        "iloveyou12",
        "letmein123",
        "welcome123",
        "administrator",
        "changeme12",
        "qwerty1234",
        "1q2w3e4r5t",
        "11111111111",
        "aaaaaaaaaa",
        "abcdefghij",
        "abc1234567",
        "football12",
        "monkey1234",
        "sunshine12",
        "princess12",
        "trustno1234",
        "dragon1234",
        "baseball12",
        "superman12",
        "verbatim123",
    ]
)


def check_strength(password: str, email: str = "") -> None:
    if len(password) < MIN_LENGTH:
        raise ServiceError(
            _("Choose a password of at least %(num)d characters.", num=MIN_LENGTH),
            field="password",
        )
    if len(password) > MAX_LENGTH:
        raise ServiceError(
            _("Passwords are limited to %(num)d characters.", num=MAX_LENGTH), field="password"
        )
    lowered = password.lower()
    local = email.split("@", 1)[0].lower()
    if lowered in _COMMON or len(set(password)) < 4 or (len(local) >= 4 and local in lowered):
        raise ServiceError(
            _("That password is too easy to guess; use a longer phrase."), field="password"
        )


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)
