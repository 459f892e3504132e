"""Interface languages in the browser: Accept-Language, the switcher, the saved choice."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import Flask
from sqlalchemy import event, select

from app.auth.models import User
from app.extensions import db
from tests.transcripts import Team, make_transcript
from tests.web import Web, make_user

GERMAN = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}
FRENCH = {"Accept-Language": "fr-CH, fr;q=0.9"}


def page(web: Web, url: str, **headers: str) -> str:
    resp = web.get(url, headers=headers)
    assert resp.status_code == 200, resp.status_code
    return resp.get_data(as_text=True)


def saved_locale(app: Flask, user_id: object) -> str | None:
    with app.app_context():
        try:
            return db.session.scalar(select(User.locale).where(User.id == user_id))
        finally:
            db.session.remove()


def lang_cookie(resp: object) -> str | None:
    for header in resp.headers.getlist("Set-Cookie"):  # type: ignore[attr-defined]
        if header.startswith("lang="):
            return header
    return None


def switch(web: Web, language: str, next_url: str | None = "/login", **kw: object) -> object:
    data = {"language": language} if next_url is None else {"language": language, "next": next_url}
    return web.post("/language", data, **kw)


# ---- Accept-Language ------------------------------------------------------------------------


def test_without_a_header_the_pages_stay_english(web: Web) -> None:
    landing = page(web, "/")
    assert '<html lang="en">' in landing
    assert "Every recording, word for word." in landing
    assert "Create an account" in landing
    login = page(web, "/login")
    assert "<h1>Sign in</h1>" in login and "Forgot your password?" in login


def test_german_browser_gets_german_pages(web: Web) -> None:
    landing = page(web, "/", **GERMAN)
    assert '<html lang="de">' in landing
    assert "Jede Aufnahme, Wort für Wort." in landing
    assert "Konto erstellen" in landing
    assert "Every recording" not in landing
    login = page(web, "/login", **GERMAN)
    assert "<h1>Anmelden</h1>" in login
    assert "Passwort vergessen?" in login
    assert "<title>Anmelden · Verbatim</title>" in login


def test_french_browser_gets_french_pages(web: Web) -> None:
    landing = page(web, "/", **FRENCH)
    assert '<html lang="fr">' in landing
    assert "Chaque enregistrement, mot pour mot." in landing
    login = page(web, "/login", **FRENCH)
    assert "<h1>Se connecter</h1>" in login
    assert "Mot de passe oublié ?" in login


def test_the_best_offered_match_wins_and_unknown_languages_fall_back(web: Web) -> None:
    # French preferred over German; a language not offered is skipped.
    assert '<html lang="fr">' in page(web, "/", **{"Accept-Language": "es, fr;q=0.8, de;q=0.5"})
    assert '<html lang="en">' in page(web, "/", **{"Accept-Language": "es, pt-BR"})
    assert '<html lang="en">' in page(web, "/", **{"Accept-Language": "not a header;;"})


def test_signed_in_pages_follow_the_browser(team: Team) -> None:
    german = page(team.web, team.url("/"), **GERMAN)
    assert "<h2>Ihre Rolle</h2>" in german and "<h2>Mitglieder</h2>" in german
    assert '<p class="big">Eigentümer</p>' in german  # the role, by its German name
    assert ">Datenschutz</a>" in german  # the account menu's privacy link
    french = page(team.web, team.url("/members"), **FRENCH)
    assert "<h1>Membres</h1>" in french and "Inviter quelqu&#39;un" not in french
    assert "Inviter quelqu'un" in french
    english = page(team.web, team.url("/members"))
    assert "<h1>Members</h1>" in english and "Invite someone" in english


def test_every_page_offers_the_switcher_in_each_language_s_own_name(web: Web) -> None:
    landing = page(web, "/", **GERMAN)
    assert 'action="/language"' in landing
    assert '<option value="de" lang="de" selected>Deutsch</option>' in landing
    assert '<option value="en" lang="en">English</option>' in landing
    assert '<option value="fr" lang="fr">Français</option>' in landing


# ---- Switching --------------------------------------------------------------------------------


def test_switching_sets_an_essential_cookie_and_is_remembered(web: Web) -> None:
    resp = switch(web, "fr", "/login?next=/account")
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/login?next=/account"
    cookie = lang_cookie(resp)
    assert cookie is not None and cookie.startswith("lang=fr;")
    attrs = {a.strip().split("=")[0].lower() for a in cookie.split(";")}
    assert {"secure", "httponly", "max-age", "path"} <= attrs
    assert "SameSite=Lax" in cookie and "Max-Age=31536000" in cookie
    # The next visit is French, even though the browser prefers German.
    assert "<h1>Se connecter</h1>" in page(web, "/login")
    assert "<h1>Se connecter</h1>" in page(web, "/login", **GERMAN)
    switch(web, "en")
    assert "<h1>Sign in</h1>" in page(web, "/login", **GERMAN)


def test_a_signed_in_choice_is_saved_and_follows_the_person(
    app: Flask, team: Team, web2: Web
) -> None:
    resp = switch(team.web, "de", team.url("/"))
    assert resp.status_code == 302 and resp.headers["Location"] == team.url("/")
    assert saved_locale(app, team.user.id) == "de"
    assert "<h2>Ihre Rolle</h2>" in page(team.web, team.url("/"), **FRENCH)

    # Another client that chose French before signing in: the account's choice wins, and
    # that client's cookie follows it from the sign-in on.
    switch(web2, "fr")
    assert "<h1>Se connecter</h1>" in page(web2, "/login")
    login = web2.login(team.user)
    assert lang_cookie(login) is not None and lang_cookie(login).startswith("lang=de;")
    assert "<h2>Ihre Rolle</h2>" in page(web2, team.url("/"))


def test_after_sign_in_on_a_fresh_client_the_saved_language_applies(
    app: Flask, web: Web, web2: Web
) -> None:
    user = make_user(app, name="Fritz")
    web.login(user)
    switch(web, "fr", "/account")
    assert saved_locale(app, user.id) == "fr"
    web2.login(user)  # no cookie, no Accept-Language
    account = page(web2, "/account")
    assert '<html lang="fr">' in account and "<h1>Votre compte</h1>" in account


def test_an_unknown_language_is_refused_and_changes_nothing(app: Flask, team: Team) -> None:
    for bad in ("xx", "", "de-DE", "../en"):
        resp = switch(team.web, bad, team.url("/"))
        assert resp.status_code == 400, bad
        assert "That language is not offered here" in resp.get_data(as_text=True)
        assert lang_cookie(resp) is None
    assert saved_locale(app, team.user.id) is None
    assert "<h2>Your role</h2>" in page(team.web, team.url("/"))


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/path",
        "/\\evil.example",
        "javascript:alert(1)",
        "/\t/evil.example",
        "",
    ],
)
def test_next_never_leaves_the_site(web: Web, target: str) -> None:
    resp = switch(web, "de", target)
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/"
    assert lang_cookie(resp) is not None


def test_without_next_it_goes_back_to_the_page_it_came_from(web: Web) -> None:
    back = switch(web, "fr", None, headers={"Referer": "https://localhost/login?next=/account"})
    assert back.headers["Location"] == "/login?next=/account"
    for referer in ("https://localhost//evil.example", "https://localhost/\\evil.example"):
        resp = switch(web, "de", None, headers={"Referer": referer})
        assert resp.status_code == 302 and resp.headers["Location"] == "/", referer
    # Another site's form never gets this far: the CSRF check refuses it.
    foreign = switch(web, "de", None, headers={"Referer": "https://evil.example/login"})
    assert foreign.status_code == 400 and lang_cookie(foreign) is None


def test_the_switcher_names_no_path_so_refusals_read_alike(team: Team) -> None:
    # tests/tenancy compares another workspace's 404 with a missing one's byte for byte.
    missing = team.web.get("/w/no-such-place/members")
    assert missing.status_code == 404
    body = missing.get_data(as_text=True)
    assert 'action="/language"' in body and "no-such-place" not in body


def test_switching_needs_the_csrf_token(web: Web) -> None:
    resp = web.post("/language", {"language": "de", "next": "/"}, csrf=False)
    assert resp.status_code == 400
    assert lang_cookie(resp) is None


# ---- Cost -------------------------------------------------------------------------------------


@contextmanager
def counted_queries(app: Flask) -> Iterator[list[str]]:
    statements: list[str] = []
    engine = app.extensions["verbatim.engine"]

    def _count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", _count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", _count)


def test_choosing_the_language_costs_no_query(app: Flask, team: Team) -> None:
    url = team.url("/")
    page(team.web, url)  # warm: whatever a first visit loads once
    counts = {}
    for label, headers in (("en", {}), ("de", GERMAN), ("fr", FRENCH)):
        with counted_queries(app) as statements:
            page(team.web, url, **headers)
        counts[label] = len(statements)
    switch(team.web, "de", url)
    with counted_queries(app) as statements:
        assert "<h2>Ihre Rolle</h2>" in page(team.web, url)
    counts["saved"] = len(statements)
    assert len(set(counts.values())) == 1, counts


@pytest.mark.parametrize(
    ("path", "german", "french"),
    [
        ("/", "Ihre Rolle", "Votre rôle"),
        ("/members", "Jemanden einladen", "Inviter quelqu'un"),
        ("/transcripts/", "Neues Transkript", "Nouvelle transcription"),
        ("/folders", "Ordner erstellen", "Créer le dossier"),
        ("/search", "Beste Treffer", "Meilleure correspondance"),
        ("/billing/", "Minuten in diesem Zeitraum", "Minutes sur cette période"),
        ("/api-keys/", "Schlüssel erstellen", "Créer la clé"),
        ("/settings", "Einstellungen des Arbeitsbereichs", "Paramètres de l'espace de travail"),
        ("/settings/ai", "Vorlagen für Zusammenfassungen", "Modèles de résumé"),
        ("/audit/", "Audit-Protokoll", "Journal d'audit"),
        ("/plugins/", "Letzte Zustellungen", "Livraisons récentes"),
    ],
)
def test_workspace_pages_render_in_each_language(
    team: Team, path: str, german: str, french: str
) -> None:
    assert german in page(team.web, team.url(path), **GERMAN)
    assert french in page(team.web, team.url(path), **FRENCH)


def test_account_pages_render_in_each_language(team: Team) -> None:
    assert "Passwort ändern" in page(team.web, "/account", **GERMAN)
    assert "Changer le mot de passe" in page(team.web, "/account", **FRENCH)
    assert "Private Transkripte aktivieren" in page(team.web, "/account/private", **GERMAN)


def test_a_transcript_and_its_tools_render_in_each_language(app: Flask, team: Team) -> None:
    tid = make_transcript(
        app,
        team.workspace.id,
        "Kickoff",
        segments=[(0.0, 2.0, "hello there", "SPEAKER_00"), (2.0, 4.0, "and goodbye", "SPEAKER_01")],
        speakers={"SPEAKER_00": "Ana", "SPEAKER_01": "Ben"},
    )
    show = page(team.web, team.url(f"/transcripts/{tid}"), **GERMAN)
    assert "Suchen und ersetzen" in show and "Transkript löschen" in show
    assert '<span class="badge status-completed">fertig</span>' in show
    show_fr = page(team.web, team.url(f"/transcripts/{tid}"), **FRENCH)
    assert "Rechercher et remplacer" in show_fr and "Intervenants" in show_fr
    history = page(team.web, team.url(f"/transcripts/{tid}/history"), **FRENCH)
    assert "<h1>Historique</h1>" in history
    review = page(team.web, team.url(f"/transcripts/{tid}/review"), **GERMAN)
    assert "Unsichere Wörter prüfen" in review
    shares = page(team.web, team.url(f"/transcripts/{tid}/shares"), **FRENCH)
    assert "Nouveau lien" in shares and 'name="days"' in shares
    english = page(team.web, team.url(f"/transcripts/{tid}"))
    assert '<span class="badge status-completed">completed</span>' in english
