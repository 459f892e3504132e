"""Usage analytics: recorded only with consent, turned on and off on the privacy page,
anonymised after the retention period by the daily job."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.auth.models import User
from app.db import utcnow
from app.extensions import db
from app.privacy import analytics
from app.privacy.models import AnalyticsEvent
from app.settings import settings
from tests.integration.test_workspaces import database
from tests.transcripts import api_caller
from workers.jobs.analytics_anonymise import analytics_anonymise

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"
UA = {"User-Agent": FIREFOX}


def events(app, user_id: uuid.UUID) -> list[AnalyticsEvent]:  # type: ignore[no-untyped-def]
    with database(app) as s:
        return list(
            s.scalars(
                select(AnalyticsEvent)
                .where(AnalyticsEvent.user_id == user_id)
                .order_by(AnalyticsEvent.at)
            )
        )


def consent(app, user_id: uuid.UUID) -> bool:  # type: ignore[no-untyped-def]
    with database(app) as s:
        return bool(s.get(User, user_id).analytics_consent)


def section(page: str) -> str:
    match = re.search(r'<section[^>]*id="privacy-analytics".*?</section>', page, re.S)
    assert match, "no analytics section on the privacy page"
    return match.group(0)


def test_nothing_is_recorded_without_consent(app, team):
    assert not consent(app, team.user.id)
    team.page("/", headers=UA)
    team.web.get("/account", headers=UA)
    assert events(app, team.user.id) == []


def test_consent_on_and_off_through_the_privacy_page(app, team):
    web, user = team.web, team.user
    page = web.get("/account/privacy", headers=UA)
    assert page.status_code == 200, page.get_data(as_text=True)[:500]
    part = section(page.get_data(as_text=True))
    assert 'action="/account/privacy/analytics"' in part and 'value="on"' in part

    resp = web.post("/account/privacy/analytics", {"consent": "on"}, headers=UA)
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("/account/privacy#privacy-analytics")
    assert consent(app, user.id)
    team.page("/", headers=UA)  # the dashboard

    recorded = events(app, user.id)
    dashboard = [e for e in recorded if e.page == "workspace.dashboard"]
    assert len(dashboard) == 1
    e = dashboard[0]
    assert (e.feature, e.method, e.status) == ("workspace", "GET", 200)
    assert e.browser == "Firefox 132"  # family and major version, never the whole string
    assert e.ip == web.client.environ_base["REMOTE_ADDR"]
    assert e.duration_ms >= 0 and e.anonymised_at is None

    part = section(web.get("/account/privacy", headers=UA).get_data(as_text=True))
    kept = len(events(app, user.id)) - 1  # the page counted before its own visit
    assert f"Events kept about you now: {kept}." in part
    assert 'value="off"' in part and "deletes the events still tied to you" in part

    resp = web.post("/account/privacy/analytics", {"consent": "off"}, headers=UA)
    assert resp.status_code == 302
    assert not consent(app, user.id)
    assert events(app, user.id) == []  # deleted, and the opt-out itself not recorded
    part = section(web.get("/account/privacy", headers=UA).get_data(as_text=True))
    assert "Events kept about you now: 0." in part
    assert events(app, user.id) == []


def test_files_health_checks_and_the_api_are_not_recorded(app, team):
    team.web.post("/account/privacy/analytics", {"consent": "on"})
    call = api_caller(team)  # the key is made through a page: recorded
    before = len(events(app, team.user.id))
    assert team.web.get("/static/css/app.css").status_code in (200, 304)
    assert team.web.get("/healthz").status_code == 200
    assert call("GET", "/workspace").status_code == 200
    assert team.web.get("/no-such-page").status_code == 404
    assert len(events(app, team.user.id)) == before


def test_anonymous_visitors_are_not_recorded(app, web):
    with database(app) as s:
        before = s.scalar(select(func.count(AnalyticsEvent.id)))
    web.get("/", headers=UA)
    web.get("/login", headers=UA)
    with database(app) as s:
        assert s.scalar(select(func.count(AnalyticsEvent.id))) == before


@pytest.mark.parametrize(
    ("agent", "family"),
    [
        (FIREFOX, "Firefox 132"),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
            " Chrome/131.0.0.0 Safari/537.36",
            "Chrome 131",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
            " Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86",
            "Edge 131",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15"
            " (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
            "Safari 17",
        ),
        ("curl/8.5.0", "Other"),
        ("", "Other"),
        (None, "Other"),
    ],
)
def test_browser_family_keeps_name_and_major_version(agent, family):
    assert analytics.browser_family(agent) == family


def _event(s, user_id: uuid.UUID, at) -> uuid.UUID:  # type: ignore[no-untyped-def]
    e = AnalyticsEvent(
        user_id=user_id,
        at=at,
        page="workspace.dashboard",
        feature="workspace",
        browser="Firefox 132",
        ip="10.1.2.3",
    )
    s.add(e)
    s.flush()
    return e.id


def test_the_daily_job_anonymises_events_past_retention_once(app, team):
    with app.app_context():
        days = settings().analytics_retention_days
    now = utcnow()
    deadline = now - timedelta(days=days)
    with database(app) as s:
        old = _event(s, team.user.id, deadline - timedelta(seconds=1))
        young = _event(s, team.user.id, deadline + timedelta(seconds=1))
        s.commit()

    assert analytics_anonymise(now=now) == "anonymised 1 analytics event(s)"
    with database(app) as s:
        gone, kept = s.get(AnalyticsEvent, old), s.get(AnalyticsEvent, young)
    assert (gone.user_id, gone.ip, gone.browser) == (None, None, None)
    assert gone.anonymised_at is not None
    assert (gone.page, gone.feature) == ("workspace.dashboard", "workspace")  # stays
    assert (kept.user_id, kept.ip, kept.browser) == (team.user.id, "10.1.2.3", "Firefox 132")
    assert kept.anonymised_at is None

    # Again, same clock: nothing left to do. Two seconds later the other one goes.
    assert analytics_anonymise(now=now) == "anonymised 0 analytics event(s)"
    assert analytics_anonymise(now=now + timedelta(seconds=2)) == "anonymised 1 analytics event(s)"


def test_opting_out_deletes_only_events_still_tied_to_the_person(app, team):
    now = utcnow()
    with database(app) as s:
        mine = _event(s, team.user.id, now)
        s.commit()
    with app.app_context():
        user = db.session.get(User, team.user.id)
        analytics.set_consent(user, True, now=now)
        assert user.analytics_consent and user.analytics_consent_at == now
        analytics.set_consent(user, False)
        assert not user.analytics_consent  # the object in hand says so at once
        db.session.remove()
    with database(app) as s:
        assert s.get(AnalyticsEvent, mine) is None


def test_forget_user_deletes_their_events_in_the_callers_transaction(app, team):
    with database(app) as s:
        _event(s, team.user.id, utcnow())
        s.commit()
    with app.app_context():
        assert analytics.forget_user(team.user.id) == 1
        db.session.rollback()  # the caller decides: nothing happened
        assert analytics.forget_user(team.user.id) == 1
        db.session.commit()
        db.session.remove()
    assert events(app, team.user.id) == []
