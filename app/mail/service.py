"""Queueing mail: a row in the same transaction as the action, sent by the `email` queue."""

from __future__ import annotations

from flask import current_app

from app.extensions import db
from app.mail.models import OutboundEmail
from app.queue import enqueue, on_commit


def queue_mail(to: str, subject: str, template: str, **context: object) -> OutboundEmail:
    # Rendered without the page context processors: mail has no request or signed-in user.
    body = current_app.jinja_env.get_template(f"mail/{template}.txt").render(**context)
    mail = OutboundEmail(to=to, subject=subject, body=body)
    db.session.add(mail)
    db.session.flush()
    mail_id = str(mail.id)
    on_commit(
        db.session(),
        lambda: enqueue("workers.jobs.send_email.send_email", mail_id, queue_name="email"),
    )
    return mail
