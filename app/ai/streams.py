"""Answers as they are written: the `ai` worker appends pieces to a Redis stream per
message; the web process relays them to the browser (server-sent events).

A stream outlives a dropped connection: the browser reconnects with the last event id it
saw and gets the rest, and the finished answer is in the database for anyone later.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from app.queue import redis

TTL_SECONDS = 15 * 60
FLUSH_SECONDS = 0.05  # pieces are batched this long: fewer writes, still smooth


def key(message_id: uuid.UUID) -> str:
    return f"verbatim:ai:stream:{message_id}"


class Publisher:
    """Batches deltas into stream entries; done() or fail() ends the stream."""

    def __init__(self, message_id: uuid.UUID) -> None:
        self.key = key(message_id)
        self.buffer: list[str] = []
        self.last = 0.0

    def delta(self, text: str) -> None:
        self.buffer.append(text)
        now = time.monotonic()
        if now - self.last >= FLUSH_SECONDS:
            self.flush()
            self.last = now

    def flush(self) -> None:
        if self.buffer:
            self._add("delta", "".join(self.buffer))
            self.buffer.clear()

    def done(self) -> None:
        self.flush()
        self._add("done", "")

    def fail(self, message: str) -> None:
        self.flush()
        self._add("error", message)

    def _add(self, kind: str, data: str) -> None:
        conn = redis()
        conn.xadd(self.key, {"k": kind, "d": data})
        conn.expire(self.key, TTL_SECONDS)


@dataclass(frozen=True)
class Event:
    id: str
    kind: str  # delta, done, error; "wait" when nothing came within the block time
    data: str


def read(
    message_id: uuid.UUID, after: str = "0-0", block_ms: int | None = 10_000
) -> Iterator[Event]:
    """The entries after `after`, waiting up to block_ms for the first (None: not at all);
    a "wait" event when none came (the caller sends a keep-alive and checks the database)."""
    found = redis().xread({key(message_id): after or "0-0"}, block=block_ms, count=500)
    if not found:
        yield Event(after, "wait", "")
        return
    for entry_id, fields in found[0][1]:
        yield Event(
            entry_id.decode() if isinstance(entry_id, bytes) else entry_id,
            _text(fields.get(b"k", fields.get("k", b""))),
            _text(fields.get(b"d", fields.get("d", b""))),
        )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def drop(message_id: uuid.UUID) -> None:
    redis().delete(key(message_id))
