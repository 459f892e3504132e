"""A person's Private Transcript keyring: turn it on, replace wrapped keys, default, reset.

The server cannot open anything here (app/private/crypto.py documents the format). What
it can do is refuse what is not plausibly a keyring, and refuse to replace a wrapped key
unless the caller shows the proof that only a holder of the data key can compute: a stolen
session alone cannot swap in a keyring its owner would not be able to open.

Every change is audited in the person's personal workspace, never with key material.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import uuid
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.audit.service import record
from app.db import utcnow
from app.errors import BadRequest, Conflict, Forbidden, NotFound
from app.extensions import db
from app.private import crypto
from app.private.models import PrivateContent, PrivateKeyring
from app.settings import settings
from app.tenants.context import unscoped, workspace_scope
from app.tenants.models import Membership, Workspace

# iv || AES-GCM(32-byte data key) || tag
WRAPPED_KEY_BYTES = crypto.IV_BYTES + crypto.KEY_BYTES + crypto.TAG_BYTES
# A P-256 private key in PKCS#8 is 67 bytes bare and 138 with its public point (what Web
# Crypto and `cryptography` export); the bounds leave room for either and nothing absurd.
_PKCS8_BYTES = (60, 200)
_CREATE_FIELDS = frozenset(
    {
        "version",
        "kdf",
        "passphrase_wrapped",
        "recovery_wrapped",
        "public_key",
        "private_key_wrapped",
        "verifier",
        "private_by_default",
    }
)
_UPDATE_FIELDS = frozenset({"proof", "kdf", "passphrase_wrapped", "recovery_wrapped", "via"})
VIAS = ("passphrase", "recovery")  # how the browser got the data key (audit only)
_ALREADY_ON = _l(
    "Private Transcript is already on for your account. Change the passphrase or reset it instead."
)


def get(user_id: uuid.UUID) -> PrivateKeyring | None:
    return db.session.get(PrivateKeyring, user_id)


def owned_count(user_id: uuid.UUID) -> int:
    """How many private transcripts this person holds, across their workspaces (what a
    reset would make unreadable)."""
    with unscoped("count the signed-in person's own private transcripts in every workspace"):
        return (
            db.session.scalar(
                select(func.count(PrivateContent.id)).where(PrivateContent.owner_id == user_id)
            )
            or 0
        )


def _require(user_id: uuid.UUID) -> PrivateKeyring:
    keyring = get(user_id)
    if keyring is None:
        raise NotFound(_("Private Transcript is not turned on for your account."))
    return keyring


def material(keyring: PrivateKeyring) -> crypto.KeyringMaterial:
    return crypto.KeyringMaterial(
        version=keyring.version,
        iterations=keyring.kdf_iterations,
        salt=keyring.kdf_salt,
        passphrase_wrapped=keyring.passphrase_wrapped,
        recovery_wrapped=keyring.recovery_wrapped,
        public_key=keyring.public_key,
        private_key_wrapped=keyring.private_key_wrapped,
        verifier=keyring.verifier,
    )


def to_json(keyring: PrivateKeyring) -> dict[str, Any]:
    """The wire shape (GET /account/private/keyring): the material plus what the browser
    needs around it; `iterations` is the cost a new passphrase should use."""
    return material(keyring).to_json() | {
        "user_id": str(keyring.user_id),
        "fingerprint": keyring.fingerprint,
        "private_by_default": keyring.private_by_default,
        "iterations": settings().private_kdf_iterations,
    }


# --------------------------------------------------------------------- checking input


def _object(payload: Any, allowed: frozenset[str]) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise BadRequest("Send a JSON object.")
    unknown = sorted(set(payload) - allowed)
    if unknown:
        raise BadRequest(f"Unknown field(s): {', '.join(unknown)}.")
    return payload


def _blob(payload: dict[str, Any], name: str, sizes: tuple[int, int]) -> bytes:
    value = payload.get(name)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{name} is missing: it must be a base64 string.")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"{name} is not valid base64.") from None
    low, high = sizes
    if not low <= len(raw) <= high:
        wanted = f"{low} bytes" if low == high else f"{low} to {high} bytes"
        raise BadRequest(f"{name} must be {wanted}, not {len(raw)}.")
    return raw


def _exactly(n: int) -> tuple[int, int]:
    return n, n


def _kdf(payload: dict[str, Any]) -> tuple[int, bytes]:
    """(iterations, salt) of a new passphrase wrap: our KDF, at least today's cost."""
    kdf = payload.get("kdf")
    if not isinstance(kdf, dict):
        raise BadRequest("kdf is missing: it must be an object with name, iterations and salt.")
    unknown = sorted(set(kdf) - {"name", "iterations", "salt"})
    if unknown:
        raise BadRequest(f"Unknown kdf field(s): {', '.join(unknown)}.")
    if kdf.get("name") != crypto.KDF:
        raise BadRequest(f"kdf.name must be {crypto.KDF}.")
    iterations = kdf.get("iterations")
    least = settings().private_kdf_iterations
    if (
        not isinstance(iterations, int)
        or isinstance(iterations, bool)
        or not least <= iterations <= crypto.MAX_ITERATIONS
    ):
        raise BadRequest(
            f"kdf.iterations must be a whole number from {least:,} to {crypto.MAX_ITERATIONS:,}."
        )
    return iterations, _blob(kdf, "salt", _exactly(crypto.SALT_BYTES))


def _default(payload: dict[str, Any]) -> bool:
    value = payload.get("private_by_default", False)
    if not isinstance(value, bool):
        raise BadRequest("private_by_default must be true or false.")
    return value


def parse_new(payload: Any) -> tuple[crypto.KeyringMaterial, bool]:
    """A keyring as the browser sends it, every field checked (BadRequest says which), and
    whether new transcripts should be private by default."""
    payload = _object(payload, _CREATE_FIELDS)
    version = payload.get("version")
    if version != crypto.VERSION or isinstance(version, bool):
        raise BadRequest(f"Unsupported keyring version {version!r}; this server speaks 1.")
    iterations, salt = _kdf(payload)
    public = _blob(payload, "public_key", _exactly(crypto.POINT_BYTES))
    try:
        crypto.public_key(public)
    except crypto.PrivateCryptoError as e:
        raise BadRequest(f"public_key: {e}") from None
    overhead = crypto.IV_BYTES + crypto.TAG_BYTES
    material = crypto.KeyringMaterial(
        version=crypto.VERSION,
        iterations=iterations,
        salt=salt,
        passphrase_wrapped=_blob(payload, "passphrase_wrapped", _exactly(WRAPPED_KEY_BYTES)),
        recovery_wrapped=_blob(payload, "recovery_wrapped", _exactly(WRAPPED_KEY_BYTES)),
        public_key=public,
        private_key_wrapped=_blob(
            payload, "private_key_wrapped", (overhead + _PKCS8_BYTES[0], overhead + _PKCS8_BYTES[1])
        ),
        verifier=_blob(payload, "verifier", _exactly(32)),
    )
    return material, _default(payload)


def row(user_id: uuid.UUID, material: crypto.KeyringMaterial, default: bool) -> PrivateKeyring:
    """The stored form of a checked keyring."""
    return PrivateKeyring(
        user_id=user_id,
        version=material.version,
        kdf_iterations=material.iterations,
        kdf_salt=material.salt,
        passphrase_wrapped=material.passphrase_wrapped,
        recovery_wrapped=material.recovery_wrapped,
        public_key=material.public_key,
        fingerprint=crypto.fingerprint(material.public_key),
        private_key_wrapped=material.private_key_wrapped,
        verifier=material.verifier,
        private_by_default=default,
    )


# --------------------------------------------------------------------- changes


def _personal_workspace(user_id: uuid.UUID) -> uuid.UUID | None:
    with unscoped("a person's own keyring events go to their personal workspace's log"):
        return db.session.scalar(
            select(Workspace.id)
            .join(Membership, Membership.workspace_id == Workspace.id)
            .where(Membership.user_id == user_id, Workspace.personal.is_(True))
            .limit(1)
        )


def _audit(user_id: uuid.UUID, action: str, details: dict[str, Any] | None = None) -> None:
    """In the caller's transaction; details never hold key material."""
    workspace_id = _personal_workspace(user_id)
    if workspace_id is None:  # every account has one; nothing to log into otherwise
        return
    with workspace_scope(workspace_id):
        record(action, details=details, workspace_id=workspace_id, actor_user_id=user_id)
        db.session.flush()


def create(user_id: uuid.UUID, payload: Any) -> PrivateKeyring:
    material, default = parse_new(payload)
    if get(user_id) is not None:
        raise Conflict(_ALREADY_ON)
    keyring = row(user_id, material, default)
    try:
        db.session.add(keyring)
        db.session.flush()
        _audit(
            user_id,
            "private.enabled",
            {"fingerprint": keyring.fingerprint, "private_by_default": default},
        )
        db.session.commit()
    except IntegrityError:  # two tabs turning it on at once: the first one wins
        db.session.rollback()
        raise Conflict(_ALREADY_ON) from None
    return keyring


def check_proof(keyring: PrivateKeyring, payload: dict[str, Any]) -> None:
    """Forbidden unless `proof` hashes to the stored verifier (constant-time compare)."""
    proof = _blob(payload, "proof", _exactly(32))
    if not hmac.compare_digest(crypto.verifier(proof), keyring.verifier):
        raise Forbidden(
            _(
                "That does not prove you hold this keyring's key: unlock it with the current "
                "passphrase or the recovery key and try again."
            )
        )


def update_keys(user_id: uuid.UUID, payload: Any) -> PrivateKeyring:
    """Replace the passphrase wrap (with its salt and cost) and/or the recovery wrap.

    The data key, key pair and every transcript stay as they are, so everything still opens
    with the new passphrase, and the old passphrase or recovery key stops working."""
    payload = _object(payload, _UPDATE_FIELDS)
    keyring = _require(user_id)
    has_passphrase = "passphrase_wrapped" in payload or "kdf" in payload
    has_recovery = "recovery_wrapped" in payload
    if not (has_passphrase or has_recovery):
        raise BadRequest("Send passphrase_wrapped with kdf, or recovery_wrapped (or both).")
    via = payload.get("via", "passphrase")
    if via not in VIAS:
        raise BadRequest("via must be passphrase or recovery.")
    rewrap = None
    if has_passphrase:
        if "passphrase_wrapped" not in payload or "kdf" not in payload:
            raise BadRequest("A new passphrase needs both kdf and passphrase_wrapped.")
        iterations, salt = _kdf(payload)
        rewrap = (
            iterations,
            salt,
            _blob(payload, "passphrase_wrapped", _exactly(WRAPPED_KEY_BYTES)),
        )
    recovery = (
        _blob(payload, "recovery_wrapped", _exactly(WRAPPED_KEY_BYTES)) if has_recovery else None
    )
    check_proof(keyring, payload)

    now = utcnow()
    if rewrap is not None:
        keyring.kdf_iterations, keyring.kdf_salt, keyring.passphrase_wrapped = rewrap
        keyring.passphrase_changed_at = now
        _audit(
            user_id,
            "private.passphrase_changed",
            {"via": via, "iterations": rewrap[0]},
        )
    if recovery is not None:
        keyring.recovery_wrapped = recovery
        keyring.recovery_changed_at = now
        _audit(user_id, "private.recovery_key_replaced", {"via": via})
    db.session.commit()
    return keyring


def set_default(user_id: uuid.UUID, private_by_default: bool) -> PrivateKeyring:
    keyring = _require(user_id)
    if keyring.private_by_default != private_by_default:
        keyring.private_by_default = private_by_default
        _audit(user_id, "private.default_changed", {"private_by_default": private_by_default})
    db.session.commit()
    return keyring


def reset(user_id: uuid.UUID, confirm: str) -> None:
    """Forget the keyring. Transcripts sealed to it stay stored and can never be opened
    again: nobody, us included, holds another copy of the key."""
    if confirm != "RESET":
        raise BadRequest(_("Type RESET (in capitals) to confirm."))
    keyring = _require(user_id)
    fingerprint = keyring.fingerprint
    db.session.delete(keyring)
    _audit(user_id, "private.reset", {"fingerprint": fingerprint})
    db.session.commit()
