"""A live server for the session app and the system Chromium driven by Playwright.

The session app keeps secure_cookies=True: Chromium treats http://127.0.0.1 as a secure
context and keeps Secure cookies there (checked with Chromium 156), so the browser tests
run the production cookie settings rather than a relaxed copy.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page
from werkzeug.serving import WSGIRequestHandler, make_server

CHROMIUM = "/usr/bin/chromium"
# No downloads, no background traffic: only the live server on loopback is reached.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class _QuietHandler(WSGIRequestHandler):
    """No access log per request; errors are still logged."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@pytest.fixture(scope="session")
def live_server(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: install the chromium package (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


# Chromium reports CSP violations on the console already; this makes sure a violation is
# reported even where it would only fire the DOM event.
REPORT_CSP = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error("CSP violation: " + e.violatedDirective + " " + e.blockedURI);
});
"""


@dataclass
class Watched:
    """One browser context (its own cookies), its page, and the errors the page reported
    (console errors, uncaught exceptions, CSP violations)."""

    context: BrowserContext
    page: Page
    problems: list[str] = field(default_factory=list)


W = TypeVar("W", bound=Watched)


def watch(
    browser: Browser, base_url: str, kind: type[W], *, timeout_ms: int, **context_options: Any
) -> W:
    """A new context and page of `kind` whose errors are collected in .problems."""
    context = browser.new_context(base_url=base_url, **context_options)
    context.add_init_script(REPORT_CSP)
    page = context.new_page()
    page.set_default_timeout(timeout_ms)
    watched = kind(context, page)

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error":
            watched.problems.append(f"console: {msg.text} ({msg.location.get('url', '')})")

    page.on("console", on_console)
    page.on("pageerror", lambda err: watched.problems.append(f"pageerror: {err}"))
    return watched
