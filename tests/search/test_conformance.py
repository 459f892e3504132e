"""One conformance suite, run against every search backend through the real pipeline:
transcripts written to the database, the outbox drained by the indexer, searches made by
the service in the workspace's scope (tests/search/conftest.py picks the backends).

Where backends differ by design (typo tolerance, accent folding, Chinese words), the
expected behaviour of each is written down here, so a change shows as a failure.
"""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from app.errors import BadRequest
from app.search import documents
from app.search.documents import EncryptedTranscript
from app.search.snippets import WINDOW
from app.tenants.models import Role, Workspace
from app.tenants.services import delete_workspace
from app.transcripts import organizing, services
from app.transcripts.models import Transcript
from tests.search.support import SearchApp, Segments, Space, at, edit, found, ids, marked

NAMES = {"S0": "Ana Lima", "S1": "Ben Okoro"}
MEETING: Segments = [
    (0.0, 4.0, "Good morning everyone and welcome.", "S0"),
    (4.0, 9.5, "Today the budget for the lighthouse comes first.", "S0"),
    (9.5, 12.0, "Then the ferry timetable.", "S0"),
    (12.0, 15.0, "I have questions about the lighthouse.", "S1"),
]
BACKEND_NAMES = {
    "postgres": "postgres",
    "sqlite": "sqlite",
    "meilisearch-fake": "meilisearch",
    "meilisearch": "meilisearch",
}


def one(text: str, speaker: str | None = "S0", start: float = 0.0) -> Segments:
    return [(start, start + 5.0, text, speaker)]


def meeting(
    sa: SearchApp, space: Space, title: str = "Harbour planning", **kw: object
) -> uuid.UUID:
    return sa.transcript(space, title, MEETING, NAMES, **kw)


# --- words, marks, snippets, moments ---------------------------------------------------------


def test_the_installation_uses_the_backend_asked_for(search_app: SearchApp) -> None:
    assert search_app.backend.name == BACKEND_NAMES[search_app.kind]
    a = search_app.space()
    meeting(search_app, a)
    search_app.drain()
    assert search_app.search(a, q="ferry ").backend == BACKEND_NAMES[search_app.kind]


def test_words_are_found_marked_with_their_moment_and_speaker(search_app: SearchApp) -> None:
    sa = search_app
    a = sa.space()
    tid = meeting(sa, a)
    report = sa.drain()
    assert report.failed == 0 and report.synced >= 1

    page = sa.search(a, q="lighthouse ")
    assert page.total == 2 and len(page.hits) == 2
    by_chunk = {h.chunk: h for h in page.hits}
    ana, ben = by_chunk[0], by_chunk[1]
    assert {h.transcript_id for h in page.hits} == {tid}
    assert (ana.speaker, ben.speaker) == ("Ana Lima", "Ben Okoro")  # display names
    # The moment of the segment that holds the match, not the chunk's start (0.0).
    assert ana.start == 4.0
    assert ben.start == 12.0
    assert ana.title == "Harbour planning" and ana.language == "en"
    assert [w.lower() for w in marked(ana)] == ["lighthouse"]
    assert [w.lower() for w in marked(ben)] == ["lighthouse"]
    # The snippet is the chunk's text around the match, markers gone.
    assert "the budget for the lighthouse comes first" in ana.snippet.text
    assert "\x02" not in ana.snippet.text and "\x03" not in ana.snippet.text
    assert "<mark>lighthouse</mark>" in str(ana.snippet.html)


def test_a_long_chunk_gives_a_window_around_the_match(search_app: SearchApp) -> None:
    sa = search_app
    a = sa.space()
    filler = "the council discussed roads bridges schools parks water and power again"
    segments: Segments = [(i * 5.0, i * 5.0 + 5.0, filler, "S0") for i in range(11)]
    segments[8] = (40.0, 45.0, "then somebody mentioned the zeppelin hangar plan", "S0")
    tid = sa.transcript(a, "Council", segments, {"S0": "Chair"})
    sa.drain()

    [hit] = sa.search(a, q="zeppelin ").hits
    assert hit.transcript_id == tid and hit.chunk == 0 and hit.speaker == "Chair"
    assert hit.start == 40.0  # segment 9 of the chunk, which starts at 0.0
    assert hit.snippet.text.startswith("… ") and hit.snippet.text.endswith(" …")
    assert len(hit.snippet.text) <= WINDOW + 4
    assert [w.lower() for w in marked(hit)] == ["zeppelin"]
    assert "mentioned the zeppelin hangar" in hit.snippet.text


def test_a_title_match_is_marked_in_the_title(search_app: SearchApp) -> None:
    sa = search_app
    a = sa.space()
    tid = sa.transcript(a, "Quarterly marmalade review", one("nothing about jam here"))
    sa.drain()
    [hit] = sa.search(a, q="marmalade ").hits
    assert hit.transcript_id == tid
    assert "<mark>marmalade</mark>" in str(hit.title_html).lower()
    assert hit.snippet.text == "nothing about jam here" and hit.snippet.matches == ()


def test_the_last_word_is_a_prefix_while_typing(search_app: SearchApp) -> None:
    sa = search_app
    a = sa.space()
    tid = meeting(sa, a)
    sa.drain()
    for typed in ("lightho", "LIGHTH", "budget lighth", "ferry tim"):
        page = sa.search(a, q=typed)
        assert found(page) == {tid}, typed
    # The whole word is marked, not only the part typed.
    hits = sa.search(a, q="lightho").hits
    assert {w.lower() for h in hits for w in marked(h)} == {"lighthouse"}
    # A word closed by a space is a word: nothing starts with it here.
    assert sa.search(a, q="lightho ").hits == []
    # Only the last word is a prefix.
    assert sa.search(a, q="lightho budget").hits == []


def test_phrases_negation_and_all_words(search_app: SearchApp) -> None:
    sa = search_app
    a = sa.space()
    t1 = sa.transcript(a, "One", one("the quarterly budget was approved on monday"))
    t2 = sa.transcript(a, "Two", one("a budget of the quarterly meeting was discussed"))
    t3 = sa.transcript(a, "Three", one("quarterly report and then a separate budget talk"))
    sa.drain()

    assert found(sa.search(a, q='"quarterly budget"')) == {t1}
    assert found(sa.search(a, q='"budget quarterly"')) == set()
    assert found(sa.search(a, q="quarterly budget ")) == {t1, t2, t3}  # every word, any order
    assert found(sa.search(a, q="quarterly approved ")) == {t1}
    assert found(sa.search(a, q="approved separate ")) == set()
    assert found(sa.search(a, q="budget -separate ")) == {t1, t2}
    assert found(sa.search(a, q='budget -"quarterly meeting"')) == {t1, t3}
    assert found(sa.search(a, q='"quarterly budget" -monday')) == set()
    # An unbalanced quote is a phrase up to the end.
    assert found(sa.search(a, q='"quarterly budget')) == {t1}


def test_relevance_newest_and_oldest(search_app: SearchApp) -> None:
    sa = search_app
    a = sa.space()
    filler = " ".join(["we went through the agenda point by point and agreed on the steps"] * 4)
    strong = sa.transcript(
        a,
        "Budget review",
        one("The budget, the budget and nothing but the budget."),
        created_at=at(2025, 5, 1),
    )
    weak = sa.transcript(
        a, "Misc notes", one(f"{filler} budget {filler}"), created_at=at(2026, 5, 1)
    )
    sa.drain()
    assert ids(sa.search(a, q="budget ")) == [strong, weak]
    assert ids(sa.search(a, q="budget ", sort="relevance")) == [strong, weak]
    assert ids(sa.search(a, q="budget ", sort="newest")) == [weak, strong]
    assert ids(sa.search(a, q="budget ", sort="oldest")) == [strong, weak]


def test_paging_counts_every_match_and_past_the_end_is_empty(search_app: SearchApp) -> None:
    sa = search_app
    a = sa.space()
    # Speakers alternate, so every segment is a chunk of its own: 25 matching chunks.
    segments: Segments = [
        (i * 3.0, i * 3.0 + 3.0, f"milestone number {i} is on track", f"S{i % 2}")
        for i in range(25)
    ]
    tid = sa.transcript(a, "Roadmap", segments, NAMES)
    sa.drain()

    first = sa.search(a, q="milestone ", per_page="10")
    assert (first.total, first.pages, len(first.hits)) == (25, 3, 10)
    assert first.has_next and not first.has_previous
    third = sa.search(a, q="milestone ", per_page="10", page="3")
    assert (third.total, third.pages, len(third.hits)) == (25, 3, 5)
    assert third.has_previous and not third.has_next
    second = sa.search(a, q="milestone ", per_page="10", page="2")
    chunks = [h.chunk for p in (first, second, third) for h in p.hits]
    assert sorted(chunks) == list(range(25))  # every chunk once across the pages
    assert {h.transcript_id for h in first.hits} == {tid}

    past = sa.search(a, q="milestone ", per_page="10", page="4")
    assert past.hits == [] and past.total == 25
    far = sa.search(a, q="milestone ", per_page="10", page="500")
    assert far.hits == [] and far.total == 25
    everything = sa.search(a, q="milestone ", per_page="100")
    assert len(everything.hits) == 25 and everything.pages == 1
    # Each hit's moment is its own segment's.
    assert {h.chunk: h.start for h in everything.hits} == {i: i * 3.0 for i in range(25)}


# --- filters ---------------------------------------------------------------------------------


@dataclasses.dataclass
class Corpus:
    space: Space
    folder: uuid.UUID
    t1: uuid.UUID
    t2: uuid.UUID
    t3: uuid.UUID
    t4: uuid.UUID


def corpus(sa: SearchApp) -> Corpus:
    """Four transcripts that all say "harbor", differing in every filterable way."""
    a = sa.space()
    folder = sa.folder(a, "Clients")
    t1 = sa.transcript(
        a,
        "January",
        [(0.0, 5.0, "the harbor was busy", "S0"), (5.0, 9.0, "the harbor is loud", "S1")],
        {"S0": "Ana", "S1": "Ben"},
        created_at=at(2026, 1, 10),
        tags=["board"],
        folder_id=folder,
    )
    t2 = sa.transcript(
        a,
        "Februar",
        one("der harbor ist ruhig"),
        {"S0": "Ana"},
        created_at=at(2026, 2, 15, 23, 30),  # the last half hour of 15 February (UTC)
        language="de",
        tags=["board", "finance"],
        uploader_id=a.member,
    )
    t3 = sa.transcript(
        a,
        "February",
        one("a quiet harbor at night", "S1"),
        {"S1": "Ben"},
        created_at=at(2026, 2, 16, 0, 30),
        folder_id=folder,
        uploader_id=a.member,
    )
    t4 = sa.transcript(
        a,
        "March",
        one("harbor fees went up", None),  # no speaker at all
        created_at=at(2026, 3, 20),
        tags=["finance"],
    )
    sa.drain()
    return Corpus(a, folder, t1, t2, t3, t4)


def test_each_filter(search_app: SearchApp) -> None:
    sa = search_app
    c = corpus(sa)
    a = c.space

    def hits(**filters: str) -> set[uuid.UUID]:
        return found(sa.search(a, q="harbor ", **filters))

    assert hits() == {c.t1, c.t2, c.t3, c.t4}
    # Dates: whole days, date_to included up to its last minute (UTC).
    assert hits(date_from="2026-02-01", date_to="2026-02-15") == {c.t2}
    assert hits(date_from="2026-02-16") == {c.t3, c.t4}
    assert hits(date_to="2026-01-10") == {c.t1}
    assert hits(date_from="2026-01-11", date_to="2026-02-14") == set()
    assert hits(date_from="2026-03-20", date_to="2026-03-20") == {c.t4}
    # Speakers by display name, exactly.
    ana = sa.search(a, q="harbor ", speaker="Ana")
    assert found(ana) == {c.t1, c.t2} and {h.speaker for h in ana.hits} == {"Ana"}
    assert hits(speaker="Ben") == {c.t1, c.t3}
    assert hits(speaker="ana") == set() and hits(speaker="An") == set()
    assert {h.speaker for h in sa.search(a, q="fees ").hits} == {""}
    # Languages, tags (any case asked, exact), folder, uploader, one transcript.
    assert hits(language="de") == {c.t2}
    assert hits(language="en") == {c.t1, c.t3, c.t4}
    assert hits(language="fr") == set()
    assert hits(tag="board") == {c.t1, c.t2}
    assert hits(tag="BOARD") == {c.t1, c.t2}
    assert hits(tag="finance") == {c.t2, c.t4}
    assert hits(tag="boar") == set()
    assert hits(folder=str(c.folder)) == {c.t1, c.t3}
    assert hits(uploader=str(a.member)) == {c.t2, c.t3}
    assert hits(uploader=str(a.owner)) == {c.t1, c.t4}
    assert hits(transcript=str(c.t3)) == {c.t3}
    assert hits(folder=str(uuid.uuid4())) == set()


def test_filters_combine(search_app: SearchApp) -> None:
    sa = search_app
    c = corpus(sa)
    a = c.space

    def hits(**filters: str) -> set[uuid.UUID]:
        return found(sa.search(a, q="harbor ", **filters))

    assert hits(speaker="Ana", tag="finance") == {c.t2}
    assert hits(speaker="Ana", language="en") == {c.t1}
    assert hits(folder=str(c.folder), uploader=str(a.member), date_from="2026-02-16") == {c.t3}
    assert hits(language="en", speaker="Ben", date_to="2026-01-31") == {c.t1}
    assert hits(tag="board", uploader=str(a.member), language="de") == {c.t2}
    assert hits(tag="board", folder=str(c.folder), speaker="Ana", date_to="2026-01-10") == {c.t1}
    assert hits(tag="finance", folder=str(c.folder)) == set()
    assert hits(transcript=str(c.t1), speaker="Ben") == {c.t1}
    assert hits(transcript=str(c.t1), language="de") == set()


def test_filters_alone_browse_newest_first(search_app: SearchApp) -> None:
    sa = search_app
    c = corpus(sa)
    a = c.space
    page = sa.search(a, tag="finance")
    assert ids(page) == [c.t4, c.t2] and page.total == 2
    assert ids(sa.search(a, tag="finance", sort="oldest")) == [c.t2, c.t4]
    # Negations alone with a filter: what the filter allows, minus the negated words.
    assert found(sa.search(a, q="-ruhig", tag="board")) == {c.t1}
    assert found(sa.search(a, q="-loud -busy", speaker="Ana")) == {c.t2}
    chunks = sa.search(a, transcript=str(c.t1))
    assert sorted(h.chunk for h in chunks.hits) == [0, 1] and chunks.total == 2


# --- backends that differ --------------------------------------------------------------------

TYPO_TOLERANT = {"postgres": False, "sqlite": False, "meilisearch-fake": True, "meilisearch": True}
# Whether a word inside a Chinese sentence is found: Meilisearch segments Chinese into
# words; the SQL tokenizers keep a run of ideographs as one token, which its beginning
# (as you type) finds, but not a word in its middle.
SEGMENTS_CHINESE = {
    "postgres": False,
    "sqlite": False,
    "meilisearch-fake": False,
    "meilisearch": True,
}


def test_typos_are_forgiven_only_where_the_backend_says_so(search_app: SearchApp) -> None:
    sa = search_app
    assert sa.backend.typo_tolerant is TYPO_TOLERANT[sa.kind]
    if not sa.backend.typo_tolerant:
        pytest.skip(f"{sa.kind} matches words exactly (typo_tolerant is False)")
    a = sa.space()
    tid = meeting(sa, a)
    sa.drain()
    assert found(sa.search(a, q="lighthoase ")) == {tid}  # one letter wrong
    assert found(sa.search(a, q="budgat ")) == {tid}
    assert found(sa.search(a, q="xyzzyq ")) == set()


def test_unicode_text(search_app: SearchApp) -> None:
    sa = search_app
    a = sa.space()
    german = sa.transcript(a, "Reise", one("Die Straße nach Köln war voll"), language="de")
    english = sa.transcript(a, "Menu", one("coffee at the café by the pier"), language="en")
    turkish = sa.transcript(a, "Uçuş", one("we flew to İstanbul in May"), language="tr")
    chinese_text = "我们今天讨论预算问题"
    chinese = sa.transcript(a, "会议", one(chinese_text), {"S0": "王伟"}, language="zh")
    sa.drain()

    assert found(sa.search(a, q="köln ")) == {german}
    assert found(sa.search(a, q="KÖLN ")) == {german}
    # Accents are folded on both sides: people type "cafe" for "café".
    assert found(sa.search(a, q="koln ")) == {german}
    assert found(sa.search(a, q="café ")) == {english}
    assert found(sa.search(a, q="cafe ")) == {english}
    assert found(sa.search(a, q="CAFÉ ")) == {english}
    assert found(sa.search(a, q="istanbul ")) == {turkish}
    # "İ".lower() is "i" and a combining dot (U+0307): the dot must not keep it from
    # matching.
    assert found(sa.search(a, q="İstanbul ")) == {turkish}
    [coffee] = sa.search(a, q="cafe ").hits
    assert marked(coffee) == ["café"]  # the text as written is what is marked
    [hit] = sa.search(a, q="köln ").hits
    assert [w.lower() for w in marked(hit)] == ["köln"]
    assert "Straße nach Köln" in hit.snippet.text

    # Chinese is stored and given back intact, with its speaker's name, on every backend.
    [whole] = sa.search(a, transcript=str(chinese)).hits
    assert whole.snippet.text == chinese_text and whole.speaker == "王伟"
    assert whole.title == "会议"
    # The sentence as typed finds it everywhere; a word inside it only where the backend
    # segments Chinese.
    assert found(sa.search(a, q=chinese_text)) == {chinese}
    assert found(sa.search(a, q="我们今天")) == {chinese}
    inner = found(sa.search(a, q="预算 "))
    assert inner == ({chinese} if SEGMENTS_CHINESE[sa.kind] else set()), sa.kind


# --- the index follows the database ----------------------------------------------------------


def test_an_edit_is_indexed_after_the_drain(search_app: SearchApp) -> None:
    sa = search_app
    a = sa.space()
    tid = meeting(sa, a)
    sa.drain()
    edit(sa, a, tid, 2, "Then the cable car schedule.")
    assert found(sa.search(a, q="ferry ")) == {tid}  # the index is behind until it drains
    assert sa.outbox(a.id, tid) == 1
    sa.drain()
    assert sa.outbox(a.id, tid) == 0
    assert found(sa.search(a, q="ferry ")) == set()
    [hit] = sa.search(a, q="cable car ").hits
    assert hit.start == 9.5 and hit.speaker == "Ana Lima"
    assert found(sa.search(a, q="lighthouse ")) == {tid}  # what did not change stays


def test_rename_and_tags_are_indexed(search_app: SearchApp) -> None:
    sa = search_app
    a = sa.space()
    tid = meeting(sa, a)
    sa.drain()
    with sa.session(a.id):
        services.rename(tid, "Quayside symposium")
        organizing.set_tags(tid, ["Ports", "urgent"])
    sa.drain()
    assert found(sa.search(a, q="symposium ")) == {tid}
    assert found(sa.search(a, q="harbour ")) == set()
    assert all(h.title == "Quayside symposium" for h in sa.search(a, q="ferry ").hits)
    assert found(sa.search(a, q="ferry ", tag="ports")) == {tid}
    assert found(sa.search(a, tag="urgent")) == {tid}

    with sa.session(a.id):
        organizing.set_tags(tid, ["later"])
    sa.drain()
    assert found(sa.search(a, q="ferry ", tag="ports")) == set()
    assert found(sa.search(a, q="ferry ", tag="later")) == {tid}


def test_a_deleted_transcript_is_gone_at_once_and_from_the_index_after_the_drain(
    search_app: SearchApp,
) -> None:
    sa = search_app
    a = sa.space()
    tid = meeting(sa, a)
    keep = sa.transcript(a, "Other", one("the lighthouse keeper retired"))
    sa.drain()
    assert found(sa.search(a, q="lighthouse ")) == {tid, keep}
    with sa.session(a.id):
        assert services.delete([tid]) == 1
    # Before the drain the service already hides it: every hit is reloaded through the ORM.
    assert found(sa.search(a, q="lighthouse ")) == {keep}
    if sa.kind.startswith("meilisearch"):  # (the SQL tables lose it by foreign-key cascade)
        assert tid in {h.transcript_id for h in sa.raw(a, q="lighthouse ").hits}
    sa.drain()
    assert {h.transcript_id for h in sa.raw(a, q="lighthouse ").hits} == {keep}
    assert tid not in sa.versions(a.id) and keep in sa.versions(a.id)
    assert sa.outbox(a.id, tid) == 0


def test_a_moved_transcript_is_found_only_in_its_new_workspace(search_app: SearchApp) -> None:
    sa = search_app
    a = sa.space("a")
    b = sa.space("b", owner=a.owner)  # the mover administers both
    tid = meeting(sa, a)
    there = sa.transcript(b, "Already there", one("the lighthouse in the north"))
    sa.drain()
    with sa.session(a.id):
        organizing.move(tid, b.slug, a.owner)
    assert found(sa.search(a, q="lighthouse ")) == set()  # the reload refuses it at once
    sa.drain()
    assert found(sa.search(a, q="lighthouse ")) == set()
    assert {h.transcript_id for h in sa.raw(a, q="lighthouse ").hits} == set()
    assert found(sa.search(b, q="lighthouse ")) == {tid, there}
    moved = [h for h in sa.search(b, q="ferry ").hits]
    assert [h.transcript_id for h in moved] == [tid] and moved[0].speaker == "Ana Lima"


def test_a_stale_version_never_overwrites_a_newer_one(search_app: SearchApp) -> None:
    sa = search_app
    a = sa.space()
    tid = meeting(sa, a, title="Old harbour title")
    sa.drain()
    with sa.session(a.id) as s:
        t = s.get(Transcript, tid)
        assert t is not None
        old_docs = documents.build(t)
    with sa.session(a.id):
        services.rename(tid, "New quayside title")
    sa.drain()
    with sa.session(a.id) as s:
        t = s.get(Transcript, tid)
        assert t is not None and t.search_version > old_docs[0].version
        newer = documents.build(t)

    assert sa.write(a.id, lambda e: e.replace(a.id, tid, old_docs)) is False
    assert found(sa.search(a, q="quayside ")) == {tid}
    assert found(sa.search(a, q="old harbour ")) == set()
    # The same version again is a harmless rewrite.
    assert sa.write(a.id, lambda e: e.replace(a.id, tid, newer)) is True
    assert found(sa.search(a, q="quayside ")) == {tid}


def test_private_transcripts_are_never_indexed(search_app: SearchApp) -> None:
    sa = search_app
    a = sa.space()
    secret = sa.transcript(a, "Private harbour", one("the lighthouse secret plan"), encrypted=True)
    public = meeting(sa, a)
    sa.drain()
    with sa.session(a.id) as s:
        t = s.get(Transcript, secret)
        assert t is not None
        with pytest.raises(EncryptedTranscript):
            documents.build(t)
    assert found(sa.search(a, q="lighthouse ")) == {public}
    assert {h.transcript_id for h in sa.raw(a, q="lighthouse ").hits} == {public}
    assert found(sa.search(a, q="secret ")) == set()

    # A transcript made private later leaves the index at the next drain.
    with sa.session(a.id) as s:
        t = s.get(Transcript, public)
        assert t is not None
        t.encrypted = True
        s.commit()
    sa.drain()
    assert sa.raw(a, q="lighthouse ").hits == []
    assert sa.raw(a, transcript=str(public)).hits == []


# --- tenancy ---------------------------------------------------------------------------------


def test_each_workspace_sees_only_its_own(search_app: SearchApp) -> None:
    sa = search_app
    a, b = sa.space("a"), sa.space("b")
    mine = meeting(sa, a)
    theirs = sa.transcript(b, "Harbour planning", MEETING, {"S0": "Zed Zulu", "S1": "Ben Okoro"})
    sa.drain()
    assert found(sa.search(a, q="lighthouse ")) == {mine}
    assert found(sa.search(b, q="lighthouse ")) == {theirs}
    assert {h.transcript_id for h in sa.raw(a, q="lighthouse ").hits} == {mine}
    assert sa.search(a, q="lighthouse ").total == 2  # its own two chunks, not four
    # Nothing asked: nothing answered (not the whole workspace, not the index).
    for empty in ({}, {"q": ""}, {"q": "   "}, {"sort": "newest"}, {"page": "2"}):
        page = sa.search(a, **empty)
        assert page.hits == [] and page.total == 0, empty
    # The other workspace's speaker, transcript, or folder as a filter finds nothing.
    assert sa.search(a, q="lighthouse ", speaker="Zed Zulu").hits == []
    assert sa.search(a, q="lighthouse ", transcript=str(theirs)).hits == []
    assert sa.search(a, transcript=str(theirs)).total == 0
    folder_b = sa.folder(b, "Theirs")
    assert sa.search(a, folder=str(folder_b)).total == 0
    assert sa.search(a, uploader=str(b.owner)).total == 0


HOSTILE = [
    'x" OR workspace_id != "',
    "x' OR '1'='1",
    "' OR 1=1 --",
    "*",
    "NEAR(",
    "\\",
    '\\"',
    "%",
    "_",
    "a) OR (b",
    "workspace_id EXISTS",
    "NOT lighthouse",
    '") OR workspace_id IS NOT NULL OR ("',
]


@pytest.mark.parametrize("value", HOSTILE)
def test_operators_in_values_are_only_values(search_app: SearchApp, value: str) -> None:
    sa = search_app
    a, b = sa.space("a"), sa.space("b")
    mine = meeting(sa, a)
    theirs = meeting(sa, b)
    sa.drain()
    for name in ("speaker", "language", "tag"):
        page = sa.search(a, q="lighthouse ", **{name: value})
        assert page.hits == [] and page.total == 0, (name, value)
        browse = sa.search(a, **{name: value})
        assert browse.hits == [] and browse.total == 0, (name, value)
    for q in (value, f"lighthouse {value}", f"{value} lighthouse", f'"{value}" -{value}'):
        page = sa.search(a, q=q)
        assert theirs not in found(page), q
        assert {h.transcript_id for h in sa.raw(a, q=q).hits} <= {mine}, q


def test_a_wrong_index_still_never_shows_another_workspaces_transcript(
    search_app: SearchApp,
) -> None:
    """Documents of B's transcript filed under A (a backend bug, a bad repair): A's raw
    results have it; the service's reload through A's scope drops it."""
    sa = search_app
    a, b = sa.space("a"), sa.space("b")
    theirs = sa.transcript(b, "Theirs", one("the walrus carpenter accord"))
    sa.transcript(a, "Ours", one("nothing of interest"))  # A searches English too
    sa.drain()
    with sa.session(b.id) as s:
        t = s.get(Transcript, theirs)
        assert t is not None
        docs = [dataclasses.replace(d, workspace_id=a.id) for d in documents.build(t)]
    sa.write(a.id, lambda e: e.replace(a.id, theirs, docs))
    assert theirs in {h.transcript_id for h in sa.raw(a, q="walrus ").hits}
    page = sa.search(a, q="walrus ")
    assert page.hits == []


# --- bad input -------------------------------------------------------------------------------


def test_bad_input_is_refused_or_means_nothing(search_app: SearchApp) -> None:
    sa = search_app
    a = sa.space()
    tid = meeting(sa, a)
    sa.drain()

    def refused(field: str, **args: str) -> None:
        with pytest.raises(BadRequest) as caught:
            sa.search(a, **args)
        assert caught.value.status == 400 and caught.value.field == field

    refused("q", q="lighthouse " * 910)  # 10,010 characters
    refused("q", q="x" * 10_000)
    refused("page", q="lighthouse", page="0")
    refused("page", q="lighthouse", page="501")
    refused("per_page", q="lighthouse", per_page="1000")
    refused("date_from", q="lighthouse", date_from="2026-03-02", date_to="2026-03-01")
    refused("sort", q="lighthouse", sort="random()")
    refused("transcript", q="lighthouse", transcript="1 OR 1=1")

    assert found(sa.search(a, q='"lighthouse comes')) == {tid}  # unbalanced quote
    assert found(sa.search(a, q='lighthouse "')) == {tid}
    for nothing in ("?!.,;", "- -- ---", '""', "***", "-lighthouse", "-ferry -budget"):
        page = sa.search(a, q=nothing)
        assert page.hits == [] and page.total == 0, nothing


def test_a_deleted_workspace_leaves_the_index(search_app: SearchApp) -> None:
    sa = search_app
    a = sa.space()
    tid = meeting(sa, a)
    sa.drain()
    with sa.session(a.id) as s:
        workspace = s.get(Workspace, a.id)
        assert workspace is not None
        delete_workspace(workspace, Role.OWNER, a.slug)
    assert sa.outbox(a.id, None) == 1
    sa.drain()
    assert sa.outbox(a.id, None) == 0
    assert a.id not in sa.workspace_ids()
    assert sa.versions(a.id) == {}
    assert sa.raw(a, q="lighthouse ").hits == []
    assert tid not in {h.transcript_id for h in sa.raw(a, transcript=str(tid)).hits}
