"""Job (queue `default`): prepare one requested data export (app/privacy/exports.py)."""

from __future__ import annotations

import uuid

from workers.runtime import job_context


def privacy_export(request_id: str) -> str:
    with job_context():
        from app.privacy import exports

        return exports.run_export(uuid.UUID(request_id))
