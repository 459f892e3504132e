"""A file of AES-256-GCM records: audio at rest is ciphertext only, readable at any offset.

Layout: a sequence of fixed-size slots, each `nonce(12) | plaintext length(4) | ciphertext +
tag`, with RECORD plaintext bytes in every slot but the last. Fixed slots give random access
(ffmpeg seeks, e.g. an MP4 whose index is at the end) without reading what comes before.
Each record has a fresh random nonce, so the open last record can be rewritten as more bytes
arrive (resumable uploads) without ever reusing a nonce under the key. The AAD binds each
record to its file id and index, so records cannot be swapped or moved between files;
truncation is caught by the reader, which is told the size it must find.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.settings import settings

RECORD = 1024 * 1024
NONCE = 12
TAG = 16
HEAD = NONCE + 4
SLOT = HEAD + RECORD + TAG


class CorruptStagedFile(Exception):
    """The staged file is not what was written (tampered, truncated, wrong key)."""


def _aad(file_id: bytes, index: int) -> bytes:
    return file_id + struct.pack(">Q", index)


class RecordWriter:
    """Appends plaintext; holds at most one record in memory (constant memory per upload).

    Opening an existing file resumes it: the last, partial record is read back into the
    buffer and will be rewritten with a new nonce.
    """

    def __init__(self, path: Path, key: bytes, file_id: bytes) -> None:
        self._aead = AESGCM(key)
        self._id = file_id
        self._fh: BinaryIO = open(path, "r+b" if path.exists() else "w+b")  # noqa: SIM115
        end = self._fh.seek(0, os.SEEK_END)
        self._full, tail = divmod(end, SLOT)
        self._buffer = bytearray()
        if tail:
            # The open record stays on disk until a longer one replaces it: opening a file
            # (and crashing) must never lose bytes a client was told are stored.
            self._fh.seek(self._full * SLOT)
            self._buffer += _open_record(self._aead, self._id, self._full, self._fh.read(tail))

    @property
    def size(self) -> int:
        return self._full * RECORD + len(self._buffer)

    def write(self, data: bytes | memoryview) -> None:
        self._buffer += data
        while len(self._buffer) >= RECORD:
            self._put(self._full, bytes(self._buffer[:RECORD]))
            del self._buffer[:RECORD]
            self._full += 1

    def flush(self) -> None:
        """Make every byte so far durable; the partial record is written as it stands."""
        if self._buffer:
            self._put(self._full, bytes(self._buffer))
        self._fh.truncate(self._fh.tell() if self._buffer else self._full * SLOT)
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._fh.close()

    def abandon(self) -> None:
        self._fh.close()

    def _put(self, index: int, plain: bytes) -> None:
        nonce = os.urandom(NONCE)
        sealed = self._aead.encrypt(nonce, plain, _aad(self._id, index))
        self._fh.seek(index * SLOT)
        self._fh.write(nonce + struct.pack(">I", len(plain)) + sealed)

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RecordReader:
    """Reads plaintext at any offset, verifying every record it touches."""

    def __init__(self, path: Path, key: bytes, file_id: bytes, size: int) -> None:
        self._aead = AESGCM(key)
        self._id = file_id
        self.size = size
        self._fh: BinaryIO = open(path, "rb")  # noqa: SIM115
        full, tail = divmod(size, RECORD)
        expected = full * SLOT + (HEAD + tail + TAG if tail else 0)
        if self._fh.seek(0, os.SEEK_END) != expected:
            self._fh.close()
            raise CorruptStagedFile("staged file has the wrong length")
        self._cached: tuple[int, bytes] | None = None

    def read_at(self, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0:
            raise ValueError("negative offset or length")
        end = min(self.size, offset + length)
        out = bytearray()
        while offset < end:
            index, skip = divmod(offset, RECORD)
            plain = self._record(index)
            piece = plain[skip : skip + (end - offset)]
            out += piece
            offset += len(piece)
        return bytes(out)

    def _record(self, index: int) -> bytes:
        if self._cached and self._cached[0] == index:
            return self._cached[1]
        self._fh.seek(index * SLOT)
        plain = _open_record(self._aead, self._id, index, self._fh.read(SLOT))
        self._cached = (index, plain)
        return plain

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> RecordReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _open_record(aead: AESGCM, file_id: bytes, index: int, slot: bytes) -> bytes:
    if len(slot) < HEAD + TAG:
        raise CorruptStagedFile(f"record {index} is truncated")
    (length,) = struct.unpack(">I", slot[NONCE:HEAD])
    sealed = slot[HEAD : HEAD + length + TAG]
    if length > RECORD or len(sealed) != length + TAG:
        raise CorruptStagedFile(f"record {index} is truncated")
    try:
        return aead.decrypt(slot[:NONCE], sealed, _aad(file_id, index))
    except InvalidTag as e:
        raise CorruptStagedFile(f"record {index} failed authentication") from e


def _kek(info: bytes) -> bytes:
    secret = settings().secret_key.encode()
    return HKDF(hashes.SHA256(), 32, salt=None, info=info).derive(secret)


def wrap_key(info: bytes, file_id: bytes, plain: bytes) -> bytes:
    """A file's data key (and anything that must travel with it, authenticated), sealed
    under a key derived from VERBATIM_SECRET_KEY for one use (`info`, e.g.
    b"verbatim:staging-kek:v1") and bound to the file's id: a database dump alone opens
    no file, and a key moved to another row does not open."""
    nonce = os.urandom(NONCE)
    return nonce + AESGCM(_kek(info)).encrypt(nonce, plain, file_id)


def unwrap_key(info: bytes, file_id: bytes, blob: bytes | None) -> bytes:
    """What wrap_key sealed; FileNotFoundError when the key was forgotten (deleted)."""
    if not blob:
        raise FileNotFoundError("the file was deleted")
    return AESGCM(_kek(info)).decrypt(blob[:NONCE], blob[NONCE:], file_id)
