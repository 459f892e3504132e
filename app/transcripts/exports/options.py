"""Export options: what a person can switch on or off, parsed strictly from any source
(query string, form, JSON)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.transcripts.exports.base import Unprocessable

TRUE = frozenset({"1", "true", "on", "yes"})
FALSE = frozenset({"0", "false", "off", "no", ""})
# Lazy: str() one where a plain string is needed (JSON).
LABELS = {
    "timestamps": _l("Timestamps"),
    "speakers": _l("Speaker names"),
    "paragraphs": _l("Paragraphs"),
    "summaries": _l("AI summaries"),
}


@dataclass(frozen=True)
class ExportOptions:
    timestamps: bool = True  # a time at each segment or paragraph
    speakers: bool = True  # speaker names
    paragraphs: bool = False  # one speaker's consecutive segments merged into paragraphs
    summaries: bool = False  # the latest completed AI summary of each template, first


NAMES = tuple(f.name for f in fields(ExportOptions))


def _flag(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, list | tuple):
        # A checkbox after a hidden "0" of the same name sends both: the last one wins.
        if not value:
            raise Unprocessable(_("Give %(name)s as on or off.", name=name), field=name)
        value = value[-1]
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise Unprocessable(
        _("Give %(name)s as on or off, not '%(value)s'.", name=name, value=str(value)[:40]),
        field=name,
    )


def parse_options(raw: ExportOptions | Mapping[str, Any] | None) -> ExportOptions:
    """Options from a mapping; absent ones keep their defaults, other keys are ignored.

    A werkzeug MultiDict (request.args or request.form) is read with all its values, so
    the hidden-"0"-then-checkbox pattern of the export forms works.
    """
    if raw is None:
        return ExportOptions()
    if isinstance(raw, ExportOptions):
        return raw
    getlist = getattr(raw, "getlist", None)
    values: dict[str, bool] = {}
    for name in NAMES:
        if name not in raw:
            continue
        value = getlist(name) if getlist is not None else raw[name]
        if value is None:
            continue
        values[name] = _flag(name, value)
    return ExportOptions(**values)
