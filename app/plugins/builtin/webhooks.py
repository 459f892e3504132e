"""First-party integration: POST a signed JSON event to a URL the workspace configures.

Signature (like Stripe's): header `Verbatim-Signature: t=<unix>,v1=<hex>` where v1 is
HMAC-SHA256(secret, f"{t}.{body}"). Receivers recompute it and reject old timestamps.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.plugins.api import ConfigField, PluginAPI, PluginEvent, PluginInfo
from app.plugins.hookspecs import hookimpl

SIGNATURE_HEADER = "Verbatim-Signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


class WebhooksPlugin:
    @hookimpl
    def verbatim_plugin_info(self) -> PluginInfo:
        return PluginInfo(
            name="webhooks",
            title=_l("Webhooks"),
            description=_l(
                "Send a signed JSON event to your URL when something happens in "
                "this workspace (for example, a transcript is ready)."
            ),
            config_fields=(
                ConfigField("url", _l("Endpoint URL (https)"), kind="url", required=True),
                ConfigField(
                    "secret",
                    _l("Signing secret"),
                    kind="secret",
                    help=_l("Leave blank to have one generated for you."),
                    reveal=True,
                ),
            ),
        )

    @hookimpl
    def verbatim_validate_config(self, config: dict[str, Any], api: PluginAPI) -> dict[str, Any]:
        url = str(config.get("url", "")).strip()
        if not url:
            raise ValueError(_("Enter the webhook endpoint URL."))
        try:
            url = api.check_url(url)  # https only, public addresses only (SECURITY.md)
        except ValueError as e:
            raise ValueError(_("Webhook URL refused. %(reason)s", reason=e)) from None
        secret = str(config.get("secret") or "") or f"whsec_{secrets.token_urlsafe(24)}"
        return {**config, "url": url, "secret": secret}

    @hookimpl
    def verbatim_on_event(self, api: PluginAPI, event: PluginEvent) -> None:
        body = json.dumps(
            {
                "id": str(event.id),
                "type": event.type,
                "created_at": event.created_at,
                "workspace_id": str(event.workspace_id),
                "data": dict(event.data),
            },
            separators=(",", ":"),
            sort_keys=True,
        ).encode()
        header = sign(api.config["secret"], int(time.time()), body)
        response = api.post_json(api.config["url"], body, {SIGNATURE_HEADER: header})
        if response.status >= 300:
            raise RuntimeError(f"webhook endpoint answered {response.status}")


plugin = WebhooksPlugin()
