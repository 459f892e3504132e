"""The staging file format: ciphertext at rest, random access, resumable, tamper-evident."""

from __future__ import annotations

import os

import pytest

from app.ingest.crypto_file import RECORD, SLOT, CorruptStagedFile, RecordReader, RecordWriter

KEY = bytes(range(32))
FILE_ID = b"0123456789abcdef"


def _write(path, data: bytes, pieces: int = 1) -> None:
    step = max(1, len(data) // pieces)
    for start in range(0, len(data), step):
        # A new writer per piece: each request of a resumable upload opens the file anew.
        with RecordWriter(path, KEY, FILE_ID) as w:
            w.write(data[start : start + step])


def test_round_trip_and_random_access(tmp_path):
    data = os.urandom(3 * RECORD + 12345)
    path = tmp_path / "a.vba"
    _write(path, data, pieces=7)  # pieces that do not line up with records
    with RecordReader(path, KEY, FILE_ID, len(data)) as r:
        assert r.read_at(0, len(data)) == data
        for offset, length in [
            (0, 1),
            (RECORD - 3, 10),
            (2 * RECORD + 5, RECORD),
            (len(data) - 4, 99),
        ]:
            assert r.read_at(offset, length) == data[offset : offset + length]
        assert r.read_at(len(data), 10) == b""


def test_no_plaintext_on_disk(tmp_path):
    marker = b"SECRET-AUDIO-BYTES" * 1000
    path = tmp_path / "b.vba"
    _write(path, marker, pieces=3)
    assert b"SECRET-AUDIO" not in path.read_bytes()


def test_resume_reports_the_durable_size(tmp_path):
    path = tmp_path / "c.vba"
    with RecordWriter(path, KEY, FILE_ID) as w:
        w.write(b"x" * (RECORD + 10))
    assert RecordWriter(path, KEY, FILE_ID).size == RECORD + 10
    assert path.stat().st_size == SLOT + 16 + 10 + 16


def test_tampering_swapping_and_truncation_are_caught(tmp_path):
    data = os.urandom(2 * RECORD + 100)
    path = tmp_path / "d.vba"
    _write(path, data)
    raw = bytearray(path.read_bytes())

    flipped = tmp_path / "flipped.vba"
    flipped.write_bytes(bytes(raw[:100]) + bytes([raw[100] ^ 1]) + bytes(raw[101:]))
    with RecordReader(flipped, KEY, FILE_ID, len(data)) as r, pytest.raises(CorruptStagedFile):
        r.read_at(0, 10)

    swapped = tmp_path / "swapped.vba"
    swapped.write_bytes(bytes(raw[SLOT : 2 * SLOT] + raw[:SLOT] + raw[2 * SLOT :]))
    with RecordReader(swapped, KEY, FILE_ID, len(data)) as r, pytest.raises(CorruptStagedFile):
        r.read_at(0, 10)

    truncated = tmp_path / "truncated.vba"
    truncated.write_bytes(bytes(raw[: 2 * SLOT]))
    with pytest.raises(CorruptStagedFile):
        RecordReader(truncated, KEY, FILE_ID, len(data))

    with RecordReader(path, bytes(32), FILE_ID, len(data)) as r, pytest.raises(CorruptStagedFile):
        r.read_at(0, 10)  # wrong key
    moved = RecordReader(path, KEY, b"another-file-id!", len(data))
    with moved, pytest.raises(CorruptStagedFile):
        moved.read_at(0, 10)  # a record moved to another file
