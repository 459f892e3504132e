"""Queueing mail: a row in the same transaction as the action, sent by the `email` queue."""

from __future__ import annotations

from flask import current_app
from flask_babel import force_locale

from app.extensions import db
from app.mail.models import OutboundEmail
from app.queue import enqueue, on_commit


def reader_locale(to: str) -> str:
    """The language a mail to `to` is written in: the account's saved choice, else the
    language of the page that sent it (an invitation to someone new reads like the
    inviter's screen), else the first offered language."""
    from app.auth.services import user_by_email  # here: auth's services send mail
    from app.i18n import saved_locale, select_locale

    return saved_locale(user_by_email(to)) or select_locale()


def queue_mail(
    to: str, subject: str, template: str, *, locale: str | None = None, **context: object
) -> OutboundEmail:
    """Queue mail/`template`.txt to `to`. `subject` may be a lazy string (`_l`): it is
    rendered with the body, in the reader's language."""
    with force_locale(locale or reader_locale(to)):
        # Without the page context processors: mail has no request or signed-in user.
        body = current_app.jinja_env.get_template(f"mail/{template}.txt").render(**context)
        subject = str(subject)
    mail = OutboundEmail(to=to, subject=subject, body=body)
    db.session.add(mail)
    db.session.flush()
    mail_id = str(mail.id)
    on_commit(
        db.session(),
        lambda: enqueue("workers.jobs.send_email.send_email", mail_id, queue_name="email"),
    )
    return mail
