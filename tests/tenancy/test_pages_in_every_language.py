"""Every page, in every offered language: the owner of a full workspace opens each GET
route of the matrix (their own workspace's objects) in German and in French. A string
whose placeholders do not fit its translation, or a translated plural called the wrong
way, fails only when that language renders it: this is where it shows, as a 500."""

from __future__ import annotations

import pytest

from tests.tenancy.matrix import SIGNED_IN, WORKSPACE
from tests.tenancy.test_routes import fill
from tests.web import Web

LANGUAGES = {"de": "de-DE,de;q=0.9", "fr": "fr-FR,fr;q=0.9"}
PAGES = sorted(
    (name, template)
    for name, (method, template) in {**SIGNED_IN, **WORKSPACE}.items()
    if method == "GET"
)


@pytest.fixture(scope="module")
def owner(app, world):  # type: ignore[no-untyped-def]
    web = Web(app, remote_addr="10.66.0.9")
    web.login(world.x.owner)
    return web


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_every_page_renders_in_the_language(owner, world, language):  # type: ignore[no-untyped-def]
    broken, rendered = [], 0
    for name, template in PAGES:
        for htmx in (False, True):
            headers = {"Accept-Language": LANGUAGES[language]}
            if htmx:
                headers["HX-Request"] = "true"
            resp = owner.get(fill(template, world.x), headers=headers)
            if resp.status_code >= 500:
                broken.append(f"{name} ({'htmx' if htmx else 'page'}): {resp.status_code}")
                continue
            body = resp.get_data(as_text=True)
            if resp.status_code == 200 and "<html" in body:
                rendered += 1
                if f'<html lang="{language}">' not in body:
                    broken.append(f"{name}: not in {language}")
    assert not broken, broken
    assert rendered >= 40, rendered  # the pages, not only downloads and partials
