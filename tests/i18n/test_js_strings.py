"""The browser scripts' strings: every t("...") in app/static/js is listed in JS_STRINGS (so
`pybabel extract` puts it in the catalogue), nothing listed is left unused, and a page hands
its scripts the strings in its own language (#i18n-strings, read by static/js/i18n.js)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from app.i18n.js_strings import JS_STRINGS
from tests.web import Web

JS = Path(__file__).resolve().parents[2] / "app" / "static" / "js"
DEFINITION = JS / "i18n.js"  # defines t(), and speaks of it in its comments

# A call of t (not of .t or verbatimT), then its first argument.
CALL = re.compile(r"(?<![\w$.])t\(\s*")
LITERAL = re.compile(r""""((?:[^"\\\n]|\\.)*)"|'((?:[^'\\\n]|\\.)*)'""")
ESCAPE = re.compile(r"\\(.)")
# How a script gets t: the module import, or the classic scripts' window.verbatimT shim.
IMPORTS_T = re.compile(r"""^import \{[^}]*\bt\b[^}]*\} from "(\./|\.\./)i18n\.js";$""", re.M)
DEFINES_T = "const t = (english, vars) =>"

GERMAN = {"Accept-Language": "de-DE,de;q=0.9"}
FRENCH = {"Accept-Language": "fr-FR,fr;q=0.9"}


def scripts() -> list[Path]:
    return sorted(p for p in JS.rglob("*.js") if p != DEFINITION)


def calls(path: Path) -> list[tuple[int, str | None, str]]:
    """(line, the English or None when the argument is not one plain literal, source)."""
    source = path.read_text(encoding="utf-8")
    found: list[tuple[int, str | None, str]] = []
    for match in CALL.finditer(source):
        line = source.count("\n", 0, match.start()) + 1
        snippet = source[match.start() : match.start() + 60].split("\n")[0]
        literal = LITERAL.match(source, match.end())
        # One literal, then the end of the argument: never a template literal, a variable
        # or pieces joined with +, which the catalogue could not hold as one msgid.
        if literal is None or source[literal.end() :].lstrip()[:1] not in {",", ")"}:
            found.append((line, None, snippet))
            continue
        body = literal.group(1) if literal.group(1) is not None else literal.group(2)
        found.append((line, ESCAPE.sub(r"\1", body), snippet))
    return found


def used() -> dict[str, str]:
    """Each English string a script passes to t, with where it is first used."""
    out: dict[str, str] = {}
    for path in scripts():
        for line, english, _ in calls(path):
            if english is not None:
                out.setdefault(english, f"{path.relative_to(JS)}:{line}")
    return out


def test_the_scan_finds_the_scripts_strings() -> None:
    strings = used()
    assert len(strings) > 100
    assert strings["Waiting for a free slot…"].startswith("upload.js:")
    assert strings["Low confidence: %(percent)s%%"].startswith("player.js:")
    assert strings["Unlock Private Transcript"].startswith("private/keyring.js:")


def test_every_t_call_takes_one_plain_string_literal() -> None:
    bad = [
        f"{path.relative_to(JS)}:{line}: {snippet}"
        for path in scripts()
        for line, english, snippet in calls(path)
        if english is None
    ]
    assert bad == [], "t() takes one plain string literal (no `...`, no variable, no +):\n" + (
        "\n".join(bad)
    )


def test_every_string_the_scripts_translate_is_listed() -> None:
    listed = set(JS_STRINGS)
    missing = {english: where for english, where in used().items() if english not in listed}
    assert missing == {}, "add these to JS_STRINGS in app/i18n/js_strings.py"


def test_every_listed_string_is_used_by_a_script() -> None:
    stale = sorted(set(JS_STRINGS) - set(used()))
    assert stale == [], "no script uses these any more: drop them from JS_STRINGS"


def test_the_list_names_each_string_once() -> None:
    assert len(JS_STRINGS) == len(set(JS_STRINGS))


def test_placeholders_are_named_as_on_the_server() -> None:
    # i18n.js fills %(name)s only; "%%" is a literal % in a string with placeholders.
    for english in JS_STRINGS:
        rest = re.sub(r"%\(\w+\)s|%%", "", english)
        assert "%" not in rest, english
        if "%%" in english:
            assert "%(" in english, english


@pytest.mark.parametrize("path", scripts(), ids=lambda p: str(p.relative_to(JS)))
def test_a_script_that_translates_has_t(path: Path) -> None:
    if not calls(path):
        return
    source = path.read_text(encoding="utf-8")
    assert IMPORTS_T.search(source) or DEFINES_T in source, (
        f"{path.relative_to(JS)} calls t() without importing it from i18n.js "
        "(or, a classic script, defining it from window.verbatimT)"
    )


def page_strings(web: Web, url: str, **headers: str) -> dict[str, str]:
    resp = web.get(url, headers=headers)
    assert resp.status_code == 200, resp.status_code
    html = resp.get_data(as_text=True)
    match = re.search(
        r'<script type="application/json" id="i18n-strings">(.*?)</script>', html, re.S
    )
    assert match, "base.html hands the scripts their strings"
    data = json.loads(match.group(1))
    assert isinstance(data, dict)
    return data


def test_an_english_page_hands_the_scripts_nothing_to_replace(web: Web) -> None:
    assert page_strings(web, "/login") == {}


def test_a_german_page_hands_the_scripts_german(web: Web) -> None:
    strings = page_strings(web, "/login", **GERMAN)
    assert set(strings) <= set(JS_STRINGS)
    assert strings["Cancel"] == "Abbrechen"
    assert strings.get("Uploading…") == "Wird hochgeladen …"
    assert strings.get("The answer failed.") == "Die Antwort ist fehlgeschlagen."
    assert strings.get("Low confidence: %(percent)s%%") == "Geringe Sicherheit: %(percent)s %%"


def test_a_french_page_hands_the_scripts_french(web: Web) -> None:
    strings = page_strings(web, "/login", **FRENCH)
    assert strings["Cancel"] == "Annuler"
    assert strings.get("Uploading…") == "Import en cours…"
    assert strings.get("The answer failed.") == "La réponse a échoué."
