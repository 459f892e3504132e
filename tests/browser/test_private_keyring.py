"""Private Transcript's account page in Chromium: turn it on (the recovery key shown is the real
one), lock and unlock in the browser, change the passphrase, recover with the recovery key,
and sign out forgetting the keys. The Python reference checks what the page stored."""

from __future__ import annotations

import base64
import re
import uuid

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect

from app.private import crypto
from app.private.models import PrivateKeyring
from tests.browser.conftest import Watched, watch
from tests.integration.test_workspaces import database
from tests.web import Web, make_user

pytestmark = pytest.mark.browser

FIRST = "orange kayak winter lantern"
SECOND = "seven quiet mountain stories"
THIRD = "recovered with the printed key"

# How many keys this browser keeps unlocked (IndexedDB "verbatim-private").
KEPT = """() => new Promise((resolve, reject) => {
  const req = indexedDB.open("verbatim-private", 1);
  req.onupgradeneeded = () => req.result.createObjectStore("keys", { keyPath: "user" });
  req.onerror = () => reject(req.error);
  req.onsuccess = () => {
    const count = req.result.transaction("keys").objectStore("keys").count();
    count.onsuccess = () => { req.result.close(); resolve(count.result); };
  };
})"""


def stored(app: Flask, user_id: uuid.UUID) -> crypto.KeyringMaterial:
    with database(app) as s:
        row = s.get(PrivateKeyring, user_id)
        assert row is not None
        return crypto.KeyringMaterial(
            version=row.version,
            iterations=row.kdf_iterations,
            salt=row.kdf_salt,
            passphrase_wrapped=row.passphrase_wrapped,
            recovery_wrapped=row.recovery_wrapped,
            public_key=row.public_key,
            private_key_wrapped=row.private_key_wrapped,
            verifier=row.verifier,
        )


def default_of(app: Flask, user_id: uuid.UUID) -> bool:
    with database(app) as s:
        return bool(s.get(PrivateKeyring, user_id).private_by_default)  # type: ignore[union-attr]


def opens(material: crypto.KeyringMaterial, passphrase: str, user_id: uuid.UUID) -> bool:
    try:
        crypto.unlock(material, passphrase, str(user_id))
    except crypto.PrivateCryptoError:
        return False
    return True


def error_of(form) -> str:  # type: ignore[no-untyped-def]
    box = form.locator("[data-error]")
    expect(box).to_be_visible()
    return box.inner_text()


def lock_state(page: Page):  # type: ignore[no-untyped-def]
    return page.locator("#private-lock-state")


def test_turn_on_lock_unlock_change_and_recover(
    app: Flask, web: Web, chromium: Browser, live_server: str
) -> None:
    user = make_user(app, name="Kim Keyring")
    web.login(user)
    person = watch(chromium, live_server, Watched, timeout_ms=15_000)
    cookie = web.client.get_cookie("verbatim_session", domain="localhost")
    assert cookie is not None
    person.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server}])
    person.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = person.page
    try:
        page.goto("/account")
        page.get_by_role("link", name="Set up Private Transcript").click()
        facts = page.locator(".private-facts")
        expect(facts).to_contain_text("The audio while it is being processed")
        expect(facts).to_contain_text("Search, AI summaries and chat, public links and team")
        expect(facts).to_contain_text("cannot be recovered by anyone, including us")

        # Turn on: a short passphrase and two that differ are refused in the page.
        setup = page.locator("#private-setup-form")
        setup.get_by_label("Passphrase", exact=True).fill("too short")
        setup.get_by_label("Passphrase again").fill("too short")
        setup.get_by_role("button", name="Continue").click()
        assert "at least 10 characters" in error_of(setup)
        setup.get_by_label("Passphrase", exact=True).fill(FIRST)
        setup.get_by_label("Passphrase again").fill(FIRST + "!")
        setup.get_by_role("button", name="Continue").click()
        assert "differ" in error_of(setup)
        setup.get_by_label("Passphrase again").fill(FIRST)
        setup.get_by_role("button", name="Continue").click()

        panel = page.locator("#private-setup-recovery")
        expect(panel).to_be_visible()
        code = panel.locator("[data-recovery-code]").inner_text().strip()
        assert re.fullmatch(r"[A-Z2-7]{4}(-[A-Z2-7]{4}){12}", code), code
        finish = panel.get_by_role("button", name="Turn on Private Transcript")
        expect(finish).to_be_disabled()  # not before the person says they saved it
        panel.get_by_role("button", name="Copy").click()
        expect(panel.locator("[data-recovery-note]")).to_have_text("Copied.")
        assert page.evaluate("() => navigator.clipboard.readText()") == code
        with page.expect_download() as download:
            panel.get_by_role("button", name="Download (.txt)").click()
        assert download.value.suggested_filename == "verbatim-recovery-key.txt"
        saved = open(download.value.path(), encoding="utf-8").read()  # noqa: SIM115
        assert code in saved and user.email in saved
        panel.get_by_label("I have saved my recovery key").check()
        finish.click()
        expect(page.locator("#private-status h2")).to_contain_text("Private Transcript is on")

        # What the page stored is real: the shown recovery key and the passphrase open it.
        material = stored(app, user.id)
        assert material.iterations == app.extensions["verbatim.settings"].private_kdf_iterations
        by_recovery = crypto.unlock_with_recovery(material, code, str(user.id))
        assert crypto.unlock(material, FIRST, str(user.id)).data_key == by_recovery.data_key

        # Private by default: saved as it is ticked.
        page.get_by_label("Private by default", exact=False).check()
        expect(page.locator("[data-default-note]")).to_contain_text(
            "Saved: new transcripts are private"
        )
        assert default_of(app, user.id) is True

        # Unlocked in this browser after setting up, and still after a reload.
        expect(lock_state(page)).to_contain_text("Unlocked in this browser")
        page.reload()
        expect(lock_state(page)).to_contain_text("Unlocked in this browser")
        assert page.evaluate(KEPT) == 1
        page.get_by_role("button", name="Lock now").click()
        expect(lock_state(page)).to_contain_text("Locked in this browser")
        assert page.evaluate(KEPT) == 0

        # Unlock: a wrong passphrase says so cleanly; the right one unlocks.
        page.get_by_role("button", name="Unlock", exact=True).click()
        dialog = page.locator("dialog#private-unlock")
        expect(dialog).to_be_visible()
        dialog.locator("input[name=passphrase]").fill("not my passphrase at all")
        dialog.get_by_role("button", name="Unlock", exact=True).click()
        expect(dialog.locator("[data-private-error]")).to_have_text(
            "That passphrase does not unlock your keyring. Check it and try again."
        )
        expect(dialog).to_be_visible()
        assert page.evaluate(KEPT) == 0
        dialog.locator("input[name=passphrase]").fill(FIRST)
        dialog.get_by_role("button", name="Unlock", exact=True).click()
        expect(dialog).to_be_hidden()
        expect(lock_state(page)).to_contain_text("Unlocked in this browser")

        # Change the passphrase: a wrong current one is refused, then the right one.
        change = page.locator("#private-change-form")
        change.get_by_label("Current passphrase").fill("not my passphrase at all")
        change.get_by_label("New passphrase", exact=False).first.fill(SECOND)
        change.get_by_label("New passphrase again").fill(SECOND)
        change.get_by_role("button", name="Change passphrase").click()
        assert "not your current passphrase" in error_of(change)
        assert opens(stored(app, user.id), FIRST, user.id)
        change.get_by_label("Current passphrase").fill(FIRST)
        change.get_by_label("New passphrase", exact=False).first.fill(SECOND)
        change.get_by_label("New passphrase again").fill(SECOND)
        change.get_by_role("button", name="Change passphrase").click()
        expect(change.locator("[data-done]")).to_contain_text("Passphrase changed")
        changed = stored(app, user.id)
        assert opens(changed, SECOND, user.id)
        assert not opens(changed, FIRST, user.id)

        # Forgot it: the recovery key sets a new one.
        page.get_by_text("Forgot passphrase? Use recovery key").click()
        recover = page.locator("#private-recover-form")
        recover.get_by_label("Recovery key").fill(code.lower().replace("-", " "))
        recover.get_by_label("New passphrase", exact=False).first.fill(THIRD)
        recover.get_by_label("New passphrase again").fill(THIRD)
        recover.get_by_role("button", name="Set new passphrase").click()
        expect(recover.locator("[data-done]")).to_contain_text("Your new passphrase is set")
        recovered = stored(app, user.id)
        assert opens(recovered, THIRD, user.id)
        assert not opens(recovered, SECOND, user.id)
        assert base64.b64encode(recovered.public_key) == base64.b64encode(material.public_key)

        # Signing out forgets the keys kept in this browser.
        assert page.evaluate(KEPT) == 1
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(re.compile(r"^(?!.*account/private)"))
        assert page.evaluate(KEPT) == 0
        assert person.problems == []
    finally:
        person.context.close()
