"""Steps a person takes in the browser that many tests share."""

from __future__ import annotations

import re

from playwright.sync_api import Page

from tests.web import PASSWORD, unique_email

_WORKSPACE_URL = re.compile(r"/w/([^/]+)/$")


def sign_up(page: Page, name: str, email: str | None = None, *, tag: str = "browser") -> str:
    """Sign up through the page (English labels), landing on the new personal workspace;
    returns its slug."""
    page.goto("/signup")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Email").fill(email or unique_email(tag))
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("I am 13 or older.").check()
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(_WORKSPACE_URL)
    match = _WORKSPACE_URL.search(page.url)
    assert match
    return match.group(1)
