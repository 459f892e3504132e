"""Billing months renew on the anchor's day, clamped to short months, never drifting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from app.billing.periods import current, nth_renewal


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_an_anchor_on_the_31st_renews_on_the_last_day_of_short_months():
    anchor = at(2026, 1, 31, 9, 30)
    assert nth_renewal(anchor, 1) == at(2026, 2, 28, 9, 30)
    assert nth_renewal(anchor, 2) == at(2026, 3, 31, 9, 30)  # back to the 31st, no drift
    assert nth_renewal(anchor, 3) == at(2026, 4, 30, 9, 30)
    assert nth_renewal(at(2027, 12, 31), 2) == at(2028, 2, 29)  # leap year


def test_the_current_period_holds_now():
    anchor = at(2026, 1, 15, 12)
    assert current(anchor, at(2026, 11, 21)) == type(current(anchor, anchor))(
        at(2026, 11, 15, 12), at(2026, 12, 15, 12)
    )
    # Just before the renewal moment it is still the previous period.
    p = current(anchor, at(2026, 11, 15, 11, 59))
    assert (p.start, p.end) == (at(2026, 10, 15, 12), at(2026, 11, 15, 12))


@given(
    anchor=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    later=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3650)),
)
def test_every_moment_after_the_anchor_is_in_exactly_one_month_long_period(anchor, later):
    anchor = anchor.replace(tzinfo=UTC)
    now = anchor + later
    p = current(anchor, now)
    assert p.start <= now < p.end
    assert timedelta(days=28) <= p.end - p.start <= timedelta(days=31)
    assert current(anchor, p.end).start == p.end
