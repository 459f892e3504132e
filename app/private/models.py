"""Private Transcript rows: a person's keyring and each private transcript's ciphertext.

Neither holds anything the server can read: the keyring's keys are wrapped by the
person's passphrase or recovery key, and a transcript's text is an envelope that only
their private key or data key opens (app/private/crypto.py documents the format).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, TimestampMixin, WorkspaceScoped, utcnow


class PrivateKeyring(TimestampMixin, Base):
    """One person's keys, across all their workspaces (a person, not a workspace, holds
    the passphrase)."""

    __tablename__ = "private_keyrings"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int]  # crypto.VERSION when written
    kdf_iterations: Mapped[int]
    kdf_salt: Mapped[bytes] = mapped_column(LargeBinary)
    passphrase_wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    recovery_wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # 65-byte P-256 point
    fingerprint: Mapped[str] = mapped_column(String(32))  # crypto.fingerprint(public_key)
    private_key_wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    verifier: Mapped[bytes] = mapped_column(LargeBinary)  # SHA-256 of the data key's proof
    private_by_default: Mapped[bool] = mapped_column(default=False)
    passphrase_changed_at: Mapped[datetime | None]
    recovery_changed_at: Mapped[datetime | None]


class PrivateContent(WorkspaceScoped, IdMixin, Base):
    """The ciphertext of one private transcript, and whom it was sealed to.

    Made at upload with the owner's public key; the worker fills `envelope` with a SEALED
    envelope; the owner's browser replaces it with CONTENT envelopes as they edit.
    """

    __tablename__ = "private_contents"

    transcript_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("transcripts.id", ondelete="CASCADE"), unique=True
    )
    # The only person who can open it; NULL once they deleted their account.
    owner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    recipient_key: Mapped[bytes] = mapped_column(LargeBinary)  # the public point sealed to
    fingerprint: Mapped[str] = mapped_column(String(32))
    envelope: Mapped[bytes | None] = mapped_column(LargeBinary)
    kind: Mapped[int | None] = mapped_column(SmallInteger)  # crypto.CONTENT or crypto.SEALED
    revision: Mapped[int] = mapped_column(default=0)  # Transcript.revision it was written at
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
