"""Job (queue `ai`): write one answer, streaming it as it comes (service.run_answer)."""

from __future__ import annotations

import uuid

from workers.runtime import job_context


def ai_answer(message_id: str, workspace_id: str) -> str:
    with job_context(workspace_id):
        from app.ai import service

        return service.run_answer(uuid.UUID(message_id))
