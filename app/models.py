"""Imports every model so metadata is complete (Alembic, tests)."""

from app.audit.models import AuditEvent
from app.auth.models import ApiKey, OAuthIdentity, User, UserToken
from app.mail.models import OutboundEmail
from app.plugins.models import EventDelivery, IntegrationEvent, PluginSetting
from app.tenants.models import Invitation, Membership, Role, Workspace

__all__ = [
    "ApiKey",
    "AuditEvent",
    "EventDelivery",
    "IntegrationEvent",
    "Invitation",
    "Membership",
    "OAuthIdentity",
    "OutboundEmail",
    "PluginSetting",
    "Role",
    "User",
    "UserToken",
    "Workspace",
]
