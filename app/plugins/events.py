"""Integration events: recorded in the same transaction as the change they describe, then
delivered to each plugin that wants them by its own job (workers/jobs/deliver_event.py)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from app.errors import NotFound, ServiceError
from app.extensions import db
from app.plugins.manager import enabled_plugins, registry
from app.plugins.models import EventDelivery, IntegrationEvent
from app.queue import enqueue, on_commit
from app.tenants.context import TenancyError, current_workspace_id

DELIVER_JOB = "workers.jobs.deliver_event.deliver_event"
ON_EVENT = "verbatim_on_event"


def emit(
    event_type: str, data: dict[str, Any], *, plugins: Collection[str] | None = None
) -> IntegrationEvent:
    """Record `event_type` for the current workspace; deliveries start once the caller commits.

    Nothing is flushed here: the caller decides when its transaction's errors surface.
    `plugins` narrows delivery to those plugins (a test event goes to one).
    """
    workspace_id = current_workspace_id()
    if workspace_id is None:
        raise TenancyError("emit() needs a workspace context")
    # A JSON round trip: a payload that cannot be stored fails here, at the emitter.
    payload = json.loads(json.dumps(data))
    event = IntegrationEvent(id=uuid.uuid4(), type=event_type, payload=payload)
    db.session.add(event)
    with db.session.no_autoflush:
        enabled = enabled_plugins()
    targets = [
        name
        for name in registry().implementers(ON_EVENT)
        if name in enabled and (plugins is None or name in plugins)
    ]
    event_id, ws = str(event.id), str(workspace_id)
    for name in targets:
        on_commit(db.session(), lambda name=name: _enqueue(event_id, name, ws))
    return event


def _enqueue(event_id: str, plugin: str, workspace_id: str) -> None:
    enqueue(DELIVER_JOB, event_id, plugin, workspace_id, queue_name="default")


def send_test_event(name: str) -> IntegrationEvent:
    """Send a `plugin.test` event to plugin `name` only (current workspace)."""
    reg = registry()
    info = reg.infos.get(name)
    if info is None:
        raise NotFound()
    if name not in reg.implementers(ON_EVENT):
        raise ServiceError(_("%(plugin)s does not receive events.", plugin=info.title))
    if name not in enabled_plugins():
        raise ServiceError(_("Turn %(plugin)s on before sending a test event.", plugin=info.title))
    event = emit(
        "plugin.test",
        {"plugin": name, "message": "A test event from Verbatim."},
        plugins={name},
    )
    db.session.commit()
    return event


def recent_deliveries(limit: int = 20) -> list[tuple[EventDelivery, str]]:
    """The current workspace's latest deliveries with their event types, newest first."""
    rows = db.session.execute(
        select(EventDelivery, IntegrationEvent.type)
        .join(IntegrationEvent, IntegrationEvent.id == EventDelivery.event_id)
        .order_by(EventDelivery.created_at.desc())
        .limit(limit)
    ).all()
    return [(delivery, event_type) for delivery, event_type in rows]
