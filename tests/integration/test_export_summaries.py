"""The "AI summaries" export option: the newest completed summary of each template goes into
TXT, DOCX, PDF and JSON (each read back by a parser that is not ours), never a failed or
older one, marked stale when the transcript changed since; nothing of it without the
option, in subtitles, or for a Private Transcript; offered on the page and in the API."""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime, timedelta

import docx
from flask import Flask

from app.ai.models import AiSummary, RunStatus
from tests.integration.test_exports import (
    ARABIC,
    CHINESE,
    docx_text,
    nfkc,
    pdf_text,
    srt_cues,
    transcript,
    zip_files,
)
from tests.integration.test_workspaces import database
from tests.transcripts import Team, api_caller

NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
OVERVIEW = (
    "The team met **weekly**; Omar said the numbers are *up* [00:04].\n\n"
    f"- **Alice**: send the report [00:10]\n- {CHINESE} [00:10]"
)
CHAPTERS = f"## Chapters\n\n1. Greetings [00:00]\n2. {ARABIC} [00:14]"
OLDER = "An older overview that a newer one replaced."
FAILED = "A failed attempt at action items."
STALE_NOTE = "stale: the transcript changed since"
LATEST_MADE = "(made by Extractive (no language model) on 2025-03-14)"
STALE_MADE = f"(made by OpenAI-compatible · gpt-4o-mini on 2025-03-13; {STALE_NOTE})"


def add_summary(
    app: Flask,
    team: Team,
    transcript_id: uuid.UUID,
    key: str,
    content: str,
    *,
    revision: int,
    age: timedelta = timedelta(0),
    status: RunStatus = RunStatus.COMPLETED,
    provider: str = "extractive",
    model: str = "",
) -> None:
    """A summary row put straight in the database (the AI service has its own tests)."""
    titles = {"overview": "Overview", "chapters": "Chapters", "action_items": "Action items"}
    with database(app, team.workspace.id) as s:
        s.add(
            AiSummary(
                transcript_id=transcript_id,
                template_key=key,
                template_title=titles[key],
                prompt="Summarise.",
                revision=revision,
                status=status,
                content=content,
                provider=provider,
                model=model,
                error="" if status == RunStatus.COMPLETED else "The server said no.",
                created_at=NOW - age,
                finished_at=NOW - age if status == RunStatus.COMPLETED else None,
                created_by_id=team.user.id,
            )
        )
        s.commit()


def summarised(app: Flask, team: Team) -> uuid.UUID:
    """A transcript at revision 2 with: a current overview (and an older one it replaced),
    a failed action items run, and chapters made from revision 1."""
    tid = transcript(team, revision=2)
    add_summary(app, team, tid, "overview", OVERVIEW, revision=2)
    add_summary(app, team, tid, "overview", OLDER, revision=2, age=timedelta(hours=1))
    add_summary(
        app,
        team,
        tid,
        "chapters",
        CHAPTERS,
        revision=1,
        age=timedelta(days=1),
        provider="openai",
        model="gpt-4o-mini",
    )
    add_summary(app, team, tid, "action_items", FAILED, revision=2, status=RunStatus.FAILED)
    return tid


def test_summaries_go_into_every_reading_format_only_when_asked(app: Flask, team: Team) -> None:
    tid = summarised(app, team)

    def get(fmt: str, query: str = "") -> bytes:
        resp = team.web.get(team.url(f"/transcripts/{tid}/export/{fmt}{query}"))
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
        return resp.data

    # TXT: the section first, the newest completed summary of each template in the order
    # templates are listed, markdown read as plain text, then a separator and the transcript.
    txt = get("txt", "?summaries=1").decode()
    lines = txt.splitlines()
    assert lines[:2] == ["AI summaries", "============"]
    overview = lines.index("Overview")
    assert lines[overview + 1 : overview + 7] == [
        LATEST_MADE,
        "",
        "The team met weekly; Omar said the numbers are up [00:04].",
        "",
        "• Alice: send the report [00:10]",
        f"• {CHINESE} [00:10]",
    ]
    chapters = lines.index("Chapters")  # the template's title, then the markdown heading
    assert chapters > overview
    assert lines[chapters + 1] == STALE_MADE
    assert "1. Greetings [00:00]" in lines and f"2. {ARABIC} [00:14]" in lines
    separator = lines.index("-" * 40)
    assert separator > chapters
    assert lines[separator + 2].startswith("[00:00:00] Alice: Hello everyone")
    assert OLDER not in txt and FAILED not in txt and "Action items" not in txt
    assert "**" not in txt

    # DOCX: headings in Word's heading styles, each summary's lines as paragraphs.
    body = get("docx", "?summaries=on")
    paragraphs = docx.Document(io.BytesIO(body)).paragraphs
    styled = {p.text: p.style.name for p in paragraphs}
    assert styled["AI summaries"] == "Heading 1" and styled["Transcript"] == "Heading 1"
    assert styled["Overview"] == "Heading 2"
    texts = [p.text for p in paragraphs]
    start = texts.index("Overview")
    assert texts[start : start + 5] == [
        "Overview",
        LATEST_MADE,
        "The team met weekly; Omar said the numbers are up [00:04].",
        "• Alice: send the report [00:10]",
        f"• {CHINESE} [00:10]",
    ]
    assert STALE_MADE in texts and f"2. {ARABIC} [00:14]" in texts
    assert texts.index("Transcript") < texts.index("Hello everyone, welcome to the weekly meeting.")
    arabic_item = next(p for p in paragraphs if p.text == f"2. {ARABIC} [00:14]")
    # The Arabic list item is laid out right to left, as Word needs (its number is weak).
    assert "<w:bidi/>" in arabic_item._p.xml and "<w:rtl/>" in arabic_item._p.xml
    joined = "\n".join(texts)
    assert OLDER not in joined and FAILED not in joined and "**" not in joined

    # PDF: the same text, in fonts for every script it holds.
    pdf = pdf_text(get("pdf", "?summaries=true"))
    assert pdf.index("AI summaries") < pdf.index("Overview") < pdf.index("Transcript")
    assert "The team met weekly; Omar said the numbers are up [00:04]." in pdf
    assert "• Alice: send the report [00:10]" in pdf
    assert nfkc(CHINESE) in pdf
    assert nfkc(STALE_MADE) in pdf
    for word in ARABIC.split():
        assert nfkc(word) in pdf
    assert OLDER not in pdf and FAILED not in pdf and "**" not in pdf

    # JSON: the summaries as stored (markdown), with what made them.
    data = json.loads(get("json", "?summaries=1"))
    assert (data["format"], data["version"]) == ("verbatim.transcript", 1)
    assert data["summaries"] == [
        {
            "template": "overview",
            "title": "Overview",
            "text": OVERVIEW,
            "provider": "extractive",
            "model": "",
            "revision": 2,
            "stale": False,
            "finished_at": NOW.isoformat(),
        },
        {
            "template": "chapters",
            "title": "Chapters",
            "text": CHAPTERS,
            "provider": "openai",
            "model": "gpt-4o-mini",
            "revision": 1,
            "stale": True,
            "finished_at": (NOW - timedelta(days=1)).isoformat(),
        },
    ]

    # Without the option (the default, or off): nothing of it, in any format.
    for query in ("", "?summaries=0"):
        assert "AI summaries" not in get("txt", query).decode()
        plain = docx_text(get("docx", query))
        assert "AI summaries" not in plain and "Transcript" not in plain
        assert "weekly;" not in "\n".join(plain)
        assert "AI summaries" not in pdf_text(get("pdf", query))
        assert "summaries" not in json.loads(get("json", query))
    # Subtitles ignore it.
    assert srt_cues(get("srt", "?summaries=1")) == srt_cues(get("srt"))
    assert get("vtt", "?summaries=1") == get("vtt")


def test_the_menu_offers_it_and_the_zip_and_the_api_take_it(app: Flask, team: Team) -> None:
    tid = summarised(app, team)
    page = team.page(f"/transcripts/{tid}")
    assert 'name="summaries" value="0"' in page and 'name="summaries" value="1"' in page
    # The formats that honour it say so (srt and vtt do not).
    assert 'title="Applies to TXT, DOCX, JSON, PDF"' in page and "AI summaries" in page

    form = {"ids": [str(tid)], "format": "txt", "summaries": ["0", "1"]}
    files = zip_files(team.web.post(team.url("/transcripts/export"), form))
    assert LATEST_MADE in files["Weekly meeting.txt"].decode()

    api = api_caller(team)
    resp = api("GET", f"/transcripts/{tid}/export/txt?summaries=true")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert resp.data.decode().startswith("AI summaries\n")
    resp = api("GET", f"/transcripts/{tid}/export/json?summaries=false")
    assert "summaries" not in resp.get_json()
    files = zip_files(
        api(
            "POST",
            "/transcripts/export",
            json={"ids": [str(tid)], "format": "json", "options": {"summaries": True}},
        )
    )
    assert [s["title"] for s in json.loads(files["Weekly meeting.json"])["summaries"]] == [
        "Overview",
        "Chapters",
    ]
    listed = api("GET", "/export-formats").get_json()
    assert {"name": "summaries", "label": "AI summaries", "default": False} in listed["options"]
    honour = {f["name"] for f in listed["formats"] if "summaries" in f["options"]}
    assert honour == {"txt", "docx", "json", "pdf"}


def test_a_private_transcript_is_not_exported_by_the_server(app: Flask, team: Team) -> None:
    tid = transcript(team, "Private one", encrypted=True)
    # Never made by the AI, which refuses Private Transcripts; put here to show that no
    # server export reads one either: the owner's browser exports private transcripts.
    add_summary(app, team, tid, "overview", OVERVIEW, revision=1)
    for fmt in ("txt", "json"):
        resp = team.web.get(team.url(f"/transcripts/{tid}/export/{fmt}?summaries=1"))
        assert resp.status_code == 409, fmt
        assert "Private Transcript" in resp.data.decode()
        assert "weekly;" not in resp.data.decode()
