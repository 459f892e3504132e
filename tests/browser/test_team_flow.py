"""Two people in two browser contexts: sign up, make a team, invite, accept, change a role."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import Watched, watch
from tests.browser.steps import sign_up
from tests.mailbox import Mailbox
from tests.web import unique_email

pytestmark = pytest.mark.browser

SCREENSHOT = "/tmp/verbatim-members.png"
ADMIN_TABS = ("API keys", "Plugins", "Audit log", "Billing", "Settings")


@dataclass
class Person(Watched):
    navigations: int = 0

    def mark_document(self) -> None:
        # Survives htmx swaps, vanishes on a full page load.
        self.page.evaluate("window.__sameDocument = true")

    def same_document(self) -> bool:
        return self.page.evaluate("window.__sameDocument === true")


def _person(browser: Browser, base_url: str) -> Person:
    person = watch(browser, base_url, Person, timeout_ms=10_000)

    def on_navigation(frame: object) -> None:
        if frame is person.page.main_frame:
            person.navigations += 1

    person.page.on("framenavigated", on_navigation)
    return person


@pytest.fixture
def people(chromium: Browser, live_server: str) -> Iterator[Callable[[], Person]]:
    made: list[Person] = []

    def make() -> Person:
        made.append(_person(chromium, live_server))
        return made[-1]

    yield make
    for person in made:
        person.context.close()


def _sign_up(person: Person, name: str, email: str) -> None:
    sign_up(person.page, name, email)


def _assert_htmx_loaded(person: Person) -> None:
    assert person.page.evaluate("typeof window.htmx") == "object", "htmx did not load"


def _on_live_server(link: str, live_server: str) -> str:
    # The mail's link carries the configured base_url; the path is what matters here.
    parts = urlsplit(link)
    assert parts.path.startswith("/invitations/"), link
    return live_server + parts.path


def test_team_invitation_flow_in_two_browsers(
    people: Callable[[], Person],
    live_server: str,
    run_jobs: Callable[..., None],
    mailbox: Mailbox,
) -> None:
    alice, bob = people(), people()
    a_email, b_email = unique_email("alice"), unique_email("bob")
    team, slug = "Ops Team", f"ops-{uuid.uuid4().hex[:8]}"

    # A signs up and lands on the personal workspace.
    _sign_up(alice, "Alice Admin", a_email)
    page = alice.page
    expect(page.get_by_role("heading", level=1)).to_have_text("Alice Admin's workspace")
    expect(page.locator(".flash.success")).to_contain_text("Welcome to Verbatim")
    _assert_htmx_loaded(alice)

    # A creates a team from the workspace switcher.
    page.locator(".switcher summary").click()
    page.get_by_role("link", name="+ New team workspace").click()
    page.get_by_label("Name").fill(team)
    page.get_by_label("Address").fill(slug)
    page.get_by_role("button", name="Create workspace").click()
    page.wait_for_url(f"**/w/{slug}/members")
    expect(page.locator(".switcher summary")).to_have_text(team)

    # Members: invite B as admin; the pending invitation appears by an htmx swap.
    page.get_by_role("link", name="Members", exact=True).click()
    page.wait_for_url(f"**/w/{slug}/members")
    _assert_htmx_loaded(alice)
    alice.mark_document()
    loads = alice.navigations
    invite_form = page.locator("form[hx-post$='/invitations']")
    invite_form.get_by_label("Email").fill(b_email)
    invite_form.get_by_label("Role").select_option("admin")
    invite_form.get_by_role("button", name="Send invitation").click()
    pending = page.locator("#members table").nth(1)
    expect(page.get_by_role("heading", name="Pending invitations")).to_be_visible()
    expect(pending.locator("tr", has_text=b_email)).to_contain_text("admin")
    assert alice.same_document(), "the invitation form reloaded the page instead of swapping"
    assert alice.navigations == loads

    # The invitation mail goes out through the email queue and real SMTP.
    run_jobs("email")
    link = mailbox.last(b_email, f"invited to {team}").link()

    # B signs up in a second context, opens the link and accepts.
    _sign_up(bob, "Bob Builder", b_email)
    bob.page.goto(_on_live_server(link, live_server))
    expect(bob.page.get_by_role("heading", level=1)).to_have_text(f"Join {team}")
    bob.page.get_by_role("button", name="Accept").click()
    bob.page.wait_for_url(f"**/w/{slug}/")
    expect(bob.page.get_by_role("heading", level=1)).to_have_text(team)
    expect(bob.page.locator(".flash.success")).to_contain_text(f"You joined {team}")
    expect(bob.page.locator(".stat", has_text="Your role")).to_contain_text("Admin")
    bob_tabs = bob.page.get_by_role("navigation", name="Workspace")
    for tab in ADMIN_TABS:
        expect(bob_tabs.get_by_role("link", name=tab)).to_be_visible()

    # A reloads Members and sees B as an admin member; the invitation is no longer pending.
    page.reload()
    people_table = page.locator("#members table").first
    bob_row = people_table.locator("tr", has_text=b_email)
    expect(bob_row).to_contain_text("Bob Builder")
    role_select = bob_row.get_by_label(f"Role of {b_email}")
    expect(role_select).to_have_value("admin")
    expect(page.get_by_role("heading", name="Pending invitations")).to_have_count(0)
    page.screenshot(path=SCREENSHOT, full_page=True)

    # A makes B a viewer through the htmx form: swapped in place, no reload.
    alice.mark_document()
    loads = alice.navigations
    role_select.select_option("viewer")
    # The select shows "viewer" as soon as it is picked: wait for the server's answer, or
    # B's reload below can overtake the change.
    with page.expect_response(
        lambda r: r.url.endswith("/role") and r.request.method == "POST"
    ) as answer:
        bob_row.get_by_role("button", name="Change").click()
    assert answer.value.ok, answer.value.status
    expect(
        page.locator("#members table").first.locator("tr", has_text=b_email).locator("select")
    ).to_have_value("viewer")
    assert alice.same_document(), "the role form reloaded the page instead of swapping"
    assert alice.navigations == loads

    # B reloads: the admin tabs are gone, the dashboard says viewer.
    bob.page.reload()
    expect(bob.page.locator(".stat", has_text="Your role")).to_contain_text("Viewer")
    bob_tabs = bob.page.get_by_role("navigation", name="Workspace")
    expect(bob_tabs.get_by_role("link", name="Members")).to_be_visible()
    for tab in ADMIN_TABS:
        expect(bob_tabs.get_by_role("link", name=tab)).to_have_count(0)
    _assert_htmx_loaded(bob)

    assert alice.problems == [], alice.problems
    assert bob.problems == [], bob.problems


def test_a_csp_violation_would_be_reported(people: Callable[[], Person]) -> None:
    """The watcher above is not blind: an inline script is blocked by the CSP and reported."""
    person = people()
    person.page.goto("/login")
    _assert_htmx_loaded(person)
    person.page.evaluate(
        """() => {
          const s = document.createElement("script");
          s.textContent = "window.__inlineRan = true";
          document.body.appendChild(s);
        }"""
    )
    for _ in range(100):  # the report arrives asynchronously
        if person.problems:
            break
        person.page.wait_for_timeout(50)
    assert person.page.evaluate("window.__inlineRan === undefined"), "inline script ran"
    assert any("Content Security Policy" in p or "CSP violation" in p for p in person.problems), (
        person.problems
    )
