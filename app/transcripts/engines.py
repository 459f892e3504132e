"""Which engines and models this installation offers, and the options a job may ask for.

Runs in the web process: engines answer `installed_models` without importing their
libraries (workers/engines/base.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _

from app.config import Settings
from app.errors import ServiceError
from app.plugins.manager import enabled_plugins, registry
from app.settings import settings
from workers.engines.base import Engine, EngineCapabilities, EngineEnv

ENGINES_HOOK = "verbatim_transcription_engines"
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")
MAX_SPEAKERS = 32


@dataclass(frozen=True)
class EngineChoice:
    name: str
    title: str
    capabilities: EngineCapabilities
    models: tuple[str, ...]


@dataclass(frozen=True)
class JobOptions:
    engine: str
    model: str
    language: str | None
    diarize: bool
    min_speakers: int | None
    max_speakers: int | None
    compare_model: str | None = None  # a second transcript of the same file with this model


def engine_env(cfg: Settings | None = None) -> EngineEnv:
    cfg = cfg or settings()
    return EngineEnv(
        models_dir=cfg.models_dir,
        hub_models=cfg.hub_model_list,
        device=cfg.engine_device,
        compute_type=cfg.engine_compute_type,
        cpu_threads=cfg.engine_cpu_threads,
        temperatures=cfg.engine_temperature_list,
        hf_token=cfg.hf_token,
        allow_download=cfg.allow_model_download,
    )


def engine_objects(*, workspace_scoped: bool = True) -> dict[str, Engine]:
    """Engines from first-party plugins, and from third-party ones the workspace enabled."""
    reg = registry()
    allowed = {n for n, i in reg.infos.items() if i.first_party}
    if workspace_scoped:
        allowed |= set(enabled_plugins())
    engines: dict[str, Engine] = {}
    for batch in reg.hook_for(ENGINES_HOOK, allowed)():
        for engine in batch or ():
            engines.setdefault(engine.name, engine)
    return engines


def available() -> list[EngineChoice]:
    env = engine_env()
    choices = []
    for engine in engine_objects().values():
        models = tuple(engine.installed_models(env))
        if models:
            choices.append(EngineChoice(engine.name, engine.title, engine.capabilities, models))
    return choices


def defaults(choices: list[EngineChoice]) -> tuple[str, str]:
    cfg = settings()
    by_name = {c.name: c for c in choices}
    choice = by_name.get(cfg.default_engine) or (choices[0] if choices else None)
    if choice is None:
        raise ServiceError(_("No transcription engine is installed on this server."))
    model = cfg.default_model if cfg.default_model in choice.models else choice.models[0]
    return choice.name, model


def _int_or_none(value: Any, field: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ServiceError(
            _("Give the number of speakers as a whole number."), field=field
        ) from None
    if not 1 <= number <= MAX_SPEAKERS:
        raise ServiceError(
            _("Speakers must be between 1 and %(max)d.", max=MAX_SPEAKERS), field=field
        )
    return number


# The fields of a request that parse_options reads (forms, JSON bodies, upload options).
OPTION_FIELDS = (
    "engine",
    "model",
    "language",
    "diarize",
    "min_speakers",
    "max_speakers",
    "compare_model",
)


def picked_options(source: Any) -> dict[str, Any]:
    """Just the job options of a request's fields (a dict or a MultiDict)."""
    return {key: source.get(key) for key in OPTION_FIELDS}


def parse_options(raw: dict[str, Any]) -> JobOptions:
    """Check what a person asked for against what is installed; clear errors, no defaults
    silently swapped in for a wrong value."""
    choices = available()
    default_engine, default_model = defaults(choices)
    by_name = {c.name: c for c in choices}
    engine_name = (raw.get("engine") or "").strip() or default_engine
    choice = by_name.get(engine_name)
    if choice is None:
        names = ", ".join(sorted(by_name)) or _("none")
        raise ServiceError(
            _(
                "Engine '%(engine)s' is not available here (available: %(names)s).",
                engine=engine_name,
                names=names,
            ),
            field="engine",
        )
    model = (raw.get("model") or "").strip() or (
        default_model if engine_name == default_engine else choice.models[0]
    )
    if model not in choice.models:
        raise ServiceError(
            _(
                "Model '%(model)s' is not installed for %(engine)s (installed: %(models)s).",
                model=model,
                engine=choice.title,
                models=", ".join(choice.models),
            ),
            field="model",
        )
    language = (raw.get("language") or "").strip() or None
    if language in ("auto", "detect"):
        language = None
    if language is not None and not LANGUAGE.match(language):
        raise ServiceError(
            _("Give the language as a code such as en, de or pt-BR, or leave it on auto-detect."),
            field="language",
        )
    diarize = _truthy(raw.get("diarize"))
    min_speakers = _int_or_none(raw.get("min_speakers"), "min_speakers")
    max_speakers = _int_or_none(raw.get("max_speakers"), "max_speakers")
    if diarize and not choice.capabilities.diarization:
        raise ServiceError(
            _(
                "%(engine)s cannot tell speakers apart; choose an engine with diarization "
                "or turn speaker detection off.",
                engine=choice.title,
            ),
            field="diarize",
        )
    if not diarize and (min_speakers or max_speakers):
        raise ServiceError(_("Speaker counts need speaker detection on."), field="min_speakers")
    if min_speakers and max_speakers and min_speakers > max_speakers:
        raise ServiceError(
            _("The minimum number of speakers is above the maximum."), field="min_speakers"
        )
    compare = (raw.get("compare_model") or "").strip() or None
    if compare is not None:
        if compare not in choice.models:
            raise ServiceError(
                _(
                    "Model '%(model)s' to compare with is not installed for %(engine)s.",
                    model=compare,
                    engine=choice.title,
                ),
                field="compare_model",
            )
        if compare == model:
            raise ServiceError(_("Choose two different models to compare."), field="compare_model")
    return JobOptions(engine_name, model, language, diarize, min_speakers, max_speakers, compare)


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in ("1", "true", "on", "yes")
