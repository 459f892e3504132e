"""Job (queue `ai`): generate one stored summary (app/ai/service.py: run_summary)."""

from __future__ import annotations

import uuid

from workers.runtime import job_context


def ai_summary(summary_id: str, workspace_id: str) -> str:
    with job_context(workspace_id):
        from app.ai import service

        return service.run_summary(uuid.UUID(summary_id))
