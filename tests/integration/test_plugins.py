"""Plugins end to end: the admin page, the webhooks plugin, event delivery by real RQ jobs
to a real HTTP receiver on 127.0.0.1, SAFE_MODE and third-party entry points."""

from __future__ import annotations

import hashlib
import hmac
import importlib
import importlib.metadata
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from redis import Redis
from rq import Queue
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.auth.models import User
from app.extensions import db
from app.plugins.api import PluginAPI, PluginInfo
from app.plugins.hookspecs import hookimpl
from app.plugins.manager import PluginRegistry
from app.plugins.models import EventDelivery, IntegrationEvent, PluginSetting
from app.tenants.context import workspace_scope
from app.tenants.models import Membership, Workspace
from tests.mailbox import Mailbox
from tests.web import Web, make_user, unique_email

DELIVER = "workers.jobs.deliver_event.deliver_event"


# --- a webhook receiver -----------------------------------------------------------------


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    port: int
    hits: list[Hit] = field(default_factory=list)
    status: dict[str, int] = field(default_factory=dict)  # path -> status (default 200)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Hit]:
        return [h for h in self.hits if h.path == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box = Receiver(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            box.hits.append(Hit(self.path, dict(self.headers.items()), body))
            status = box.status.get(self.path, 200)
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def allow_private(app: Flask) -> Iterator[None]:
    """Let webhooks reach 127.0.0.1: in this app, and in the app each work horse builds."""
    cfg = app.extensions["verbatim.settings"]
    before = cfg.outbound_allow_private
    cfg.outbound_allow_private = True
    os.environ["VERBATIM_OUTBOUND_ALLOW_PRIVATE"] = "true"
    try:
        yield
    finally:
        cfg.outbound_allow_private = before
        os.environ.pop("VERBATIM_OUTBOUND_ALLOW_PRIVATE", None)


# --- helpers ------------------------------------------------------------------------------


@contextmanager
def database(app: Flask, workspace_id: uuid.UUID) -> Iterator[Session]:
    with app.app_context():
        try:
            with workspace_scope(workspace_id):
                yield db.session
        finally:
            db.session.expunge_all()
            db.session.rollback()
            db.session.remove()


def create_team(web: Web) -> Workspace:
    slug = f"plug-{uuid.uuid4().hex[:8]}"
    resp = web.post("/workspaces/new", {"name": "Plugin Team", "slug": slug})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    with web.app.app_context():
        ws = db.session.scalar(select(Workspace).where(Workspace.slug == slug))
        assert ws is not None
        db.session.expunge(ws)
        db.session.remove()
    return ws


def admin_with_team(web: Web) -> tuple[User, Workspace]:
    admin = make_user(web.app)
    web.login(admin)
    return admin, create_team(web)


def save_webhook(web: Web, ws: Workspace, url: str, *, enabled: bool = True, secret: str = ""):  # type: ignore[no-untyped-def]
    data = {"url": url, "secret": secret}
    if enabled:
        data["enabled"] = "on"
    return web.post(f"/w/{ws.slug}/plugins/webhooks", data)


def setting(app: Flask, ws: Workspace) -> PluginSetting | None:
    with database(app, ws.id) as s:
        return s.scalar(select(PluginSetting).where(PluginSetting.plugin == "webhooks"))


def deliveries(app: Flask, ws: Workspace) -> list[EventDelivery]:
    with database(app, ws.id) as s:
        return list(s.scalars(select(EventDelivery).order_by(EventDelivery.created_at)))


def events(app: Flask, ws: Workspace, type_: str) -> list[IntegrationEvent]:
    with database(app, ws.id) as s:
        return list(s.scalars(select(IntegrationEvent).where(IntegrationEvent.type == type_)))


def join(web: Web, joiner_web: Web, ws: Workspace, run_jobs, mailbox: Mailbox) -> User:  # type: ignore[no-untyped-def]
    """Invite someone through the page and have them accept the mailed link."""
    email = unique_email("joiner")
    resp = web.post(f"/w/{ws.slug}/invitations", {"email": email, "role": "member"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    run_jobs("email")
    token = mailbox.last(email, "invited").link().rstrip("/").rsplit("/", 1)[-1]
    joiner = make_user(web.app, email)
    joiner_web.login(joiner)
    resp = joiner_web.post(f"/invitations/{token}/accept")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return joiner


def verify_signature(secret: str, header: str, body: bytes) -> None:
    """What a receiver does, written independently of app.plugins.builtin.webhooks."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(
        secret.encode(), fields["t"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(expected, fields["v1"])
    assert abs(time.time() - int(fields["t"])) < 300


def scheduled_jobs_for(redis_conn: Redis, event_id: uuid.UUID) -> list[Job]:
    registry = ScheduledJobRegistry("default", connection=redis_conn)
    jobs = [Job.fetch(jid, connection=redis_conn) for jid in registry.get_job_ids()]
    return [j for j in jobs if j.func_name == DELIVER and j.args[0] == str(event_id)]


# --- the plugins page ---------------------------------------------------------------------


def test_admin_enables_webhooks_with_url(web: Web, allow_private: None, receiver) -> None:  # type: ignore[no-untyped-def]
    _, ws = admin_with_team(web)
    page = web.get(f"/w/{ws.slug}/plugins/")
    assert page.status_code == 200
    assert "Webhooks" in page.get_data(as_text=True)

    resp = save_webhook(web, ws, receiver.url("/hook"))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    row = setting(web.app, ws)
    assert row is not None and row.enabled
    assert row.config["url"] == receiver.url("/hook")
    assert row.config["secret"].startswith("whsec_")  # generated when left blank
    page = web.get(f"/w/{ws.slug}/plugins/").get_data(as_text=True)
    assert row.config["secret"] in page  # the admin can read it back to verify signatures
    assert "Send test event" in page

    # Saving again with the secret left blank keeps it; a new one replaces it.
    assert save_webhook(web, ws, receiver.url("/hook2")).status_code == 302
    again = setting(web.app, ws)
    assert again is not None and again.config["secret"] == row.config["secret"]
    assert again.config["url"] == receiver.url("/hook2")
    assert save_webhook(web, ws, receiver.url("/hook2"), secret="mine").status_code == 302
    mine = setting(web.app, ws)
    assert mine is not None and mine.config["secret"] == "mine"


def test_non_admin_gets_403_and_changes_nothing(web: Web, web2: Web, app: Flask) -> None:
    _, ws = admin_with_team(web)
    member = make_user(app)
    with database(app, ws.id) as s:
        s.add(Membership(user_id=member.id, role="member"))
        s.commit()
    web2.login(member)
    assert web2.get(f"/w/{ws.slug}/plugins/").status_code == 403
    resp = web2.post(
        f"/w/{ws.slug}/plugins/webhooks", {"url": "https://93.184.215.14/h", "enabled": "on"}
    )
    assert resp.status_code == 403
    assert web2.post(f"/w/{ws.slug}/plugins/webhooks/test").status_code == 403
    assert setting(app, ws) is None
    assert events(app, ws, "plugin.test") == []


@pytest.mark.parametrize(
    "url, message",
    [
        ("http://93.184.215.14/hook", "must start with https://"),
        ("https://10.0.0.1/hook", "10.0.0.1 is a private address"),
        ("https://127.1/hook", "127.1 resolves to 127.0.0.1, which is a loopback address"),
        ("https://169.254.169.254/latest", "link-local"),
        ("https://[::ffff:127.0.0.1]/", "IPv6-wrapped loopback"),
        ("https://100.64.1.1/", "carrier-grade NAT"),
        ("https://localhost/hook", "localhost resolves to 127.0.0.1"),
        ("https://user:pw@93.184.215.14/", "user name or password"),
        ("not a url", "spaces"),
        ("", "Enter the webhook endpoint URL"),
    ],
)
def test_refused_urls_show_message_and_store_nothing(web: Web, url: str, message: str) -> None:
    _, ws = admin_with_team(web)
    assert not web.app.extensions["verbatim.settings"].outbound_allow_private
    resp = save_webhook(web, ws, url)
    assert resp.status_code == 422
    assert message in resp.get_data(as_text=True)
    assert setting(web.app, ws) is None
    with database(web.app, ws.id) as s:
        audits = s.scalar(select(func.count()).where(AuditEvent.action == "plugin.updated"))
    assert audits == 0


def test_refused_url_leaves_a_working_config_untouched(web: Web) -> None:
    _, ws = admin_with_team(web)
    good = "https://93.184.215.14/hooks/in"  # public; nothing is sent while saving
    assert save_webhook(web, ws, good, secret="s3cret").status_code == 302
    for bad, enabled in (("https://10.0.0.1/x", True), ("http://93.184.215.14/x", False)):
        resp = save_webhook(web, ws, bad, enabled=enabled)
        assert resp.status_code == 422
        assert "Webhook URL refused" in resp.get_data(as_text=True)
    row = setting(web.app, ws)
    assert row is not None and row.enabled
    assert row.config == {"url": good, "secret": "s3cret"}
    # Turning it off with the stored settings always works.
    assert save_webhook(web, ws, good, enabled=False).status_code == 302
    off = setting(web.app, ws)
    assert off is not None and not off.enabled


# --- delivery -----------------------------------------------------------------------------


def test_member_joined_reaches_receiver_signed(  # type: ignore[no-untyped-def]
    web: Web, web2: Web, allow_private: None, receiver, run_jobs, mailbox: Mailbox
) -> None:
    _, ws = admin_with_team(web)
    secret = f"whsec_{uuid.uuid4().hex}"
    assert save_webhook(web, ws, receiver.url("/in"), secret=secret).status_code == 302

    joiner = join(web, web2, ws, run_jobs, mailbox)
    (event,) = events(web.app, ws, "member.joined")
    assert receiver.hits == []  # delivered by a job, not in the request
    run_jobs("default")

    (hit,) = receiver.at("/in")
    assert hit.headers["Content-Type"] == "application/json"
    verify_signature(secret, hit.headers["Verbatim-Signature"], hit.body)
    assert hit.json == {
        "id": str(event.id),
        "type": "member.joined",
        "created_at": event.created_at.isoformat(),
        "workspace_id": str(ws.id),
        "data": {"user_id": str(joiner.id), "email": joiner.email, "role": "member"},
    }
    (delivery,) = deliveries(web.app, ws)
    assert (delivery.event_id, delivery.plugin, delivery.status_code, delivery.error) == (
        event.id,
        "webhooks",
        200,
        "",
    )
    assert delivery.attempt == 1
    assert delivery.target == receiver.url("/in")
    page = web.get(f"/w/{ws.slug}/plugins/").get_data(as_text=True)
    assert "member.joined" in page and "delivered" in page


def test_member_removed_is_delivered(  # type: ignore[no-untyped-def]
    web: Web, app: Flask, allow_private: None, receiver, run_jobs
) -> None:
    _, ws = admin_with_team(web)
    assert save_webhook(web, ws, receiver.url("/rm"), secret="k").status_code == 302
    member = make_user(app)
    with database(app, ws.id) as s:
        m = Membership(user_id=member.id, role="member")
        s.add(m)
        s.commit()
        membership_id = m.id
    resp = web.post(f"/w/{ws.slug}/members/{membership_id}/remove")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    run_jobs("default")
    (hit,) = receiver.at("/rm")
    verify_signature("k", hit.headers["Verbatim-Signature"], hit.body)
    assert hit.json["type"] == "member.removed"
    assert hit.json["data"] == {"user_id": str(member.id), "email": member.email}


def test_disabled_plugin_sends_nothing(  # type: ignore[no-untyped-def]
    web: Web, web2: Web, allow_private: None, receiver, run_jobs, mailbox: Mailbox
) -> None:
    _, ws = admin_with_team(web)
    assert save_webhook(web, ws, receiver.url("/off")).status_code == 302
    assert save_webhook(web, ws, receiver.url("/off"), enabled=False).status_code == 302
    join(web, web2, ws, run_jobs, mailbox)
    run_jobs("default")
    assert len(events(web.app, ws, "member.joined")) == 1  # recorded, just not sent
    assert receiver.hits == []
    assert deliveries(web.app, ws) == []


def test_plugin_turned_off_after_the_event_is_skipped(  # type: ignore[no-untyped-def]
    web: Web, web2: Web, allow_private: None, receiver, run_jobs, mailbox: Mailbox, redis_conn
) -> None:
    _, ws = admin_with_team(web)
    assert save_webhook(web, ws, receiver.url("/late")).status_code == 302
    join(web, web2, ws, run_jobs, mailbox)
    assert Queue("default", connection=redis_conn).count >= 1  # the job is waiting
    assert save_webhook(web, ws, receiver.url("/late"), enabled=False).status_code == 302
    run_jobs("default")
    assert receiver.hits == []
    assert deliveries(web.app, ws) == []
    (event,) = events(web.app, ws, "member.joined")
    assert scheduled_jobs_for(redis_conn, event.id) == []  # skipped cleanly, not failed


def test_failing_endpoint_is_recorded_and_retried(  # type: ignore[no-untyped-def]
    web: Web, allow_private: None, receiver, run_jobs, redis_conn
) -> None:
    _, ws = admin_with_team(web)
    receiver.status["/fail"] = 500
    assert save_webhook(web, ws, receiver.url("/fail"), secret="k").status_code == 302
    assert web.post(f"/w/{ws.slug}/plugins/webhooks/test").status_code == 302
    (event,) = events(web.app, ws, "plugin.test")
    run_jobs("default")

    assert len(receiver.at("/fail")) == 1
    (failed,) = deliveries(web.app, ws)
    assert failed.status_code == 500
    assert "500" in failed.error
    assert failed.attempt == 1
    (job,) = scheduled_jobs_for(redis_conn, event.id)  # RQ scheduled the retry
    assert job.retries_left == 2
    assert tuple(job.args) == (str(event.id), "webhooks", str(ws.id))
    page = web.get(f"/w/{ws.slug}/plugins/").get_data(as_text=True)
    assert "failed" in page and "webhook endpoint answered 500" in page

    # The retry comes due (run it now rather than wait for the scheduler); it succeeds.
    receiver.status["/fail"] = 200
    ScheduledJobRegistry("default", connection=redis_conn).remove(job)
    queue = Queue("default", connection=redis_conn)
    queue.enqueue_job(job)
    run_jobs("default")
    assert len(receiver.at("/fail")) == 2
    attempts = [(d.attempt, d.status_code, d.error) for d in deliveries(web.app, ws)]
    assert attempts == [(1, 500, failed.error), (2, 200, "")]

    # Delivered once is delivered: running the job again sends nothing.
    queue.enqueue(DELIVER, str(event.id), "webhooks", str(ws.id))
    run_jobs("default")
    assert len(receiver.at("/fail")) == 2
    assert len(deliveries(web.app, ws)) == 2


def test_workspace_never_receives_another_workspaces_events(  # type: ignore[no-untyped-def]
    web: Web, web2: Web, app: Flask, allow_private: None, receiver, run_jobs, mailbox: Mailbox
) -> None:
    _, ws_x = admin_with_team(web)
    assert save_webhook(web, ws_x, receiver.url("/x"), secret="x").status_code == 302
    ws_y = create_team(web)
    assert save_webhook(web, ws_y, receiver.url("/y"), secret="y").status_code == 302

    join(web, Web(app, remote_addr="10.9.9.9"), ws_y, run_jobs, mailbox)
    run_jobs("default")
    assert receiver.at("/x") == []
    (hit,) = receiver.at("/y")
    assert hit.json["workspace_id"] == str(ws_y.id)
    verify_signature("y", hit.headers["Verbatim-Signature"], hit.body)
    assert deliveries(app, ws_x) == []
    assert events(app, ws_x, "member.joined") == []


def test_send_test_event_button(  # type: ignore[no-untyped-def]
    web: Web, allow_private: None, receiver, run_jobs
) -> None:
    _, ws = admin_with_team(web)
    refused = web.post(f"/w/{ws.slug}/plugins/webhooks/test")
    assert refused.status_code == 422
    assert "Turn Webhooks on before sending a test event" in refused.get_data(as_text=True)
    assert events(web.app, ws, "plugin.test") == []

    assert save_webhook(web, ws, receiver.url("/t"), secret="k").status_code == 302
    assert web.post(f"/w/{ws.slug}/plugins/webhooks/test").status_code == 302
    run_jobs("default")
    (hit,) = receiver.at("/t")
    assert hit.json["type"] == "plugin.test"
    assert hit.json["data"]["plugin"] == "webhooks"
    assert web.post(f"/w/{ws.slug}/plugins/nope/test").status_code == 404


def test_delivery_to_a_private_address_is_refused_at_send_time(  # type: ignore[no-untyped-def]
    web: Web, app: Flask, allow_private: None, receiver, run_jobs, redis_conn
) -> None:
    # Saved while private addresses were allowed; the worker no longer allows them.
    _, ws = admin_with_team(web)
    assert save_webhook(web, ws, receiver.url("/p"), secret="k").status_code == 302
    assert web.post(f"/w/{ws.slug}/plugins/webhooks/test").status_code == 302
    os.environ.pop("VERBATIM_OUTBOUND_ALLOW_PRIVATE")
    run_jobs("default")
    assert receiver.hits == []
    (delivery,) = deliveries(app, ws)
    assert delivery.status_code is None
    assert "must start with https://" in delivery.error
    (event,) = events(app, ws, "plugin.test")
    for job in scheduled_jobs_for(redis_conn, event.id):  # its retries would fail the same way
        job.delete()


# --- discovery: SAFE_MODE and third-party entry points ---------------------------------------


class ThirdPartyPlugin:
    @hookimpl
    def verbatim_plugin_info(self) -> PluginInfo:
        return PluginInfo(name="thirdparty", title="Third party", description="t")

    @hookimpl
    def verbatim_validate_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return {**config, "checked": True}  # takes only `config`: pluggy passes what it names


class BrokenInfoPlugin:
    @hookimpl
    def verbatim_plugin_info(self) -> PluginInfo:
        raise RuntimeError("broken plugin")


class ImpostorPlugin:
    @hookimpl
    def verbatim_plugin_info(self) -> PluginInfo:
        return PluginInfo(name="webhooks", title="Not the real one", description="x")


class BadNamePlugin:
    @hookimpl
    def verbatim_plugin_info(self) -> PluginInfo:
        return PluginInfo(name="Bad Name/../x", title="Bad", description="x")


third_party = ThirdPartyPlugin()
bad_name = BadNamePlugin()
broken_info = BrokenInfoPlugin()
impostor = ImpostorPlugin()


@pytest.fixture
def installed_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real (if tiny) installed distribution declaring `verbatim.plugins` entry points."""
    dist = tmp_path / "verbatim_test_plugins-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: verbatim-test-plugins\nVersion: 1.0\n"
    )
    module = __name__
    (dist / "entry_points.txt").write_text(
        "[verbatim.plugins]\n"
        f"thirdparty = {module}:third_party\n"
        f"broken_import = {module}_does_not_exist:plugin\n"
        f"broken_attr = {module}:no_such_object\n"
        f"broken_info = {module}:broken_info\n"
        f"impostor = {module}:impostor\n"
        f"bad_name = {module}:bad_name\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    assert any(ep.name == "thirdparty" for ep in _entry_points())


def _entry_points() -> Any:
    return importlib.metadata.entry_points(group="verbatim.plugins")


def test_safe_mode_loads_first_party_only(installed_plugins: None) -> None:
    reg = PluginRegistry(safe_mode=True)
    reg.load()
    assert list(reg.infos) == [
        "webhooks",
        "engines",
        "exporters",
        "search-backends",
        "ai-providers",
    ]
    assert reg.infos["webhooks"].first_party


def test_third_party_plugins_load_and_broken_ones_are_skipped(
    installed_plugins: None, app: Flask
) -> None:
    reg = PluginRegistry(safe_mode=False)
    reg.load()  # four broken entry points: none stops the others
    assert set(reg.infos) == {
        "webhooks",
        "engines",
        "exporters",
        "search-backends",
        "ai-providers",
        "thirdparty",
    }
    assert not reg.infos["thirdparty"].first_party
    assert reg.infos["webhooks"].title == "Webhooks"  # the impostor did not replace it
    api = PluginAPI("thirdparty", uuid.uuid4(), {}, allow_private=False, timeout=1)
    assert reg.validate_config("thirdparty", {"a": 1}, api) == {"a": 1, "checked": True}
