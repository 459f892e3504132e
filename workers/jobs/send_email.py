"""Job: send one queued mail, then delete it (it may hold a one-time link)."""

from __future__ import annotations

import uuid

from app.extensions import db
from app.mail.models import OutboundEmail
from app.mail.smtp import deliver
from app.settings import settings
from workers.runtime import job_context


def send_email(email_id: str) -> str:
    with job_context():
        mail = db.session.get(OutboundEmail, uuid.UUID(email_id))
        if mail is None:  # already sent by an earlier delivery of this job
            return "gone"
        mail.attempts += 1
        db.session.commit()
        deliver(settings(), mail.to, mail.subject, mail.body)
        db.session.delete(mail)
        db.session.commit()
        return "sent"
