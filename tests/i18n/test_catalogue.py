"""The catalogues: every interface string is translated in each language, and the .pot is
current, so a new untranslated string fails here rather than showing English in a German
page. Regenerate with:

    pybabel extract -F babel.cfg -k _l -k lazy_gettext -o translations/messages.pot \
        --sort-output --no-location .
    pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from app import ROOT
from app.i18n import compiled_translations

TRANSLATIONS = ROOT / "translations"
LANGUAGES = ("de", "fr")
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%%")


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=locale)


def _ids(catalog: Catalog) -> set[str]:
    return {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}


def _placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


@pytest.fixture(scope="module")
def template() -> Catalog:
    return _read(TRANSLATIONS / "messages.pot")


def test_the_template_is_current(tmp_path: Path, template: Catalog) -> None:
    fresh = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg",
         "-k", "_l", "-k", "lazy_gettext",
         "-o", str(fresh), "--sort-output", "--no-location", "."],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    new = _ids(_read(fresh))
    old = _ids(template)
    assert not new - old, f"strings missing from messages.pot (re-extract): {sorted(new - old)}"
    assert not old - new, f"stale strings in messages.pot (re-extract): {sorted(old - new)}"
    assert len(new) > 500


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_string_is_translated(template: Catalog, language: str) -> None:
    catalog = _read(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po", language)
    problems = []
    for source in template:
        if not source.id:
            continue
        entry = catalog.get(source.id)
        if entry is None:
            problems.append(f"missing: {source.id!r}")
            continue
        if entry.fuzzy:
            problems.append(f"fuzzy: {source.id!r}")
        ids = [source.id] if isinstance(source.id, str) else list(source.id)
        strings = [entry.string] if isinstance(entry.string, str) else list(entry.string)
        if not all(s.strip() for s in strings):
            problems.append(f"empty: {source.id!r}")
            continue
        for translated in strings:
            # Every form keeps the placeholders of the English (plural forms: the plural's).
            if _placeholders(translated) != _placeholders(ids[-1]):
                problems.append(f"placeholders differ: {source.id!r} -> {translated!r}")
            # Translations land in attributes too; an ASCII quote would end one early.
            if '"' in translated and not any('"' in i for i in ids):
                problems.append(f"ASCII quote: {translated!r}")
    assert not problems, "\n".join(problems)


def test_no_compiled_catalogue_is_kept_in_the_tree() -> None:
    assert not list(TRANSLATIONS.rglob("*.mo"))


def test_the_catalogues_compile_in_memory() -> None:
    assert compiled_translations("de").gettext("Sign in") == "Anmelden"
    assert compiled_translations("fr").gettext("Sign in") == "Se connecter"
    assert compiled_translations("fr").ngettext("%(num)s speaker", "%(num)s speakers", 2) == (
        "%(num)s intervenants"
    )
    assert compiled_translations("en").gettext("Sign in") == "Sign in"
