"""Server-sent events relaying an answer as it is written (pages and API share it).

Events: `delta` {"text"}, then `done` {"html", "content", "citations", "status"} or
`error` {"message"}. Each carries the Redis stream id as its SSE id, so a browser that
reconnects (EventSource sends Last-Event-ID) gets only what it missed.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

from flask import Response, stream_with_context

from app.ai import render, service
from app.ai.models import AiMessage
from app.extensions import db
from app.tenants.context import current_workspace_id, workspace_scope


def response(
    message_id: uuid.UUID, user_id: uuid.UUID, last_event_id: str, link: render.Link | None
) -> Response:
    # Checked before the stream starts, so a wrong id is a plain 404, not an event.
    service.get_message(message_id, user_id)
    # The body is written after the request's teardown has reset the workspace scope;
    # stream_with_context restores the request, and this restores the scope.
    workspace_id = current_workspace_id()

    def generate() -> Iterator[str]:
        with workspace_scope(workspace_id):
            yield from _events(message_id, user_id, last_event_id, link)

    return Response(
        stream_with_context(generate()),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _events(
    message_id: uuid.UUID, user_id: uuid.UUID, last_event_id: str, link: render.Link | None
) -> Iterator[str]:
    yield "retry: 2000\n\n"
    for event in service.stream(message_id, user_id, last_event_id or ""):
        if event.kind == "wait":
            yield ": keep-alive\n\n"
            continue
        if event.kind == "delta":
            yield _event("delta", event.id, {"text": event.data})
            continue
        m = db.session.get(AiMessage, message_id)
        db.session.rollback()
        if event.kind == "done" and m is not None:
            yield _event("done", event.id, as_done(m, link))
        else:
            message = event.data or (m.error if m else "") or "The answer failed."
            yield _event("error", event.id, {"message": message})
        return


def as_done(m: AiMessage, link: render.Link | None) -> dict:
    return {
        "status": m.status,
        "content": m.content,
        "html": str(render.result_html(m.content, m.citations, link)),
        "citations": m.citations,
        "error": m.error,
    }


def _event(kind: str, event_id: str, data: dict) -> str:
    return f"id: {event_id}\nevent: {kind}\ndata: {json.dumps(data)}\n\n"
