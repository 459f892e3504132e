"""Only essential cookies, and nothing loaded from a third party: browsing signed out and
signed in sets the session cookie and nothing else (plus `lang` once a language is
chosen), and no page loads a script, style, frame or image from another site."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

from werkzeug.test import TestResponse

from tests.web import unique_email

SESSION = "verbatim_session"
# Where a page could pull in another site: the tags and their attributes that load.
_LOADING = {
    "script": ("src",),
    "link": ("href",),
    "iframe": ("src",),
    "frame": ("src",),
    "img": ("src", "srcset"),
    "source": ("src", "srcset"),
    "audio": ("src",),
    "video": ("src", "poster"),
    "embed": ("src",),
    "object": ("data",),
}


class _Loads(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "link" and "preconnect" in dict(attrs).get("rel", ""):
            self.urls.append(dict(attrs).get("href") or "")
        for name, value in attrs:
            if name in _LOADING.get(tag, ()) and value:
                self.urls += [part.split()[0] for part in value.split(",") if part.strip()]
        style = dict(attrs).get("style") or ""
        self.urls += re.findall(r"url\(\s*['\"]?([^'\")]+)", style)


def third_party(html: str) -> list[str]:
    parser = _Loads()
    parser.feed(html)
    foreign = []
    for url in parser.urls:
        parts = urlsplit(url)
        if parts.scheme in ("", "data", "blob") and not parts.netloc:
            continue  # this site, or inline data
        if parts.hostname != "localhost":
            foreign.append(url)
    return foreign


def check_csp(resp: TestResponse) -> None:
    csp = resp.headers["Content-Security-Policy"]
    for directive in csp.split(";"):
        name, *sources = directive.split()
        for source in sources:
            # Only this site, nothing, inline data and the page's own object URLs.
            assert source in ("'self'", "'none'", "data:", "blob:"), (name, source)


class Browse:
    """Follows the site as a person would and keeps every cookie it was sent."""

    def __init__(self, web) -> None:  # type: ignore[no-untyped-def]
        self.web = web
        self.cookies: set[str] = set()

    def _seen(self, resp: TestResponse) -> TestResponse:
        for header in resp.headers.getlist("Set-Cookie"):
            self.cookies.add(header.split("=", 1)[0].strip())
        return resp

    def page(self, url: str) -> str:
        resp = self._seen(self.web.get(url))
        assert resp.status_code == 200, (url, resp.status_code)
        check_csp(resp)
        html = resp.get_data(as_text=True)
        assert third_party(html) == [], url
        return html

    def post(self, url: str, data: dict[str, str]) -> TestResponse:
        return self._seen(self.web.post(url, data))


def test_the_scan_sees_third_party_loads():
    page = (
        '<script src="/static/js/app.js"></script><img src="data:image/png;base64,AA">'
        '<script src="https://cdn.example.com/x.js"></script>'
        '<link rel="stylesheet" href="//fonts.example.net/css">'
        '<iframe src="https://tracker.example.org/"></iframe>'
        '<div style="background: url(https://img.example.com/a.png)"></div>'
    )
    assert third_party(page) == [
        "https://cdn.example.com/x.js",
        "//fonts.example.net/css",
        "https://tracker.example.org/",
        "https://img.example.com/a.png",
    ]


def test_browsing_sets_only_the_session_cookie_and_loads_nothing_third_party(app, web):
    browse = Browse(web)
    browse.page("/")
    browse.page("/login")
    browse.page("/signup")
    assert browse.cookies <= {SESSION}

    email = unique_email("cookies")
    signed_up = browse.post(
        "/signup",
        {"email": email, "password": "correct horse battery staple", "age_13": "on"},
    )
    assert signed_up.status_code == 302, signed_up.get_data(as_text=True)[:500]
    home = browse.web.get("/")  # to the personal workspace made at sign-up
    assert home.status_code == 302
    dashboard = urlsplit(home.headers["Location"]).path
    assert re.fullmatch(r"/w/[a-z0-9-]+/", dashboard), dashboard
    browse.page(dashboard)
    browse.page(f"{dashboard}transcripts/")
    browse.page("/account")
    browse.page("/account/privacy")
    assert browse.cookies == {SESSION}


def test_a_signed_in_team_member_sees_only_the_session_cookie(app, team):
    browse = Browse(team.web)
    browse.page(team.url("/"))
    browse.page(team.url("/transcripts/"))
    browse.page("/account/privacy")
    assert browse.cookies <= {SESSION}


def test_choosing_a_language_adds_only_the_lang_cookie(app, web):
    browse = Browse(web)
    browse.page("/")
    resp = browse.post("/language", {"language": "en", "next": "/"})
    assert resp.status_code in (302, 303)
    browse.page("/")
    assert browse.cookies <= {SESSION, "lang"} and "lang" in browse.cookies
