"""Streaming a zip as it is written: zipfile writes into a ZipSink, and the response
takes what collected after each entry."""

from __future__ import annotations


class ZipSink:
    """Where zipfile writes: bytes collect until taken (no seeking, so zipfile writes each
    entry's sizes after its data)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def write(self, data: bytes) -> int:
        self._buffer += data
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = bytes(self._buffer)
        self._buffer.clear()
        return data
