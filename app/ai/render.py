"""Model output to safe HTML. Whatever a transcript or a model contains (script, HTML,
javascript: links), the page shows it as text.

Markdown is rendered with raw HTML off, then cleaned by nh3 (ammonia) to a small set of
tags without links or attributes; only then are citations turned into links, which this
module writes itself from checked segment times.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

from app.ai.citations import CITATION, Citation, Resolver

TAGS = {
    "p", "br", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    "table"
)

Link = Callable[[Citation], str]


class Stored:
    """Resolves citations from what was checked when the result was stored (the
    `citations` column), so showing a result needs no transcript read."""

    def __init__(self, stored: list[dict]) -> None:
        self.by_label = {c["label"]: c for c in stored or ()}

    def resolve(self, match) -> Citation:  # type: ignore[no-untyped-def]
        c = self.by_label.get(match.group(0))
        if c is None:
            return Citation(match.group(0), False)
        return Citation(
            c["label"], c["valid"], c["source"], c["transcript_id"], c["start"], c["position"]
        )


def result_html(content: str, stored: list[dict], link: Link | None) -> Markup:
    """A stored summary or answer (ProviderRun.content and .citations) as safe HTML."""
    return to_html(content, Stored(stored), link)


def to_html(
    text: str, resolver: Resolver | Stored | None = None, link: Link | None = None
) -> Markup:
    """`text` (markdown) as sanitised HTML; citations that `resolver` accepts become links
    made by `link`, the others stay as marked text."""
    nonce = secrets.token_hex(6)
    cites: list[Citation] = []

    def hold(match):  # type: ignore[no-untyped-def]
        if resolver is None:
            return match.group(0)
        cites.append(resolver.resolve(match))
        return f"CITE{nonce}N{len(cites) - 1}X"

    held = CITATION.sub(hold, text)
    html = nh3.clean(_md.render(held), tags=TAGS, attributes={}, link_rel=None)
    for i, cite in enumerate(cites):
        html = html.replace(f"CITE{nonce}N{i}X", _citation_html(cite, link), 1)
    return Markup(html)  # noqa: S704 - cleaned by nh3; citations built here from escaped parts


def _citation_html(cite: Citation, link: Link | None) -> str:
    shown = escape(cite.label)
    if not cite.valid or link is None:
        return (
            f'<span class="cite cite-invalid" title="Not a moment of the transcript">{shown}</span>'
        )
    return f'<a class="cite" href="{escape(link(cite))}" data-seek="{cite.start:.2f}">{shown}</a>'


def same_page(cite: Citation) -> str:
    """A citation on its transcript's own page: the player seeks there."""
    return f"#t={cite.start:.2f}"


def transcript_link(slug: str) -> Link:
    """Citations across a workspace open their transcript at the moment."""
    from flask import url_for

    def link(cite: Citation) -> str:
        base = url_for("transcripts.show", slug=slug, transcript_id=cite.transcript_id)
        return f"{base}#t={cite.start:.2f}"

    return link
