"""Messages made in Python (flash messages, refusals, mail) come in the reader's language.

A refused action answers in the language of the page that asked (Accept-Language or the
`lang` cookie); a mail is written in its reader's saved language, whatever the sender's
page. English is what every test elsewhere reads; these check that the rest is translated.
"""

from __future__ import annotations

import html

from flask import Flask
from sqlalchemy import select, update

from app.auth.models import User
from app.mail.models import OutboundEmail
from tests.integration.test_workspaces import add_member, create_team, database
from tests.web import Web, make_user, unique_email

GERMAN = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}


def text(resp: object) -> str:
    return html.unescape(resp.get_data(as_text=True))  # type: ignore[attr-defined]


def signed_in_owner(app: Flask, web: Web) -> User:
    user = make_user(app, name="Greta Gründerin")
    web.login(user)
    return user


def test_a_wrong_password_is_refused_in_german(app: Flask, web: Web) -> None:
    user = make_user(app)
    resp = web.post("/login", {"email": user.email, "password": "not the password"}, headers=GERMAN)
    assert resp.status_code == 401
    page = text(resp)
    assert "Diese E-Mail-Adresse und dieses Passwort gehören zu keinem Konto." in page
    assert "do not match an account" not in page


def test_a_short_password_is_refused_in_french_by_the_cookie(web: Web) -> None:
    web.client.set_cookie("lang", "fr", domain="localhost")
    resp = web.post(
        "/signup",
        {"email": unique_email("court"), "password": "short", "name": "", "age_13": "on"},
    )
    assert resp.status_code == 422
    page = text(resp)
    assert "Choisissez un mot de passe d'au moins 10 caractères." in page
    assert "Choose a password" not in page


def test_an_invitation_to_a_bad_address_is_refused_in_german(app: Flask, web: Web) -> None:
    signed_in_owner(app, web)
    team = create_team(web, "Deutsches Team")
    resp = web.post(
        f"/w/{team.slug}/invitations", {"email": "not-an-email", "role": "member"}, headers=GERMAN
    )
    assert resp.status_code == 422
    page = text(resp)
    assert "Geben Sie eine gültige E-Mail-Adresse ein." in page
    assert "Enter a valid email address." not in page


def test_a_refused_role_change_says_why_in_german(app: Flask, web: Web) -> None:
    signed_in_owner(app, web)
    team = create_team(web, "Rollen Team")
    membership_id = add_member(app, team.id, make_user(app), "viewer")
    resp = web.post(
        f"/w/{team.slug}/members/{membership_id}/role", {"role": "boss"}, headers=GERMAN
    )
    assert resp.status_code == 422
    page = text(resp)
    assert "Wählen Sie eine Rolle: Administrator, Mitglied oder Betrachter." in page
    assert "Choose a role" not in page


def test_an_invitation_mail_is_written_in_the_readers_language(app: Flask, web: Web) -> None:
    signed_in_owner(app, web)
    team = create_team(web, "Équipe Mixte")
    invitee = make_user(app, name="Françoise")
    with database(app) as s:
        s.execute(update(User).where(User.id == invitee.id).values(locale="fr"))
        s.commit()

    resp = web.post(
        f"/w/{team.slug}/invitations", {"email": invitee.email, "role": "viewer"}, headers=GERMAN
    )
    assert resp.status_code == 302
    # The inviter's page is German...
    page = text(web.get(resp.headers["Location"], headers=GERMAN))
    assert f"Einladung an {invitee.email} gesendet." in page

    # ...and the mail is French, the invitee's saved language.
    with database(app) as s:
        mail = s.scalars(
            select(OutboundEmail)
            .where(OutboundEmail.to == invitee.email)
            .order_by(OutboundEmail.created_at.desc())
        ).first()
    assert mail is not None
    assert mail.subject == "Vous êtes invité à rejoindre Équipe Mixte sur Verbatim"
    assert mail.body.startswith(
        "Vous êtes invité à rejoindre Équipe Mixte sur Verbatim en tant que lecteur.\n\n"
        "Acceptez ou refusez ici (le lien ne fonctionne qu'une fois et expire dans "
    )
    assert " heures) :\nhttp://localhost/invitations/" in mail.body
    assert mail.body.endswith(
        "\n\nSi vous ne vous attendiez pas à cette invitation, ignorez ce message."
    )
    assert "You are invited" not in mail.body and "Einladung" not in mail.body


def test_without_a_language_the_messages_stay_english(app: Flask, web: Web) -> None:
    user = make_user(app)
    resp = web.post("/login", {"email": user.email, "password": "not the password"})
    assert resp.status_code == 401
    assert "That email and password do not match an account." in text(resp)
