"""Imports every model so metadata is complete (Alembic, tests)."""

from app.ai.models import AiConversation, AiMessage, AiSettings, AiSummary, AiTemplate, AiUsage
from app.audit.models import AuditEvent
from app.auth.models import ApiKey, OAuthIdentity, User, UserToken
from app.billing.models import (
    BillingAccount,
    Checkout,
    CreditGrant,
    Payment,
    UsageRecord,
    WebhookEvent,
)
from app.ingest.models import StagedAudio, Upload
from app.mail.models import OutboundEmail
from app.plugins.models import EventDelivery, IntegrationEvent, PluginSetting
from app.privacy.models import (
    AnalyticsEvent,
    ApiRequestLog,
    PrivacyRequest,
    VoiceContribution,
    VoiceRelease,
)
from app.private.models import PrivateContent, PrivateKeyring
from app.search.models import SearchOutbox
from app.tenants.models import Invitation, Membership, Role, Workspace
from app.transcripts.models import (
    Folder,
    ShareLink,
    Transcript,
    TranscriptRevision,
    TranscriptSegment,
    TranscriptSpeaker,
)

__all__ = [
    "AiConversation",
    "AiMessage",
    "AiSettings",
    "AiSummary",
    "AiTemplate",
    "AiUsage",
    "AnalyticsEvent",
    "ApiKey",
    "ApiRequestLog",
    "AuditEvent",
    "BillingAccount",
    "Checkout",
    "CreditGrant",
    "EventDelivery",
    "Folder",
    "IntegrationEvent",
    "Invitation",
    "Membership",
    "OAuthIdentity",
    "OutboundEmail",
    "Payment",
    "PluginSetting",
    "PrivacyRequest",
    "PrivateContent",
    "PrivateKeyring",
    "Role",
    "SearchOutbox",
    "ShareLink",
    "StagedAudio",
    "Transcript",
    "TranscriptRevision",
    "TranscriptSegment",
    "TranscriptSpeaker",
    "Upload",
    "UsageRecord",
    "User",
    "UserToken",
    "VoiceContribution",
    "VoiceRelease",
    "WebhookEvent",
    "Workspace",
]
