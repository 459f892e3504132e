"""The production worker entry point, as its own process: `python -m workers --burst`."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import select

from app import ROOT
from app.extensions import db
from app.mail.models import OutboundEmail
from tests.web import make_user, unique_email


def test_worker_process_sends_queued_mail_and_deletes_it(app, app_env, mailbox, own_mail_only):
    email = unique_email("worker")
    make_user(app, email)  # queues the verification mail on the `email` queue
    result = subprocess.run(
        [sys.executable, "-m", "workers", "--queues", "email", "--burst"],
        cwd=ROOT,
        env={**os.environ, **app_env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    mail = mailbox.last(email, "Confirm your email")
    assert "/verify/" in mail.link()
    with app.app_context():
        # Sent mail is deleted: the row held a one-time link.
        assert (
            db.session.scalars(select(OutboundEmail).where(OutboundEmail.to == email)).all() == []
        )
