"""What is stored about a person, counted, for their privacy page: the account's own
fields, and how many rows of each kind name them."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import func, select

from app.ai.models import AiConversation
from app.auth.models import ApiKey, OAuthIdentity, User
from app.billing.models import UsageRecord
from app.extensions import db
from app.i18n import N_
from app.privacy.models import AnalyticsEvent, VoiceContribution
from app.tenants.context import unscoped
from app.tenants.models import Membership
from app.transcripts.models import Transcript


@dataclass(frozen=True)
class Inventory:
    email: str
    name: str
    created_at: object
    last_login_at: object
    sign_in_methods: list[str]
    counts: dict[str, int]


def of(user: User) -> Inventory:
    """One statement of scalar counts across every workspace the person is in."""
    uid = user.id

    def count(model: type, column: object) -> object:
        return select(func.count()).select_from(model).where(column == uid).scalar_subquery()

    with unscoped("a person's privacy page counts their own rows in every workspace"):
        row = db.session.execute(
            select(
                count(Membership, Membership.user_id),
                count(Transcript, Transcript.uploader_id),
                count(AiConversation, AiConversation.user_id),
                count(ApiKey, ApiKey.created_by_id),
                count(UsageRecord, UsageRecord.user_id),
                count(AnalyticsEvent, AnalyticsEvent.user_id),
                count(VoiceContribution, VoiceContribution.user_id),
            )
        ).one()
        providers = list(
            db.session.scalars(select(OAuthIdentity.provider).where(OAuthIdentity.user_id == uid))
        )
    # English msgids: the page shows each in its language (`_(label)`).
    labels = (
        N_("workspaces"),
        N_("transcripts"),
        N_("AI conversations"),
        N_("API keys"),
        N_("usage records"),
        N_("analytics events"),
        N_("Voice Lab contributions"),
    )
    methods = ([_("password")] if user.password_hash else []) + [p.title() for p in providers]
    return Inventory(
        email=user.email,
        name=user.name,
        created_at=user.created_at,
        last_login_at=user.last_login_at,
        sign_in_methods=methods,
        counts={label: int(n or 0) for label, n in zip(labels, row, strict=True)},
    )
