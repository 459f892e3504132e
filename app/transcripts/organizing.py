"""Keeping a workspace's transcripts in order: folders, tags, and moving a transcript to
another workspace the same person administers.

Each function owns its transaction. Folders are flat (one level, like most teams use them);
tags are free words, stored lowercase on the transcript so a filter is one JSON lookup.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import delete, func, select, update

from app.audit.service import record
from app.errors import Forbidden, NotFound, ServiceError
from app.extensions import db
from app.private import contents
from app.search import outbox
from app.tenants.context import unscoped, workspace_scope
from app.tenants.models import Membership, Role, Workspace
from app.transcripts.models import (
    Folder,
    ShareLink,
    Status,
    Transcript,
    TranscriptRevision,
    TranscriptSegment,
    TranscriptSpeaker,
)
from app.transcripts.services import get

MAX_FOLDER_NAME = 120
MAX_TAGS = 20
MAX_TAG = 40
_TAG = re.compile(r"^[\w][\w .&+#/-]*$")  # letters of any script, digits, a few marks


# --- Folders -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FolderInfo:
    id: uuid.UUID
    name: str
    count: int


def folders() -> list[FolderInfo]:
    """The workspace's folders by name, each with how many transcripts it holds (that the
    person sees: another member's Private Transcripts are not counted)."""
    counts = dict(
        db.session.execute(
            select(Transcript.folder_id, func.count(Transcript.id))
            .where(Transcript.folder_id.is_not(None), contents.visible())
            .group_by(Transcript.folder_id)
        ).all()
    )
    rows = db.session.scalars(select(Folder).order_by(func.lower(Folder.name), Folder.id))
    return [FolderInfo(f.id, f.name, counts.get(f.id, 0)) for f in rows]


def get_folder(folder_id: uuid.UUID) -> Folder:
    folder = db.session.get(Folder, folder_id)
    if folder is None:  # another workspace's folder reads as missing
        raise NotFound(_("No such folder."))
    return folder


def _folder_name(raw: str | None, *, current: Folder | None = None) -> str:
    name = " ".join((raw or "").split())
    if not name:
        raise ServiceError(_("Give the folder a name."), field="name")
    if len(name) > MAX_FOLDER_NAME:
        raise ServiceError(
            _("Keep folder names under %(max)d characters.", max=MAX_FOLDER_NAME), field="name"
        )
    clash = db.session.scalar(
        select(Folder.id).where(func.lower(Folder.name) == name.lower()).limit(1)
    )
    if clash is not None and (current is None or clash != current.id):
        raise ServiceError(
            _("There is already a folder called “%(name)s”.", name=name), field="name"
        )
    return name


def create_folder(name: str) -> Folder:
    folder = Folder(name=_folder_name(name))
    db.session.add(folder)
    db.session.flush()
    record("folder.created", target=folder, details={"name": folder.name})
    db.session.commit()
    return folder


def rename_folder(folder_id: uuid.UUID, name: str) -> Folder:
    folder = get_folder(folder_id)
    old, folder.name = folder.name, _folder_name(name, current=folder)
    record("folder.renamed", target=folder, details={"from": old, "to": folder.name})
    db.session.commit()
    return folder


def delete_folder(folder_id: uuid.UUID) -> int:
    """Delete a folder; its transcripts stay, outside any folder. Returns how many."""
    folder = get_folder(folder_id)
    filed = list(db.session.scalars(select(Transcript.id).where(Transcript.folder_id == folder.id)))
    held = db.session.execute(
        update(Transcript)
        .where(Transcript.folder_id == folder.id)
        .values(folder_id=None, search_version=Transcript.search_version + 1)
    ).rowcount
    outbox.note(db.session, folder.workspace_id, filed)
    record("folder.deleted", target=folder, details={"name": folder.name, "transcripts": held})
    db.session.delete(folder)
    db.session.commit()
    return int(held or 0)


def file_into(ids: Sequence[uuid.UUID], folder_id: uuid.UUID | None) -> int:
    """Put transcripts into a folder (None: out of any folder)."""
    rows = _transcripts(ids)
    target = get_folder(folder_id) if folder_id is not None else None
    for t in rows:
        t.folder_id = target.id if target else None
    record(
        "transcripts.filed",
        target=target,
        details={"count": len(rows), "folder": target.name if target else None},
    )
    db.session.commit()
    return len(rows)


# --- Tags ----------------------------------------------------------------------------------


def clean_tags(raw: Iterable[str] | str) -> list[str]:
    """Tags as stored: trimmed, lowercase, unique, sorted; refused when malformed."""
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    tags: set[str] = set()
    for item in items:
        if not isinstance(item, str):
            raise ServiceError(_("Tags are words."), field="tags")
        tag = " ".join(item.split()).lower()
        if not tag:
            continue
        if len(tag) > MAX_TAG or not _TAG.match(tag):
            raise ServiceError(
                _(
                    "“%(tag)s” is not a tag: use up to %(max)d letters, digits, "
                    "spaces and - _ . & + # /.",
                    tag=tag[:MAX_TAG],
                    max=MAX_TAG,
                ),
                field="tags",
            )
        tags.add(tag)
    if len(tags) > MAX_TAGS:
        raise ServiceError(
            _("A transcript can have up to %(max)d tags.", max=MAX_TAGS), field="tags"
        )
    return sorted(tags)


def set_tags(transcript_id: uuid.UUID, tags: Iterable[str] | str) -> Transcript:
    t = get(transcript_id)
    contents.require_access(t)  # a private transcript's tags are its owner's to set
    t.tags = clean_tags(tags)
    record("transcript.tagged", target=t, details={"tags": t.tags})
    db.session.commit()
    return t


def add_tag(ids: Sequence[uuid.UUID], tag: str) -> int:
    [clean] = clean_tags([tag]) or [None]
    if clean is None:
        raise ServiceError(_("Type a tag to add."), field="tag")
    rows = _transcripts(ids)
    for t in rows:
        merged = clean_tags([*(t.tags or []), clean])
        t.tags = merged
    record("transcripts.tagged", details={"count": len(rows), "tag": clean})
    db.session.commit()
    return len(rows)


def tag_counts() -> list[tuple[str, int]]:
    """Every tag used in the workspace, most used first (for the listing's filter); tags
    of another member's Private Transcripts are theirs alone."""
    counts: Counter[str] = Counter()
    for tags in db.session.scalars(select(Transcript.tags).where(contents.visible())):
        counts.update(tags or [])
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def _transcripts(ids: Sequence[uuid.UUID]) -> list[Transcript]:
    if not ids:
        raise ServiceError(_("Choose at least one transcript."))
    wanted = set(ids)
    rows = list(db.session.scalars(select(Transcript).where(Transcript.id.in_(wanted))))
    if len(rows) != len(wanted):  # one belongs elsewhere or is gone: the same answer
        raise NotFound(_("No such transcript."))
    for t in rows:  # filing and tagging another member's Private Transcript: 409
        contents.require_access(t)
    return rows


# --- Moving between workspaces ----------------------------------------------------------


@dataclass(frozen=True)
class Destination:
    id: uuid.UUID
    slug: str
    name: str


def destinations(user_id: uuid.UUID, current_id: uuid.UUID) -> list[Destination]:
    """Other workspaces where the person is an admin or the owner."""
    with unscoped("list the workspaces a person administers, to offer them as destinations"):
        rows = db.session.execute(
            select(Workspace)
            .join(Membership, Membership.workspace_id == Workspace.id)
            .where(
                Membership.user_id == user_id,
                Membership.role.in_([Role.ADMIN.value, Role.OWNER.value]),
                Workspace.id != current_id,
            )
            .order_by(Workspace.personal.desc(), func.lower(Workspace.name))
        ).scalars()
        return [Destination(w.id, w.slug, w.name) for w in rows]


def _role_in(workspace_id: uuid.UUID, user_id: uuid.UUID) -> Role | None:
    with workspace_scope(workspace_id):
        role = db.session.scalar(select(Membership.role).where(Membership.user_id == user_id))
    return Role(role) if role else None


# Rows that belong to a transcript and move with it. Share links do not: a public link was
# made under the old workspace's plan and people, so moving revokes it.
_CHILDREN = (TranscriptSegment, TranscriptSpeaker, TranscriptRevision)


def move(transcript_id: uuid.UUID, target_slug: str, user_id: uuid.UUID) -> Workspace:
    """Move a finished transcript (text, speakers, history) to another workspace.

    The person must administer both workspaces. Runs in the current (source) workspace's
    context; the switch of workspace_id itself needs both sides, so it is the one step
    done unscoped, after both memberships were checked.
    """
    t = get(transcript_id)
    # Its ciphertext is bound to this workspace (the AAD names it), and the server cannot
    # re-encrypt it: moving would leave a transcript nobody can open.
    contents.refuse(t, _("Moving to another workspace"))
    source_id = t.workspace_id
    if not (role := _role_in(source_id, user_id)) or not role.at_least(Role.ADMIN):
        raise Forbidden(_("Only an admin of this workspace can move its transcripts."))
    with unscoped("resolve the destination workspace of a move by its address"):
        target = db.session.scalar(select(Workspace).where(Workspace.slug == (target_slug or "")))
    target_role = _role_in(target.id, user_id) if target is not None else None
    if target is None or target_role is None:
        raise ServiceError(_("Choose a workspace you belong to."), field="workspace")
    if not target_role.at_least(Role.ADMIN):
        raise Forbidden(
            _(
                "You are not an admin of “%(workspace)s”, so you cannot move it there.",
                workspace=target.name,
            )
        )
    if target.id == source_id:
        raise ServiceError(_("The transcript is already in this workspace."), field="workspace")
    if not Status(t.status).terminal:
        raise ServiceError(_("Wait until the transcript is finished (or cancel it) to move it."))
    t = db.session.scalar(select(Transcript).where(Transcript.id == t.id).with_for_update())
    assert t is not None
    revoked = db.session.execute(
        delete(ShareLink)
        .where(ShareLink.transcript_id == t.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    record(
        "transcript.moved_out",
        target=t,
        details={"to": target.slug, "title": t.title, "share_links_removed": revoked},
        workspace_id=source_id,  # flushed below, unscoped: name its workspace now
    )
    with unscoped("move a transcript between two workspaces its mover administers"):
        for model in _CHILDREN:
            db.session.execute(
                update(model)
                .where(model.transcript_id == t.id)  # type: ignore[attr-defined]
                .values(workspace_id=target.id)
                .execution_options(synchronize_session=False)
            )
        db.session.execute(
            update(Transcript)
            .where(Transcript.id == t.id)
            .values(
                workspace_id=target.id,
                folder_id=None,
                search_version=Transcript.search_version + 1,
            )
            .execution_options(synchronize_session=False)
        )
        # Out of the source's index, into the target's (the indexer reads both sides).
        outbox.note(db.session, source_id, [t.id])
        outbox.note(db.session, target.id, [t.id])
        db.session.flush()
    with workspace_scope(target.id):
        record(
            "transcript.moved_in",
            target=t,
            details={"from": str(source_id), "title": t.title},
            workspace_id=target.id,
        )
        db.session.commit()
    db.session.expire_all()
    return target
