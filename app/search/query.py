"""A search as asked: the text parsed into terms, the filters checked, the page bounded.

Every backend compiles the same parsed terms into its own syntax from words alone, so no
character of the query ever reaches a query language unescaped, and unbalanced quotes or
stray operators simply mean words. The workspace is never read from the request: the
caller passes the one the request was authorised for.
"""

from __future__ import annotations

import functools
import re
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from flask_babel import gettext as _

from app.errors import BadRequest

MAX_QUERY_CHARS = 500
MAX_TERMS = 32
PER_PAGE = 20
MAX_PER_PAGE = 100
MAX_PAGE = 500  # deeper pages are refused: nobody pages that far, and offsets cost
MAX_FILTER_CHARS = 120
SORTS = ("relevance", "newest", "oldest")

_WORD = re.compile(r"\w+", re.UNICODE)
# A term: optional minus, then a quoted phrase (the closing quote may be missing) or a run
# of non-space characters.
_TERM = re.compile(r'(-?)(?:"([^"]*)"?|(\S+))')


@dataclass(frozen=True)
class Term:
    words: tuple[str, ...]  # lowercase, letters and digits only
    phrase: bool = False  # the words in this order, next to each other
    negated: bool = False  # hits must not contain it
    prefix: bool = False  # the last word may be the start of a longer one (as you type)


@dataclass(frozen=True)
class Filters:
    date_from: date | None = None
    date_to: date | None = None  # inclusive
    speaker: str | None = None  # a display name, exact
    language: str | None = None
    tag: str | None = None
    folder_id: uuid.UUID | None = None
    uploader_id: uuid.UUID | None = None
    transcript_id: uuid.UUID | None = None  # search within one transcript

    @property
    def any(self) -> bool:
        return any(getattr(self, f) is not None for f in self.__dataclass_fields__)

    @property
    def created_from(self) -> datetime | None:
        return datetime.combine(self.date_from, time.min, UTC) if self.date_from else None

    @property
    def created_before(self) -> datetime | None:
        """Exclusive upper bound: the day after date_to, at midnight UTC."""
        if self.date_to is None:
            return None
        return datetime.combine(self.date_to + timedelta(days=1), time.min, UTC)


@dataclass(frozen=True)
class SearchQuery:
    workspace_id: uuid.UUID  # from the authorised request, never from its parameters
    text: str = ""
    terms: tuple[Term, ...] = ()
    filters: Filters = field(default_factory=Filters)
    sort: str = "relevance"
    page: int = 1
    per_page: int = PER_PAGE
    # Languages of the workspace's transcripts: backends that stem per language (postgres)
    # search each language's documents with that language's rules.
    languages: tuple[str, ...] = ()

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def positive(self) -> tuple[Term, ...]:
        return tuple(t for t in self.terms if not t.negated)

    @property
    def negative(self) -> tuple[Term, ...]:
        return tuple(t for t in self.terms if t.negated)

    @property
    def browsing(self) -> bool:
        """No words to match: hits are every chunk the filters allow, newest first."""
        return not self.positive

    @property
    def empty(self) -> bool:
        """Nothing asked at all: answered with no hits rather than the whole workspace."""
        return not self.positive and not self.filters.any


@functools.lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    return base if len(base) == 1 else char


def fold(text: str) -> str:
    """Accents off, one character for one (é -> e, ü -> u; ß and ligatures stay), so
    offsets in the folded text are offsets in the original: people type "cafe" for "café".
    """
    if text.isascii():
        return text
    return "".join(_fold_char(c) for c in text)


def parse_terms(text: str) -> tuple[Term, ...]:
    terms: list[Term] = []
    for match in _TERM.finditer(text):
        minus, quoted, bare = match.groups()
        raw = quoted if quoted is not None else bare
        # Lowercasing can add a combining mark ("İ" -> "i" + U+0307): drop those too, so a
        # word stays letters and digits.
        folded = (
            "".join(c for c in fold(w.lower()) if not unicodedata.combining(c))
            for w in _WORD.findall(raw)
        )
        words = tuple(w for w in folded if w)
        if not words:
            continue
        phrase = quoted is not None or len(words) > 1  # "e-mail" means the words together
        terms.append(Term(words, phrase=phrase and len(words) > 1, negated=bool(minus)))
    if len(terms) > MAX_TERMS:
        raise BadRequest(_("Search for at most %(max)d words at once.", max=MAX_TERMS), field="q")
    # As you type: the last word is probably unfinished, unless it was closed by a space
    # or a quote.
    if terms and not text.endswith((" ", '"')):
        last = terms[-1]
        if not last.negated and not last.phrase:
            terms[-1] = Term(last.words, prefix=True)
    return tuple(terms)


def parse(
    args: Mapping[str, str | None], workspace_id: uuid.UUID, languages: tuple[str, ...] = ()
) -> SearchQuery:
    """Check a request's parameters; anything off is a BadRequest naming the parameter."""
    raw = args.get("q") or ""
    if len(raw) > MAX_QUERY_CHARS:
        raise BadRequest(
            _(
                "Search for at most %(max)d characters (this was %(given)s).",
                max=MAX_QUERY_CHARS,
                given=f"{len(raw):,}",
            ),
            field="q",
        )
    text = " ".join(raw.split())
    sort = (args.get("sort") or "relevance").strip().lower()
    if sort not in SORTS:
        raise BadRequest(_("Sort by %(sorts)s.", sorts=", ".join(SORTS)), field="sort")
    filters = Filters(
        date_from=_date(args, "date_from"),
        date_to=_date(args, "date_to"),
        speaker=_value(args, "speaker"),
        language=_value(args, "language"),
        tag=(_value(args, "tag") or "").lower() or None,
        folder_id=_uuid(args, "folder"),
        uploader_id=_uuid(args, "uploader"),
        transcript_id=_uuid(args, "transcript"),
    )
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise BadRequest(_("The start date is after the end date."), field="date_from")
    return SearchQuery(
        workspace_id=workspace_id,
        text=text,
        terms=parse_terms(raw.strip() + (" " if raw.endswith(" ") else "")),
        filters=filters,
        sort=sort,
        page=_int(args, "page", 1, 1, MAX_PAGE),
        per_page=_int(args, "per_page", PER_PAGE, 1, MAX_PER_PAGE),
        languages=languages,
    )


def _value(args: Mapping[str, str | None], name: str) -> str | None:
    value = " ".join((args.get(name) or "").split())
    if len(value) > MAX_FILTER_CHARS:
        raise BadRequest(_("%(name)s is too long.", name=name), field=name)
    return value or None


def _date(args: Mapping[str, str | None], name: str) -> date | None:
    value = (args.get(name) or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadRequest(
            _("%(name)s must be a date like 2026-11-21.", name=name), field=name
        ) from None


def _uuid(args: Mapping[str, str | None], name: str) -> uuid.UUID | None:
    value = (args.get(name) or "").strip()
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise BadRequest(_("%(name)s must be an id.", name=name), field=name) from None


def _int(args: Mapping[str, str | None], name: str, default: int, low: int, high: int) -> int:
    value = (args.get(name) or "").strip()
    if not value:
        return default
    if not value.isascii() or not value.isdigit() or not low <= int(value) <= high:
        raise BadRequest(
            _(
                "%(name)s must be a whole number from %(low)d to %(high)d.",
                name=name,
                low=low,
                high=high,
            ),
            field=name,
        )
    return int(value)
