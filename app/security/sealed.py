"""Small secrets kept in the database (a workspace's AI API key), sealed with a key
derived from the installation's secret: a database dump alone does not reveal them."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = b"\x01"


def _key(secret: str, purpose: str) -> bytes:
    if not secret:
        raise RuntimeError("VERBATIM_SECRET_KEY must be set to store secrets")
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"verbatim:{purpose}".encode()
    ).derive(secret.encode())


def seal(secret: str, purpose: str, plain: str) -> bytes:
    """AES-256-GCM under a key for `purpose`; the purpose is also the AAD, so a value
    sealed for one use does not open as another."""
    nonce = os.urandom(12)
    sealed = AESGCM(_key(secret, purpose)).encrypt(nonce, plain.encode(), purpose.encode())
    return VERSION + nonce + sealed


def unseal(secret: str, purpose: str, blob: bytes) -> str | None:
    """The plaintext, or None when the blob was sealed under another secret or purpose
    (a rotated VERBATIM_SECRET_KEY): the caller treats it as not set."""
    if not blob or blob[:1] != VERSION:
        return None
    try:
        plain = AESGCM(_key(secret, purpose)).decrypt(blob[1:13], blob[13:], purpose.encode())
    except InvalidTag:
        return None
    return plain.decode()
