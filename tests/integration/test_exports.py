"""Exports through the web pages and the API, every format read back by an independent
parser: srt, webvtt-py, python-docx, pypdf, json. Chinese, Arabic and Georgian survive in
DOCX and PDF; options change the output; refusals are clear and change nothing."""

from __future__ import annotations

import html
import io
import json
import shutil
import unicodedata
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import docx
import pytest
import srt
import webvtt
from flask import Flask, g, render_template_string
from openapi_spec_validator import validate
from pypdf import PdfReader
from sqlalchemy import delete
from werkzeug.test import TestResponse

from app.extensions import db
from app.plugins.api import PluginInfo
from app.plugins.hookspecs import hookimpl
from app.plugins.manager import registry, set_plugin
from app.tenants.context import workspace_scope
from app.tenants.models import Workspace
from app.transcripts.exports import fonts, service
from app.transcripts.exports.base import Exporter, MissingFont
from app.transcripts.exports.document import ExportDocument
from app.transcripts.exports.options import ExportOptions
from app.transcripts.models import Status, Transcript
from tests.integration.test_workspaces import add_member
from tests.transcripts import Team, api_caller, make_team, make_transcript
from tests.web import Web, make_user

FORMATS = ("txt", "srt", "vtt", "docx", "json", "pdf")
ENGLISH = "Hello everyone, welcome to the weekly meeting."
CHINESE = "我们今天讨论一下这个问题。"
ARABIC = "مرحبا بالعالم كيف حالكم"
GEORGIAN = "გამარჯობა მსოფლიო"
SEGMENTS = [
    (0.0, 4.0, ENGLISH, "SPEAKER_00"),
    (4.5, 7.0, "Thanks, glad to be here.", "SPEAKER_01"),
    (7.5, 10.0, "Let us begin with the numbers.", "SPEAKER_01"),
    (10.5, 14.0, CHINESE, "SPEAKER_00"),
    (14.5, 18.0, ARABIC, "SPEAKER_01"),
    (18.5, 22.0, GEORGIAN, "SPEAKER_00"),
]
NAMES = {"SPEAKER_00": "Alice", "SPEAKER_01": "Omar"}
MEDIA = {
    "txt": "text/plain; charset=utf-8",
    "srt": "application/x-subrip; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "json": "application/json",
    "pdf": "application/pdf",
}


def transcript(team: Team, title: str = "Weekly meeting", **kw) -> uuid.UUID:
    kw.setdefault("segments", SEGMENTS)
    kw.setdefault("speakers", NAMES)
    kw.setdefault("language", "en")
    return make_transcript(team.web.app, team.workspace.id, title, duration=22.0, **kw)


# --- independent readers -------------------------------------------------------------------------


def docx_text(body: bytes) -> list[str]:
    return [p.text for p in docx.Document(io.BytesIO(body)).paragraphs]


def pdf_text(body: bytes) -> str:
    """The text pypdf extracts, NFKC-normalised: shaped Arabic may come out as presentation
    forms (U+FE70...), which NFKC maps back to the base letters. pypdf also gives a
    right-to-left line in visual order, so Arabic is compared word by word."""
    reader = PdfReader(io.BytesIO(body))
    return unicodedata.normalize("NFKC", "\n".join(p.extract_text() for p in reader.pages))


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def srt_cues(body: bytes) -> list[srt.Subtitle]:
    return list(srt.parse(body.decode()))


def vtt_cues(body: bytes) -> list[webvtt.Caption]:
    return list(webvtt.from_string(body.decode()))


def assert_all_scripts(text: str) -> None:
    for sample in (ENGLISH, CHINESE, GEORGIAN):
        assert nfkc(sample) in text, sample
    # Word by word: pypdf may give a right-to-left line in visual order. Unshaped, each
    # word would come out with its letters reversed and isolated, and not match.
    for word in ARABIC.split():
        assert nfkc(word) in text, word


def read_back(fmt: str, body: bytes, title: str = "Weekly meeting") -> None:
    """Each format parsed by a reader that is not ours, with every script intact."""
    if fmt == "txt":
        text = body.decode()
        assert f"[00:00:00] Alice: {ENGLISH}" in text.splitlines()
        assert f"[00:00:14] Omar: {ARABIC}" in text.splitlines()
        assert_all_scripts(text)
    elif fmt == "srt":
        cues = srt_cues(body)
        assert cues[0].content.startswith("Alice: Hello everyone,")
        joined = " ".join(c.content for c in cues)
        assert CHINESE in joined.replace("\n", "") and GEORGIAN in joined.replace("\n", " ")
        assert all(len(line) <= 42 for c in cues for line in c.content.split("\n"))
    elif fmt == "vtt":
        cues = vtt_cues(body)
        assert cues[0].voice == "Alice"
        text = html.unescape(" ".join(c.text.replace("\n", " ") for c in cues))
        assert ARABIC in text and GEORGIAN in text and "Let us begin" in text
    elif fmt == "docx":
        paragraphs = docx_text(body)
        assert paragraphs[0] == title
        for sample in (ENGLISH, CHINESE, ARABIC, GEORGIAN):
            assert sample in paragraphs, sample
        # The Arabic paragraph is marked right to left, as Word needs to lay it out.
        arabic = next(p for p in docx.Document(io.BytesIO(body)).paragraphs if p.text == ARABIC)
        xml = arabic._p.xml
        assert "<w:bidi/>" in xml and "<w:rtl/>" in xml
        assert "Alice  00:00:00" in paragraphs
    elif fmt == "json":
        data = json.loads(body)
        assert (data["format"], data["version"]) == ("verbatim.transcript", 1)
        assert data["transcript"]["title"] == title
        assert data["speakers"] == [
            {"label": "SPEAKER_00", "name": "Alice"},
            {"label": "SPEAKER_01", "name": "Omar"},
        ]
        assert [s["text"] for s in data["segments"]] == [s[2] for s in SEGMENTS]
        first = data["segments"][0]
        assert first["speaker_name"] == "Alice" and first["start"] == 0.0
        assert first["words"][0] == {"text": "Hello", "start": 0.0, "end": 0.3, "probability": 0.9}
    elif fmt == "pdf":
        assert body.startswith(b"%PDF-")
        text = pdf_text(body)
        assert title in text and "Alice" in text and "00:00:04" in text
        assert_all_scripts(text)
    else:  # pragma: no cover - a format added without a reader here
        raise AssertionError(fmt)


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def api(team: Team):  # type: ignore[no-untyped-def]
    return api_caller(team)


Fetch = Callable[[uuid.UUID, str, str], TestResponse]


@pytest.fixture(params=["web", "api"])
def fetch(request: pytest.FixtureRequest, team: Team) -> Fetch:
    """GET one transcript's export, through the page or through the API."""
    if request.param == "web":
        return lambda tid, fmt, query="": team.web.get(
            team.url(f"/transcripts/{tid}/export/{fmt}{query}")
        )
    caller = api_caller(team)
    return lambda tid, fmt, query="": caller("GET", f"/transcripts/{tid}/export/{fmt}{query}")


# --- one transcript ------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_downloads_and_reads_back(team: Team, fetch: Fetch, fmt: str) -> None:
    tid = transcript(team)
    resp = fetch(tid, fmt)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert resp.headers["Content-Type"] == MEDIA[fmt]
    assert resp.headers["Content-Disposition"] == f'attachment; filename="Weekly meeting.{fmt}"'
    assert resp.headers["Cache-Control"] == "private, no-store"
    read_back(fmt, resp.data)


def test_a_non_ascii_title_gets_an_rfc5987_file_name(team: Team) -> None:
    title = "Встреча: 会议 / plan?"
    tid = transcript(team, title)
    resp = team.web.get(team.url(f"/transcripts/{tid}/export/txt"))
    assert resp.status_code == 200
    safe = "Встреча 会议 plan"  # no path separators or characters Windows refuses
    assert resp.headers["Content-Disposition"] == (
        f"attachment; filename=\"plan.txt\"; filename*=UTF-8''{quote(safe + '.txt', safe='')}"
    )


def test_options_change_every_reading_format(team: Team, fetch: Fetch) -> None:
    tid = transcript(team)

    def get(fmt: str, query: str) -> bytes:
        resp = fetch(tid, fmt, query)
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
        return resp.data

    txt = get("txt", "?timestamps=off&speakers=off").decode()
    assert txt.splitlines()[0] == ENGLISH
    bare = get("txt", "?timestamps=false&speakers=true").decode()
    assert bare.splitlines()[1] == "Omar: Thanks, glad to be here."
    paragraphs = get("txt", "?paragraphs=on").decode()
    # Omar's two consecutive segments become one paragraph under one heading.
    assert (
        "[00:00:04] Omar\nThanks, glad to be here. Let us begin with the numbers.\n" in paragraphs
    )
    assert paragraphs.count("Omar") == 2

    docx_default = docx_text(get("docx", ""))
    docx_merged = docx_text(get("docx", "?paragraphs=1"))
    assert "Thanks, glad to be here. Let us begin with the numbers." in docx_merged
    assert len(docx_merged) == len(docx_default) - 2  # one heading and one paragraph fewer
    docx_plain = docx_text(get("docx", "?timestamps=0&speakers=0"))
    assert not any("Alice" in p or "00:00:0" in p for p in docx_plain)
    assert ENGLISH in docx_plain

    pdf_plain = pdf_text(get("pdf", "?timestamps=0&speakers=0"))
    assert "Alice" not in pdf_plain and "00:00:04" not in pdf_plain
    assert_all_scripts(pdf_plain)
    assert "Let us begin" in pdf_text(get("pdf", "?paragraphs=1"))

    srt_plain = srt_cues(get("srt", "?speakers=0"))
    assert not any("Alice" in c.content or "Omar" in c.content for c in srt_plain)
    assert all(c.voice is None for c in vtt_cues(get("vtt", "?speakers=0")))


def test_unknown_format_is_404_with_the_formats_named(team: Team, api) -> None:
    tid = transcript(team)
    page = team.web.get(team.url(f"/transcripts/{tid}/export/exe"))
    assert page.status_code == 404
    assert "There is no export format &#39;exe&#39;" in page.get_data(as_text=True)
    resp = api("GET", f"/transcripts/{tid}/export/exe")
    assert resp.status_code == 404
    assert resp.get_json() == {
        "error": "notfound",
        "message": "There is no export format 'exe'. Formats: txt, srt, vtt, docx, json, pdf.",
    }


def test_bad_option_value_is_refused(team: Team, api) -> None:
    tid = transcript(team)
    page = team.web.get(team.url(f"/transcripts/{tid}/export/txt?timestamps=maybe"))
    assert page.status_code == 422
    assert "Give timestamps as on or off, not &#39;maybe&#39;." in page.get_data(as_text=True)
    resp = api("GET", f"/transcripts/{tid}/export/txt?paragraphs=maybe")
    assert resp.status_code == 422
    assert "paragraphs" in json.dumps(resp.get_json())


@pytest.mark.parametrize(
    ("status", "says"),
    [
        (Status.QUEUED, "is queued; it can be exported once it is completed"),
        (Status.PROCESSING, "is processing"),
        (Status.FAILED, "failed; it has no text to export"),
        (Status.CANCELLED, "was cancelled"),
    ],
)
def test_an_unfinished_transcript_is_refused_with_409(team: Team, api, status, says) -> None:
    tid = transcript(team, "Not yet", status=status)
    page = team.web.get(team.url(f"/transcripts/{tid}/export/txt"))
    assert page.status_code == 409
    assert says in page.get_data(as_text=True)
    resp = api("GET", f"/transcripts/{tid}/export/pdf")
    assert resp.status_code == 409
    assert resp.get_json()["error"] == "conflict" and says in resp.get_json()["message"]


def test_another_workspaces_transcript_answers_like_a_missing_one(
    app: Flask, team: Team, api, web2: Web
) -> None:
    other = make_team(app, web2, "Other Team")
    theirs = transcript(other, "Their secret meeting")
    for fmt in ("txt", "pdf"):
        foreign = team.web.get(team.url(f"/transcripts/{theirs}/export/{fmt}"))
        missing = team.web.get(team.url(f"/transcripts/{uuid.uuid4()}/export/{fmt}"))
        assert foreign.status_code == missing.status_code == 404
        assert foreign.data == missing.data
        assert b"secret" not in foreign.data
        foreign_api = api("GET", f"/transcripts/{theirs}/export/{fmt}")
        missing_api = api("GET", f"/transcripts/{uuid.uuid4()}/export/{fmt}")
        assert foreign_api.status_code == missing_api.status_code == 404
        assert foreign_api.get_json() == missing_api.get_json()
    # Their own owner still gets it.
    assert other.web.get(other.url(f"/transcripts/{theirs}/export/txt")).status_code == 200


# --- a selection as one zip ----------------------------------------------------------------------


def zip_files(resp: TestResponse) -> dict[str, bytes]:
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert resp.headers["Content-Type"] == "application/zip"
    assert resp.headers["Content-Disposition"].startswith('attachment; filename="transcripts-')
    with zipfile.ZipFile(io.BytesIO(resp.data)) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


def test_zip_of_a_selection_through_the_page_and_the_api(team: Team, api) -> None:
    first = transcript(team, "Weekly meeting")
    same = transcript(team, "weekly MEETING")  # the same name but for case
    odd = transcript(team, "../../etc/passwd: 会议?")
    ids = [str(first), str(same), str(odd)]
    web_files = zip_files(
        team.web.post(team.url("/transcripts/export"), {"ids": ids, "format": "docx"})
    )
    assert list(web_files) == [
        "Weekly meeting.docx",
        "weekly MEETING (2).docx",
        "etc passwd 会议.docx",
    ]
    for body in web_files.values():
        assert CHINESE in docx_text(body)

    api_files = zip_files(
        api(
            "POST",
            "/transcripts/export",
            json={"ids": ids, "format": "srt", "options": {"speakers": False}},
        )
    )
    assert list(api_files) == [
        "Weekly meeting.srt",
        "weekly MEETING (2).srt",
        "etc passwd 会议.srt",
    ]
    for body in api_files.values():
        cues = srt_cues(body)
        assert cues and not any("Alice" in c.content for c in cues)


@pytest.mark.parametrize("fmt", FORMATS)
def test_zip_in_every_format_reads_back(team: Team, api, fmt: str) -> None:
    ids = [str(transcript(team)), str(transcript(team, "Second"))]
    files = zip_files(api("POST", "/transcripts/export", json={"ids": ids, "format": fmt}))
    assert list(files) == [f"Weekly meeting.{fmt}", f"Second.{fmt}"]
    read_back(fmt, files[f"Weekly meeting.{fmt}"])
    read_back(fmt, files[f"Second.{fmt}"], title="Second")


def test_zip_refusals(app: Flask, team: Team, api, web2: Web) -> None:
    mine = str(transcript(team))
    other = make_team(app, web2, "Zip Other")
    theirs = str(transcript(other, "Theirs"))
    queued = str(transcript(team, "Still going", status=Status.QUEUED))

    # Another workspace's id: 404, as for a missing one, and no zip.
    for ids in ([mine, theirs], [mine, str(uuid.uuid4())]):
        page = team.web.post(team.url("/transcripts/export"), {"ids": ids, "format": "txt"})
        assert page.status_code == 404
        resp = api("POST", "/transcripts/export", json={"ids": ids, "format": "txt"})
        assert resp.status_code == 404
        assert resp.get_json() == {"error": "notfound", "message": "No such transcript."}
    assert (
        team.web.post(
            team.url("/transcripts/export"), {"ids": ["not-an-id"], "format": "txt"}
        ).status_code
        == 404
    )

    # An empty selection: a clear 422.
    page = team.web.post(team.url("/transcripts/export"), {"format": "txt"})
    assert page.status_code == 422
    assert "Choose at least one transcript to export." in page.get_data(as_text=True)
    resp = api("POST", "/transcripts/export", json={"ids": [], "format": "txt"})
    assert resp.status_code == 422
    assert resp.get_json()["message"] == "Choose at least one transcript to export."

    # Unfinished, or an unknown format: refused before any byte of a zip.
    resp = api("POST", "/transcripts/export", json={"ids": [mine, queued], "format": "txt"})
    assert resp.status_code == 409 and "Still going" in resp.get_json()["message"]
    resp = api("POST", "/transcripts/export", json={"ids": [mine], "format": "rar"})
    assert resp.status_code == 404 and "no export format 'rar'" in resp.get_json()["message"]
    page = team.web.post(team.url("/transcripts/export"), {"ids": [mine], "format": "rar"})
    assert page.status_code == 404

    # A malformed body: the API's own 422.
    resp = api("POST", "/transcripts/export", json={"ids": "x", "format": "txt", "extra": 1})
    assert resp.status_code == 422


def test_a_transcript_deleted_while_the_zip_is_sent_is_named_in_errors_txt(
    app: Flask, team: Team
) -> None:
    keep = transcript(team, "Kept")
    gone = transcript(team, "Gone")
    with app.test_request_context(), workspace_scope(team.workspace.id):
        export = service.export_zip([keep, gone], "txt", None)
        chunks = export.chunks
        first = next(chunks)  # the first transcript is in
        with db.session.begin_nested():  # in the session the zip is being made in
            db.session.execute(delete(Transcript).where(Transcript.id == gone))
        rest = b"".join(chunks)
        db.session.rollback()
    with zipfile.ZipFile(io.BytesIO(first + rest)) as archive:
        assert archive.namelist() == ["Kept.txt", "errors.txt"]
        assert "Gone.txt: It was deleted." in archive.read("errors.txt").decode()


# --- who may export ------------------------------------------------------------------------------


def test_viewers_can_export_and_see_the_export_menu(app: Flask, team: Team, web2: Web) -> None:
    tid = transcript(team)
    viewer = make_user(app, name="Vera Viewer")
    add_member(app, team.workspace.id, viewer, "viewer")
    web2.login(viewer)
    resp = web2.get(team.url(f"/transcripts/{tid}/export/pdf"))
    assert resp.status_code == 200
    assert_all_scripts(pdf_text(resp.data))
    files = zip_files(
        web2.post(team.url("/transcripts/export"), {"ids": [str(tid)], "format": "vtt"})
    )
    assert list(files) == ["Weekly meeting.vtt"]
    page = web2.get(team.url(f"/transcripts/{tid}")).get_data(as_text=True)
    for fmt in FORMATS:
        assert f'formaction="/w/{team.slug}/transcripts/{tid}/export/{fmt}"' in page


def test_export_menu_form_sends_options_that_the_route_reads(team: Team) -> None:
    """The menu's hidden "0" then checkbox "1": ticked sends both (the last wins), unticked
    sends the 0 alone."""
    tid = transcript(team)
    page = team.page(f"/transcripts/{tid}")
    assert 'name="paragraphs" value="0"' in page and 'name="paragraphs" value="1"' in page
    url = team.url(f"/transcripts/{tid}/export/txt")
    ticked = team.web.get(f"{url}?timestamps=0&timestamps=1&speakers=0&paragraphs=0").data.decode()
    assert ticked.splitlines()[0] == f"[00:00:00] {ENGLISH}"


def test_export_formats_api_lists_each_format_and_its_options(api) -> None:
    resp = api("GET", "/export-formats")
    assert resp.status_code == 200
    body = resp.get_json()
    assert [f["name"] for f in body["formats"]] == list(FORMATS)
    by_name = {f["name"]: f for f in body["formats"]}
    assert by_name["txt"]["options"] == ["paragraphs", "speakers", "summaries", "timestamps"]
    assert by_name["srt"]["options"] == ["speakers"]
    assert by_name["json"]["options"] == ["summaries"]
    assert by_name["pdf"]["media_type"] == "application/pdf"
    assert {o["name"]: o["default"] for o in body["options"]} == {
        "timestamps": True,
        "speakers": True,
        "paragraphs": False,
        "summaries": False,
    }


def test_exporters_come_from_the_first_party_plugin(app: Flask) -> None:
    with app.app_context():
        assert "exporters" in registry().implementers(service.EXPORTERS_HOOK)
        assert registry().infos["exporters"].first_party


def test_export_one_works_in_a_workspace_context_without_a_user(app: Flask, team: Team) -> None:
    """What public share pages do: no one signed in, only the link's workspace."""
    tid = transcript(team)
    with app.test_request_context(), workspace_scope(team.workspace.id):
        exported = service.export_one(tid, "json", {"speakers": "off"})
    assert exported.filename == "Weekly meeting.json"
    assert exported.media_type == "application/json"
    assert json.loads(exported.body)["transcript"]["id"] == str(tid)


# --- fonts ---------------------------------------------------------------------------------------


def test_a_missing_font_is_refused_naming_the_package(tmp_path: Path) -> None:
    shutil.copy(fonts._find(["DejaVuSans.ttf"], fonts.FONT_ROOTS), tmp_path / "DejaVuSans.ttf")
    roots = [str(tmp_path)]
    assert fonts.plan(set("Hello Привет Ελληνικά"), roots).fallbacks == ()
    with pytest.raises(
        MissingFont, match=r"Arabic text .*install the Debian package fonts-noto-core"
    ):
        fonts.plan(set(ARABIC), roots)
    with pytest.raises(MissingFont, match=r"Chinese, Japanese and Korean .*fonts-wqy-microhei"):
        fonts.plan(set(CHINESE), roots)
    with pytest.raises(MissingFont, match="fonts-dejavu-core"):
        fonts.plan(set("Hello"), [str(tmp_path / "empty")])
    assert MissingFont("x").status == 503


def test_openapi_describes_the_exports(web: Web) -> None:
    spec = web.get("/api/v1/openapi.json").json
    validate(spec)
    one = spec["paths"]["/api/v1/transcripts/{transcript_id}/export/{fmt}"]["get"]
    assert {"application/pdf", "text/vtt", "application/json"} <= set(
        one["responses"]["200"]["content"]
    )
    assert {"200", "404", "409", "422", "503"} <= set(one["responses"])
    assert {"timestamps", "speakers", "paragraphs"} <= {
        p["name"] for p in one["parameters"] if p["in"] == "query"
    }
    assert "verbatim.transcript" in one["description"]
    many = spec["paths"]["/api/v1/transcripts/export"]["post"]
    assert "application/zip" in many["responses"]["200"]["content"]
    assert {"200", "404", "409", "422"} <= set(many["responses"])
    assert "/api/v1/export-formats" in spec["paths"]


def test_the_selection_form_posts_what_the_zip_route_reads(app: Flask, team: Team) -> None:
    """The listing's "Export selected" partial (included by transcripts/index.html)."""
    with app.test_request_context(team.url("/transcripts/")), workspace_scope(team.workspace.id):
        g.workspace = db.session.get(Workspace, team.workspace.id)
        page = render_template_string('{% include "transcripts/_export_selection.html" %}')
    assert f'action="/w/{team.slug}/transcripts/export"' in page
    assert 'name="csrf_token"' in page and "js/exports.js" in page
    assert [f'<option value="{f}">' in page for f in FORMATS] == [True] * len(FORMATS)
    for option in ("timestamps", "speakers", "paragraphs"):
        assert f'name="{option}" value="0"' in page and f'name="{option}" value="1"' in page
    # What the form sends with two rows ticked (exports.js adds the ids) and paragraphs off.
    ids = [str(transcript(team, "One")), str(transcript(team, "Two"))]
    form = {"ids": ids, "format": "txt", "timestamps": ["0", "1"], "speakers": "0"}
    files = zip_files(team.web.post(team.url("/transcripts/export"), form | {"paragraphs": "0"}))
    assert list(files) == ["One.txt", "Two.txt"]
    assert files["One.txt"].decode().splitlines()[0] == f"[00:00:00] {ENGLISH}"


# --- exporters from other plugins --------------------------------------------------------------


def _csv(doc: ExportDocument, options: ExportOptions) -> bytes:
    rows = [f"{s.start},{s.end},{doc.speaker_name(s.speaker) or ''},{s.text}" for s in doc.segments]
    return "\n".join(rows).encode()


def _broken(doc: ExportDocument, options: ExportOptions) -> bytes:
    raise RuntimeError("a bug in someone's plugin")


class CsvPlugin:
    @hookimpl
    def verbatim_plugin_info(self) -> PluginInfo:
        return PluginInfo("csv-export", "CSV export", "Segments as CSV rows.")

    @hookimpl
    def verbatim_exporters(self) -> list[object]:
        return [
            Exporter("csv", "CSV", "text/csv; charset=utf-8", _csv),
            Exporter("txt", "An impostor", "text/plain", lambda d, o: b"impostor"),
            Exporter("boom", "Broken", "text/plain", _broken),
            "not an exporter",
        ]


@pytest.fixture
def csv_plugin(app: Flask):  # type: ignore[no-untyped-def]
    with app.app_context():
        reg = registry()
        reg.register(CsvPlugin(), first_party=False)
    try:
        yield "csv-export"
    finally:
        with app.app_context():
            reg.pm.unregister(name="csv-export")
            reg.infos.pop("csv-export", None)
            reg._objects.pop("csv-export", None)


def test_a_plugins_exporter_is_offered_where_the_plugin_is_on(
    app: Flask, team: Team, api, web2: Web, csv_plugin: str
) -> None:
    tid = transcript(team)
    assert api("GET", f"/transcripts/{tid}/export/csv").status_code == 404
    with app.test_request_context(), workspace_scope(team.workspace.id):
        set_plugin(csv_plugin, True, {}, team.workspace.id)
    names = [f["name"] for f in api("GET", "/export-formats").get_json()["formats"]]
    assert names == [*FORMATS, "csv", "boom"]
    resp = api("GET", f"/transcripts/{tid}/export/csv")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert resp.data.decode().splitlines()[1] == "4.5,7.0,Omar,Thanks, glad to be here."
    # A plugin cannot take over a built-in format.
    assert b"impostor" not in api("GET", f"/transcripts/{tid}/export/txt").data
    # A plugin's exporter that breaks is a clear 500, logged, not a crash.
    broken = api("GET", f"/transcripts/{tid}/export/boom")
    assert broken.status_code == 500
    assert (
        broken.get_json()["message"] == "Exporting as BOOM failed on our side; it has been logged."
    )
    # Another workspace, without the plugin on, does not have the format.
    other = make_team(app, web2, "No CSV Team")
    theirs = transcript(other)
    assert other.web.get(other.url(f"/transcripts/{theirs}/export/csv")).status_code == 404


def test_titles_and_speaker_names_in_any_script(team: Team, fetch: Fetch) -> None:
    """Headings are bold, and some scripts' fonts have no bold face (WenQuanYi): they are
    drawn in the regular face rather than refused."""
    names = {"SPEAKER_00": "李明", "SPEAKER_01": "عمر"}
    tid = transcript(team, "会议 اجتماع შეხვედრა", speakers=names)
    pdf = fetch(tid, "pdf")
    assert pdf.status_code == 200, pdf.get_data(as_text=True)[:300]
    text = pdf_text(pdf.data)
    for sample in ("会议", "اجتماع", "შეხვედრა", "李明", "عمر"):
        assert nfkc(sample) in text, sample
    assert_all_scripts(text)
    paragraphs = docx_text(fetch(tid, "docx").data)
    assert paragraphs[0] == "会议 اجتماع შეხვედრა"
    assert "李明  00:00:00" in paragraphs and "عمر  00:00:04" in paragraphs
    srt_text = fetch(tid, "srt").data.decode()
    assert "李明: Hello everyone," in srt_text and f"عمر: {ARABIC}" in srt_text
