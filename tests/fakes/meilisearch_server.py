"""A small but real Meilisearch server on 127.0.0.1, for exercising the meilisearch backend
through the official client.

It speaks the documented HTTP API (v1.x) for the subset the backend uses, with the same
answers and error shape ({message, code, type, link}):

- GET /health, GET /version; Bearer master key on everything else (401 without a header,
  403 with a wrong key);
- indexes: list, get, create, delete; settings: GET, PATCH (applied by a task);
- documents: add or replace (POST), update (PUT), get one (?fields=), list (GET, and
  POST /documents/fetch with filter, fields, limit, offset), delete by filter, by ids,
  one, all;
- search (POST): q with words, "phrases", -negations, prefix on the last word unless
  whitespace follows, typo tolerance (1 typo from 5 characters, 2 from 9, a wrong first
  letter counts as two, transpositions as one), matchingStrategy, filter (string or
  array, depth 2) with =, !=, >, >=, <, <=, TO, IN [..], NOT IN, EXISTS, IS [NOT] NULL,
  IS [NOT] EMPTY, AND, OR, NOT, parentheses, quoted strings with backslash escapes;
  anything else is 400 invalid_search_filter), sort (sortable attributes only, and only
  with the "sort" ranking rule), ranking rules in the index's order, page/hitsPerPage
  (totalHits, totalPages) or offset/limit (estimatedTotalHits), both capped by
  pagination.maxTotalHits, facets (facetDistribution, facetStats), attributesToRetrieve,
  attributesToHighlight with highlightPreTag/PostTag (a prefix match highlights the
  typed part only, as Meilisearch does);
- tasks: every write answers 202 with a summarized task and is processed in order on a
  worker thread; GET /tasks/{uid}, GET /tasks?uids=&statuses=&types=&indexUids=;
- POST /swap-indexes (atomic, optional rename).

Not implemented (answered 501, never silently ignored): cropping, ranking scores,
distinct, vectors, geo filters, CONTAINS/STARTS WITH.

Faults a test can switch on (until reset()): go_down()/come_back() (connection refused,
same port, data kept), slow(seconds) (every answer delayed), fail_tasks(True) (tasks end
"failed"), hold_tasks(True) (tasks stay "enqueued").
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import re
import socket
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

if TYPE_CHECKING:
    from flask import Flask

DOCS = "https://docs.meilisearch.com/errors#"
VERSION = "1.12.0"
MAX_QUERY_WORDS = 10  # Meilisearch only considers the first ten words of a query
DEFAULT_RANKING = ["words", "typo", "proximity", "attribute", "sort", "exactness"]
MAX_PROXIMITY = 8
ARRAY_GAP = 8  # position gap between the values of an array attribute
_UID = re.compile(r"^[A-Za-z0-9_-]{1,400}$")
_DOC_ID = re.compile(r"^[A-Za-z0-9_-]{1,511}$")
_WORD = re.compile(r"\w+")


def _default_settings() -> dict[str, Any]:
    return {
        "displayedAttributes": ["*"],
        "searchableAttributes": ["*"],
        "filterableAttributes": [],
        "sortableAttributes": [],
        "rankingRules": list(DEFAULT_RANKING),
        "stopWords": [],
        "nonSeparatorTokens": [],
        "separatorTokens": [],
        "dictionary": [],
        "synonyms": {},
        "distinctAttribute": None,
        "proximityPrecision": "byWord",
        "typoTolerance": {
            "enabled": True,
            "minWordSizeForTypos": {"oneTypo": 5, "twoTypos": 9},
            "disableOnWords": [],
            "disableOnAttributes": [],
        },
        "faceting": {"maxValuesPerFacet": 100, "sortFacetValuesBy": {"*": "alpha"}},
        "pagination": {"maxTotalHits": 1000},
        "embedders": {},
        "searchCutoffMs": None,
        "localizedAttributes": None,
        "facetSearch": True,
        "prefixSearch": "indexingTime",
    }


_LIST_SETTINGS = {
    "displayedAttributes": "invalid_settings_displayed_attributes",
    "searchableAttributes": "invalid_settings_searchable_attributes",
    "filterableAttributes": "invalid_settings_filterable_attributes",
    "sortableAttributes": "invalid_settings_sortable_attributes",
    "rankingRules": "invalid_settings_ranking_rules",
    "stopWords": "invalid_settings_stop_words",
    "nonSeparatorTokens": "invalid_settings_non_separator_tokens",
    "separatorTokens": "invalid_settings_separator_tokens",
    "dictionary": "invalid_settings_dictionary",
}
_OBJECT_SETTINGS = {
    "typoTolerance": "invalid_settings_typo_tolerance",
    "faceting": "invalid_settings_faceting",
    "pagination": "invalid_settings_pagination",
    "synonyms": "invalid_settings_synonyms",
    "embedders": "invalid_settings_embedders",
}
_BUILTIN_RULES = {"words", "typo", "proximity", "attribute", "sort", "exactness"}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, kind: str = "invalid_request") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.kind = kind

    def body(self) -> dict[str, str]:
        return {
            "message": self.message,
            "code": self.code,
            "type": self.kind,
            "link": DOCS + self.code,
        }


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- Text ----------------------------------------------------------------------------------


def normalize(text: str) -> str:
    """Lowercase, accents removed (non-spacing marks dropped), as Meilisearch does."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


@dataclass(frozen=True)
class Token:
    norm: str
    start: int  # character offsets in the original string
    end: int
    position: int


def tokenize(text: str, first_position: int = 0) -> list[Token]:
    return [
        Token(normalize(m.group()), m.start(), m.end(), first_position + i)
        for i, m in enumerate(_WORD.finditer(text))
    ]


def osa_distance(a: str, b: str) -> int:
    """Optimal string alignment: insertions, deletions, substitutions, transpositions."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            row[j] = min(rows[i - 1][j] + 1, row[j - 1] + 1, rows[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[i - 2][j - 2] + 1)
        rows.append(row)
    return rows[len(a)][len(b)]


def _typos(word: str, candidate: str) -> int:
    """Typos between a query word and a word of a document; a wrong first letter counts
    as two (Meilisearch's typo rules)."""
    distance = osa_distance(word, candidate)
    if word and candidate and word[0] != candidate[0]:
        distance += 1
    return distance


@dataclass(frozen=True)
class QueryTerm:
    words: tuple[str, ...]
    phrase: bool = False
    negated: bool = False
    prefix: bool = False


def parse_q(q: str) -> list[QueryTerm]:
    """Meilisearch's query syntax: "phrases", a leading minus negates a word or a phrase,
    the last word is a prefix unless whitespace (or a closing quote) follows it."""
    terms: list[QueryTerm] = []
    i = 0
    while i < len(q):
        if q[i].isspace():
            i += 1
            continue
        negated = False
        if q[i] == "-" and i + 1 < len(q) and not q[i + 1].isspace():
            negated = True
            i += 1
        if q[i] == '"':
            end = q.find('"', i + 1)
            end = len(q) if end < 0 else end
            words = tuple(t.norm for t in tokenize(q[i + 1 : end]))
            i = end + 1
            if words:
                terms.append(QueryTerm(words, phrase=True, negated=negated))
            continue
        j = i
        while j < len(q) and not q[j].isspace() and q[j] != '"':
            j += 1
        words = tuple(t.norm for t in tokenize(q[i:j]))
        i = j
        if negated and words:
            terms.append(QueryTerm(words, phrase=len(words) > 1, negated=True))
        else:
            terms.extend(QueryTerm((w,)) for w in words)
    if terms and q and not q[-1].isspace() and q[-1] != '"':
        last = terms[-1]
        if not last.negated and not last.phrase:
            terms[-1] = QueryTerm(last.words, prefix=True)
    # Only the first ten words count.
    kept: list[QueryTerm] = []
    budget = MAX_QUERY_WORDS
    for term in terms:
        if term.negated:
            kept.append(term)
            continue
        if budget <= 0:
            continue
        if len(term.words) > budget:
            term = QueryTerm(term.words[:budget], phrase=term.phrase)
        budget -= len(term.words)
        kept.append(term)
    return kept


def _budget(word: str, typo: dict[str, Any]) -> int:
    if not typo.get("enabled", True):
        return 0
    sizes = typo.get("minWordSizeForTypos") or {}
    if len(word) >= int(sizes.get("twoTypos", 9)):
        return 2
    if len(word) >= int(sizes.get("oneTypo", 5)):
        return 1
    return 0


def match_word(word: str, token: str, prefix: bool, budget: int) -> tuple[int, int] | None:
    """(typos, matched characters of the token) when `token` matches the query word."""
    if token == word:
        return 0, len(token)
    if prefix and token.startswith(word):
        return 0, len(word)
    if budget <= 0:
        return None
    if not prefix:
        typos = _typos(word, token)
        return (typos, len(token)) if typos <= budget else None
    best: tuple[int, int] | None = None
    for size in range(max(1, len(word) - budget), min(len(token), len(word) + budget) + 1):
        typos = _typos(word, token[:size])
        if typos <= budget and (best is None or typos < best[0]):
            best = (typos, size)
    return best


# --- Filters -------------------------------------------------------------------------------


@dataclass
class _Lexeme:
    kind: str  # "(", ")", "[", "]", ",", "op", "word", "string", "end"
    text: str
    at: int


_KEYWORDS = {"AND", "OR", "NOT", "TO", "IN", "EXISTS", "IS", "NULL", "EMPTY"}
_UNSUPPORTED = {"CONTAINS", "STARTS", "_geoRadius", "_geoBoundingBox", "_geoPolygon"}
_OPS = ("!=", ">=", "<=", "=", ">", "<")
_BARE_STOP = set("()[],'\"=!<>")


class FilterSyntaxError(Exception):
    pass


def _lex(source: str) -> list[_Lexeme]:
    out: list[_Lexeme] = []
    i = 0
    while i < len(source):
        c = source[i]
        if c.isspace():
            i += 1
        elif c in "()[],":
            out.append(_Lexeme(c, c, i))
            i += 1
        elif any(source.startswith(op, i) for op in _OPS):
            op = next(op for op in _OPS if source.startswith(op, i))
            out.append(_Lexeme("op", op, i))
            i += len(op)
        elif c in "'\"":
            j = i + 1
            chars: list[str] = []
            while j < len(source) and source[j] != c:
                if source[j] == "\\" and j + 1 < len(source):
                    j += 1
                chars.append(source[j])
                j += 1
            if j >= len(source):
                raise FilterSyntaxError(
                    f"Expression `{source[i:]}` is missing the closing {c}."
                    f"\n{i + 1}:{len(source)} {source}"
                )
            out.append(_Lexeme("string", "".join(chars), i))
            i = j + 1
        else:
            j = i
            while j < len(source) and not source[j].isspace() and source[j] not in _BARE_STOP:
                j += 1
            if j == i:
                raise FilterSyntaxError(
                    f"Found unexpected characters at the end of the filter: `{source[i:]}`."
                    f"\n{i + 1}:{len(source)} {source}"
                )
            out.append(_Lexeme("word", source[i:j], i))
            i = j
    out.append(_Lexeme("end", "", len(source)))
    return out


Cond = Callable[[dict[str, Any]], bool]


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _values(doc: dict[str, Any], attribute: str) -> list[Any]:
    value: Any = doc
    for part in attribute.split("."):
        if not isinstance(value, dict) or part not in value:
            return []
        value = value[part]
    if isinstance(value, list):
        return [v for v in value if v is not None]
    return [] if value is None else [value]


def _equals(found: Any, raw: str) -> bool:
    if isinstance(found, bool):
        return str(found).lower() == raw.lower()
    if isinstance(found, int | float):
        number = _number(raw)
        return number is not None and float(found) == number
    if isinstance(found, str):
        return found.lower() == raw.lower()  # string equality is case-insensitive
    return False


def _compare(found: Any, op: str, raw: str) -> bool:
    number = _number(raw)
    if number is not None and isinstance(found, int | float) and not isinstance(found, bool):
        a: Any = float(found)
        b: Any = number
    elif number is None and isinstance(found, str):
        a, b = found.lower(), raw.lower()
    else:
        return False
    return {">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[op]


class _FilterParser:
    """Recursive descent over Meilisearch's filter grammar: OR binds looser than AND,
    NOT binds tightest; keywords are upper case; a value is a bare word or a quoted
    string."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lexemes = _lex(source)
        self.i = 0
        self.attributes: set[str] = set()

    def fail(self, message: str) -> FilterSyntaxError:
        at = self.peek().at
        return FilterSyntaxError(f"{message}\n{at + 1}:{len(self.source)} {self.source}")

    def peek(self, ahead: int = 0) -> _Lexeme:
        return self.lexemes[min(self.i + ahead, len(self.lexemes) - 1)]

    def keyword(self, word: str, ahead: int = 0) -> bool:
        lexeme = self.peek(ahead)
        return lexeme.kind == "word" and lexeme.text == word

    def take(self) -> _Lexeme:
        lexeme = self.peek()
        self.i += 1
        return lexeme

    def parse(self) -> Cond:
        if self.peek().kind == "end":
            return lambda doc: True
        cond = self.or_()
        if self.peek().kind != "end":
            raise self.fail(
                "Found unexpected characters at the end of the filter: "
                f"`{self.source[self.peek().at :]}`. You probably forgot an `OR` or an `AND` rule."
            )
        return cond

    def or_(self) -> Cond:
        parts = [self.and_()]
        while self.keyword("OR"):
            self.take()
            parts.append(self.and_())
        return parts[0] if len(parts) == 1 else (lambda doc: any(p(doc) for p in parts))

    def and_(self) -> Cond:
        parts = [self.not_()]
        while self.keyword("AND"):
            self.take()
            parts.append(self.not_())
        return parts[0] if len(parts) == 1 else (lambda doc: all(p(doc) for p in parts))

    def not_(self) -> Cond:
        if self.keyword("NOT"):
            self.take()
            inner = self.not_()
            return lambda doc: not inner(doc)
        return self.primary()

    def primary(self) -> Cond:
        if self.peek().kind == "(":
            self.take()
            inner = self.or_()
            if self.peek().kind != ")":
                raise self.fail("Expression is missing the closing `)`.")
            self.take()
            return inner
        return self.condition()

    def value(self) -> str:
        lexeme = self.peek()
        if lexeme.kind == "string" or (lexeme.kind == "word" and lexeme.text not in _KEYWORDS):
            self.take()
            return lexeme.text
        raise self.fail(
            "Was expecting a value but instead got "
            + (f"`{lexeme.text}`." if lexeme.text else "nothing.")
        )

    def condition(self) -> Cond:
        lexeme = self.peek()
        if lexeme.kind == "word" and lexeme.text in _UNSUPPORTED:
            raise NotImplementedError(f"the fake does not implement `{lexeme.text}`")
        if not (
            lexeme.kind == "string" or (lexeme.kind == "word" and lexeme.text not in _KEYWORDS)
        ):
            raise self.fail(
                "Was expecting an operation `=`, `!=`, `>=`, `>`, `<=`, `<`, `IN`, `NOT IN`, "
                "`TO`, `EXISTS`, `NOT EXISTS`, `IS NULL`, `IS NOT NULL`, `IS EMPTY`, "
                "`IS NOT EMPTY`, `_geoRadius`, or `_geoBoundingBox` at "
                f"`{self.source[lexeme.at :]}`."
            )
        attribute = self.value()
        self.attributes.add(attribute)
        nxt = self.peek()
        if nxt.kind == "op":
            op = self.take().text
            raw = self.value()
            if op == "=":
                return lambda doc: any(_equals(v, raw) for v in _values(doc, attribute))
            if op == "!=":
                return lambda doc: not any(_equals(v, raw) for v in _values(doc, attribute))
            return lambda doc: any(_compare(v, op, raw) for v in _values(doc, attribute))
        if self.keyword("EXISTS"):
            self.take()
            return lambda doc: _exists(doc, attribute)
        if self.keyword("NOT") and self.keyword("EXISTS", 1):
            self.take()
            self.take()
            return lambda doc: not _exists(doc, attribute)
        if self.keyword("IN") or (self.keyword("NOT") and self.keyword("IN", 1)):
            negated = self.keyword("NOT")
            if negated:
                self.take()
            self.take()
            options = self.array()
            return lambda doc: (
                negated != any(_equals(v, raw) for v in _values(doc, attribute) for raw in options)
            )
        if self.keyword("IS"):
            self.take()
            negated = False
            if self.keyword("NOT"):
                self.take()
                negated = True
            if self.keyword("NULL"):
                self.take()
                return lambda doc: negated != _is_null(doc, attribute)
            if self.keyword("EMPTY"):
                self.take()
                return lambda doc: negated != _is_empty(doc, attribute)
            raise self.fail("Was expecting `NULL` or `EMPTY` after `IS`.")
        if nxt.kind in ("string", "word") and nxt.text not in _KEYWORDS:
            low = self.value()
            if not self.keyword("TO"):
                raise self.fail("Was expecting `TO` between two values.")
            self.take()
            high = self.value()
            return lambda doc: any(
                _compare(v, ">=", low) and _compare(v, "<=", high) for v in _values(doc, attribute)
            )
        raise self.fail(
            "Was expecting an operation `=`, `!=`, `>=`, `>`, `<=`, `<`, `IN`, `NOT IN`, "
            "`TO`, `EXISTS`, `NOT EXISTS`, `IS NULL`, `IS NOT NULL`, `IS EMPTY`, "
            f"`IS NOT EMPTY`, `_geoRadius`, or `_geoBoundingBox` at `{self.source[lexeme.at :]}`."
        )

    def array(self) -> list[str]:
        if self.peek().kind != "[":
            raise self.fail("Expected `[` after `IN` keyword.")
        self.take()
        items: list[str] = []
        while self.peek().kind != "]":
            items.append(self.value())
            if self.peek().kind == ",":
                self.take()
            elif self.peek().kind != "]":
                raise self.fail("Expected matching `]` after the list of values.")
        self.take()
        return items


def _raw(doc: dict[str, Any], attribute: str) -> tuple[bool, Any]:
    value: Any = doc
    for part in attribute.split("."):
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


def _exists(doc: dict[str, Any], attribute: str) -> bool:
    return _raw(doc, attribute)[0]


def _is_null(doc: dict[str, Any], attribute: str) -> bool:
    present, value = _raw(doc, attribute)
    return present and value is None


def _is_empty(doc: dict[str, Any], attribute: str) -> bool:
    present, value = _raw(doc, attribute)
    return present and value in ("", [], {})


def compile_filter(expression: Any, filterable: list[str], code: str) -> Cond:
    """A filter (string, or array of strings and arrays of strings) as a predicate; 400
    `code` for bad syntax, a depth over two, or an attribute that is not filterable."""
    if expression is None or expression == "" or expression == []:
        return lambda doc: True
    try:
        if isinstance(expression, str):
            parser = _FilterParser(expression)
            test = parser.parse()
            attributes = parser.attributes
        elif isinstance(expression, list):
            ands: list[Cond] = []
            attributes = set()
            for item in expression:
                if isinstance(item, str):
                    parser = _FilterParser(item)
                    ands.append(parser.parse())
                    attributes |= parser.attributes
                elif isinstance(item, list):
                    ors: list[Cond] = []
                    for inner in item:
                        if not isinstance(inner, str):
                            raise FilterSyntaxError(
                                "Invalid value type at `.filter`: expected a string, but found "
                                f"{type(inner).__name__}: `{json.dumps(inner)}`. The filter array "
                                "can have a maximum depth of two."
                            )
                        parser = _FilterParser(inner)
                        ors.append(parser.parse())
                        attributes |= parser.attributes
                    ands.append(lambda doc, ors=ors: any(o(doc) for o in ors))
                else:
                    raise FilterSyntaxError(
                        f"Invalid value type at `.filter`: expected a string or an array, but "
                        f"found: `{json.dumps(item)}`."
                    )
            test = lambda doc: all(a(doc) for a in ands)  # noqa: E731
        else:
            raise FilterSyntaxError(
                f"Invalid syntax for the filter parameter: `expected String, Array, found: "
                f"{json.dumps(expression)}`."
            )
    except FilterSyntaxError as e:
        raise ApiError(400, code, str(e)) from None
    except NotImplementedError as e:
        raise ApiError(501, "fake_not_implemented", str(e)) from None
    for attribute in sorted(attributes):
        if attribute not in filterable and "*" not in filterable:
            available = ", ".join(f"`{a}`" for a in sorted(filterable))
            raise ApiError(
                400,
                code,
                f"Attribute `{attribute}` is not filterable. Available filterable attribute "
                f"patterns are: {available}.",
            )
    return test


# --- Indexes and tasks ---------------------------------------------------------------------


@dataclass
class Index:
    uid: str
    primary_key: str | None = None
    settings: dict[str, Any] = field(default_factory=_default_settings)
    docs: dict[str, dict[str, Any]] = field(default_factory=dict)  # insertion order kept
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)

    def describe(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "primaryKey": self.primary_key,
        }

    def public_settings(self) -> dict[str, Any]:
        out = json.loads(json.dumps(self.settings))
        # Attribute sets come back sorted, whatever order they were given in.
        out["filterableAttributes"] = sorted(out["filterableAttributes"])
        out["sortableAttributes"] = sorted(out["sortableAttributes"])
        return out


@dataclass
class Task:
    uid: int
    index_uid: str | None
    type: str
    apply: Callable[[], dict[str, Any] | None]
    details: dict[str, Any]
    status: str = "enqueued"
    error: dict[str, str] | None = None
    enqueued_at: str = field(default_factory=_now)
    started_at: str | None = None
    finished_at: str | None = None
    took: float | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "taskUid": self.uid,
            "indexUid": self.index_uid,
            "status": "enqueued",
            "type": self.type,
            "enqueuedAt": self.enqueued_at,
        }

    def full(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "batchUid": self.uid if self.started_at else None,
            "indexUid": self.index_uid,
            "status": self.status,
            "type": self.type,
            "canceledBy": None,
            "details": self.details,
            "error": self.error,
            "duration": None if self.took is None else f"PT{self.took:.6f}S",
            "enqueuedAt": self.enqueued_at,
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
        }


class MeiliServer:
    """The fake server. State lives across go_down()/come_back(), like a restart with a
    persistent database; reset() empties it."""

    def __init__(self, master_key: str | None = "test-master-key") -> None:
        self.master_key = master_key
        self.lock = threading.RLock()
        self.indexes: dict[str, Index] = {}
        self.tasks: dict[int, Task] = {}
        self.requests: list[tuple[str, str]] = []
        self.calls: list[dict[str, Any]] = []  # method, path, query, body: what was sent
        self._next_uid = 0
        self._queue: list[int] = []
        self._wake = threading.Condition(self.lock)
        self._delay = 0.0
        self._fail_tasks = False
        self._hold_tasks = False
        self._running = False
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._worker: threading.Thread | None = None
        self.port = 0

    # --- Lifecycle and faults -------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._listen()
        self._running = True
        self._worker = threading.Thread(target=self._work, daemon=True, name="fake-meili-tasks")
        self._worker.start()

    def stop(self) -> None:
        self._close()
        with self.lock:
            self._running = False
            self._wake.notify_all()
        if self._worker is not None:
            self._worker.join(timeout=5)

    def go_down(self) -> None:
        """Stop listening: connections are refused until come_back()."""
        self._close()

    def come_back(self) -> None:
        self._listen()

    def slow(self, seconds: float) -> None:
        self._delay = float(seconds)

    def fail_tasks(self, on: bool) -> None:
        with self.lock:
            self._fail_tasks = on

    def hold_tasks(self, on: bool) -> None:
        """Leave tasks enqueued (an indexer that is far behind) until switched off."""
        with self.lock:
            self._hold_tasks = on
            self._wake.notify_all()

    def reset(self) -> None:
        with self.lock:
            self.indexes.clear()
            self.tasks.clear()
            self._queue.clear()
            self.requests.clear()
            self.calls.clear()
            self._delay = 0.0
            self._fail_tasks = False
            self._hold_tasks = False
        if self._server is None and self._running:
            self.come_back()

    def wait_idle(self, timeout: float = 5.0) -> None:
        """Until every enqueued task is processed (tests that set state up directly)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if not self._queue:
                    return
            time.sleep(0.01)
        raise TimeoutError("the fake Meilisearch still has tasks enqueued")

    def _listen(self) -> None:
        if self._server is not None:
            return
        server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler_for(self))
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()

    def _close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    # --- Tasks ----------------------------------------------------------------------------

    def enqueue(
        self,
        index_uid: str | None,
        kind: str,
        apply: Callable[[], dict[str, Any] | None],
        details: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        with self.lock:
            self._next_uid += 1
            task = Task(self._next_uid, index_uid, kind, apply, dict(details or {}))
            self.tasks[task.uid] = task
            self._queue.append(task.uid)
            self._wake.notify_all()
            return task.summary()

    def _work(self) -> None:
        while True:
            with self.lock:
                while self._running and (not self._queue or self._hold_tasks):
                    self._wake.wait(timeout=0.5)
                if not self._running:
                    return
                task = self.tasks.get(self._queue[0])
                if task is None:  # reset() dropped it
                    self._queue.pop(0)
                    continue
                task.status = "processing"
                task.started_at = _now()
                began = time.monotonic()
                try:
                    if self._fail_tasks:
                        raise ApiError(
                            500, "internal", "An internal error has occurred.", "internal"
                        )
                    more = task.apply()
                    if more:
                        task.details.update(more)
                    task.status = "succeeded"
                except ApiError as e:
                    task.status = "failed"
                    task.error = e.body()
                except Exception as e:  # a bug in the fake: fail the task, keep working
                    task.status = "failed"
                    task.error = ApiError(500, "internal", repr(e), "internal").body()
                task.took = time.monotonic() - began
                task.finished_at = _now()
                if self._queue and self._queue[0] == task.uid:
                    self._queue.pop(0)

    # --- Routing --------------------------------------------------------------------------

    def handle(
        self, method: str, path: str, query: dict[str, str], headers: Any, raw: bytes
    ) -> tuple[int, Any]:
        if self._delay:
            time.sleep(self._delay)
        with self.lock:
            self.requests.append((method, path))
        parts = [unquote(p) for p in path.strip("/").split("/") if p]
        if parts == ["health"] and method == "GET":
            return 200, {"status": "available"}
        self._authorize(headers)
        body = self._body(method, headers, raw)
        with self.lock:
            self.calls.append({"method": method, "path": path, "query": query, "body": body})
        with self.lock:
            return self._route(method, parts, query, body)

    def _authorize(self, headers: Any) -> None:
        if self.master_key is None:
            return
        header = headers.get("Authorization")
        if not header:
            raise ApiError(
                401,
                "missing_authorization_header",
                "The Authorization header is missing. It must use the bearer authorization method.",
                "auth",
            )
        scheme, _, key = header.partition(" ")
        if scheme != "Bearer" or key.strip() != self.master_key:
            raise ApiError(403, "invalid_api_key", "The provided API key is invalid.", "auth")

    @staticmethod
    def _body(method: str, headers: Any, raw: bytes) -> Any:
        if method not in ("POST", "PUT", "PATCH"):
            return None
        content_type = headers.get("Content-Type")
        if not raw:
            return None
        if not content_type:
            raise ApiError(
                415,
                "missing_content_type",
                "A Content-Type header is missing. Accepted values for the Content-Type header "
                'are: "application/json"',
            )
        if not content_type.split(";")[0].strip() == "application/json":
            raise ApiError(
                415,
                "invalid_content_type",
                f"The Content-Type `{content_type}` is invalid. Accepted values for the "
                'Content-Type header are: "application/json"',
            )
        try:
            return json.loads(raw)
        except ValueError as e:
            raise ApiError(
                400, "malformed_payload", f"The json payload provided is malformed. `{e}`."
            ) from None

    def _route(
        self, method: str, parts: list[str], query: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        match (method, parts):
            case ("GET", ["version"]):
                return 200, {"commitSha": "fake", "commitDate": "2024-01-01", "pkgVersion": VERSION}
            case ("GET", ["indexes"]):
                return 200, self._list_indexes(query)
            case ("POST", ["indexes"]):
                return 202, self._create_index(body)
            case ("GET", ["indexes", uid]):
                return 200, self._index(uid).describe()
            case ("DELETE", ["indexes", uid]):
                return 202, self._delete_index(uid)
            case ("GET", ["indexes", uid, "stats"]):
                index = self._index(uid)
                return 200, {
                    "numberOfDocuments": len(index.docs),
                    "isIndexing": bool(self._queue),
                    "fieldDistribution": {},
                }
            case ("GET", ["indexes", uid, "settings"]):
                return 200, self._index(uid).public_settings()
            case ("PATCH", ["indexes", uid, "settings"]):
                return 202, self._update_settings(uid, body)
            case ("POST", ["indexes", uid, "documents"]):
                return 202, self._add_documents(uid, body, query, replace=True)
            case ("PUT", ["indexes", uid, "documents"]):
                return 202, self._add_documents(uid, body, query, replace=False)
            case ("GET", ["indexes", uid, "documents"]):
                fetch = {k: v for k, v in query.items()}
                if "limit" in fetch:
                    fetch["limit"] = _int_param(fetch["limit"], "invalid_document_limit")
                if "offset" in fetch:
                    fetch["offset"] = _int_param(fetch["offset"], "invalid_document_offset")
                if "fields" in fetch:
                    fetch["fields"] = [f for f in fetch["fields"].split(",") if f]
                return 200, self._fetch(uid, fetch)
            case ("POST", ["indexes", uid, "documents", "fetch"]):
                return 200, self._fetch(uid, body or {})
            case ("POST", ["indexes", uid, "documents", "delete"]):
                return 202, self._delete_by_filter(uid, body)
            case ("POST", ["indexes", uid, "documents", "delete-batch"]):
                return 202, self._delete_ids(uid, body)
            case ("DELETE", ["indexes", uid, "documents"]):
                return 202, self._delete_all(uid)
            case ("GET", ["indexes", uid, "documents", doc_id]):
                return 200, self._get_document(uid, doc_id, query)
            case ("DELETE", ["indexes", uid, "documents", doc_id]):
                return 202, self._delete_ids(uid, [doc_id])
            case ("POST", ["indexes", uid, "search"]):
                return 200, self.search(uid, body or {})
            case ("GET", ["tasks"]):
                return 200, self._list_tasks(query)
            case ("GET", ["tasks", task_uid]):
                task = self.tasks.get(int(task_uid)) if task_uid.isdigit() else None
                if task is None:
                    raise ApiError(404, "task_not_found", f"Task `{task_uid}` not found.")
                return 200, task.full()
            case ("POST", ["swap-indexes"]):
                return 202, self._swap(body)
        if parts and parts[0] in ("indexes", "tasks", "swap-indexes", "version", "health"):
            raise ApiError(
                501,
                "fake_not_implemented",
                f"the fake does not implement {method} /{'/'.join(parts)}",
            )
        raise ApiError(404, "not_found", "Not found.")

    # --- Indexes --------------------------------------------------------------------------

    def _index(self, uid: str) -> Index:
        index = self.indexes.get(uid)
        if index is None:
            raise ApiError(404, "index_not_found", f"Index `{uid}` not found.")
        return index

    @staticmethod
    def _check_uid(uid: Any) -> str:
        if not isinstance(uid, str) or not _UID.match(uid):
            raise ApiError(
                400,
                "invalid_index_uid",
                f"`{uid}` is not a valid index uid. Index uid can be an integer or a string "
                "containing only alphanumeric characters, hyphens (-) and underscores (_), and "
                "can not be more than 512 bytes.",
            )
        return uid

    def _list_indexes(self, query: dict[str, str]) -> dict[str, Any]:
        offset = _int_param(query.get("offset", "0"), "invalid_index_offset")
        limit = _int_param(query.get("limit", "20"), "invalid_index_limit")
        every = [self.indexes[k].describe() for k in sorted(self.indexes)]
        return {
            "results": every[offset : offset + limit],
            "offset": offset,
            "limit": limit,
            "total": len(every),
        }

    def _create_index(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or "uid" not in body:
            raise ApiError(400, "missing_index_uid", "Missing field `uid`")
        uid = self._check_uid(body["uid"])
        primary_key = body.get("primaryKey")

        def apply() -> dict[str, Any]:
            if uid in self.indexes:
                raise ApiError(409, "index_already_exists", f"Index `{uid}` already exists.")
            self.indexes[uid] = Index(uid, primary_key)
            return {"primaryKey": primary_key}

        return self.enqueue(uid, "indexCreation", apply, {"primaryKey": primary_key})

    def _delete_index(self, uid: str) -> dict[str, Any]:
        def apply() -> dict[str, Any]:
            index = self._index(uid)
            del self.indexes[uid]
            return {"deletedDocuments": len(index.docs)}

        return self.enqueue(uid, "indexDeletion", apply, {"deletedDocuments": None})

    def _ensure_index(self, uid: str) -> Index:
        """Writes create a missing index, as Meilisearch does."""
        if uid not in self.indexes:
            self.indexes[uid] = Index(uid)
        return self.indexes[uid]

    def _update_settings(self, uid: str, body: Any) -> dict[str, Any]:
        self._check_uid(uid)
        if not isinstance(body, dict):
            raise ApiError(400, "bad_request", "Invalid value type: expected an object")
        defaults = _default_settings()
        for key, value in body.items():
            if key not in defaults:
                raise ApiError(
                    400,
                    "bad_request",
                    f"Unknown field `{key}`: expected one of "
                    + ", ".join(f"`{k}`" for k in defaults),
                )
            if value is None:
                continue
            if key in _LIST_SETTINGS and (
                not isinstance(value, list) or not all(isinstance(v, str) for v in value)
            ):
                raise ApiError(
                    400,
                    _LIST_SETTINGS[key],
                    f"Invalid value type at `.{key}`: expected an array of strings",
                )
            if key in _OBJECT_SETTINGS and not isinstance(value, dict):
                raise ApiError(
                    400,
                    _OBJECT_SETTINGS[key],
                    f"Invalid value type at `.{key}`: expected an object",
                )
            if key == "rankingRules":
                for rule in value:
                    if rule not in _BUILTIN_RULES and not re.match(r"^[\w.]+:(asc|desc)$", rule):
                        raise ApiError(
                            400,
                            "invalid_settings_ranking_rules",
                            f"Invalid value at `.rankingRules[{value.index(rule)}]`: `{rule}` "
                            "ranking rule is invalid.",
                        )

        def apply() -> None:
            index = self._ensure_index(uid)
            for key, value in body.items():
                if value is None:
                    index.settings[key] = defaults[key]
                elif key in ("typoTolerance", "faceting", "pagination"):
                    index.settings[key] = {**index.settings[key], **value}
                else:
                    index.settings[key] = value
            index.updated_at = _now()

        return self.enqueue(uid, "settingsUpdate", apply, dict(body))

    # --- Documents ------------------------------------------------------------------------

    def _add_documents(
        self, uid: str, body: Any, query: dict[str, str], *, replace: bool
    ) -> dict[str, Any]:
        self._check_uid(uid)
        if body is None:
            raise ApiError(400, "missing_payload", "A json payload is missing.")
        docs = [body] if isinstance(body, dict) else body
        if not isinstance(docs, list) or not all(isinstance(d, dict) for d in docs):
            raise ApiError(
                400,
                "malformed_payload",
                "The json payload provided is malformed. `expected an array of objects`.",
            )
        asked_key = query.get("primaryKey")

        def apply() -> dict[str, Any]:
            index = self._ensure_index(uid)
            key = index.primary_key
            if asked_key and key and asked_key != key:
                raise ApiError(
                    400,
                    "index_primary_key_already_exists",
                    f"Index `{uid}`: Index already has a primary key: `{key}`.",
                )
            if key is None:
                key = asked_key or _infer_primary_key(uid, docs)
            staged: list[tuple[str, dict[str, Any]]] = []
            for doc in docs:
                if key not in doc:
                    raise ApiError(
                        400,
                        "missing_document_id",
                        f"Document doesn't have a `{key}` attribute: `{json.dumps(doc)[:200]}`.",
                    )
                doc_id = doc[key]
                if isinstance(doc_id, bool) or not (
                    (isinstance(doc_id, int) and doc_id >= 0)
                    or (isinstance(doc_id, str) and _DOC_ID.match(doc_id))
                ):
                    raise ApiError(
                        400,
                        "invalid_document_id",
                        f"Document identifier `{json.dumps(doc_id)}` is invalid. A document "
                        "identifier can be of type integer or string, only composed of "
                        "alphanumeric characters (a-z A-Z 0-9), hyphens (-) and underscores (_), "
                        "and can not be more than 511 bytes.",
                    )
                staged.append((str(doc_id), doc))
            index.primary_key = key
            for doc_id, doc in staged:
                if replace or doc_id not in index.docs:
                    index.docs[doc_id] = json.loads(json.dumps(doc))
                else:
                    index.docs[doc_id] = {**index.docs[doc_id], **json.loads(json.dumps(doc))}
            index.updated_at = _now()
            return {"indexedDocuments": len(staged)}

        return self.enqueue(
            uid,
            "documentAdditionOrUpdate",
            apply,
            {"receivedDocuments": len(docs), "indexedDocuments": None},
        )

    def _get_document(self, uid: str, doc_id: str, query: dict[str, str]) -> dict[str, Any]:
        index = self._index(uid)
        doc = index.docs.get(doc_id)
        if doc is None:
            raise ApiError(404, "document_not_found", f"Document `{doc_id}` not found.")
        fields = [f for f in query.get("fields", "").split(",") if f]
        return _pick(doc, fields or None, index)

    def _fetch(self, uid: str, params: Any) -> dict[str, Any]:
        if not isinstance(params, dict):
            raise ApiError(400, "bad_request", "Invalid value type: expected an object")
        allowed = {"offset", "limit", "fields", "filter", "retrieveVectors", "ids"}
        for key in params:
            if key not in allowed:
                raise ApiError(
                    400,
                    "bad_request",
                    f"Unknown field `{key}`: expected one of "
                    + ", ".join(f"`{k}`" for k in sorted(allowed)),
                )
        index = self._index(uid)
        offset = params.get("offset", 0)
        limit = params.get("limit", 20)
        if not isinstance(offset, int) or offset < 0:
            raise ApiError(
                400,
                "invalid_document_offset",
                "Invalid value type at `.offset`: expected a positive integer",
            )
        if not isinstance(limit, int) or limit < 0:
            raise ApiError(
                400,
                "invalid_document_limit",
                "Invalid value type at `.limit`: expected a positive integer",
            )
        fields = params.get("fields")
        if fields is not None and (
            not isinstance(fields, list) or not all(isinstance(f, str) for f in fields)
        ):
            raise ApiError(
                400,
                "invalid_document_fields",
                "Invalid value type at `.fields`: expected an array of strings",
            )
        test = compile_filter(
            params.get("filter"), index.settings["filterableAttributes"], "invalid_document_filter"
        )
        ids = params.get("ids")
        every = [
            d
            for k, d in index.docs.items()
            if test(d) and (ids is None or k in {str(i) for i in ids})
        ]
        page = every[offset : offset + limit]
        return {
            "results": [_pick(d, fields, index) for d in page],
            "offset": offset,
            "limit": limit,
            "total": len(every),
        }

    def _delete_by_filter(self, uid: str, body: Any) -> dict[str, Any]:
        self._check_uid(uid)
        if not isinstance(body, dict) or body.get("filter") in (None, "", []):
            raise ApiError(400, "missing_document_filter", "Missing field `filter`")
        expression = body["filter"]
        # Syntax is checked on arrival, whether the attributes are filterable when the task
        # runs (the settings may change in between).
        compile_filter(expression, ["*"], "invalid_document_filter")

        def apply() -> dict[str, Any]:
            index = self._index(uid)
            test = compile_filter(
                expression, index.settings["filterableAttributes"], "invalid_document_filter"
            )
            gone = [k for k, d in index.docs.items() if test(d)]
            for k in gone:
                del index.docs[k]
            return {"deletedDocuments": len(gone)}

        return self.enqueue(
            uid,
            "documentDeletion",
            apply,
            {"providedIds": 0, "deletedDocuments": None, "originalFilter": json.dumps(expression)},
        )

    def _delete_ids(self, uid: str, body: Any) -> dict[str, Any]:
        self._check_uid(uid)
        if not isinstance(body, list):
            raise ApiError(400, "bad_request", "Invalid value type: expected an array")
        ids = [str(i) for i in body]

        def apply() -> dict[str, Any]:
            index = self._index(uid)
            gone = [i for i in ids if index.docs.pop(i, None) is not None]
            return {"deletedDocuments": len(gone)}

        return self.enqueue(
            uid,
            "documentDeletion",
            apply,
            {"providedIds": len(ids), "deletedDocuments": None, "originalFilter": None},
        )

    def _delete_all(self, uid: str) -> dict[str, Any]:
        def apply() -> dict[str, Any]:
            index = self._index(uid)
            count = len(index.docs)
            index.docs.clear()
            return {"deletedDocuments": count}

        return self.enqueue(uid, "documentDeletion", apply, {"deletedDocuments": None})

    # --- Tasks and swaps ------------------------------------------------------------------

    def _list_tasks(self, query: dict[str, str]) -> dict[str, Any]:
        def listed(name: str) -> set[str] | None:
            value = query.get(name)
            return None if value in (None, "", "*") else set(value.split(","))

        uids = listed("uids")
        statuses = listed("statuses")
        types = listed("types")
        index_uids = listed("indexUids")
        limit = _int_param(query.get("limit", "20"), "invalid_task_limit")
        start = _int_param(query["from"], "invalid_task_from") if "from" in query else None
        chosen = [
            t
            for t in sorted(self.tasks.values(), key=lambda t: -t.uid)
            if (uids is None or str(t.uid) in uids)
            and (statuses is None or t.status in statuses)
            and (types is None or t.type in types)
            and (index_uids is None or (t.index_uid or "") in index_uids)
        ]
        total = len(chosen)
        if start is not None:
            chosen = [t for t in chosen if t.uid <= start]
        page = chosen[:limit]
        following = chosen[limit] if len(chosen) > limit else None
        return {
            "results": [t.full() for t in page],
            "total": total,
            "limit": limit,
            "from": page[0].uid if page else None,
            "next": following.uid if following else None,
        }

    def _swap(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, list):
            raise ApiError(400, "bad_request", "Invalid value type: expected an array")
        seen: set[str] = set()
        swaps: list[tuple[str, str, bool]] = []
        for i, item in enumerate(body):
            pair = item.get("indexes") if isinstance(item, dict) else None
            if not isinstance(pair, list) or len(pair) != 2:
                raise ApiError(
                    400,
                    "invalid_swap_indexes",
                    f"Invalid value at `[{i}].indexes`: two indexes must be given for each swap.",
                )
            a, b = (self._check_uid(x) for x in pair)
            for uid in (a, b):
                if uid in seen:
                    raise ApiError(
                        400,
                        "invalid_swap_duplicate_index_found",
                        f"Indexes must be declared only once during a swap. `{uid}` was "
                        "specified several times.",
                    )
                seen.add(uid)
            swaps.append((a, b, bool(item.get("rename", False))))

        def apply() -> None:
            missing = sorted(
                uid
                for a, b, rename in swaps
                for uid in ((a,) if rename else (a, b))
                if uid not in self.indexes
            )
            if missing:
                raise ApiError(
                    404,
                    "index_not_found",
                    f"Indexes {', '.join(f'`{m}`' for m in missing)} not found.",
                )
            for a, b, rename in swaps:
                if rename:
                    if b in self.indexes:
                        raise ApiError(409, "index_already_exists", f"Index `{b}` already exists.")
                    index = self.indexes.pop(a)
                    index.uid = b
                    self.indexes[b] = index
                else:
                    first, second = self.indexes[a], self.indexes[b]
                    first.uid, second.uid = b, a
                    self.indexes[a], self.indexes[b] = second, first

        details = {"swaps": [{"indexes": [a, b], "rename": r} for a, b, r in swaps]}
        return self.enqueue(None, "indexSwap", apply, details)

    # --- Search ---------------------------------------------------------------------------

    _SEARCH_PARAMS = {
        "q",
        "offset",
        "limit",
        "page",
        "hitsPerPage",
        "filter",
        "facets",
        "attributesToRetrieve",
        "attributesToHighlight",
        "highlightPreTag",
        "highlightPostTag",
        "sort",
        "matchingStrategy",
        "attributesToSearchOn",
        "showMatchesPosition",
    }
    _NOT_IMPLEMENTED = {
        "attributesToCrop",
        "cropLength",
        "cropMarker",
        "showRankingScore",
        "showRankingScoreDetails",
        "rankingScoreThreshold",
        "distinct",
        "hybrid",
        "vector",
        "retrieveVectors",
        "locales",
    }

    def search(self, uid: str, params: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(params, dict):
            raise ApiError(400, "bad_request", "Invalid value type: expected an object")
        for key in params:
            if key in self._NOT_IMPLEMENTED:
                raise ApiError(501, "fake_not_implemented", f"the fake does not implement `{key}`")
            if key not in self._SEARCH_PARAMS:
                raise ApiError(
                    400,
                    "bad_request",
                    f"Unknown field `{key}`: expected one of "
                    + ", ".join(
                        f"`{k}`" for k in sorted(self._SEARCH_PARAMS | self._NOT_IMPLEMENTED)
                    ),
                )
        began = time.monotonic()
        index = self._index(uid)
        settings = index.settings
        q = params.get("q") or ""
        if not isinstance(q, str):
            raise ApiError(400, "invalid_search_q", "Invalid value type at `.q`: expected a string")
        strategy = params.get("matchingStrategy", "last")
        if strategy not in ("last", "all", "frequency"):
            raise ApiError(
                400,
                "invalid_search_matching_strategy",
                f"Unknown value `{strategy}` at `.matchingStrategy`: expected one of `last`, "
                "`all`, `frequency`",
            )
        paged = "page" in params or "hitsPerPage" in params
        page = _positive(params.get("page", 1), "invalid_search_page", "page")
        per_page = _positive(
            params.get("hitsPerPage", 20), "invalid_search_hits_per_page", "hitsPerPage"
        )
        offset = _positive(params.get("offset", 0), "invalid_search_offset", "offset")
        limit = _positive(params.get("limit", 20), "invalid_search_limit", "limit")
        sort = self._sort(params.get("sort"), settings)
        test = compile_filter(
            params.get("filter"), settings["filterableAttributes"], "invalid_search_filter"
        )
        searchable = settings["searchableAttributes"]
        on = params.get("attributesToSearchOn")
        if on is not None:
            if not isinstance(on, list) or any(
                a not in searchable and "*" not in searchable for a in on
            ):
                raise ApiError(
                    400, "invalid_search_attributes_to_search_on", "Attribute is not searchable."
                )
            searchable = on

        terms = parse_q(q)
        positive = [t for t in terms if not t.negated]
        negative = [t for t in terms if t.negated]
        typo = settings["typoTolerance"]
        matched: list[tuple[dict[str, Any], _Score | None]] = []
        for doc in index.docs.values():
            if not test(doc):
                continue
            fields = _searchable_tokens(doc, searchable)
            if any(_term_present(t, fields) for t in negative):
                continue
            if not positive:
                matched.append((doc, None))
                continue
            score = _score(positive, fields, typo, strategy)
            if score is not None:
                matched.append((doc, score))
        ordered = _rank(matched, settings["rankingRules"], sort, bool(positive))
        every = ordered  # facets count every match, past maxTotalHits too
        ordered = ordered[: int(settings["pagination"]["maxTotalHits"])]

        answer: dict[str, Any] = {}
        if paged:
            total = len(ordered)
            chosen = ordered[(page - 1) * per_page : page * per_page] if page and per_page else []
            answer.update(
                hitsPerPage=per_page,
                page=page,
                totalPages=math.ceil(total / per_page) if per_page else 0,
                totalHits=total,
            )
        else:
            chosen = ordered[offset : offset + limit]
            answer.update(limit=limit, offset=offset, estimatedTotalHits=len(ordered))
        hits = [self._hit(doc, params, positive, index) for doc in chosen]
        if params.get("facets") is not None:
            answer.update(self._facets(params["facets"], every, settings))
        return {
            "hits": hits,
            "query": q,
            "processingTimeMs": int((time.monotonic() - began) * 1000),
            **answer,
        }

    @staticmethod
    def _sort(sort: Any, settings: dict[str, Any]) -> list[tuple[str, bool]]:
        if sort is None:
            return []
        if isinstance(sort, str):
            sort = [s.strip() for s in sort.split(",") if s.strip()]
        if not isinstance(sort, list):
            raise ApiError(
                400, "invalid_search_sort", "Invalid value type at `.sort`: expected an array"
            )
        out: list[tuple[str, bool]] = []
        for item in sort:
            attribute, _, direction = str(item).rpartition(":")
            if not attribute or direction not in ("asc", "desc"):
                raise ApiError(
                    400,
                    "invalid_search_sort",
                    "Invalid syntax for the sort parameter: expected expression ending by "
                    f"`:asc` or `:desc`, found `{item}`.",
                )
            if attribute not in settings["sortableAttributes"]:
                available = ", ".join(f"`{a}`" for a in sorted(settings["sortableAttributes"]))
                raise ApiError(
                    400,
                    "invalid_search_sort",
                    f"Attribute `{attribute}` is not sortable. "
                    + (
                        f"Available sortable attributes are: {available}."
                        if available
                        else "This index does not have configured sortable attributes."
                    ),
                )
            out.append((attribute, direction == "desc"))
        if out and "sort" not in settings["rankingRules"]:
            raise ApiError(
                400,
                "invalid_search_sort",
                "You must specify where `sort` is listed in the rankingRules setting to use the "
                "sort parameter at search time.",
            )
        return out

    @staticmethod
    def _hit(
        doc: dict[str, Any], params: dict[str, Any], positive: list[QueryTerm], index: Index
    ) -> dict[str, Any]:
        retrieve = params.get("attributesToRetrieve") or ["*"]
        displayed = index.settings["displayedAttributes"]
        shown = {
            k: v
            for k, v in doc.items()
            if ("*" in retrieve or k in retrieve) and ("*" in displayed or k in displayed)
        }
        out = json.loads(json.dumps(shown))
        highlight = params.get("attributesToHighlight")
        if highlight:
            pre = params.get("highlightPreTag", "<em>") or ""
            post = params.get("highlightPostTag", "</em>") or ""
            typo = index.settings["typoTolerance"]
            formatted: dict[str, Any] = {}
            for key, value in shown.items():
                if "*" in highlight or key in highlight:
                    formatted[key] = _highlight(value, positive, typo, pre, post)
                else:
                    formatted[key] = _stringify(value)
            out["_formatted"] = formatted
        return out

    @staticmethod
    def _facets(names: Any, docs: list[dict[str, Any]], settings: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(names, list):
            raise ApiError(
                400, "invalid_search_facets", "Invalid value type at `.facets`: expected an array"
            )
        filterable = settings["filterableAttributes"]
        wanted = (
            filterable
            if "*" in names
            else [n for n in names if n in filterable or "*" in filterable]
        )
        cap = int(settings["faceting"]["maxValuesPerFacet"])
        distribution: dict[str, dict[str, int]] = {}
        stats: dict[str, dict[str, float]] = {}
        for name in wanted:
            counts: dict[str, int] = {}
            spelling: dict[str, str] = {}
            numbers: list[float] = []
            for doc in docs:
                seen: set[str] = set()
                for value in _values(doc, name):
                    if isinstance(value, int | float) and not isinstance(value, bool):
                        numbers.append(float(value))
                        key = _stringify(value)
                    else:
                        key = str(value)
                    norm = key.lower()
                    spelling.setdefault(norm, key)
                    if norm not in seen:
                        seen.add(norm)
                        counts[norm] = counts.get(norm, 0) + 1
            distribution[name] = {spelling[k]: counts[k] for k in sorted(counts)[:cap]}
            if numbers:
                stats[name] = {"min": min(numbers), "max": max(numbers)}
        return {"facetDistribution": distribution, "facetStats": stats}


# --- Search helpers ------------------------------------------------------------------------


@dataclass
class _Score:
    words: int  # query terms matched (in query order, for "last")
    typos: int
    proximity: int
    attribute: tuple[int, int]  # (attribute rank, position) of the first match
    exact: int


_Fields = list[tuple[int, list[Token]]]  # (attribute rank, tokens)


def _searchable_tokens(doc: dict[str, Any], searchable: list[str]) -> _Fields:
    names = list(doc) if "*" in searchable else [a for a in searchable if a in doc]
    out: _Fields = []
    for rank, name in enumerate(names):
        value = doc.get(name)
        tokens: list[Token] = []
        position = 0
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str | int | float) and not isinstance(item, bool):
                found = tokenize(_stringify(item), position)
                tokens.extend(found)
                position += len(found) + ARRAY_GAP
        out.append((rank, tokens))
    return out


def _term_present(term: QueryTerm, fields: _Fields) -> bool:
    """Exact presence (negations do not tolerate typos)."""
    for _rank, tokens in fields:
        norms = [t.norm for t in tokens]
        size = len(term.words)
        for i in range(len(norms) - size + 1):
            if tuple(norms[i : i + size]) == term.words:
                return True
    return False


def _occurrences(
    term: QueryTerm, fields: _Fields, typo: dict[str, Any]
) -> list[tuple[int, int, int, bool]]:
    """(attribute rank, position, typos, exact) for each place the term matches."""
    found: list[tuple[int, int, int, bool]] = []
    for rank, tokens in fields:
        if term.phrase:
            norms = [t.norm for t in tokens]
            size = len(term.words)
            for i in range(len(norms) - size + 1):
                if tuple(norms[i : i + size]) == term.words:
                    found.append((rank, tokens[i].position, 0, True))
            continue
        word = term.words[0]
        budget = _budget(word, typo)
        for token in tokens:
            hit = match_word(word, token.norm, term.prefix, budget)
            if hit is not None:
                typos, size = hit
                found.append((rank, token.position, typos, typos == 0 and size == len(token.norm)))
    return found


def _score(
    terms: list[QueryTerm], fields: _Fields, typo: dict[str, Any], strategy: str
) -> _Score | None:
    places = [_occurrences(t, fields, typo) for t in terms]
    if strategy == "all":
        if not all(places):
            return None
        count = len(terms)
    else:
        count = 0
        while count < len(terms) and places[count]:
            count += 1
        if count == 0:
            return None
    used = places[:count]
    proximity = 0
    for before, after in itertools.pairwise(used):
        best = MAX_PROXIMITY
        for rank_a, pos_a, _t, _e in before:
            for rank_b, pos_b, _t2, _e2 in after:
                if rank_a == rank_b:
                    distance = pos_b - pos_a if pos_b > pos_a else pos_a - pos_b + 1
                    best = min(best, distance)
        proximity += best
    first = min((rank, pos) for found in used for rank, pos, _t, _e in found)
    return _Score(
        words=count,
        typos=sum(min(t for _r, _p, t, _e in found) for found in used),
        proximity=proximity,
        attribute=first,
        exact=sum(1 for found in used if any(e for _r, _p, _t, e in found)),
    )


def _stable_sort(
    items: list[tuple[dict[str, Any], _Score | None]],
    value: Callable[[tuple[dict[str, Any], _Score | None]], Any],
    descending: bool,
) -> list[tuple[dict[str, Any], _Score | None]]:
    """Sort by a value, missing values (None) last whatever the direction."""
    present = [i for i in items if value(i) is not None]
    missing = [i for i in items if value(i) is None]
    present.sort(key=value, reverse=descending)
    return present + missing


def _sort_value(doc: dict[str, Any], attribute: str) -> Any:
    values = _values(doc, attribute)
    if not values:
        return None
    value = values[0]
    # Numbers before strings, as Meilisearch sorts mixed types.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, str(value))


def _rank(
    items: list[tuple[dict[str, Any], _Score | None]],
    rules: list[str],
    sort: list[tuple[str, bool]],
    has_query: bool,
) -> list[dict[str, Any]]:
    """Apply the ranking rules as successive tie-breakers (a stable sort per rule, from the
    last rule to the first). Without words in the query only sort and custom rules act."""
    criteria: list[tuple[Callable[[Any], Any], bool]] = []
    for rule in rules:
        if rule == "sort":
            for attribute, descending in sort:
                criteria.append(((lambda i, a=attribute: _sort_value(i[0], a)), descending))
        elif rule in _BUILTIN_RULES:
            if not has_query:
                continue
            if rule == "words":
                criteria.append(((lambda i: i[1].words), True))
            elif rule == "typo":
                criteria.append(((lambda i: i[1].typos), False))
            elif rule == "proximity":
                criteria.append(((lambda i: i[1].proximity), False))
            elif rule == "attribute":
                criteria.append(((lambda i: i[1].attribute), False))
            elif rule == "exactness":
                criteria.append(((lambda i: i[1].exact), True))
        else:
            attribute, _, direction = rule.rpartition(":")
            criteria.append(((lambda i, a=attribute: _sort_value(i[0], a)), direction == "desc"))
    ordered = list(items)
    for value, descending in reversed(criteria):
        ordered = _stable_sort(ordered, value, descending)
    return [doc for doc, _score in ordered]


def _stringify(value: Any) -> Any:
    """_formatted values: numbers become strings, as Meilisearch returns them there."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, list):
        return [_stringify(v) for v in value]
    if isinstance(value, dict):
        return {k: _stringify(v) for k, v in value.items()}
    return value


def _highlight(
    value: Any, positive: list[QueryTerm], typo: dict[str, Any], pre: str, post: str
) -> Any:
    if isinstance(value, list):
        return [_highlight(v, positive, typo, pre, post) for v in value]
    if isinstance(value, dict):
        return {k: _highlight(v, positive, typo, pre, post) for k, v in value.items()}
    if not isinstance(value, str):
        return _stringify(value)
    tokens = tokenize(value)
    spans: list[tuple[int, int]] = []
    norms = [t.norm for t in tokens]
    for term in positive:
        if term.phrase:
            size = len(term.words)
            for i in range(len(norms) - size + 1):
                if tuple(norms[i : i + size]) == term.words:
                    spans.extend((t.start, t.end) for t in tokens[i : i + size])
            continue
        word = term.words[0]
        budget = _budget(word, typo)
        for token in tokens:
            hit = match_word(word, token.norm, term.prefix, budget)
            if hit is not None:
                _typos_found, size = hit
                # A prefix match marks the typed part only.
                spans.append((token.start, min(token.end, token.start + size)))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(set(spans)):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    out: list[str] = []
    at = 0
    for start, end in merged:
        out.append(value[at:start])
        out.append(pre + value[start:end] + post)
        at = end
    out.append(value[at:])
    return "".join(out)


def _pick(doc: dict[str, Any], fields: list[str] | None, index: Index) -> dict[str, Any]:
    displayed = index.settings["displayedAttributes"]
    return {
        k: json.loads(json.dumps(v))
        for k, v in doc.items()
        if (fields is None or "*" in fields or k in fields) and ("*" in displayed or k in displayed)
    }


_NO_CANDIDATE = (
    "The primary key inference failed as the engine did not find any field ending with `id` "
    "in its name. Please specify the primary key manually using the `primaryKey` query "
    "parameter."
)


def _infer_primary_key(uid: str, docs: list[dict[str, Any]]) -> str:
    if not docs:
        raise ApiError(
            400,
            "index_primary_key_no_candidate_found",
            _NO_CANDIDATE,
        )
    candidates = [k for k in docs[0] if k.lower().endswith("id")]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise ApiError(
            400,
            "index_primary_key_no_candidate_found",
            _NO_CANDIDATE,
        )
    raise ApiError(
        400,
        "index_primary_key_multiple_candidates_found",
        f"The primary key inference failed as the engine found {len(candidates)} fields ending "
        "with `id` in their names: "
        + ", ".join(f"`{c}`" for c in candidates)
        + ". Please specify the primary key manually using the `primaryKey` query parameter.",
    )


def _int_param(value: str, code: str) -> int:
    if not value.isdigit():
        raise ApiError(
            400,
            code,
            f"Invalid value in parameter: could not parse `{value}` as a positive integer",
        )
    return int(value)


def _positive(value: Any, code: str, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ApiError(
            400,
            code,
            f"Invalid value type at `.{name}`: expected a positive integer, but found: "
            f"`{json.dumps(value)}`",
        )
    return value


def _handler_for(server: MeiliServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self, method: str) -> None:
            split = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                status, body = server.handle(method, split.path, query, self.headers, raw)
            except ApiError as e:
                status, body = e.status, e.body()
            except Exception as e:  # a bug in the fake: answer like a server error would
                status = 500
                body = ApiError(
                    500, "internal", f"fake Meilisearch failed: {e!r}", "internal"
                ).body()
            payload = json.dumps(body).encode()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_PUT(self) -> None:
            self._serve("PUT")

        def do_PATCH(self) -> None:
            self._serve("PATCH")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

    return Handler


@contextlib.contextmanager
def silent_search_app(timeout_seconds: float = 0.5) -> Iterator[Flask]:
    """The app with Meilisearch as its backend at an address that accepts connections and
    never answers: every search runs into the timeout. (Needs the test environment set,
    e.g. by the `app_env` fixture.)"""
    from app import create_app
    from app.config import load_settings

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        made = create_app(
            load_settings(
                search_backend="meilisearch",
                meili_url=f"http://127.0.0.1:{silent.getsockname()[1]}",
                meili_api_key="never-used",
                search_timeout_seconds=timeout_seconds,
            )
        )
        try:
            yield made
        finally:
            made.extensions["verbatim.engine"].dispose()
