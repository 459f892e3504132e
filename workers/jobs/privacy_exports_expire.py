"""Job (periodic): delete data exports past their download window or whose person is gone,
and fail requests whose job was lost (app/privacy/exports.py: expire_exports)."""

from __future__ import annotations

from workers.runtime import job_context


def privacy_exports_expire() -> str:
    with job_context():
        from app.privacy import exports

        counts = exports.expire_exports()
    return (
        f"expired {counts['expired']} export(s), removed {counts['removed']} file(s), "
        f"failed {counts['failed']} lost request(s)"
    )
