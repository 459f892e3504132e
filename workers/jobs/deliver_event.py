"""Job: hand one integration event to one plugin, and record how it went.

Idempotent: a delivery that already succeeded is not repeated. A failure is recorded and
re-raised so RQ retries it with backoff (app.queue.enqueue).
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from app.extensions import db
from app.plugins.api import PluginEvent
from app.plugins.manager import api_for, enabled_plugins, registry
from app.plugins.models import EventDelivery, IntegrationEvent
from workers.runtime import job_context

MAX_ERROR = 2000


def deliver_event(event_id: str, plugin: str, workspace_id: str) -> str:
    with job_context(workspace_id):
        event = db.session.get(IntegrationEvent, uuid.UUID(event_id))
        if event is None:  # the workspace was deleted since
            return "gone"
        deliveries = select(EventDelivery).where(
            EventDelivery.event_id == event.id, EventDelivery.plugin == plugin
        )
        if db.session.scalar(deliveries.where(EventDelivery.error == "").limit(1)) is not None:
            return "already delivered"
        setting = enabled_plugins().get(plugin)
        if setting is None:  # turned off (or uninstalled) since the event
            return "skipped: plugin is off"
        attempt = 1 + (
            db.session.scalar(select(func.count()).select_from(deliveries.subquery())) or 0
        )
        api = api_for(plugin, event.workspace_id, setting.config)
        plugin_event = PluginEvent(
            id=event.id,
            type=event.type,
            workspace_id=event.workspace_id,
            created_at=event.created_at.isoformat(),
            data=dict(event.payload or {}),
        )
        db.session.rollback()  # no transaction held open across the network call
        delivery = EventDelivery(event_id=plugin_event.id, plugin=plugin, attempt=attempt)
        try:
            registry().hook_for("verbatim_on_event", {plugin})(api=api, event=plugin_event)
        except Exception as e:
            delivery.error = (_describe(e) or "failed")[:MAX_ERROR]
            raise
        finally:
            delivery.target = api.last_target[:2048]
            delivery.status_code = api.last_status
            db.session.add(delivery)
            db.session.commit()
        return f"delivered ({api.last_status})"


def _describe(e: Exception) -> str:
    return getattr(e, "message", None) or str(e) or type(e).__name__
