"""Looking for a phrase everywhere the server keeps things: every table of the database (read
as its owner, past row-level security), every Redis key and value, and log text.

Values are searched as stored and also as they may be hidden: zlib, gzip or raw deflate
compressed (transcript revisions are zlib JSON), base64 or hex encoded, with JSON \\u, HTML
or percent escapes, or UTF-16. The phrase matches case-insensitively with its words spread
apart by anything but letters (as in ["yellow", 0.0, 0.4], ["zebra", ...]), and each word
matches on its own too (a search index stores words one by one, stemmed: 'chocol').

    cells = dump_database(owner_url) + dump_redis(redis_url)
    assert not find(CANARY, cells)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import json
import logging
import re
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple
from urllib.parse import unquote_to_bytes

import psycopg
from psycopg import sql
from redis import Redis

MAX_EXPANDED = 64 * 1024 * 1024  # a decompressed value is cut here (a zip bomb, or garbage)
MAX_DEPTH = 3  # decoding inside decoding, e.g. base64 of gzip of JSON
STEM = 6  # a search index keeps word stems: "chocolate" is 'chocol'
_BASE64 = re.compile(rb"[A-Za-z0-9+/_-]{16,}={0,2}")
_HEX = re.compile(rb"(?:[0-9a-fA-F]{2}){8,}")
_JSON_ESCAPE = re.compile(rb"\\u([0-9a-fA-F]{4})")
_BYTE_ESCAPE = re.compile(rb"\\x([0-9a-fA-F]{2})")


class Cell(NamedTuple):
    """One stored value: where it is, its bytes, and which row (or key) it belongs to."""

    where: str
    value: bytes
    row: str = ""  # a digest of the whole row or key, so a later dump can tell what is new


def as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=str, ensure_ascii=False).encode()
    return str(value).encode()


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big") + part)
    return h.hexdigest()


def dump_database(owner_url: str) -> list[Cell]:
    """Every column of every row of every table and materialized view, and every large
    object, read as the owner with row-level security's unscoped switch on."""
    url = owner_url.replace("postgresql+psycopg://", "postgresql://", 1)
    cells: list[Cell] = []
    with psycopg.connect(url) as conn:
        conn.execute("SET verbatim.unscoped = 'on'")  # FORCE'd row-level security otherwise
        relations = conn.execute(
            "SELECT schemaname, tablename FROM pg_tables "
            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') "
            "UNION ALL SELECT schemaname, matviewname FROM pg_matviews "
            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
        assert relations, "the database has no tables: wrong URL?"
        for schema, table in relations:
            cur = conn.execute(
                sql.SQL("SELECT * FROM {}.{}").format(*map(sql.Identifier, (schema, table)))
            )
            columns = [d.name for d in cur.description or ()]
            for row in cur:
                values = [as_bytes(v) if v is not None else b"" for v in row]
                key = _digest(table.encode(), *values)
                cells.extend(
                    Cell(f"{table}.{column}", value, key)
                    for column, value in zip(columns, values, strict=True)
                    if value
                )
        for (oid,) in conn.execute("SELECT oid FROM pg_largeobject_metadata").fetchall():
            data = conn.execute("SELECT lo_get(%s)", (oid,)).fetchone()[0]
            cells.append(Cell(f"large object {oid}", bytes(data), _digest(str(oid).encode(), data)))
    return cells


def dump_redis(url: str) -> list[Cell]:
    """Every key of every logical database, and its value whatever its type."""
    cells: list[Cell] = []
    first = Redis.from_url(url)
    dbs = [int(name[2:]) for name in first.info("keyspace")]
    for n in dbs:
        conn = Redis.from_url(url, db=n)
        for key in conn.scan_iter(count=1000):
            parts = _redis_value(conn, key)
            if parts is None:
                continue  # expired between the scan and the read
            digest = _digest(key, *(b for _, b in parts))
            where = f"redis db{n} {key.decode(errors='replace')}"
            cells.append(Cell(f"{where} (key name)", key, digest))
            cells.extend(Cell(f"{where} {label}".rstrip(), value, digest) for label, value in parts)
    return cells


def _redis_value(conn: Redis, key: bytes) -> list[tuple[str, bytes]] | None:
    kind = conn.type(key).decode()
    if kind == "none":
        return None
    if kind == "string":
        value = conn.get(key)
        return None if value is None else [("", value)]
    if kind == "hash":
        return [(f"[{f.decode(errors='replace')}]", v) for f, v in conn.hgetall(key).items()] + [
            ("(field names)", b"\n".join(conn.hkeys(key)))
        ]
    if kind == "list":
        return [(f"[{i}]", v) for i, v in enumerate(conn.lrange(key, 0, -1))]
    if kind == "set":
        return [("(member)", v) for v in conn.smembers(key)]
    if kind == "zset":
        return [("(member)", v) for v, _score in conn.zrange(key, 0, -1, withscores=True)]
    if kind == "stream":
        out: list[tuple[str, bytes]] = []
        for entry_id, fields in conn.xrange(key, "-", "+"):
            for f, v in fields.items():
                out.append((f"<{entry_id.decode()}> {f.decode(errors='replace')}", f + b"=" + v))
        return out
    raise AssertionError(f"Redis key {key!r} has a type this scanner does not read: {kind}")


def text_cells(where: str, text: str | Iterable[str]) -> list[Cell]:
    """Log text (or lines of it) as cells."""
    lines = [text] if isinstance(text, str) else list(text)
    return [Cell(where, line.encode("utf-8", "surrogatepass")) for line in lines if line]


def new_cells(cells: list[Cell], baseline: Iterable[Cell]) -> list[Cell]:
    """The cells of rows (or keys) that were not in the baseline dump: new or changed since."""
    seen = {c.row for c in baseline}
    return [c for c in cells if c.row not in seen]


# --- finding -----------------------------------------------------------------------------------


def patterns(phrase: str) -> list[tuple[str, re.Pattern[bytes]]]:
    """The phrase with its words apart by anything but letters, and each word's stem."""
    words = [w.lower() for w in phrase.split()]
    gap = rb"[^a-z]{0,80}"
    found = [("phrase", re.compile(gap.join(re.escape(w.encode()) for w in words), re.I))]
    for w in words:
        found.append((f"word {w!r}", re.compile(re.escape(w[:STEM].encode()), re.I)))
    return found


def _unescaped(data: bytes) -> Iterator[tuple[str, bytes]]:
    yield "", data
    if b"\\u" in data:
        yield "json-escaped", _JSON_ESCAPE.sub(lambda m: chr(int(m[1], 16)).encode(), data)
    if b"\\x" in data:
        yield "byte-escaped", _BYTE_ESCAPE.sub(lambda m: bytes([int(m[1], 16)]), data)
    if b"&" in data:
        yield "html-escaped", html.unescape(data.decode("utf-8", "replace")).encode()
    if b"%" in data:
        yield "percent-escaped", unquote_to_bytes(data)
    if b"\x00" in data:
        yield "utf-16", data.replace(b"\x00", b"")


def _inflate(data: bytes, wbits: int) -> bytes | None:
    try:
        d = zlib.decompressobj(wbits)
        out = d.decompress(data, MAX_EXPANDED)
    except zlib.error:
        return None
    return out or None


def expand(data: bytes, depth: int = 0) -> Iterator[tuple[str, bytes]]:
    """The value and what it decodes to: decompressed, base64- and hex-decoded, in turn."""
    yield "", data
    if depth >= MAX_DEPTH:
        return
    inner: list[tuple[str, bytes]] = []
    for how, wbits in (("zlib/gzip", 47), ("deflate", -15)):
        out = _inflate(data, wbits)
        if out is not None:
            inner.append((how, out))
            break
    for m in _BASE64.finditer(data):
        chunk = m.group()
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                inner.append(("base64", decode(chunk + b"=" * (-len(chunk) % 4))))
                break
            except (binascii.Error, ValueError):
                continue
    inner.extend(("hex", bytes.fromhex(m.group().decode())) for m in _HEX.finditer(data))
    for how, out in inner:
        for deeper, value in expand(out, depth + 1):
            yield f"{how}>{deeper}".rstrip(">"), value


def find(phrase: str, cells: Iterable[Cell]) -> list[str]:
    """Where the phrase (or any word of it) is, one line per finding, with a bit of context."""
    compiled = patterns(phrase)
    found: list[str] = []
    for cell in cells:
        for how, value in expand(cell.value):
            for escaped, text in _unescaped(value):
                for name, pattern in compiled:
                    m = pattern.search(text)
                    if m:
                        context = text[max(0, m.start() - 40) : m.end() + 40]
                        via = "+".join(x for x in (how, escaped) if x) or "as stored"
                        found.append(f"{cell.where}: {name} ({via}): {context!r}")
    return found


# --- logs ------------------------------------------------------------------------------------


class LogRecords(logging.Handler):
    """Every log record of this process while attached, as text: message, arguments,
    extras and traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        trace = logging.Formatter().formatException(record.exc_info) if record.exc_info else ""
        self.lines.append(f"{record.name}: {record.getMessage()} {vars(record)!r} {trace}")


@contextmanager
def capture_logs() -> Iterator[LogRecords]:
    """This process's log records at every level while the block runs (a live server in
    a thread included); SQLAlchemy's statement echo stays as it was."""
    root, sqla = logging.getLogger(), logging.getLogger("sqlalchemy")
    levels = root.level, sqla.level
    records = LogRecords()
    sqla.setLevel(sqla.getEffectiveLevel())
    root.setLevel(logging.DEBUG)
    root.addHandler(records)
    try:
        yield records
    finally:
        root.removeHandler(records)
        root.setLevel(levels[0])
        sqla.setLevel(levels[1])
