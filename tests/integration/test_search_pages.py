"""The search page and the search API, end to end on real PostgreSQL: transcripts are
committed, the outbox drained into the configured backend (postgres), then searched the way
a person (the page, htmx) and a program (the API) would."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import jsonschema
import pytest
from flask import Flask
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from sqlalchemy import func, select

from app.search.models import SearchOutbox
from app.search.query import MAX_PAGE, MAX_QUERY_CHARS
from app.transcripts.models import Folder, Transcript
from tests.fakes.meilisearch_server import silent_search_app as silent_app
from tests.integration.test_api import new_key
from tests.integration.test_workspaces import add_member, database
from tests.transcripts import ApiCaller, Team, api_caller, drain_index, make_team, make_transcript
from tests.web import Web, make_user

_IDS = re.compile(r'<li class="hit" data-transcript-id="([0-9a-f-]{36})"')
HTMX = {"HX-Request": "true"}


# --- helpers ---------------------------------------------------------------------------------


def harbour(team: Team, title: str = "Harbour interview", **fields: Any) -> uuid.UUID:
    """Ana and Ben talk about boats; "lighthouse" is said once, by Ben, at 12.5 s."""
    return make_transcript(
        team.web.app,
        team.workspace.id,
        title,
        language="en",
        segments=[
            (0.0, 4.0, "Good evening and welcome to the harbour.", "SPEAKER_00"),
            (4.0, 8.0, "The fishing boats come home at dusk.", "SPEAKER_00"),
            (8.0, 12.0, "I have watched them for forty years.", "SPEAKER_01"),
            (12.5, 16.0, "From the lighthouse you see every one of them.", "SPEAKER_01"),
        ],
        speakers={"SPEAKER_00": "Ana", "SPEAKER_01": "Ben"},
        **fields,
    )


def said(team: Team, title: str, text: str, speaker: str = "Ana", **fields: Any) -> uuid.UUID:
    return make_transcript(
        team.web.app,
        team.workspace.id,
        title,
        segments=[(3.0, 6.0, text, "SPEAKER_00")],
        speakers={"SPEAKER_00": speaker},
        **fields,
    )


def results(team: Team, status: int = 200, **params: Any) -> str:
    """The results partial, as htmx asks for it while the person types."""
    resp = team.web.get(team.url("/search"), query_string=params, headers=HTMX)
    assert resp.status_code == status, resp.get_data(as_text=True)[:500]
    return resp.get_data(as_text=True)


def page_ids(team: Team, **params: Any) -> list[uuid.UUID]:
    return [uuid.UUID(m) for m in _IDS.findall(results(team, **params))]


def api_search(call: ApiCaller, status: int = 200, **params: Any) -> dict[str, Any]:
    resp = call("GET", "/search", query_string=params)
    assert resp.status_code == status, resp.get_data(as_text=True)[:500]
    return resp.get_json()


def api_ids(call: ApiCaller, **params: Any) -> list[uuid.UUID]:
    return [uuid.UUID(h["transcript_id"]) for h in api_search(call, **params)["hits"]]


def snapshot(app: Flask) -> tuple[int, int]:
    """Transcripts and pending outbox rows of the whole database: a search writes neither."""
    with database(app) as s:
        return (
            s.scalar(select(func.count(Transcript.id))) or 0,
            s.scalar(select(func.count(SearchOutbox.id))) or 0,
        )


# --- Hits ------------------------------------------------------------------------------------


def test_a_hit_is_highlighted_with_speaker_and_time_and_links_to_that_moment(team: Team) -> None:
    tid = harbour(team)
    said(team, "Unrelated", "Nothing about the sea here.")
    drain_index(team.web.app)

    page = team.page("/search", query_string={"q": "lighthouse"})
    assert 'id="search-q"' in page and 'value="lighthouse"' in page  # the box keeps the words
    assert 'aria-live="polite"' in page
    assert "1 result" in page
    hits = re.findall(r'<li class="hit".*?</li>', page, re.S)
    assert len(hits) == 1
    hit = hits[0]
    assert f'data-transcript-id="{tid}"' in hit
    assert "<mark>lighthouse</mark>" in hit
    assert "Harbour interview" in hit
    assert '<span class="hit-speaker">Ben</span>' in hit
    assert '<span class="hit-stamp">00:12</span>' in hit
    assert f'href="/w/{team.slug}/transcripts/{tid}#t=12.5"' in hit
    assert f'datetime="{datetime.now(UTC).date().isoformat()}' in hit

    # The link opens the transcript, whose player seeks to #t= (tests/browser checks that).
    assert team.web.get(team.url(f"/transcripts/{tid}")).status_code == 200

    # As you type: htmx gets the results alone, the same hit, and the field slots out of band.
    partial = results(team, q="lightho")
    assert "<html" not in partial and 'id="search-form"' not in partial
    assert "<mark>lighthouse</mark>" in partial  # the unfinished last word is a prefix
    assert 'id="search-error-q" class="field-error" role="alert" hx-swap-oob="true"' in partial
    resp = team.web.get(team.url("/search"), query_string={"q": "boats"}, headers=HTMX)
    assert "HX-Request" in resp.headers["Vary"]

    # Back past htmx's cache asks for the whole page again, with the htmx header on.
    restore = team.web.get(
        team.url("/search"),
        query_string={"q": "boats"},
        headers=HTMX | {"HX-History-Restore-Request": "true"},
    )
    assert 'id="search-form"' in restore.get_data(as_text=True)


def test_words_that_mean_markup_are_shown_as_text(team: Team) -> None:
    said(team, "<b>Bold</b> & co", "We wrote <script>alert(1)</script> on the board today.")
    drain_index(team.web.app)
    partial = results(team, q="board")
    assert "<script>alert" not in partial and "<b>Bold" not in partial
    assert "We wrote &lt;script&gt;alert(1)&lt;/script&gt; on the <mark>board</mark>" in partial
    assert "&lt;b&gt;Bold&lt;/b&gt; &amp; co" in partial
    hit = api_search(api_caller(team), q="board")["hits"][0]
    assert hit["snippet"] == "We wrote <script>alert(1)</script> on the board today."
    assert hit["snippet_html"].startswith("We wrote &lt;script&gt;alert(1)&lt;/script&gt; on")


def test_an_empty_search_gives_a_hint_and_no_hits(team: Team) -> None:
    harbour(team)
    drain_index(team.web.app)
    page = team.page("/search")
    assert "Type to search the words of every transcript" in page
    assert 'class="hit"' not in page
    assert 'hx-trigger="input changed delay:250ms, search"' in page
    assert 'hx-push-url="true"' in page
    body = api_search(api_caller(team))
    assert body["hits"] == [] and body["total"] == 0 and body["pages"] == 1


def test_no_results_says_so_and_offers_to_drop_the_filters(team: Team) -> None:
    harbour(team)
    drain_index(team.web.app)
    plain = results(team, q="submarine")
    assert "No results for “submarine”" in plain
    assert "search without filters" not in plain
    filtered = results(team, q="boats", speaker="Ben")  # Ana says boats, not Ben
    assert "No results for “boats”" in filtered
    assert "search without filters" in filtered
    assert f'href="/w/{team.slug}/search?q=boats"' in filtered


# --- Filters and sorting -----------------------------------------------------------------------


def test_each_filter_narrows_the_hits_on_the_page_and_in_the_api(team: Team) -> None:
    app = team.web.app
    other = make_user(app, name="Olga Other")
    add_member(app, team.workspace.id, other, "member")
    assert team.web.post(team.url("/folders"), {"name": "Board"}).status_code == 302
    with database(app, team.workspace.id) as s:
        board = s.scalar(select(Folder.id).where(Folder.name == "Board"))
    me = team.user.id

    def day(d: int) -> datetime:
        return datetime(2025, 3, d, 10, 0, tzinfo=UTC)

    a = said(
        team,
        "A",
        "The harvest came early.",
        "Ana",
        language="en",
        created_at=day(3),
        uploader_id=me,
        tags=["farm"],
        folder_id=board,
    )
    b = said(
        team,
        "B",
        "Die harvest Woche.",
        "Ben",
        language="de",
        created_at=day(10),
        uploader_id=other.id,
        tags=["farm", "radio"],
    )
    c = said(
        team,
        "C",
        "A harvest song.",
        "Ana",
        language="en",
        created_at=day(20),
        uploader_id=other.id,
        folder_id=board,
    )
    drain_index(app)
    call = api_caller(team)

    cases: list[tuple[dict[str, str], set[uuid.UUID]]] = [
        ({}, {a, b, c}),
        ({"date_from": "2025-03-10"}, {b, c}),
        ({"date_to": "2025-03-10"}, {a, b}),  # inclusive
        ({"date_from": "2025-03-04", "date_to": "2025-03-19"}, {b}),
        ({"speaker": "Ana"}, {a, c}),
        ({"speaker": "Ben"}, {b}),
        ({"language": "de"}, {b}),
        ({"tag": "farm"}, {a, b}),
        ({"tag": "RADIO"}, {b}),  # tags are lowercase
        ({"folder": str(board)}, {a, c}),
        ({"uploader": str(me)}, {a}),
        ({"uploader": str(other.id)}, {b, c}),
        ({"transcript": str(c)}, {c}),
        ({"speaker": "Ana", "language": "en", "folder": str(board), "uploader": str(me)}, {a}),
        ({"speaker": "Nobody"}, set()),
    ]
    for params, expected in cases:
        assert set(page_ids(team, q="harvest", **params)) == expected, params
        assert set(api_ids(call, q="harvest", **params)) == expected, params

    # A filter alone lists every moment it matches.
    assert set(page_ids(team, tag="radio")) == {b}

    # The filters offer what the workspace has, on the page and in the API.
    page = team.page("/search")
    for option in ("Ana", "Ben", "de", "farm", "radio", "Board", "Olga Other"):
        assert f">{option}</option>" in page, option
    filters = call("GET", "/search/filters").get_json()
    assert {"Ana", "Ben"} <= set(filters["speakers"])
    assert filters["languages"] == ["de", "en"]
    assert filters["tags"] == ["farm", "radio"]
    assert filters["folders"] == [{"id": str(board), "name": "Board"}]
    assert {u["id"] for u in filters["uploaders"]} == {str(me), str(other.id)}


def test_sort_by_relevance_newest_and_oldest(team: Team) -> None:
    filler = " ".join(f"word{n}" for n in range(60))
    weak = said(
        team, "Weak", f"{filler} compass {filler}", created_at=datetime(2025, 1, 1, tzinfo=UTC)
    )
    strong = said(
        team,
        "Strong",
        "Compass, compass: the compass points north, compass in hand.",
        created_at=datetime(2024, 6, 1, tzinfo=UTC),
    )
    middle = said(
        team, "Middle", "A compass and a compass.", created_at=datetime(2025, 6, 1, tzinfo=UTC)
    )
    drain_index(team.web.app)
    call = api_caller(team)
    assert api_ids(call, q="compass", sort="newest") == [middle, weak, strong]
    assert api_ids(call, q="compass", sort="oldest") == [strong, weak, middle]
    assert page_ids(team, q="compass", sort="oldest") == [strong, weak, middle]
    ranked = api_ids(call, q="compass")
    assert ranked[0] == strong and ranked[-1] == weak
    assert api_search(call, q="compass")["sort"] == "relevance"
    assert 'value="oldest" selected' in team.page("/search", query_string={"sort": "oldest"})

    bad = results(team, 400, q="compass", sort="loudest")
    assert "Sort by relevance, newest, oldest." in bad
    assert api_search(call, 400, q="compass", sort="loudest")["field"] == "sort"


# --- Paging ----------------------------------------------------------------------------------


def test_pages_go_forward_and_back_and_past_the_end_is_empty_not_an_error(team: Team) -> None:
    # Speakers take turns, so each segment is a passage (a hit) of its own.
    tid = make_transcript(
        team.web.app,
        team.workspace.id,
        "Night shift",
        segments=[
            (n * 3.0, n * 3.0 + 2.5, f"lantern number {n}", f"SPEAKER_0{n % 2}") for n in range(25)
        ],
        speakers={"SPEAKER_00": "Ana", "SPEAKER_01": "Ben"},
    )
    drain_index(team.web.app)
    call = api_caller(team)

    first = api_search(call, q="lantern", per_page=10)
    assert (first["total"], first["pages"], first["page"], len(first["hits"])) == (25, 3, 1, 10)
    last = api_search(call, q="lantern", per_page=10, page=3)
    assert len(last["hits"]) == 5
    seen = {
        (h["chunk"])
        for p in (1, 2, 3)
        for h in api_search(call, q="lantern", per_page=10, page=p)["hits"]
    }
    assert seen == set(range(25))  # every hit once, none twice
    beyond = api_search(call, q="lantern", per_page=10, page=4)
    assert beyond["hits"] == [] and beyond["total"] == 25 and beyond["pages"] == 3

    middle = results(team, q="lantern", per_page="10", page="2")
    assert "25 results" in middle and "page 2 of 3" in middle
    base = f"/w/{team.slug}/search?"
    assert f'rel="prev" href="{base}page=1&amp;q=lantern&amp;per_page=10"' in middle
    assert f'rel="next" href="{base}page=3&amp;q=lantern&amp;per_page=10"' in middle
    assert len(_IDS.findall(middle)) == 10 and set(_IDS.findall(middle)) == {str(tid)}
    assert 'rel="next"' not in results(team, q="lantern", per_page="10", page="3")

    past = team.web.get(team.url("/search"), query_string={"q": "lantern", "page": "9"})
    assert past.status_code == 200
    text = past.get_data(as_text=True)
    assert "Page 9 is past the end: there are only 2 pages." in text
    assert f'href="{base}page=2&amp;q=lantern"' in text

    for bad in ("0", "-1", "two", str(MAX_PAGE + 1)):
        refused = results(team, 400, q="lantern", page=bad)
        assert f"page must be a whole number from 1 to {MAX_PAGE}." in refused
    for bad in ("0", "-1", str(MAX_PAGE + 1)):
        assert api_search(call, 400, q="lantern", page=bad)["field"] == "page"
    # A page number that is not a number at all is refused by the API's schema (422).
    assert call("GET", "/search", query_string={"page": "two"}).status_code == 422


# --- Bad input -------------------------------------------------------------------------------


def test_a_ten_thousand_character_query_is_refused_clearly_and_changes_nothing(
    team: Team,
) -> None:
    harbour(team)
    drain_index(team.web.app)
    before = snapshot(team.web.app)
    huge = "boats " * 1666 + "abcd"
    assert len(huge) == 10_000
    message = f"Search for at most {MAX_QUERY_CHARS} characters (this was 10,000)."

    resp = team.web.get(team.url("/search"), query_string={"q": huge})
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    assert 'id="search-form"' in page  # the whole page, the message next to the box
    field = re.search(r'<span id="search-error-q"[^>]*>(.*?)</span>', page, re.S)
    assert field and html.unescape(field.group(1)) == message
    assert 'aria-describedby="search-error-q" aria-invalid="true"' in page
    assert 'class="hit"' not in page

    partial = results(team, 400, q=huge)
    field = re.search(r'<span id="search-error-q"[^>]*hx-swap-oob="true">(.*?)</span>', partial)
    assert field and html.unescape(field.group(1)) == message

    body = api_search(api_caller(team), 400, q=huge)
    assert body == {"error": "badrequest", "message": message, "field": "q"}

    assert snapshot(team.web.app) == before
    assert len(page_ids(team, q="boats")) == 1  # and search still works


@pytest.mark.parametrize(
    ("query", "finds"),
    [
        ('"fishing boats', True),  # the closing quote is missing: a phrase all the same
        ('boats"', True),
        ('"', False),
        ('""', False),
        ("boats -", True),
        ("-", False),
        ("((boats", True),
        ("boats & | ! :* <->", True),
        ("'boats", True),
        ("boats\\", True),
        ("NEAR(boats", False),  # joined words mean the words together: "near boats"
        ("*", False),
        ("boats OR", True),
        ("%_", False),
    ],
)
def test_quotes_and_operators_in_the_query_are_just_words(
    team: Team, query: str, finds: bool
) -> None:
    tid = harbour(team)
    drain_index(team.web.app)
    resp = team.web.get(team.url("/search"), query_string={"q": query}, headers=HTMX)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    found = [uuid.UUID(m) for m in _IDS.findall(resp.get_data(as_text=True))]
    assert found == ([tid] if finds else [])
    body = api_search(api_caller(team), q=query)
    assert [uuid.UUID(h["transcript_id"]) for h in body["hits"]] == found


def test_filter_values_with_operators_never_reach_another_workspace(
    app: Flask, team: Team, web2: Web
) -> None:
    mine = harbour(team)
    other = make_team(app, web2, "Other Team")
    theirs = make_transcript(
        app,
        other.workspace.id,
        "Their secret harbour",
        language="en",
        segments=[(1.0, 3.0, "The fishing boats come home with zebrafish.", "SPEAKER_00")],
        speakers={"SPEAKER_00": "Ana"},
        tags=["secret"],
    )
    drain_index(app)
    call = api_caller(team)
    sneaky = [
        "Ana' OR '1'='1",
        'Ana" OR workspace_id != "x',
        "Ana) OR (1=1",
        "en' OR language IS NOT NULL --",
        "secret' OR 'a'='a",
        "x OR tags = secret",
        "*",
        "%",
    ]
    for value in sneaky:
        for name in ("speaker", "language", "tag"):
            for q in ("boats", ""):
                params = {"q": q, name: value}
                for text in (results(team, **params), str(api_search(call, **params))):
                    assert str(theirs) not in text and "zebrafish" not in text
                    assert "Their secret" not in text
    # Ids that are not ids are refused; another workspace's ids find nothing.
    for name in ("folder", "uploader", "transcript"):
        assert f"{name} must be an id." in results(team, 400, q="boats", **{name: "1 OR 1=1"})
        assert api_search(call, 422, q="boats", **{name: "1 OR 1=1"})["error"] == "invalid"
    assert page_ids(team, q="boats", transcript=str(theirs)) == []
    assert api_ids(call, q="boats", uploader=str(other.user.id)) == []
    # Their words, their tag: nothing, even with no words at all.
    assert page_ids(team, q="zebrafish") == [] and api_ids(call, q="zebrafish") == []
    assert page_ids(team, tag="secret") == [] and api_ids(call, tag="secret") == []
    assert set(page_ids(team, q="boats")) == {mine}
    # Their own search still finds it: the index has it.
    assert api_ids(api_caller(other), q="zebrafish") == [theirs]


# --- Who may search ----------------------------------------------------------------------------


def test_outsiders_and_other_workspaces_cannot_search_here(
    app: Flask, team: Team, web2: Web
) -> None:
    harbour(team)
    drain_index(app)
    missing = f"/w/missing-{uuid.uuid4().hex[:8]}/search"
    outsider = make_user(app, name="Out Sider")
    web2.login(outsider)
    for headers in ({}, HTMX):
        resp = web2.get(team.url("/search"), query_string={"q": "boats"}, headers=headers)
        gone = web2.get(missing, query_string={"q": "boats"}, headers=headers)
        assert resp.status_code == 404 and gone.status_code == 404
        assert resp.get_data() == gone.get_data()
        assert "boats" not in resp.get_data(as_text=True)

    # A member of another workspace, through their own workspace's key: nothing of ours.
    other = make_team(app, Web(app, remote_addr="10.77.0.9"), "Elsewhere")
    key = new_key(other.web, other.slug)
    resp = app.test_client().get(
        "/api/v1/search", query_string={"q": "boats"}, headers={"Authorization": f"Bearer {key}"}
    )
    assert resp.status_code == 200 and resp.get_json()["total"] == 0

    anonymous = Web(app, remote_addr="10.77.0.10")
    resp = anonymous.get(team.url("/search"), query_string={"q": "boats"})
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")
    assert app.test_client().get("/api/v1/search?q=boats").status_code == 401


def test_a_viewer_can_search(app: Flask, team: Team, web2: Web) -> None:
    tid = harbour(team)
    drain_index(app)
    viewer = make_user(app, name="Vera Viewer")
    add_member(app, team.workspace.id, viewer, "viewer")
    web2.login(viewer)
    resp = web2.get(team.url("/search"), query_string={"q": "dusk"}, headers=HTMX)
    assert resp.status_code == 200
    assert _IDS.findall(resp.get_data(as_text=True)) == [str(tid)]


def test_a_deleted_transcript_leaves_the_results(team: Team) -> None:
    tid = harbour(team)
    drain_index(team.web.app)
    assert page_ids(team, q="lighthouse") == [tid]
    assert team.web.post(team.url(f"/transcripts/{tid}/delete")).status_code == 302
    # Gone at once (hits are reloaded through the database), before the index catches up.
    assert page_ids(team, q="lighthouse") == []
    drain_index(team.web.app)
    assert api_search(api_caller(team), q="lighthouse")["total"] == 0


# --- The API's description and answers -----------------------------------------------------------


def conforms(spec: dict[str, Any], path: str, status: str, instance: Any) -> None:
    """Validate an answer against the response schema the OpenAPI description gives."""
    pointer = "/".join(
        [
            "#",
            "paths",
            path.replace("/", "~1"),
            "get",
            "responses",
            status,
            "content",
            "application~1json",
            "schema",
        ]
    )
    registry = Registry().with_resource("urn:spec", DRAFT202012.create_resource(spec))
    jsonschema.Draft202012Validator({"$ref": f"urn:spec{pointer}"}, registry=registry).validate(
        instance
    )


def test_api_answers_match_the_openapi_description(team: Team) -> None:
    tid = harbour(team)
    drain_index(team.web.app)
    call = api_caller(team)
    spec = team.web.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/search"]["get"]
    params = {p["name"] for p in operation["parameters"]}
    assert params == {
        "q",
        "sort",
        "page",
        "per_page",
        "date_from",
        "date_to",
        "speaker",
        "language",
        "tag",
        "folder",
        "uploader",
        "transcript",
    }
    assert {"200", "400", "422", "503"} <= set(operation["responses"])

    body = api_search(call, q="lighthouse")
    conforms(spec, "/api/v1/search", "200", body)
    assert set(body) == {
        "query",
        "sort",
        "page",
        "per_page",
        "pages",
        "total",
        "capped",
        "backend",
        "took_ms",
        "hits",
    }
    assert (body["query"], body["sort"], body["page"], body["per_page"]) == (
        "lighthouse",
        "relevance",
        1,
        20,
    )
    assert (body["total"], body["capped"], body["pages"], body["backend"]) == (
        1,
        False,
        1,
        "postgres",
    )
    [hit] = body["hits"]
    assert hit["transcript_id"] == str(tid)
    assert hit["title"] == "Harbour interview"
    assert hit["url"] == f"http://localhost/w/{team.slug}/transcripts/{tid}#t=12.5"
    assert hit["api_url"] == f"http://localhost/api/v1/transcripts/{tid}"
    assert call("GET", hit["api_url"].removeprefix("http://localhost")).status_code == 200
    assert (hit["start"], hit["speaker"], hit["language"], hit["chunk"]) == (12.5, "Ben", "en", 1)
    assert (
        hit["snippet"]
        == "I have watched them for forty years. From the lighthouse you see every one of them."
    )
    [[start, end]] = hit["matches"]
    assert hit["snippet"][start:end] == "lighthouse"
    assert "<mark>lighthouse</mark>" in hit["snippet_html"]
    assert datetime.fromisoformat(hit["created_at"]).tzinfo is not None

    problem = api_search(call, 400, q="x" * (MAX_QUERY_CHARS + 1))
    conforms(spec, "/api/v1/search", "400", problem)

    filters = call("GET", "/search/filters").get_json()
    conforms(spec, "/api/v1/search/filters", "200", filters)
    assert set(filters) == {"speakers", "languages", "tags", "folders", "uploaders"}


# --- A search server that does not answer ------------------------------------------------------


@pytest.fixture
def silent_search_app(app_env: dict[str, str]) -> Iterator[Flask]:
    with silent_app() as made:
        yield made


def test_a_search_server_that_times_out_gets_a_clear_503(silent_search_app: Flask) -> None:
    team = make_team(silent_search_app, Web(silent_search_app, remote_addr="10.77.0.11"))
    harbour(team)
    message = "The search server took too long to answer. Try again in a minute."

    resp = team.web.get(team.url("/search"), query_string={"q": "boats"})
    assert resp.status_code == 503
    page = resp.get_data(as_text=True)
    assert message in page and 'id="search-form"' in page and 'value="boats"' in page
    partial = results(team, 503, q="boats")
    assert message in partial and 'class="hit"' not in partial
    body = api_search(api_caller(team), 503, q="boats")
    assert body == {"error": "searchunavailable", "message": message}

    # Nothing asked, nothing to ask the server: the hint, not an error.
    assert "Type to search the words" in results(team)


def test_a_word_in_more_passages_than_are_counted_says_so(team: Team) -> None:
    """PostgreSQL ranks and counts at most MAX_COUNTED matches (the newest): the answer
    says there are more, every page up to there is served, the next is empty."""
    from app.search.backends.postgres import MAX_COUNTED

    # One speaker per segment, alternating: every segment is a passage of its own.
    segments = [
        (n * 1.0, n * 1.0 + 0.8, f"tide report number {n}", f"SPEAKER_0{n % 2}")
        for n in range(MAX_COUNTED + 5)
    ]
    make_transcript(team.web.app, team.workspace.id, "Long log", language="en", segments=segments)
    drain_index(team.web.app)
    call = api_caller(team)
    body = api_search(call, q="tide", per_page=100)
    assert (body["total"], body["capped"], body["pages"]) == (MAX_COUNTED, True, 20)
    assert len(body["hits"]) == 100
    last = api_search(call, q="tide", per_page=100, page=20)
    assert len(last["hits"]) == 100 and last["capped"] is True
    past = api_search(call, q="tide", per_page=100, page=21)
    assert (past["hits"], past["total"], past["capped"]) == ([], MAX_COUNTED, True)
    narrow = api_search(call, q="tide report number 7 ")
    assert narrow["capped"] is False
    page = results(team, q="tide")
    assert f"{MAX_COUNTED:,}+ results" in page
