"""Delivering one message over SMTP (or to the log when no server is configured)."""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from app.config import Settings

log = logging.getLogger("verbatim.mail")


def deliver(cfg: Settings, to: str, subject: str, body: str) -> None:
    msg = EmailMessage()
    msg["From"] = cfg.mail_from
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    if not cfg.smtp_host:
        log.warning("mail (no SMTP configured) to=%s subject=%s\n%s", to, subject, body)
        return
    with smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=30) as smtp:
        if cfg.smtp_starttls:
            smtp.starttls()
        if cfg.smtp_username:
            smtp.login(cfg.smtp_username, cfg.smtp_password)
        smtp.send_message(msg)
