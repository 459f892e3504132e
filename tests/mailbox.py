"""A real SMTP server (aiosmtpd) that keeps what it receives, for reading mails in tests."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message

from aiosmtpd.controller import Controller


@dataclass
class Received:
    to: str
    subject: str
    body: str

    def link(self, pattern: str = r"https?://\S+") -> str:
        match = re.search(pattern, self.body)
        assert match, f"no link in mail: {self.body!r}"
        return match.group(0)


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, server, session, envelope):
        msg: Message = message_from_bytes(envelope.content)
        body = msg.get_payload(decode=True)
        text = body.decode() if isinstance(body, bytes) else str(msg.get_payload())
        with self.box.lock:
            for rcpt in envelope.rcpt_tos:
                self.box.messages.append(Received(rcpt.lower(), str(msg["Subject"]), text))
        return "250 OK"


class Mailbox:
    def __init__(self, port: int) -> None:
        self.port = port
        self.messages: list[Received] = []
        self.lock = threading.Lock()
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [m for m in self.messages if m.to == address.lower()]

    def last(self, address: str, subject_contains: str = "") -> Received:
        found = [m for m in self.to(address) if subject_contains in m.subject]
        assert found, f"no mail to {address} with {subject_contains!r}"
        return found[-1]
