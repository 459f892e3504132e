"""Deleting an account: what goes at once, what stays detached, what blocks it, and the
canary that must appear nowhere afterwards (database, search index, Redis, logs)."""

from __future__ import annotations

import logging
import random
import string
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.ai import streams
from app.ai.models import AiConversation, AiMessage
from app.audit.models import AuditEvent
from app.auth.models import ApiKey, User
from app.billing.models import Payment
from app.db import utcnow
from app.privacy import deletion
from app.privacy.models import PrivacyRequest, RequestKind, RequestStatus
from app.tenants.models import Membership, Workspace
from app.transcripts.models import Transcript
from tests.integration.test_workspaces import add_member, database
from tests.private.leaks import (
    LogRecords,
    capture_logs,
    dump_database,
    dump_redis,
    find,
    text_cells,
)
from tests.transcripts import Team, drain_index, make_transcript
from tests.web import PASSWORD, Web, make_user
from workers.jobs.privacy_deletions import privacy_deletions


@pytest.fixture
def server_log() -> Iterator[LogRecords]:
    """Every log record of this process while the test runs, at every level."""
    with capture_logs() as records:
        yield records


def letters(n: int) -> str:
    return "".join(random.choice(string.ascii_lowercase) for _ in range(n))


def member(
    app: Flask, team: Team, name: str, *, role: str = "member", email: str | None = None
) -> tuple[User, Web]:
    user = make_user(app, email=email, name=name)
    add_member(app, team.workspace.id, user, role)
    web = Web(app, remote_addr=f"10.9.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}")
    web.login(user)
    return user, web


def personal_workspace(app: Flask, user_id: uuid.UUID) -> uuid.UUID:
    with database(app) as s:
        return s.scalar(
            select(Workspace.id)
            .join(Membership, Membership.workspace_id == Workspace.id)
            .where(Membership.user_id == user_id, Workspace.personal.is_(True))
        )


def delete_via_page(web: Web, **form: str) -> object:
    return web.post("/account/privacy/delete", form)


def test_a_member_deletes_their_account_and_everything_theirs_goes(app, team):
    bea, bea_web = member(app, team, "Bea Gone")
    mine = make_transcript(app, team.workspace.id, "Team's own", uploader_id=team.user.id)
    hers = make_transcript(app, team.workspace.id, "Bea's upload", uploader_id=bea.id)
    personal = personal_workspace(app, bea.id)
    own = make_transcript(app, personal, "Bea's private notes", uploader_id=bea.id)
    with database(app, team.workspace.id) as s:
        s.add(
            ApiKey(
                name="Bea's key",
                prefix=uuid.uuid4().hex[:12],
                key_hash="x" * 64,
                created_by_id=bea.id,
            )
        )
        s.add(
            AuditEvent(
                actor_user_id=bea.id,
                actor_label=bea.email,
                action="transcript.renamed",
                ip="10.1.2.3",
                user_agent="Firefox",
                details={"by": bea.email},
            )
        )
        s.commit()
    with database(app, personal) as s:
        s.add(
            Payment(
                processor="stripe",
                reference=f"in_{uuid.uuid4().hex}",
                kind="credits",
                description="300 minutes",
                amount_cents=500,
                currency="usd",
                status="paid",
                method_type="card",
                occurred_at=utcnow(),
            )
        )
        s.commit()

    page = bea_web.get("/account/privacy").get_data(as_text=True)
    assert "Delete my account" in page and bea.email in page

    wrong = delete_via_page(bea_web, password="not the password at all")
    assert wrong.status_code == 400 and "That password is not right." in wrong.get_data(True)
    with database(app) as s:
        assert s.get(User, bea.id) is not None  # nothing changed

    done = delete_via_page(bea_web, password=PASSWORD)
    assert done.status_code == 302
    assert bea_web.get("/account/privacy").status_code == 302  # signed out: to sign-in

    with database(app) as s:
        assert s.get(User, bea.id) is None
        assert s.get(Transcript, hers) is None and s.get(Transcript, own) is None
        assert s.get(Transcript, mine) is not None  # the team's own stays
        assert (
            s.scalar(select(func.count()).select_from(ApiKey).where(ApiKey.name == "Bea's key"))
            == 0
        )
        event = s.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "transcript.renamed",
                AuditEvent.workspace_id == team.workspace.id,
            )
        )
        assert event.actor_label == "deleted user" and event.ip == "" and event.user_agent == ""
        assert event.details == {"by": "deleted user"}
        # The personal workspace is an empty, nameless tombstone keeping its payment.
        tomb = s.get(Workspace, personal)
        assert tomb.name == "Deleted account" and tomb.slug.startswith("deleted-")
        assert (
            s.scalar(
                select(func.count()).select_from(Payment).where(Payment.workspace_id == personal)
            )
            == 1
        )
        request = s.scalar(
            select(PrivacyRequest).where(PrivacyRequest.subject == deletion.pseudonym(bea.id))
        )
        assert request.kind == RequestKind.DELETION and request.status == RequestStatus.DONE
        assert request.user_id is None and request.completed_at is not None
        assert request.due_at - request.created_at == timedelta(days=30)


def test_an_owner_must_hand_over_or_delete_their_team_first(app, team):
    page = team.web.get("/account/privacy").get_data(as_text=True)
    assert "You own these teams" in page and team.workspace.name in page
    refused = delete_via_page(team.web, password=PASSWORD)
    assert refused.status_code == 409
    assert f"You own {team.workspace.name}" in refused.get_data(as_text=True)
    with database(app) as s:
        assert s.get(User, team.user.id) is not None
        assert (
            s.scalar(
                select(func.count())
                .select_from(PrivacyRequest)
                .where(PrivacyRequest.subject == deletion.pseudonym(team.user.id))
            )
            == 0
        )


def test_an_operator_files_a_request_and_the_job_finishes_it(app, team):
    """A request received by mail: filed by an operator, carried out by the scheduled job;
    non-operators do not see the page at all."""
    carl, _ = member(app, team, "Carl Later")
    assert team.web.get("/operator/requests").status_code == 404
    cfg = app.extensions["verbatim.settings"]
    saved = cfg.operator_emails
    cfg.operator_emails = team.user.email
    with database(app) as s:
        s.get(User, team.user.id).email_verified_at = utcnow()
        s.commit()
    try:
        assert team.web.post("/operator/requests", {"email": carl.email}).status_code == 302
        listing = team.web.get("/operator/requests").get_data(as_text=True)
        assert deletion.pseudonym(carl.id) in listing and "running" in listing
        assert carl.email not in listing
        with app.app_context():
            assert privacy_deletions() == "finished 1, overdue 0"
            assert privacy_deletions() == "finished 0, overdue 0"  # idempotent
        with database(app) as s:
            assert s.get(User, carl.id) is None
        listing = team.web.get("/operator/requests").get_data(as_text=True)
        assert "done" in listing
    finally:
        cfg.operator_emails = saved


def test_an_overdue_request_raises_an_alert(app, team, caplog):
    dora, _ = member(app, team, "Dora Overdue")
    with app.app_context():
        request = deletion.file_request(dora.id, now=utcnow() - timedelta(days=31))
        request_id = request.id
    with app.app_context(), caplog.at_level(logging.ERROR, logger="verbatim.alerts"):
        result = deletion.finish_pending(now=utcnow())
    assert result["overdue"] >= 1
    assert f"ALERT deletion request {request_id} finished after its deadline" in caplog.text


def test_the_canary_appears_nowhere_after_deletion_and_the_retention_job(
    app, app_env, team, services, server_log
):
    # Letters only, random: the scanner matches each word's first six letters too.
    name = f"{letters(9).title()} {letters(9).title()}"
    canary_text = f"{letters(10)} {letters(10)} {letters(10)}"  # no other test's words
    email = f"{letters(12)}@example.test"
    canary, canary_web = member(app, team, name, email=email)
    tid = make_transcript(
        app,
        team.workspace.id,
        "Canary's standup",
        uploader_id=canary.id,
        segments=[(0.0, 2.0, f"We meet about the {canary_text} today.", "S1")],
        speakers={"S1": name},
    )
    personal = personal_workspace(app, canary.id)
    make_transcript(
        app,
        personal,
        "Canary's own",
        uploader_id=canary.id,
        segments=[(0.0, 2.0, f"My own {canary_text}.", "S1")],
    )
    with database(app, team.workspace.id) as s:
        conversation = AiConversation(transcript_id=tid, user_id=canary.id, scope=tid.hex)
        s.add(conversation)
        s.flush()
        message = AiMessage(
            conversation_id=conversation.id, role="user", content=f"What about the {canary_text}?"
        )
        s.add(message)
        s.commit()
        message_id = message.id
    with app.app_context():
        writer = streams.Publisher(message_id)
        writer.delta(f"The {canary_text} is at 0:01.")
        writer.flush()
    drain_index(app)

    def everywhere() -> list:
        cells = dump_database(services.owner_url) + dump_redis(services.redis_url)
        return cells + text_cells("log", server_log.lines)

    # Control: before deletion the scanner finds each of them (the database holds the
    # transcript and its search documents, Redis the answer stream).
    before = everywhere()
    for needle in (email, name, canary_text):
        assert find(needle, before), needle
    assert any("search" in hit or "redis" in hit for hit in find(canary_text, before))

    assert delete_via_page(canary_web, password=PASSWORD).status_code == 302
    drain_index(app)  # what the index worker does right after the commit
    with app.app_context():
        # The scheduled job, with the clock past the 30-day deadline.
        assert deletion.finish_pending(now=utcnow() + timedelta(days=31))["finished"] == 0
    after = everywhere()
    for needle in (email, name, canary_text):
        assert not find(needle, after), (needle, find(needle, after))
    with database(app) as s:
        assert s.get(Transcript, tid) is None
