"""What a workspace's plan lets it do: the one place features ask.

Plans are data (PLANS below), keyed by the name in `Workspace.plan`. A feature asks

    allows(workspace, "share_password")      # may it use this feature at all?
    limit(workspace, "share_link_max_days")  # how much of it? None: no limit

and says "no" in its own words, naming the plan (`plan_title(workspace)`). Billing sets
`Workspace.plan`; nothing here charges or changes plans.

A workspace whose plan name is unknown gets the free plan's rights: an unknown or retired
name must never open paid features. Asking about a feature or limit that no plan defines
raises KeyError, so a typo in a caller fails loudly instead of quietly answering "no".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

DEFAULT_PLAN = "free"


@dataclass(frozen=True)
class Plan:
    name: str
    title: str
    features: frozenset[str] = frozenset()
    # None: unlimited. Every name in LIMITS must be present in every plan.
    limits: Mapping[str, int | None] = field(default_factory=dict)


# Every feature and limit a plan can grant, with what it means.
FEATURES: Mapping[str, str] = {
    "share_password": "Protect a public link with a password.",
    "share_permanent": "Public links that never expire.",
}
LIMITS: Mapping[str, str] = {
    "share_link_max_days": "Longest lifetime of a public link, in days.",
    "share_link_default_days": "Lifetime of a public link when none is asked for, in days.",
    "ai_tokens_per_month": "Language-model tokens (prompt and reply) AI features may use a "
    "calendar month; the extractive provider uses none.",
}

PLANS: Mapping[str, Plan] = {
    "free": Plan(
        name="free",
        title="Free",
        features=frozenset(),
        limits={
            "share_link_max_days": 30,
            "share_link_default_days": 30,
            "ai_tokens_per_month": 200_000,
        },
    ),
    "pro": Plan(
        name="pro",
        title="Pro",
        features=frozenset({"share_password", "share_permanent"}),
        limits={
            "share_link_max_days": None,
            "share_link_default_days": 30,
            "ai_tokens_per_month": 5_000_000,
        },
    ),
    "business": Plan(
        name="business",
        title="Business",
        features=frozenset({"share_password", "share_permanent"}),
        limits={
            "share_link_max_days": None,
            "share_link_default_days": 30,
            "ai_tokens_per_month": None,
        },
    ),
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


def plan_title(workspace: HasPlan) -> str:
    """The plan's name as people read it, for messages: "the Free plan"."""
    return f"the {plan_of(workspace).title} plan"


def plans_allowing(feature: str) -> list[str]:
    """Titles of the plans that include `feature`, cheapest first, for "upgrade to" hints."""
    if feature not in FEATURES:
        raise KeyError(f"unknown plan feature {feature!r}")
    return [p.title for p in PLANS.values() if feature in p.features]
