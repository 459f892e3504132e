"""Which provider a workspace uses, and with what settings.

The installation sets a default (VERBATIM_AI_PROVIDER, VERBATIM_OPENAI_*); a workspace's
admins may override provider, model, base URL and key (table ai_settings). A workspace
that points at its own server must bring its own key: the installation's key is only
ever sent to the installation's server, so an admin cannot collect it with a URL.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select

from app.ai.models import AiSettings
from app.ai.provider import AIProvider, ProviderConfig
from app.errors import ServiceError, Unavailable
from app.extensions import db
from app.security import sealed
from app.settings import settings

HOOK = "verbatim_ai_providers"
KEY_PURPOSE = "ai-api-key"


@dataclass(frozen=True)
class Choice:
    name: str
    title: str
    uses_language_model: bool
    model: str
    base_url: str  # "" when the provider calls none, or the client's default (OpenAI)
    overridden: bool  # the workspace set something of its own
    own_url: bool = False  # the workspace's own server (checked before every run)

    @property
    def label(self) -> str:
        """How the UI names what made a result."""
        return self.title if not self.uses_language_model else f"{self.title} · {self.model}"


def provider_classes(workspace_plugins: set[str] | None = None) -> dict[str, type[AIProvider]]:
    """Providers on offer: first-party always, third-party ones where the workspace has
    turned their plugin on."""
    from app.plugins.manager import enabled_plugins, registry

    enabled = set(enabled_plugins()) if workspace_plugins is None else workspace_plugins
    found: dict[str, type[AIProvider]] = {}
    for _plugin, cls in registry().offerings(HOOK, enabled):
        found.setdefault(cls.name, cls)
    return found


def made_by(provider: str, model: str, classes: dict[str, type[AIProvider]] | None = None) -> str:
    """What made a stored result, as the UI names it: a provider without a language model
    by its title alone ("Extractive (no language model)"), others with the model."""
    cls = (classes if classes is not None else provider_classes()).get(provider)
    title = cls.title if cls is not None else provider
    if cls is not None and not cls.uses_language_model:
        return title
    return f"{title} · {model}" if model else title


def default_name() -> str:
    cfg = settings()
    name = cfg.ai_provider.strip().lower()
    if name == "auto":
        return "openai" if (cfg.openai_api_key or cfg.openai_base_url) else "extractive"
    return name


def workspace_row() -> AiSettings | None:
    return db.session.scalar(select(AiSettings))


def resolve() -> tuple[type[AIProvider], ProviderConfig, Choice]:
    """The current workspace's provider class, its configuration and a description."""
    cfg = settings()
    row = workspace_row()
    name = (row.provider if row and row.provider else "") or default_name()
    classes = provider_classes()
    cls = classes.get(name)
    if cls is None:
        raise Unavailable(
            _(
                "The AI provider '%(name)s' is not available here; an admin can choose "
                "another in the workspace's AI settings.",
                name=name,
            )
        )
    own_url = bool(row and row.base_url and cfg.ai_workspace_endpoints)
    own_key = ""
    if row and row.api_key_sealed and cfg.ai_workspace_endpoints:
        own_key = sealed.unseal(cfg.secret_key, KEY_PURPOSE, row.api_key_sealed) or ""
    if own_url and row:
        base_url, api_key = row.base_url, own_key
    else:
        base_url, api_key = cfg.openai_base_url, own_key or cfg.openai_api_key
    model = (row.model if row and row.model else "") or cfg.openai_model
    config = ProviderConfig(
        model=model,
        base_url=base_url,
        api_key=api_key,
        timeout=cfg.ai_timeout_seconds,
        max_retries=cfg.ai_max_retries,
        context_tokens=cfg.ai_context_tokens,
        max_output_tokens=cfg.ai_max_output_tokens,
    )
    uses_lm = bool(cls.uses_language_model)
    choice = Choice(
        name=cls.name,
        title=cls.title,
        uses_language_model=uses_lm,
        model=model if uses_lm else "",
        base_url=base_url if uses_lm else "",
        overridden=bool(row and (row.provider or row.model or row.base_url or row.api_key_sealed)),
        own_url=own_url,
    )
    return cls, config, choice


def check_destination(base_url: str) -> None:
    """A workspace's own server must pass the outbound rules (no private addresses unless
    the installation allows them); checked when saved and again before each run."""
    from app.security.outbound import OutboundRefused, check_url

    try:
        check_url(base_url, allow_private=settings().outbound_allow_private)
    except OutboundRefused as e:
        raise ServiceError(
            _("That AI server address is not allowed: %(reason)s", reason=e), field="base_url"
        ) from None


def save(
    user_id: uuid.UUID,
    *,
    provider: str,
    model: str,
    base_url: str,
    api_key: str | None,
    clear_key: bool = False,
) -> AiSettings:
    """Store the workspace's override; refused values change nothing."""
    from app.audit.service import record

    cfg = settings()
    provider, model, base_url = provider.strip(), model.strip(), base_url.strip()
    if provider and provider not in provider_classes():
        raise ServiceError(_("Choose one of the providers listed."), field="provider")
    if len(model) > 128:
        raise ServiceError(_("The model name is too long."), field="model")
    if (base_url or api_key) and not cfg.ai_workspace_endpoints:
        raise ServiceError(
            _("This installation does not let workspaces choose their own AI server."),
            field="base_url",
        )
    if base_url:
        if len(base_url) > 500:
            raise ServiceError(_("The address is too long."), field="base_url")
        check_destination(base_url)
    row = workspace_row() or AiSettings()
    row.provider, row.model, row.base_url = provider, model, base_url
    if clear_key:
        row.api_key_sealed = None
    elif api_key:
        if len(api_key) > 500:
            raise ServiceError(_("That API key is too long."), field="api_key")
        row.api_key_sealed = sealed.seal(cfg.secret_key, KEY_PURPOSE, api_key.strip())
    row.updated_by_id = user_id
    db.session.add(row)
    db.session.flush()
    record(
        "ai.settings_updated",
        target=row,
        details={"provider": provider, "model": model, "own_server": bool(base_url)},
        workspace_id=row.workspace_id,
    )
    db.session.commit()
    return row


def build() -> tuple[AIProvider, Choice]:
    """The current workspace's provider, ready to call."""
    cls, config, choice = resolve()
    if choice.own_url and config.base_url:
        check_destination(config.base_url)
    return cls.from_config(config), choice
