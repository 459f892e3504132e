"""Interface languages: Flask-Babel with catalogues compiled from the .po files at start.

The locale of a page: the signed-in user's saved choice, else the `lang` cookie, else
the browser's Accept-Language, else the first offered language (settings().language_list).
The API answers in its caller's Accept-Language, else English.
No .mo files live in git: each .po is compiled in memory once per process.
"""

from __future__ import annotations

import functools
from io import BytesIO
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from flask import Flask, Response, g, has_request_context, request
from flask_babel import Babel, Domain, get_locale

from app.settings import settings

TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent.parent / "translations"
DOMAIN = "messages"
COOKIE = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600

# Each language in its own name, so a reader finds theirs whatever the page's language.
NATIVE_NAMES = {"en": "English", "de": "Deutsch", "fr": "Français"}


def N_(text: str) -> str:  # the name `pybabel extract` looks for
    """Marks `text` for the catalogue without translating it: for English kept as a value
    (stored, compared) and translated where it is shown, with gettext(text)."""
    return text


def native_name(code: str) -> str:
    if code in NATIVE_NAMES:
        return NATIVE_NAMES[code]
    from babel import Locale, UnknownLocaleError

    try:
        name = Locale.parse(code).get_display_name(code) or code
    except (ValueError, UnknownLocaleError):
        return code
    return name[:1].upper() + name[1:]


@functools.cache
def compiled_translations(code: str, directory: str = str(TRANSLATIONS_DIR)) -> NullTranslations:
    """The catalogue of `code`, compiled from its .po in memory; English has none."""
    po = Path(directory) / code / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po.is_file():
        return NullTranslations()
    with po.open("rb") as f:
        catalog = read_po(f, locale=code, domain=DOMAIN)
    buf = BytesIO()
    # Fuzzy entries stay out, as msgfmt would leave them: English shows instead.
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return Translations(buf, domain=DOMAIN)


class CompiledDomain(Domain):
    """Flask-Babel's domain, reading the in-memory catalogues instead of .mo files."""

    def get_translations(self) -> NullTranslations:
        locale = get_locale()
        if locale is None:
            return NullTranslations()
        return compiled_translations(str(locale))


def offered() -> tuple[str, ...]:
    return settings().language_list


def _loaded_user() -> Any:
    """The signed-in user if this request has loaded it already; never a query of its own.

    Flask-Login keeps the loaded user on g. A page that never looked at the user still
    gets the saved choice through the cookie, which _remember_choice keeps in step.
    """
    user = g.get("_login_user")
    return user if user is not None and user.is_authenticated else None


def saved_locale(user: Any) -> str | None:
    locale = getattr(user, "locale", None) if user is not None else None
    return locale if locale in offered() else None


def select_locale() -> str:
    languages = offered()
    if not has_request_context():
        return languages[0]  # jobs: no browser to ask (mail picks its reader's, app.mail)
    if request.path.startswith("/api/"):
        # A program asks in its own words: Accept-Language or English, never what the
        # key owner picked for their pages (a script's parser must not change with it).
        return request.accept_languages.best_match(languages) or languages[0]
    saved = saved_locale(_loaded_user())
    if saved:
        return saved
    cookie = request.cookies.get(COOKIE)
    if cookie in languages:
        return cookie
    return request.accept_languages.best_match(languages) or languages[0]


def init_i18n(app: Flask) -> None:
    """Set up translations for `app`."""
    languages: tuple[str, ...] = app.extensions["verbatim.settings"].language_list
    babel = Babel()
    babel.init_app(app, default_locale=languages[0], locale_selector=select_locale)
    # domain_instance is a cached_property: setting it replaces the .mo-reading domain.
    babel.domain_instance = CompiledDomain(domain=DOMAIN)  # type: ignore[misc]
    for code in languages:
        compiled_translations(code)  # a broken .po fails at start, not on a page

    @app.after_request
    def _remember_choice(response: Response) -> Response:
        # After a sign-in on another client, the account's choice becomes this client's.
        saved = saved_locale(_loaded_user())
        if saved and request.cookies.get(COOKIE) != saved and not _sets_cookie(response):
            set_language_cookie(response, saved)
        return response

    @app.context_processor
    def _language_context() -> dict[str, Any]:
        from app.i18n.js_strings import js_catalogue

        return {
            "js_strings": js_catalogue(),
            "current_language": str(get_locale() or languages[0]),
            "offered_languages": [(code, native_name(code)) for code in offered()],
        }


def set_language_cookie(response: Response, code: str) -> None:
    # An essential cookie (it only remembers the interface language), so no consent asked.
    response.set_cookie(
        COOKIE,
        code,
        max_age=COOKIE_MAX_AGE,
        secure=settings().secure_cookies,
        httponly=True,
        samesite="Lax",
    )


def _sets_cookie(response: Response) -> bool:
    prefix = f"{COOKIE}="
    return any(v.startswith(prefix) for v in response.headers.getlist("Set-Cookie"))
