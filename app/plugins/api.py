"""The narrow facade a plugin sees: its workspace's settings, safe outbound HTTP, a log.

Plugins never get the app, the session or the models: what they may do is listed here.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class ConfigField:
    name: str
    label: str
    kind: str = "text"  # text | url | secret | bool
    required: bool = False
    help: str = ""
    # A secret the admin must be able to read back (e.g. a signing secret we generated);
    # other secrets are write-only.
    reveal: bool = False


@dataclass(frozen=True)
class PluginInfo:
    name: str
    title: str
    description: str
    config_fields: tuple[ConfigField, ...] = ()
    first_party: bool = False


@dataclass(frozen=True)
class PluginEvent:
    id: uuid.UUID
    type: str
    workspace_id: uuid.UUID
    created_at: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OutboundResponse:
    status: int
    body: bytes


class PluginAPI:
    def __init__(
        self,
        plugin: str,
        workspace_id: uuid.UUID,
        config: Mapping[str, Any],
        *,
        allow_private: bool,
        timeout: float,
    ) -> None:
        self.plugin = plugin
        self.workspace_id = workspace_id
        self.config: Mapping[str, Any] = MappingProxyType(dict(config))
        self._allow_private = allow_private
        self._timeout = timeout
        self.log = logging.getLogger(f"verbatim.plugins.{plugin}")
        # The last outbound call, so the delivery record can say where it went and what
        # came back even when the plugin raises.
        self.last_target: str = ""
        self.last_status: int | None = None

    def check_url(self, url: str) -> str:
        """Vet a URL a workspace configured; raises ValueError with a message for the admin.

        Use it in verbatim_validate_config so a refused destination is never stored.
        """
        from app.security.outbound import check_url

        check_url(url, allow_private=self._allow_private)
        return url.strip()

    def post_json(self, url: str, body: bytes, headers: Mapping[str, str]) -> OutboundResponse:
        """POST to a public https URL; private, loopback and similar addresses are refused
        (OutboundRefused, a ValueError), network failures raise OutboundError."""
        from app.security.outbound import display_url, post

        self.last_target, self.last_status = display_url(url), None
        status, payload = post(
            url,
            body,
            {"Content-Type": "application/json", **headers},
            allow_private=self._allow_private,
            timeout=self._timeout,
        )
        self.last_status = status
        return OutboundResponse(status=status, body=payload)
