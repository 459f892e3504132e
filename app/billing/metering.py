"""Minutes: what a workspace may still transcribe, and counting what it did, once.

The month's allowance (the plan's minutes, times seats on plans billed per seat) is spent
first, then credits. A transcript reserves its minutes when it is queued, under the
account's lock, so two uploads at once cannot both spend the last minutes; it is charged
when it completes and released when it fails or is cancelled. A file longer than what is
left is refused before any work, with what is left and how to get more.

API use counts against the month's allowance like any other, and on plans that cap it
(the free plan's 100 minutes) also against that cap; credits pay for either beyond it.
A model comparison transcribes the file once per model, and each run is counted.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from datetime import datetime

from babel.lists import format_list
from flask import g, has_request_context
from flask_babel import format_date, get_locale
from flask_babel import gettext as _
from sqlalchemy import case, func, select

from app.billing import accounts, entitlements, periods
from app.billing.models import BillingAccount, CreditGrant, UsageRecord, UsageState
from app.db import as_utc, utcnow
from app.errors import ServiceError
from app.extensions import db
from app.settings import settings
from app.tenants.context import current_workspace_id
from app.tenants.models import Workspace
from app.transcripts.models import Transcript

COUNTED = (UsageState.RESERVED, UsageState.CHARGED)
# Float sums of many durations drift by fractions of a millisecond; never refuse on that.
EPSILON = 0.01


class QuotaExceeded(ServiceError):
    """Out of minutes (402: paying makes the same request work)."""

    status = 402


@dataclass(frozen=True)
class Minutes:
    """A workspace's minutes this period, in seconds; None: no limit."""

    plan: str
    period: periods.Period
    included: float | None
    used: float  # of the allowance, running and finished
    api_included: float | None
    api_used: float
    credits: float
    max_file: float

    def allowance_left(self, via: str = "web") -> float | None:
        left = None if self.included is None else max(0.0, self.included - self.used)
        if via == "api" and self.api_included is not None:
            api_left = max(0.0, self.api_included - self.api_used)
            left = api_left if left is None else min(left, api_left)
        return left

    def left(self, via: str = "web") -> float | None:
        allowance = self.allowance_left(via)
        return None if allowance is None else allowance + self.credits


def current_via() -> str:
    """ "api" inside an API-key request, else "web" (a job's records keep theirs)."""
    return "api" if has_request_context() and g.get("api_key") is not None else "web"


def minutes(
    workspace: Workspace, account: BillingAccount | None = None, now: datetime | None = None
) -> Minutes:
    """`account`: the workspace's, when the caller has it already. Reads the account's
    tallies, one row; counts usage_records only when they are for another period. No lock
    is taken: this is what the workspace sees, reserve() decides under the lock."""
    account = account or accounts.get(workspace.id)
    period = periods.current(account.period_anchor, now or utcnow())
    return _minutes(workspace, period, _tally(account, period))


@dataclass(frozen=True)
class Tally:
    """Seconds reserved or charged this period (all, and by API), and credits left."""

    allowance_used: float
    api_used: float
    credits_left: float

    def plus(self, other: Tally) -> Tally:
        return Tally(
            self.allowance_used + other.allowance_used,
            self.api_used + other.api_used,
            self.credits_left + other.credits_left,
        )

    def minus(self, other: Tally) -> Tally:
        return self.plus(Tally(-other.allowance_used, -other.api_used, -other.credits_left))

    def close_to(self, other: Tally) -> bool:
        """Equal but for float rounding (sums in another order differ in the last bits)."""
        return all(
            abs(a - b) <= EPSILON for a, b in zip(astuple(self), astuple(other), strict=True)
        )


NOTHING = Tally(0.0, 0.0, 0.0)


def recount(workspace_id: uuid.UUID, period_start: datetime) -> Tally:
    """The tallies of the period from `period_start` counted from the records themselves
    (the account's are kept equal to these)."""
    counted = UsageRecord.state.in_(COUNTED)
    mine = UsageRecord.workspace_id == workspace_id
    period_sums = select(
        func.coalesce(func.sum(UsageRecord.allowance_seconds), 0),
        func.coalesce(func.sum(case((UsageRecord.via == "api", UsageRecord.seconds))), 0),
    ).where(mine, counted, UsageRecord.period_start >= period_start)
    # All-time, but only the few rows that used credits (an index range, not history).
    credit_used = (
        select(func.coalesce(func.sum(UsageRecord.credit_seconds), 0))
        .where(mine, counted, UsageRecord.credit_seconds > 0)
        .scalar_subquery()
    )
    bought = (
        select(func.coalesce(func.sum(CreditGrant.seconds), 0))
        .where(CreditGrant.workspace_id == workspace_id)
        .scalar_subquery()
    )
    used, api_used, credit_used, granted = db.session.execute(
        period_sums.add_columns(credit_used, bought)
    ).one()
    return Tally(float(used), float(api_used), float(granted) - float(credit_used))


def _is_current(account: BillingAccount, period: periods.Period) -> bool:
    start = account.tally_period_start
    return start is not None and as_utc(start) == period.start


def stored_tally(account: BillingAccount) -> Tally:
    return Tally(account.tally_allowance_used, account.tally_api_used, account.tally_credits_left)


def store_tally(account: BillingAccount, period_start: datetime, tally: Tally) -> None:
    account.tally_period_start = period_start
    account.tally_allowance_used = tally.allowance_used
    account.tally_api_used = tally.api_used
    account.tally_credits_left = tally.credits_left


def _tally(account: BillingAccount, period: periods.Period) -> Tally:
    if _is_current(account, period):
        return stored_tally(account)
    return recount(account.workspace_id, period.start)


def locked_tally(account: BillingAccount, period: periods.Period) -> Tally:
    """With the account locked: its tallies brought to `period` (counted afresh from the
    records when a new period has begun) before anything is added to them."""
    if not _is_current(account, period):
        store_tally(account, period.start, recount(account.workspace_id, period.start))
    return stored_tally(account)


def _share(account: BillingAccount, record: UsageRecord) -> Tally:
    """What `record` adds to the account's tallies as it stands."""
    if record.state not in COUNTED or account.tally_period_start is None:
        return NOTHING
    this_period = as_utc(record.period_start) >= as_utc(account.tally_period_start)
    return Tally(
        record.allowance_seconds if this_period else 0.0,
        record.seconds if this_period and record.via == "api" else 0.0,
        -record.credit_seconds,
    )


def _count(account: BillingAccount, record: UsageRecord, sign: int) -> None:
    """Add (+1) or take away (-1) `record` from the locked account's tallies."""
    share = _share(account, record)
    account.tally_allowance_used += sign * share.allowance_used
    account.tally_api_used += sign * share.api_used
    account.tally_credits_left += sign * share.credits_left


def add_credits(workspace_id: uuid.UUID, seconds: float) -> None:
    """Credits are being granted: lock the account and add them to its tally. Call it
    before the grant's row is added, which the tally's recount would count as well."""
    workspace = db.session.get(Workspace, workspace_id)
    assert workspace is not None
    account, _period = _lock(workspace)
    account.tally_credits_left += seconds


def _minutes(workspace: Workspace, period: periods.Period, tally: Tally) -> Minutes:
    plan = entitlements.plan_of(workspace)
    per_month = entitlements.limit(workspace, "transcription_minutes_per_month")
    api_month = entitlements.limit(workspace, "api_minutes_per_month")
    seats = max(1, workspace.seat_limit) if plan.per_seat else 1
    return Minutes(
        plan=plan.title,
        period=period,
        included=None if per_month is None else per_month * 60.0 * seats,
        used=tally.allowance_used,
        api_included=None if api_month is None else api_month * 60.0,
        api_used=tally.api_used,
        credits=max(0.0, tally.credits_left),
        max_file=max_file_seconds(workspace),
    )


def max_file_seconds(workspace: Workspace) -> float:
    """The longest recording the workspace's plan takes (and the installation allows)."""
    ceiling = float(settings().max_audio_seconds)
    plan = entitlements.limit(workspace, "max_file_minutes")
    return ceiling if plan is None else min(ceiling, plan * 60.0)


def human(seconds: float) -> str:
    """Minutes as people read them: "1 h 05 min", "12 min", "20 s"."""
    whole = math.floor(seconds / 60 + 1e-9)
    if whole < 1:
        if seconds >= 1:
            return _("%(seconds)d s", seconds=math.floor(max(0.0, seconds)))
        return _("%(minutes)d min", minutes=0)
    hours, mins = divmod(whole, 60)
    if hours:
        return _("%(hours)d h %(minutes)02d min", hours=hours, minutes=mins)
    return _("%(minutes)d min", minutes=mins)


def _renews(m: Minutes) -> str:
    # The day-and-month pattern is the reader's ("5 March", "5. März").
    return format_date(m.period.end, _("d MMMM"))


def _how_to_get_more() -> str:
    return _("An admin can buy credits or move to a bigger plan on the workspace's Billing page.")


def refusal(m: Minutes, needed: float | None, via: str) -> str:
    """Why `needed` seconds (None: anything at all) cannot run: what is left, when it
    renews, how to get more."""
    allowance = m.allowance_left(via) or 0.0
    api = via == "api" and m.api_included is not None
    credits = (
        _("%(amount)s of credits", amount=human(m.credits)) if m.credits >= 60 else _("no credits")
    )
    values = {
        "left": human(allowance),
        "plan": m.plan,
        "date": _renews(m),
        "credits": credits,
        "needed": human(needed or 0.0),
    }
    # Whole sentences, one per case: word order differs between languages.
    if needed is None and not api:
        text = _(
            "This workspace has %(left)s left on the %(plan)s plan this month (it renews on "
            "%(date)s) and %(credits)s.",
            **values,
        )
    elif needed is None:
        text = _(
            "This workspace has %(left)s of the API's left on the %(plan)s plan this month (it "
            "renews on %(date)s) and %(credits)s.",
            **values,
        )
    elif not api:
        text = _(
            "This needs %(needed)s, but this workspace has %(left)s left on the %(plan)s plan "
            "this month (it renews on %(date)s) and %(credits)s.",
            **values,
        )
    else:
        text = _(
            "This needs %(needed)s, but this workspace has %(left)s of the API's left on the "
            "%(plan)s plan this month (it renews on %(date)s) and %(credits)s.",
            **values,
        )
    return f"{text} {_how_to_get_more()}"


def require_some_left(workspace: Workspace | None = None) -> Minutes:
    """Refuse an upload or link at once when nothing at all is left (the exact length is
    checked when the file has been probed). Default: the current workspace."""
    workspace = workspace or db.session.get(Workspace, current_workspace_id())
    assert workspace is not None
    m = minutes(workspace)
    via = current_via()
    left = m.left(via)
    if left is not None and left < 1.0:
        raise QuotaExceeded(refusal(m, None, via))
    return m


def open_records(transcripts: Sequence[Transcript], user_id: uuid.UUID | None) -> None:
    """Note who asked and how (web or API) for transcripts whose length is not known yet
    (links): their minutes are reserved once the download has been probed."""
    for t in transcripts:
        _record(t, user_id, fresh=True)  # reserved, 0 seconds until probed


def reserve(
    transcripts: Sequence[Transcript], seconds: float, user_id: uuid.UUID | None = None
) -> None:
    """Hold `seconds` for each transcript (a comparison is one per model), or refuse them
    all with QuotaExceeded. Added to the caller's transaction; the account stays locked
    until it ends."""
    if not transcripts:
        return
    # A transcript made in this transaction has no record yet: no need to look for one.
    fresh = {t.id for t in transcripts if t in db.session.new}
    workspace = db.session.get(Workspace, transcripts[0].workspace_id)
    assert workspace is not None
    account, period = _lock(workspace)
    records = [_record(t, user_id, fresh=t.id in fresh) for t in transcripts]
    # A record still held (the same transcript reserved again) is replaced, not added to.
    held = NOTHING
    for record in records:
        held = held.plus(_share(account, record))
    m = _minutes(workspace, period, stored_tally(account).minus(held))
    if seconds > m.max_file + EPSILON:
        too_long = _(
            "This recording is %(length)s; %(plan)s takes files up to %(longest)s.",
            length=human(seconds),
            plan=m.plan,
            longest=human(m.max_file),
        )
        raise QuotaExceeded(f"{too_long} {_bigger_files(workspace)}")
    via = records[0].via
    allowance = m.allowance_left(via)
    credits = m.credits
    needed = seconds * len(transcripts)
    if allowance is not None and needed > allowance + credits + EPSILON:
        raise QuotaExceeded(refusal(m, needed, via))
    for record in records:
        _count(account, record, -1)
        _allocate(record, seconds, allowance, period.start)
        _count(account, record, +1)
        if allowance is not None:
            allowance = max(0.0, allowance - record.allowance_seconds)


def _lock(workspace: Workspace) -> tuple[BillingAccount, periods.Period]:
    """The workspace's account, locked, with its tallies brought to the current period."""
    account = accounts.get(workspace.id, lock=True)
    period = periods.current(account.period_anchor, utcnow())
    locked_tally(account, period)
    return account, period


def _bigger_files(workspace: Workspace) -> str:
    own = entitlements.limit(workspace, "max_file_minutes") or 0
    bigger = [
        str(p.title)
        for p in entitlements.PLANS.values()
        if (p.limits["max_file_minutes"] or 0) > own and p.price_cents
    ]
    if not bigger:
        return _("Split the recording into parts.")
    return _(
        "%(plans)s take longer files; an admin can change plans on Billing.",
        plans=_and_list(bigger),
    )


def _and_list(items: list[str]) -> str:
    """ "Pro and Business" in the reader's language."""
    return format_list(items, locale=str(get_locale() or "en"))


def _record(t: Transcript, user_id: uuid.UUID | None, *, fresh: bool = False) -> UsageRecord:
    record = None if fresh else _record_of(t)
    if record is None:
        record = UsageRecord(
            workspace_id=t.workspace_id,
            transcript_id=t.id,
            user_id=user_id,
            via=current_via(),
            state=UsageState.RESERVED,
            seconds=0.0,
            allowance_seconds=0.0,
            credit_seconds=0.0,
            period_start=utcnow(),
            model=f"{t.engine}:{t.model}",
        )
        db.session.add(record)
    return record


def _record_of(t: Transcript) -> UsageRecord | None:
    return db.session.scalar(select(UsageRecord).where(UsageRecord.transcript_id == t.id))


def _allocate(
    record: UsageRecord, seconds: float, allowance: float | None, period_start: datetime
) -> None:
    from_allowance = seconds if allowance is None else min(seconds, allowance)
    record.state = UsageState.RESERVED
    record.seconds = seconds
    record.allowance_seconds = from_allowance
    record.credit_seconds = seconds - from_allowance
    record.period_start = period_start
    record.charged_at = None


def charge(t: Transcript) -> None:
    """Count a finished transcript for good, once. Work that was never reserved (queued
    before billing existed) is counted now, even past the allowance: it is done."""
    record = _record_of(t)
    if record is not None and record.state == UsageState.CHARGED:
        return
    if record is None or record.state == UsageState.RELEASED or record.seconds <= 0:
        workspace = db.session.get(Workspace, t.workspace_id)
        assert workspace is not None
        account, period = _lock(workspace)
        m = _minutes(workspace, period, stored_tally(account))
        record = record or _record(t, t.uploader_id)
        _count(account, record, -1)
        _allocate(record, t.duration_seconds, m.allowance_left(record.via), period.start)
        _count(account, record, +1)
    record.state = UsageState.CHARGED
    record.charged_at = utcnow()


def release(t: Transcript) -> None:
    """Give a failed or cancelled transcript's minutes back."""
    record = _record_of(t)
    if record is not None and record.state == UsageState.RESERVED:
        workspace = db.session.get(Workspace, t.workspace_id)
        assert workspace is not None
        account, _period = _lock(workspace)
        _count(account, record, -1)
        record.state = UsageState.RELEASED
