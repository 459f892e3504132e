"""Voice Lab: recordings people choose to give to an open speech data set (CC-BY-SA 4.0).

The one case where audio outlives its transcript. The consent is per recording, explicit
(a box ticked on the upload page, or `voice_lab: true` plus the consent version on the
API) and stored beside the audio: the licence, which wording (version and SHA-256), when.

    upload with consent ──> WAITING ──transcript completes──> HELD ──release──> RELEASED
                               │  └──transcript fails/cancelled──> DELETED       │
                               └──────── withdraw (HELD too) ──> DELETED          │
                                                  withdraw ──> WITHDRAWN <────────┘

The kept audio is the uploaded file as it was, re-encrypted under its own key (the staged
copy is discarded as always): a server-chosen file under `voice_lab_dir`, in the same
record format as staged audio (app/ingest/crypto_file.py), with the data key and the
plaintext size wrapped together by a key derived from the server secret. Withdrawing or
deleting removes the file and the key, and the transcript text with them.

Contributions belong to the installation, not to a workspace (the operators answer for
them); a release never names a contributor (no email, name, user or workspace id).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import struct
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.audit.service import record
from app.db import utcnow
from app.errors import Conflict, NotFound, ServiceError
from app.extensions import db
from app.ingest import staging
from app.ingest.crypto_file import (
    RECORD,
    CorruptStagedFile,
    RecordReader,
    RecordWriter,
    unwrap_key,
    wrap_key,
)
from app.ingest.models import StagedAudio
from app.privacy.models import ContributionStatus, VoiceContribution, VoiceRelease
from app.settings import settings
from app.tenants.context import workspace_scope
from app.transcripts.models import Status, Transcript, TranscriptSegment
from app.zip_sink import ZipSink

log = logging.getLogger("verbatim.voice_lab")

LICENCE = "CC-BY-SA-4.0"
LICENCE_NAME = "Creative Commons Attribution-ShareAlike 4.0 International"
LICENCE_URL = "https://creativecommons.org/licenses/by-sa/4.0/"
ATTRIBUTION = "Verbatim Voice Lab contributors"
DATASET = "Verbatim Voice Lab"

# The wording a person agrees to, exactly as shown (templates render these paragraphs,
# untranslated, so the SHA-256 stored with a contribution is of what they read). A change
# of wording is a new version; old versions stay here so a release can quote them.
CONSENT_TEXTS: dict[str, tuple[str, ...]] = {
    "1": (
        "I give this recording and its transcript to Verbatim Voice Lab, an open data set "
        "of speech, under the Creative Commons Attribution-ShareAlike 4.0 licence "
        "(CC-BY-SA 4.0).",
        "What is kept: the audio file as I upload it, the text of its transcript, its "
        "language and length, and this consent (which wording, and when). My name, email "
        "address, account and workspace are not part of the data set.",
        "Who can use it: anyone, for any purpose, including commercial use and training "
        "speech recognition, as long as they credit the data set and share what they make "
        "from it under the same licence.",
        "It becomes public: once a release that contains it is published, copies cannot be "
        "recalled. I can withdraw it at any time: before a release it is deleted at once; "
        "after one, it is left out of later releases and listed as withdrawn in the next.",
        "Everyone who can be heard in this recording has agreed to this, and it holds "
        "nothing that they or I would not want to be public.",
    ),
}
CONSENT_VERSION = "1"

SUFFIX = ".vlab"
_WRAP_INFO = b"verbatim:voice-lab-kek:v1"
_WRAP_FORMAT = ">32sQ"  # data key, plaintext size
_SAFE_EXT = re.compile(r"[^a-z0-9]")
# The probe's friendly container names whose usual extension is not the name itself.
_EXTENSIONS = {
    "mpeg-ts": "ts",
    "mpeg-ps": "mpg",
    "e-ac3": "eac3",
    "wavpack": "wv",
    "wave64": "w64",
    "mkv": "mkv",
    "3gp": "3gp",
    "3g2": "3g2",
}
UNRELEASED = (ContributionStatus.WAITING, ContributionStatus.HELD)
ZIP_MEDIA_TYPE = "application/zip"


def consent_sha256(version: str = CONSENT_VERSION) -> str:
    return hashlib.sha256("\n\n".join(CONSENT_TEXTS[version]).encode("utf-8")).hexdigest()


def consent() -> dict[str, Any]:
    """The wording in force, for the upload page, the privacy page and the API."""
    return {
        "version": CONSENT_VERSION,
        "paragraphs": CONSENT_TEXTS[CONSENT_VERSION],
        "sha256": consent_sha256(),
        "licence": LICENCE,
        "licence_name": LICENCE_NAME,
        "licence_url": LICENCE_URL,
    }


# --- giving: from the upload to a kept recording ----------------------------------------------


def _asked(raw: Any) -> bool:
    if isinstance(raw, str):
        return raw.strip().lower() in ("1", "true", "on", "yes")
    return raw is True or (isinstance(raw, int) and not isinstance(raw, bool) and raw == 1)


def requested(
    raw: Any, version: Any, *, private: bool, user_id: uuid.UUID | None
) -> dict[str, Any] | None:
    """The consent to keep with an upload, or None when Voice Lab was not asked for.

    Checked when the upload is opened, before any byte: the caller must name the consent
    version it showed (a stale page or client is refused), and a Private Transcript cannot
    be given (its text is secret, and the data set publishes it).
    """
    if not _asked(raw):
        return None
    if private:
        raise Conflict(
            _(
                "A Private Transcript cannot be given to Voice Lab: the data set publishes the "
                "transcript's text, and a private one's text is secret. Untick one of the two."
            ),
        )
    if user_id is None:
        raise ServiceError(
            _("Voice Lab needs a person behind the upload, who can withdraw it later."),
            field="voice_lab",
        )
    if not isinstance(version, str) or version.strip() != CONSENT_VERSION:
        raise ServiceError(
            _(
                "Voice Lab's consent wording is version %(version)s; send voice_lab_consent: "
                '"%(version)s" once it has been shown (reload the page if it was open for a '
                "while).",
                version=CONSENT_VERSION,
            ),
            field="voice_lab_consent",
        )
    return {
        "version": CONSENT_VERSION,
        "sha256": consent_sha256(),
        "licence": LICENCE,
        "at": utcnow().isoformat(),
    }


def open_contribution(
    t: Transcript, consent_record: dict[str, Any] | None, user_id: uuid.UUID | None, *, video: bool
) -> VoiceContribution | None:
    """Record the consent beside the transcript it was given for (WAITING until it
    completes). A video is not taken: Voice Lab keeps voices, not faces. The caller
    commits, in the transaction that queues the transcript."""
    if not consent_record or user_id is None:
        return None
    if video:
        log.info("voice lab: a video upload was not taken (audio files only)")
        return None
    db.session.flush()  # the transcript row first: the contribution refers to it
    c = VoiceContribution(
        id=uuid.uuid4(),
        user_id=user_id,
        workspace_id=t.workspace_id,
        transcript_id=t.id,
        status=ContributionStatus.WAITING,
        licence=consent_record["licence"],
        consent_version=consent_record["version"],
        consent_sha256=consent_record["sha256"],
        consented_at=datetime.fromisoformat(consent_record["at"]),
    )
    db.session.add(c)
    record(
        "voice_lab.contributed",
        target=t,
        details={"contribution_id": str(c.id), "consent_version": c.consent_version},
    )
    return c


def on_transcript_ended(t: Transcript) -> None:
    """A transcript reached its end (app/transcripts/lifecycle.py, before its staged audio
    is released): keep the audio of a completed one given to Voice Lab; a failed or
    cancelled one's contribution is dropped. The caller commits."""
    c = db.session.scalar(
        select(VoiceContribution)
        .where(
            VoiceContribution.transcript_id == t.id,
            VoiceContribution.status == ContributionStatus.WAITING,
        )
        .with_for_update()
    )
    if c is None:
        return
    if t.status != Status.COMPLETED or t.encrypted:
        _forget(c, ContributionStatus.DELETED)
        return
    staged = db.session.get(StagedAudio, t.staged_audio_id) if t.staged_audio_id else None
    if staged is None or staged.wrapped_key is None:
        _forget(c, ContributionStatus.DELETED)
        return
    try:
        _keep(c, staged, _extension(t.container))
    except (OSError, CorruptStagedFile):
        # The transcript is done either way; a contribution we could not copy is dropped.
        log.exception("voice lab: could not keep the audio of contribution %s", c.id)
        _forget(c, ContributionStatus.DELETED)
        return
    c.status = ContributionStatus.HELD
    c.duration_seconds = t.duration_seconds
    c.language = (t.language or "")[:16]
    c.text = " ".join(
        text.strip()
        for text in db.session.scalars(
            select(TranscriptSegment.text)
            .where(TranscriptSegment.transcript_id == t.id)
            .order_by(TranscriptSegment.position)
        )
        if text.strip()
    )


def _extension(container: str) -> str:
    name = (container or "").strip().lower()
    return _EXTENSIONS.get(name) or _SAFE_EXT.sub("", name)[:8] or "bin"


# --- the kept file ---------------------------------------------------------------------------


def root() -> Path:
    """The Voice Lab directory: never the staging directory, whose sweeper deletes every
    file past the audio deadline."""
    path = Path(settings().voice_lab_dir)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.resolve() == staging.staging_root().resolve():
        raise RuntimeError("voice_lab_dir must not be the staging directory")
    return path


def path_of(c: VoiceContribution) -> Path:
    """Where the contribution's audio is (or would be): its name is server-chosen."""
    return root() / (c.file_name or f"{c.id.hex}{SUFFIX}")


def _wrap(contribution_id: uuid.UUID, key: bytes, size: int) -> bytes:
    # The size travels with the key, authenticated: the reader then notices a file cut
    # short at a record boundary.
    return wrap_key(_WRAP_INFO, contribution_id.bytes, struct.pack(_WRAP_FORMAT, key, size))


def _unwrap(c: VoiceContribution) -> tuple[bytes, int]:
    key, size = struct.unpack(_WRAP_FORMAT, unwrap_key(_WRAP_INFO, c.id.bytes, c.file_key))
    return key, size


def _keep(c: VoiceContribution, staged: StagedAudio, ext: str) -> None:
    """Copy the staged audio into Voice Lab under a new key, a record at a time."""
    c.file_name = f"{c.id.hex}.{ext}{SUFFIX}"
    target = path_of(c)
    target.unlink(missing_ok=True)  # a retried completion starts the copy afresh
    key = os.urandom(32)
    with staging.reader(staged) as source, RecordWriter(target, key, c.id.bytes) as sink:
        offset = 0
        while offset < source.size:
            block = source.read_at(offset, RECORD)
            sink.write(block)
            offset += len(block)
        size = sink.size
    c.file_key = _wrap(c.id, key, size)


def reader(c: VoiceContribution) -> RecordReader:
    key, size = _unwrap(c)
    return RecordReader(path_of(c), key, c.id.bytes, size)


def extension_of(c: VoiceContribution) -> str:
    parts = (c.file_name or "").split(".")
    return parts[1] if len(parts) == 3 else "bin"


def _forget(c: VoiceContribution, status: str) -> None:
    """Delete the audio, its key and its text; the consent record stays (the caller
    commits). A file left by an interrupted copy goes too: its name is derived."""
    folder = Path(settings().voice_lab_dir)
    for name in {c.file_name, f"{c.id.hex}{SUFFIX}"}:
        if name:
            (folder / name).unlink(missing_ok=True)
    c.file_name = None
    c.file_key = None
    c.text = ""
    c.status = status


# --- the person's side -------------------------------------------------------------------------


def contributions_of(
    user_id: uuid.UUID, *, workspace_id: uuid.UUID | None = None
) -> list[VoiceContribution]:
    """The person's contributions still worth showing (not the deleted), newest first;
    `workspace_id` narrows to one workspace (the API: a key acts within its workspace)."""
    query = select(VoiceContribution).where(
        VoiceContribution.user_id == user_id,
        VoiceContribution.status != ContributionStatus.DELETED,
    )
    if workspace_id is not None:
        query = query.where(VoiceContribution.workspace_id == workspace_id)
    return list(
        db.session.scalars(
            query.order_by(VoiceContribution.consented_at.desc(), VoiceContribution.id)
        )
    )


def release_numbers(contributions: list[VoiceContribution]) -> dict[uuid.UUID, int]:
    ids = {c.release_id for c in contributions if c.release_id}
    if not ids:
        return {}
    rows = db.session.execute(
        select(VoiceRelease.id, VoiceRelease.number).where(VoiceRelease.id.in_(ids))
    ).all()
    return {rid: number for rid, number in rows}


def page_context(user: Any) -> dict[str, Any]:
    """What the privacy page's Voice Lab section shows (templates/privacy/_voice_lab.html)."""
    mine = contributions_of(user.id) if getattr(user, "is_authenticated", False) else []
    return {
        "consent": consent(),
        "contributions": mine,
        "releases": release_numbers(mine),
        "active": sum(1 for c in mine if c.status != ContributionStatus.WITHDRAWN),
    }


def withdraw(
    user_id: uuid.UUID,
    contribution_id: Any,
    *,
    workspace_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> VoiceContribution:
    """Take a contribution back, any time. Not yet released: the audio, its key and text
    are deleted (DELETED). Released: the same, and it is listed as withdrawn in the next
    release (WITHDRAWN); copies already published cannot be recalled."""
    try:
        wanted = uuid.UUID(str(contribution_id))
    except ValueError:
        raise NotFound(_("No such contribution.")) from None
    query = select(VoiceContribution).where(
        VoiceContribution.id == wanted, VoiceContribution.user_id == user_id
    )
    if workspace_id is not None:
        query = query.where(VoiceContribution.workspace_id == workspace_id)
    c = db.session.scalar(query.with_for_update())
    if c is None or c.status == ContributionStatus.DELETED:
        db.session.rollback()
        raise NotFound(_("No such contribution."))
    if c.status == ContributionStatus.WITHDRAWN:
        db.session.rollback()
        raise Conflict(_("This recording was already withdrawn."))
    released = c.status == ContributionStatus.RELEASED
    _forget(c, ContributionStatus.WITHDRAWN if released else ContributionStatus.DELETED)
    c.withdrawn_at = now or utcnow()
    _audit(c, "voice_lab.withdrawn", {"released": released})
    db.session.commit()
    return c


def _audit(c: VoiceContribution, action: str, details: dict[str, Any]) -> None:
    """In the workspace the recording came from (its admins see what left it), if any."""
    if c.workspace_id is None:
        return
    with workspace_scope(c.workspace_id):
        record(
            action,
            target=c,
            details={"contribution_id": str(c.id), **details},
            workspace_id=c.workspace_id,
        )
        db.session.flush()


def on_account_deleted(user_id: uuid.UUID, *, now: datetime | None = None) -> int:
    """A deleted account takes its contributions back: unreleased ones are deleted (audio,
    key, text), released ones are withdrawn, and none keeps a link to the person. The
    caller (app/privacy/deletion.py) commits. Returns how many were touched."""
    rows = db.session.scalars(
        select(VoiceContribution).where(VoiceContribution.user_id == user_id).with_for_update()
    ).all()
    for c in rows:
        if c.status in UNRELEASED or c.status == ContributionStatus.RELEASED:
            released = c.status == ContributionStatus.RELEASED
            _forget(c, ContributionStatus.WITHDRAWN if released else ContributionStatus.DELETED)
            c.withdrawn_at = now or utcnow()
        c.user_id = None
    db.session.flush()
    return len(rows)


# --- the operators' side -----------------------------------------------------------------------


@dataclass(frozen=True)
class Overview:
    waiting: int
    held: int
    released: int
    withdrawn: int
    unlisted_withdrawn: int  # withdrawn since the last release, for the next one
    releases: list[VoiceRelease]

    @property
    def next_number(self) -> int:
        return (self.releases[0].number if self.releases else 0) + 1

    @property
    def can_cut(self) -> bool:
        return bool(self.held or self.unlisted_withdrawn)


def overview() -> Overview:
    counts = dict(
        db.session.execute(
            select(VoiceContribution.status, func.count(VoiceContribution.id)).group_by(
                VoiceContribution.status
            )
        ).all()
    )
    releases = list(db.session.scalars(select(VoiceRelease).order_by(VoiceRelease.number.desc())))
    return Overview(
        waiting=counts.get(ContributionStatus.WAITING, 0),
        held=counts.get(ContributionStatus.HELD, 0),
        released=counts.get(ContributionStatus.RELEASED, 0),
        withdrawn=counts.get(ContributionStatus.WITHDRAWN, 0),
        unlisted_withdrawn=len(_unlisted_withdrawn(releases)),
        releases=releases,
    )


def _listed(releases: list[VoiceRelease]) -> set[str]:
    return {line for r in releases for line in (r.withdrawn or "").split() if line}


def _unlisted_withdrawn(releases: list[VoiceRelease]) -> list[str]:
    """Released, then withdrawn, and not yet named in any release: robust to a withdrawal
    that commits while a release is being cut (a time window could miss it)."""
    listed = _listed(releases)
    ids = db.session.scalars(
        select(VoiceContribution.id)
        .where(VoiceContribution.status == ContributionStatus.WITHDRAWN)
        .order_by(VoiceContribution.withdrawn_at, VoiceContribution.id)
    )
    return [str(i) for i in ids if str(i) not in listed]


def cut_release(operator_id: uuid.UUID | None, *, now: datetime | None = None) -> VoiceRelease:
    """Release N: every HELD contribution becomes RELEASED in it, and the released ones
    withdrawn since the previous release are listed in it as withdrawn."""
    moment = now or utcnow()
    held = db.session.scalars(
        select(VoiceContribution)
        .where(VoiceContribution.status == ContributionStatus.HELD)
        .order_by(VoiceContribution.consented_at, VoiceContribution.id)
        .with_for_update()
    ).all()
    releases = list(db.session.scalars(select(VoiceRelease).order_by(VoiceRelease.number.desc())))
    withdrawn = _unlisted_withdrawn(releases)
    if not held and not withdrawn:
        db.session.rollback()
        raise ServiceError(_("Nothing to release: no recordings held and none withdrawn since."))
    release = VoiceRelease(
        id=uuid.uuid4(),
        number=(releases[0].number if releases else 0) + 1,
        created_by_id=operator_id,
        created_at=moment,
        contributions=len(held),
        withdrawn="\n".join(withdrawn),
    )
    db.session.add(release)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(_("Another release was cut at the same moment; reload the page.")) from None
    for c in held:
        c.status = ContributionStatus.RELEASED
        c.release_id = release.id
    db.session.commit()
    log.info(
        "voice lab release %d cut: %d recording(s), %d withdrawn",
        release.number,
        len(held),
        len(withdrawn),
    )
    return release


def get_release(number: int) -> VoiceRelease:
    release = db.session.scalar(select(VoiceRelease).where(VoiceRelease.number == number))
    if release is None:
        raise NotFound(_("No such release."))
    return release


def _clip(c: VoiceContribution) -> dict[str, Any]:
    """One clip as the manifest describes it: nothing that names who gave it."""
    return {
        "id": str(c.id),
        "file": f"clips/{c.id}.{extension_of(c)}",
        "duration_seconds": round(c.duration_seconds, 3),
        "language": c.language or None,
        "text": c.text,
        "licence": c.licence,
        "consent_version": c.consent_version,
        "consent_sha256": c.consent_sha256,
        # The day is enough to show when consent was given, and links less to the upload.
        "consented_at": c.consented_at.date().isoformat(),
    }


def manifest(release: VoiceRelease, clips: list[dict[str, Any]]) -> dict[str, Any]:
    versions = sorted({clip["consent_version"] for clip in clips} | {CONSENT_VERSION})
    return {
        "dataset": DATASET,
        "release": release.number,
        "date": release.created_at.date().isoformat(),
        "licence": LICENCE,
        "licence_name": LICENCE_NAME,
        "licence_url": LICENCE_URL,
        "attribution": ATTRIBUTION,
        "clips": clips,
        "withdrawn": [line for line in (release.withdrawn or "").split() if line],
        "consent_texts": {
            v: {"sha256": consent_sha256(v), "text": list(CONSENT_TEXTS[v])}
            for v in versions
            if v in CONSENT_TEXTS
        },
    }


@dataclass(frozen=True)
class ReleaseZip:
    filename: str
    media_type: str
    chunks: Iterator[bytes]


def release_zip(number: int) -> ReleaseZip:
    """Release N as a zip, streamed: clips/<id>.<ext> (the audio as given, decrypted) and
    manifest.json. A clip withdrawn since the release was cut is left out (its audio is
    gone); the manifest lists exactly the clips in the zip."""
    release = get_release(number)
    ids = list(
        db.session.scalars(
            select(VoiceContribution.id)
            .where(
                VoiceContribution.release_id == release.id,
                VoiceContribution.status == ContributionStatus.RELEASED,
            )
            .order_by(VoiceContribution.consented_at, VoiceContribution.id)
        )
    )
    return ReleaseZip(
        f"voice-lab-release-{release.number}.zip",
        ZIP_MEDIA_TYPE,
        _zip_chunks(release.id, ids),
    )


def _zip_chunks(release_id: uuid.UUID, ids: list[uuid.UUID]) -> Iterator[bytes]:
    sink = ZipSink()
    stamp = utcnow().timetuple()[:6]
    clips: list[dict[str, Any]] = []
    # Audio is compressed already: stored, not deflated; one record in memory at a time.
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:
        for cid in ids:
            c = db.session.scalar(
                select(VoiceContribution).where(
                    VoiceContribution.id == cid,
                    VoiceContribution.status == ContributionStatus.RELEASED,
                )
            )
            db.session.commit()  # no transaction held open while bytes go out
            if c is None:
                continue  # withdrawn while the zip was being sent
            try:
                source = reader(c)  # a missing file or key is found before the entry starts
            except (OSError, CorruptStagedFile, InvalidTag):
                log.exception("voice lab: clip %s could not be read; left out", cid)
                continue
            clip = _clip(c)
            entry = zipfile.ZipInfo(clip["file"], date_time=stamp)
            # A record failing in the middle stops the download rather than ship a cut clip.
            with source, archive.open(entry, "w", force_zip64=True) as out:
                offset = 0
                while offset < source.size:
                    block = source.read_at(offset, RECORD)
                    out.write(block)
                    offset += len(block)
                    yield sink.take()
            clips.append(clip)
            yield sink.take()
        release = db.session.get(VoiceRelease, release_id)
        db.session.commit()
        if release is not None:
            body = json.dumps(manifest(release, clips), indent=2, ensure_ascii=False)
            archive.writestr(zipfile.ZipInfo("manifest.json", date_time=stamp), body.encode())
    yield sink.take()


# --- housekeeping ----------------------------------------------------------------------------


def sweep_strays() -> int:
    """Delete files under voice_lab_dir that no kept contribution owns (a copy whose
    transaction never committed). Safe to run any time: live files are never touched."""
    live = set(
        db.session.scalars(
            select(VoiceContribution.file_name).where(
                VoiceContribution.file_name.is_not(None),
                VoiceContribution.status.in_(
                    (ContributionStatus.HELD, ContributionStatus.RELEASED)
                ),
            )
        )
    )
    waiting = {
        f"{i.hex}"
        for i in db.session.scalars(
            select(VoiceContribution.id).where(
                VoiceContribution.status == ContributionStatus.WAITING
            )
        )
    }
    db.session.commit()
    removed = 0
    for entry in root().iterdir():
        if not entry.is_file() or entry.name in live:
            continue
        if entry.name.split(".", 1)[0] in waiting:
            continue  # a copy in progress: its completion commits it
        entry.unlink(missing_ok=True)
        removed += 1
    if removed:
        log.info("voice lab sweep removed %d stray file(s)", removed)
    return removed
