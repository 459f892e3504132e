"""Private Transcript cryptography, format version 1: the Python half.

The browser (app/static/js/private/crypto.js) holds a person's keys and does the same
operations with Web Crypto. The server needs only `seal` (the worker encrypts a finished
transcript to the owner's public key before anything is written) and `check_envelope`
(shape checks before storing what the browser sends). The rest is the reference
implementation the tests hold the browser to, and that a person's own tools can use.

Keys (one keyring per person, PrivateKeyring):
- passphrase key = PBKDF2-HMAC-SHA256(NFC(passphrase), random 16-byte salt, iterations
  >= 600,000), used as an AES-256-GCM key. Salt, iterations and version are stored, so
  the cost can be raised later person by person.
- data key = 32 random bytes, wrapped (AES-256-GCM) by the passphrase key and by the
  recovery key (32 random bytes, shown once as a code). A passphrase change re-wraps
  this one key; no transcript is touched.
- an ECDH P-256 key pair: the public point (65 bytes, uncompressed) is stored in the
  clear for the worker; the private key (PKCS#8) is wrapped by the data key.
- proof = HKDF-SHA256(data key, info "verbatim/private/v1/proof"); the server keeps only
  SHA-256(proof) and asks for the proof before it replaces a wrapped key, so a stolen
  session cannot overwrite the keyring with one the owner cannot open.

Blobs (keyring): iv (12) || AES-GCM ciphertext and tag, AAD = aad("keyring", user, purpose).

Envelopes (transcripts): header = version (0x01) || kind.
- CONTENT (0x01), written by the browser: header || iv (12) || ciphertext, under the data key.
- SEALED (0x02), written by the worker: header || ephemeral public point (65) || iv (12) ||
  ciphertext, under HKDF-SHA256(ECDH(ephemeral, owner), salt = ephemeral point,
  info "verbatim/private/v1/seal").
AAD = header || aad("transcript", workspace id, transcript id, field): ciphertext moved to
another transcript, workspace or field, or with its header changed, does not decrypt.
Every encryption draws a fresh random 12-byte IV. The plaintext is gzip(UTF-8 JSON).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import unicodedata
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

VERSION = 1
KDF = "PBKDF2-SHA256"
MIN_ITERATIONS = 600_000  # OWASP 2023 for PBKDF2-HMAC-SHA256
MAX_ITERATIONS = 10_000_000  # a keyring that would take minutes to open is refused
SALT_BYTES = 16
IV_BYTES = 12
KEY_BYTES = 32
TAG_BYTES = 16
POINT_BYTES = 65  # uncompressed P-256 point: 0x04 || x || y

CONTENT = 1
SEALED = 2
TRANSCRIPT_FIELD = "transcript"
PURPOSES = ("passphrase", "recovery", "private-key")

_PREFIX = b"verbatim/private/v1"
_SEAL_INFO = b"verbatim/private/v1/seal"
_PROOF_INFO = b"verbatim/private/v1/proof"
_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


class PrivateCryptoError(ValueError):
    """An envelope or blob that is malformed, of an unknown version, or does not open with
    this key (wrong key, tampered, or moved from elsewhere)."""


# ---------------------------------------------------------------- building blocks


def aad(*parts: str) -> bytes:
    """The associated data naming what a ciphertext belongs to: fields NUL-separated, so
    ("ab", "c") and ("a", "bc") differ."""
    return _PREFIX + b"".join(b"\x00" + p.encode() for p in parts)


def keyring_aad(user_id: str, purpose: str) -> bytes:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown keyring purpose {purpose!r}")
    return aad("keyring", str(user_id), purpose)


def transcript_aad(
    header: bytes, workspace_id: str, transcript_id: str, field: str = TRANSCRIPT_FIELD
) -> bytes:
    return header + aad("transcript", str(workspace_id), str(transcript_id), field)


def wrap(key: bytes, plaintext: bytes, associated: bytes) -> bytes:
    """iv || AES-256-GCM(plaintext), with a fresh random IV."""
    iv = os.urandom(IV_BYTES)
    return iv + AESGCM(key).encrypt(iv, plaintext, associated)


def unwrap(key: bytes, blob: bytes, associated: bytes) -> bytes:
    if len(blob) < IV_BYTES + TAG_BYTES:
        raise PrivateCryptoError("The encrypted data is too short to be valid.")
    try:
        return AESGCM(key).decrypt(blob[:IV_BYTES], blob[IV_BYTES:], associated)
    except InvalidTag:
        raise PrivateCryptoError(
            "The encrypted data does not open with this key: a wrong passphrase or key, "
            "or data that was changed or moved."
        ) from None


def passphrase_key(passphrase: str, salt: bytes, iterations: int) -> bytes:
    """The AES key a passphrase gives (NFC first, so the same words typed on another
    system give the same key)."""
    if not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
        raise PrivateCryptoError(f"Unsupported key derivation cost: {iterations} iterations.")
    if len(salt) != SALT_BYTES:
        raise PrivateCryptoError("The key derivation salt must be 16 bytes.")
    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, iterations=iterations)
    return kdf.derive(unicodedata.normalize("NFC", passphrase).encode())


def proof(data_key: bytes) -> bytes:
    """What the browser shows to prove it holds the data key (never the key itself)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_PROOF_INFO).derive(data_key)


def verifier(proof_bytes: bytes) -> bytes:
    """What the server stores to check a proof: SHA-256 of it."""
    return hashlib.sha256(proof_bytes).digest()


def fingerprint(public_point: bytes) -> str:
    """A short name for a public key: envelopes record the key they were sealed to."""
    return hashlib.sha256(public_point).hexdigest()[:32]


def recovery_code(key: bytes) -> str:
    """32 bytes as 52 base32 characters in groups of four, e.g. ABCD-EFGH-..."""
    text = base64.b32encode(key).decode().rstrip("=")
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def parse_recovery_code(code: str) -> bytes:
    """The key a recovery code stands for; spaces, dashes and case do not matter."""
    text = "".join(ch for ch in code.upper() if ch not in " -\t\n")
    if len(text) != 52 or any(ch not in _B32 for ch in text):
        raise PrivateCryptoError("A recovery key is 52 letters and digits (2-7) in groups of four.")
    return base64.b32decode(text + "====")


def public_key(point: bytes) -> ec.EllipticCurvePublicKey:
    if len(point) != POINT_BYTES or point[0] != 4:
        raise PrivateCryptoError("A public key must be an uncompressed P-256 point (65 bytes).")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        raise PrivateCryptoError("The public key is not a point on P-256.") from None


def public_point(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


# ---------------------------------------------------------------- transcript envelopes


def _pack(document: Any) -> bytes:
    raw = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    return gzip.compress(raw, compresslevel=6, mtime=0)


def _unpack(data: bytes) -> Any:
    try:
        return json.loads(gzip.decompress(data))
    except (OSError, EOFError, ValueError):
        raise PrivateCryptoError("The decrypted transcript is not readable.") from None


def _seal_key(shared: bytes, ephemeral: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=ephemeral, info=_SEAL_INFO
    ).derive(shared)


def seal(document: Any, recipient: bytes, workspace_id: str, transcript_id: str) -> bytes:
    """A SEALED envelope of `document` that only the holder of `recipient`'s private key
    opens. The worker calls this before anything is written."""
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    point = public_point(ephemeral.public_key())
    key = _seal_key(ephemeral.exchange(ec.ECDH(), public_key(recipient)), point)
    header = bytes((VERSION, SEALED))
    return (
        header
        + point
        + wrap(key, _pack(document), transcript_aad(header, workspace_id, transcript_id))
    )


def encrypt_content(document: Any, data_key: bytes, workspace_id: str, transcript_id: str) -> bytes:
    """A CONTENT envelope, as the browser writes after an edit."""
    header = bytes((VERSION, CONTENT))
    return header + wrap(
        data_key, _pack(document), transcript_aad(header, workspace_id, transcript_id)
    )


def envelope_kind(envelope: bytes) -> int:
    """CONTENT or SEALED; PrivateCryptoError for anything else, including a future version."""
    if len(envelope) < 2:
        raise PrivateCryptoError("Not an encrypted transcript.")
    if envelope[0] != VERSION:
        raise PrivateCryptoError(f"Unsupported encryption format version {envelope[0]}.")
    if envelope[1] not in (CONTENT, SEALED):
        raise PrivateCryptoError("Unknown kind of encrypted transcript.")
    return envelope[1]


def check_envelope(envelope: bytes, expected_kind: int | None = None) -> int:
    """Shape only (the server cannot open it): version, kind, lengths. Returns the kind."""
    kind = envelope_kind(envelope)
    if expected_kind is not None and kind != expected_kind:
        raise PrivateCryptoError("The wrong kind of encrypted transcript.")
    least = 2 + (POINT_BYTES if kind == SEALED else 0) + IV_BYTES + TAG_BYTES
    if len(envelope) < least:
        raise PrivateCryptoError("The encrypted transcript is truncated.")
    return kind


def open_envelope(
    envelope: bytes,
    workspace_id: str,
    transcript_id: str,
    *,
    data_key: bytes | None = None,
    private_key: ec.EllipticCurvePrivateKey | None = None,
) -> Any:
    """The document in a CONTENT (needs data_key) or SEALED (needs private_key) envelope."""
    kind = check_envelope(envelope)
    header = envelope[:2]
    associated = transcript_aad(header, workspace_id, transcript_id)
    if kind == CONTENT:
        if data_key is None:
            raise PrivateCryptoError("Opening this transcript needs the data key.")
        return _unpack(unwrap(data_key, envelope[2:], associated))
    if private_key is None:
        raise PrivateCryptoError("Opening this transcript needs the private key.")
    point = envelope[2 : 2 + POINT_BYTES]
    shared = private_key.exchange(ec.ECDH(), public_key(point))
    return _unpack(unwrap(_seal_key(shared, point), envelope[2 + POINT_BYTES :], associated))


# ---------------------------------------------------------------- keyrings


@dataclass(frozen=True)
class KeyringMaterial:
    """What the server stores for a person: nothing here opens without the passphrase or
    the recovery key."""

    version: int
    iterations: int
    salt: bytes
    passphrase_wrapped: bytes
    recovery_wrapped: bytes
    public_key: bytes
    private_key_wrapped: bytes
    verifier: bytes

    def to_json(self) -> dict[str, Any]:
        b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
        return {
            "version": self.version,
            "kdf": {"name": KDF, "iterations": self.iterations, "salt": b64(self.salt)},
            "passphrase_wrapped": b64(self.passphrase_wrapped),
            "recovery_wrapped": b64(self.recovery_wrapped),
            "public_key": b64(self.public_key),
            "private_key_wrapped": b64(self.private_key_wrapped),
            "verifier": b64(self.verifier),
        }


@dataclass(frozen=True)
class Unlocked:
    data_key: bytes
    private_key: ec.EllipticCurvePrivateKey


def new_keyring(
    passphrase: str, user_id: str, iterations: int = MIN_ITERATIONS
) -> tuple[KeyringMaterial, str, Unlocked]:
    """A fresh keyring as the browser makes one: (material to store, the recovery code to
    show once, the unlocked keys)."""
    data_key, recovery = os.urandom(KEY_BYTES), os.urandom(KEY_BYTES)
    salt = os.urandom(SALT_BYTES)
    private = ec.generate_private_key(ec.SECP256R1())
    pkcs8 = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    material = KeyringMaterial(
        version=VERSION,
        iterations=iterations,
        salt=salt,
        passphrase_wrapped=wrap(
            passphrase_key(passphrase, salt, iterations),
            data_key,
            keyring_aad(user_id, "passphrase"),
        ),
        recovery_wrapped=wrap(recovery, data_key, keyring_aad(user_id, "recovery")),
        public_key=public_point(private.public_key()),
        private_key_wrapped=wrap(data_key, pkcs8, keyring_aad(user_id, "private-key")),
        verifier=verifier(proof(data_key)),
    )
    return material, recovery_code(recovery), Unlocked(data_key, private)


def _open_private_key(material: KeyringMaterial, data_key: bytes, user_id: str) -> Unlocked:
    pkcs8 = unwrap(data_key, material.private_key_wrapped, keyring_aad(user_id, "private-key"))
    private = serialization.load_der_private_key(pkcs8, password=None)
    if not isinstance(private, ec.EllipticCurvePrivateKey):
        raise PrivateCryptoError("The keyring's private key is not an EC key.")
    return Unlocked(data_key, private)


def unlock(material: KeyringMaterial, passphrase: str, user_id: str) -> Unlocked:
    key = passphrase_key(passphrase, material.salt, material.iterations)
    data_key = unwrap(key, material.passphrase_wrapped, keyring_aad(user_id, "passphrase"))
    return _open_private_key(material, data_key, user_id)


def unlock_with_recovery(material: KeyringMaterial, code: str, user_id: str) -> Unlocked:
    data_key = unwrap(
        parse_recovery_code(code), material.recovery_wrapped, keyring_aad(user_id, "recovery")
    )
    return _open_private_key(material, data_key, user_id)


def rewrap_passphrase(
    data_key: bytes, new_passphrase: str, user_id: str, iterations: int = MIN_ITERATIONS
) -> tuple[bytes, int, bytes]:
    """(salt, iterations, passphrase_wrapped) for a new passphrase: only this changes."""
    salt = os.urandom(SALT_BYTES)
    key = passphrase_key(new_passphrase, salt, iterations)
    return salt, iterations, wrap(key, data_key, keyring_aad(user_id, "passphrase"))
