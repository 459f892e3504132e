"""What a workspace's plan lets it do: the one place features ask.

Plans are data (PLANS below), keyed by the name in `Workspace.plan`. A feature asks

    allows(workspace, "share_password")      # may it use this feature at all?
    limit(workspace, "share_link_max_days")  # how much of it? None: no limit

and says "no" in its own words, naming the plan (`plan_title(workspace)`). Billing
(app/billing/accounts.py) sets `Workspace.plan` to the plan in force; nothing here
charges or changes plans. Minutes are the one entitlement that needs the period's usage:
app/billing/metering.py answers it from these limits.

A workspace whose plan name is unknown gets the free plan's rights: an unknown or retired
name must never open paid features. Asking about a feature or limit that no plan defines
raises KeyError, so a typo in a caller fails loudly instead of quietly answering "no".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from flask_babel import LazyString, force_locale, format_number, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

DEFAULT_PLAN = "free"


@dataclass(frozen=True)
class Plan:
    name: str
    # In the reader's language wherever it is shown (a lazy string); `english` for the
    # processors and stored records.
    title: str | LazyString
    features: frozenset[str] = frozenset()
    # None: unlimited. Every name in LIMITS must be present in every plan.
    limits: Mapping[str, int | None] = field(default_factory=dict)
    # Price per seat and month, in the smallest unit of settings().billing_currency; 0: free.
    price_cents: int = 0
    # Billed per seat (team plans): the minutes allowance is per seat too.
    per_seat: bool = False
    # Most seats one subscription may buy.
    max_seats: int = 1
    # What the plan page says about it, one line each (lazy strings, like the title).
    highlights: tuple[str | LazyString, ...] = ()

    @property
    def english(self) -> str:
        """The title as the processors and stored records have it, whatever the page."""
        return _english(self.title)


@dataclass(frozen=True)
class CreditPack:
    """Minutes bought once; used after the month's allowance, and they do not expire."""

    name: str
    minutes: int
    price_cents: int

    @property
    def title(self) -> str:
        """In the reader's language: "1,000 minutes"."""
        return ngettext(
            "%(count)s minute",
            "%(count)s minutes",
            self.minutes,
            count=format_number(self.minutes),  # grouped as the reader writes numbers
        )

    @property
    def english(self) -> str:
        """The title as the processors and stored records have it, whatever the page."""
        return f"{self.minutes:,} minutes"


def _english(text: str | LazyString) -> str:
    with force_locale("en"):
        return str(text)


# Every feature and limit a plan can grant, with what it means.
FEATURES: Mapping[str, str] = {
    "share_password": "Protect a public link with a password.",
    "share_permanent": "Public links that never expire.",
}
LIMITS: Mapping[str, str] = {
    "transcription_minutes_per_month": "Minutes of audio transcribed each billing month (per "
    "seat on plans billed per seat); credits pay for more.",
    "api_minutes_per_month": "Of those, how many the API may use; None: all of them.",
    "max_file_minutes": "Longest recording one transcript may be.",
    "share_link_max_days": "Longest lifetime of a public link, in days.",
    "share_link_default_days": "Lifetime of a public link when none is asked for, in days.",
    "ai_tokens_per_month": "Language-model tokens (prompt and reply) AI features may use a "
    "calendar month; the extractive provider uses none.",
}

PLANS: Mapping[str, Plan] = {
    "free": Plan(
        name="free",
        title=_l("Free"),
        features=frozenset(),
        highlights=(
            _l("600 minutes a month (100 of them by API)"),
            _l("Files up to 2 hours"),
            _l("Links up to 30 days"),
        ),
        limits={
            "transcription_minutes_per_month": 600,
            "api_minutes_per_month": 100,
            "max_file_minutes": 120,
            "share_link_max_days": 30,
            "share_link_default_days": 30,
            "ai_tokens_per_month": 200_000,
        },
    ),
    "pro": Plan(
        name="pro",
        title=_l("Pro"),
        features=frozenset({"share_password", "share_permanent"}),
        price_cents=1200,
        per_seat=True,
        max_seats=10,
        highlights=(
            _l("2,000 minutes a month per seat"),
            _l("Files up to 5 hours"),
            _l("Permanent and password-protected links"),
        ),
        limits={
            "transcription_minutes_per_month": 2000,
            "api_minutes_per_month": None,
            "max_file_minutes": 300,
            "share_link_max_days": None,
            "share_link_default_days": 30,
            "ai_tokens_per_month": 5_000_000,
        },
    ),
    "business": Plan(
        name="business",
        title=_l("Business"),
        features=frozenset({"share_password", "share_permanent"}),
        price_cents=2900,
        per_seat=True,
        max_seats=500,
        highlights=(
            _l("6,000 minutes a month per seat"),
            _l("Files up to 10 hours"),
            _l("Unlimited AI"),
        ),
        limits={
            "transcription_minutes_per_month": 6000,
            "api_minutes_per_month": None,
            "max_file_minutes": 600,
            "share_link_max_days": None,
            "share_link_default_days": 30,
            "ai_tokens_per_month": None,
        },
    ),
}


CREDIT_PACKS: Mapping[str, CreditPack] = {
    p.name: p
    for p in (
        CreditPack("pack_300", 300, 500),
        CreditPack("pack_1000", 1000, 1500),
        CreditPack("pack_5000", 5000, 6000),
    )
}


class HasPlan(Protocol):
    """A Workspace, or anything else that carries a plan name."""

    @property
    def plan(self) -> str: ...


def plan_of(workspace: HasPlan) -> Plan:
    return PLANS.get(workspace.plan or DEFAULT_PLAN, PLANS[DEFAULT_PLAN])


def allows(workspace: HasPlan, feature: str) -> bool:
    """Whether the workspace's plan includes `feature` (a key of FEATURES)."""
    if feature not in FEATURES:
        raise KeyError(f"unknown plan feature {feature!r}")
    return feature in plan_of(workspace).features


def limit(workspace: HasPlan, name: str) -> int | None:
    """The workspace's plan limit `name` (a key of LIMITS); None means no limit."""
    if name not in LIMITS:
        raise KeyError(f"unknown plan limit {name!r}")
    return plan_of(workspace).limits[name]


def plan_named(name: str) -> Plan:
    """A plan people may choose (checkout, the API); KeyError for any other name."""
    return PLANS[name]


def credit_pack(name: str) -> CreditPack:
    return CREDIT_PACKS[name]


def plan_title(workspace: HasPlan) -> str:
    """The plan's name as people read it, for messages: "the Free plan"."""
    return _("the %(plan)s plan", plan=plan_of(workspace).title)


def plans_allowing(feature: str) -> list[str]:
    """Titles of the plans that include `feature`, cheapest first, for "upgrade to" hints."""
    if feature not in FEATURES:
        raise KeyError(f"unknown plan feature {feature!r}")
    return [str(p.title) for p in PLANS.values() if feature in p.features]
