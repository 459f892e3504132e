"""Python-side messages in the asker's language: API refusals follow Accept-Language (never
the key owner's saved choice), page flashes follow the `lang` cookie.

The German and French texts are the catalogue's (translations/*/LC_MESSAGES/messages.po).
"""

from __future__ import annotations

import uuid

from flask import Flask
from sqlalchemy import update

from app.auth.models import User
from app.extensions import db
from tests.transcripts import Team, api_caller, make_transcript

GERMAN = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}
FRENCH = {"Accept-Language": "fr-CH, fr;q=0.9"}


def save_locale(app: Flask, user_id: uuid.UUID, locale: str) -> None:
    with app.app_context():
        try:
            db.session.execute(update(User).where(User.id == user_id).values(locale=locale))
            db.session.commit()
        finally:
            db.session.remove()


def test_an_api_404_answers_in_the_callers_language(app: Flask, team: Team) -> None:
    call = api_caller(team)
    missing = f"/transcripts/{uuid.uuid4()}"

    english = call("GET", missing)
    assert english.status_code == 404
    assert english.get_json() == {"error": "notfound", "message": "No such transcript."}

    german = call("GET", missing, headers=GERMAN)
    assert german.status_code == 404
    # The code stays as it is: a script's parser reads `error`, a person `message`.
    assert german.get_json() == {"error": "notfound", "message": "Dieses Transkript gibt es nicht."}

    french = call("GET", missing, headers=FRENCH)
    assert french.get_json()["message"] == "Cette transcription n'existe pas."


def test_an_api_422_answers_in_german_when_asked(app: Flask, team: Team) -> None:
    tid = make_transcript(app, team.workspace.id, "Interview")
    call = api_caller(team)
    resp = call("PATCH", f"/transcripts/{tid}", json={"title": "   "}, headers=GERMAN)
    assert resp.status_code == 422
    body = resp.get_json()
    assert body["error"] == "serviceerror" and body["field"] == "title"
    assert body["message"] == "Ein Titel darf nicht leer sein."


def test_the_key_owners_saved_locale_does_not_change_the_api(app: Flask, team: Team) -> None:
    save_locale(app, team.user.id, "de")
    tid = make_transcript(app, team.workspace.id, "Interview")
    call = api_caller(team)

    missing = call("GET", f"/transcripts/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert missing.get_json()["message"] == "No such transcript."

    refused = call("PATCH", f"/transcripts/{tid}", json={"title": ""})
    assert refused.status_code == 422
    assert refused.get_json()["message"] == "A title cannot be empty."


def test_a_transcript_page_flash_follows_the_language_cookie(app: Flask, team: Team) -> None:
    tid = make_transcript(app, team.workspace.id, "Interview")
    team.web.client.set_cookie("lang", "fr", domain="localhost")

    resp = team.web.post(team.url(f"/transcripts/{tid}/rename"), {"title": "Entretien"})
    assert resp.status_code == 302
    page = team.page(f"/transcripts/{tid}")
    assert '<html lang="fr">' in page
    assert "Renommé." in page
    assert "Renamed." not in page

    # The same action without the cookie: English, as before.
    team.web.client.delete_cookie("lang", domain="localhost")
    team.web.post(team.url(f"/transcripts/{tid}/rename"), {"title": "Interview"})
    assert "Renamed." in team.page(f"/transcripts/{tid}")
