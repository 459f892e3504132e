"""Billing months: allowances renew each month on the billing date.

A period starts on the anchor's day and time each month; on a shorter month the day is
clamped to its last day (an anchor on the 31st renews on 30 April and 28/29 February), as
Stripe bills. Free workspaces are anchored on their creation, paid ones on their
subscription's billing cycle.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime

from app.db import as_utc


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime

    def contains(self, moment: datetime) -> bool:
        return self.start <= as_utc(moment) < self.end


def _month_index(moment: datetime) -> int:
    return moment.year * 12 + moment.month - 1


def nth_renewal(anchor: datetime, months: int) -> datetime:
    """The anchor moved `months` months on (negative: back), its day clamped."""
    anchor = as_utc(anchor)
    index = _month_index(anchor) + months
    year, month = divmod(index, 12)
    month += 1
    day = min(anchor.day, calendar.monthrange(year, month)[1])
    return anchor.replace(year=year, month=month, day=day)


def current(anchor: datetime, now: datetime) -> Period:
    """The period holding `now`."""
    anchor, now = as_utc(anchor), as_utc(now)
    months = _month_index(now) - _month_index(anchor)
    start = nth_renewal(anchor, months)
    if start > now:
        months -= 1
        start = nth_renewal(anchor, months)
    return Period(start=start, end=nth_renewal(anchor, months + 1))
