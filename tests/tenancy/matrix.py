"""The tenancy matrix: every route of the app, and how to reach another workspace with it.

A route missing here fails the suite (test_routes.py::test_every_route_has_an_entry).
Placeholders: {slug} {membership_id} {invitation_id} {api_key_id} {plugin} {token}
{transcript_id} {upload_id} {label} {group_id} {segment_id} {share_id} {folder_id} {number}
{fmt} {summary_id} (an AI summary of the side's transcript) {message_id} (an answer in the
side owner's chat with that transcript) {template_id} (a summary template of the side).

Features with many routes keep their entries in matrix_<feature>.py, merged here.
"""

from __future__ import annotations

from tests.tenancy import (
    matrix_ai,
    matrix_ai_pages,
    matrix_analytics,
    matrix_billing,
    matrix_editor,
    matrix_exports,
    matrix_i18n,
    matrix_organize,
    matrix_privacy,
    matrix_privacy_export,
    matrix_private_account,
    matrix_private_transcripts,
    matrix_search,
    matrix_shares,
    matrix_voice_lab,
)

_FEATURES = (
    matrix_ai,
    matrix_ai_pages,
    matrix_analytics,
    matrix_billing,
    matrix_editor,
    matrix_exports,
    matrix_i18n,
    matrix_organize,
    matrix_privacy,
    matrix_privacy_export,
    matrix_private_account,
    matrix_private_transcripts,
    matrix_search,
    matrix_shares,
    matrix_voice_lab,
)

# No sign-in needed: the front door, sign-in flows, public docs, static files.
PUBLIC = {
    "static",
    "web.index",
    "web.healthz",
    "auth.login",
    "auth.signup",
    "auth.forgot",
    "auth.reset_password",
    "auth.verify_email",
    "google.start",
    "google.callback",
    "google.welcome",
    "google.create_account",
    "api-docs.openapi_json",
    *matrix_shares.PUBLIC,
    *matrix_billing.PUBLIC,
    *(name for feature in _FEATURES for name in getattr(feature, "PUBLIC", ())),
}

# Signed-in, about the person rather than a workspace (no workspace in the URL).
SIGNED_IN = {
    "account.show": ("GET", "/account"),
    "account.switcher": ("GET", "/account/workspaces"),
    "account.change_password": ("POST", "/account/password"),
    "account.new_workspace": ("GET", "/workspaces/new"),
    "auth.logout": ("POST", "/logout"),
    "invitations.show": ("GET", "/invitations/{token}"),
    "invitations.accept": ("POST", "/invitations/{token}/accept"),
    "invitations.decline": ("POST", "/invitations/{token}/decline"),
}
for _feature in _FEATURES:
    SIGNED_IN.update(getattr(_feature, "SIGNED_IN", {}))

# Pages under /w/<slug>/: the workspace comes from the URL.
WORKSPACE = {
    "workspace.dashboard": ("GET", "/w/{slug}/"),
    "workspace.members": ("GET", "/w/{slug}/members"),
    "workspace.invite": ("POST", "/w/{slug}/invitations"),
    "workspace.revoke_invitation": ("POST", "/w/{slug}/invitations/{invitation_id}/revoke"),
    "workspace.change_role": ("POST", "/w/{slug}/members/{membership_id}/role"),
    "workspace.remove_member": ("POST", "/w/{slug}/members/{membership_id}/remove"),
    "workspace.transfer": ("POST", "/w/{slug}/members/{membership_id}/transfer"),
    "workspace.leave": ("POST", "/w/{slug}/leave"),
    "workspace.settings_page": ("GET", "/w/{slug}/settings"),
    "workspace.delete": ("POST", "/w/{slug}/delete"),
    "api_keys.index": ("GET", "/w/{slug}/api-keys/"),
    "api_keys.create": ("POST", "/w/{slug}/api-keys/"),
    "api_keys.revoke": ("POST", "/w/{slug}/api-keys/{api_key_id}/revoke"),
    "audit.index": ("GET", "/w/{slug}/audit/"),
    "plugins.index": ("GET", "/w/{slug}/plugins/"),
    "plugins.update": ("POST", "/w/{slug}/plugins/{plugin}"),
    "plugins.test_event": ("POST", "/w/{slug}/plugins/{plugin}/test"),
    "transcripts.index": ("GET", "/w/{slug}/transcripts/"),
    "transcripts.new": ("GET", "/w/{slug}/transcripts/new"),
    "transcripts.create_from_link": ("POST", "/w/{slug}/transcripts/link"),
    "transcripts.bulk_delete": ("POST", "/w/{slug}/transcripts/delete"),
    "transcripts.show": ("GET", "/w/{slug}/transcripts/{transcript_id}"),
    "transcripts.status": ("GET", "/w/{slug}/transcripts/{transcript_id}/status"),
    "transcripts.cancel": ("POST", "/w/{slug}/transcripts/{transcript_id}/cancel"),
    "transcripts.retry": ("POST", "/w/{slug}/transcripts/{transcript_id}/retry"),
    "transcripts.rename": ("POST", "/w/{slug}/transcripts/{transcript_id}/rename"),
    "transcripts.delete": ("POST", "/w/{slug}/transcripts/{transcript_id}/delete"),
    "transcripts.rename_speaker": (
        "POST",
        "/w/{slug}/transcripts/{transcript_id}/speakers/{label}",
    ),
    "transcripts.compare": ("GET", "/w/{slug}/transcripts/compare/{group_id}"),
    "uploads.create": ("POST", "/w/{slug}/uploads/"),
    "uploads.append": ("PATCH", "/w/{slug}/uploads/{upload_id}"),
    "uploads.offset": ("HEAD", "/w/{slug}/uploads/{upload_id}"),
    "uploads.abort": ("DELETE", "/w/{slug}/uploads/{upload_id}"),
}
for _feature in _FEATURES:
    WORKSPACE.update(_feature.WORKSPACE)

# /api/v1: the workspace comes from the API key.
API = {
    "api_workspace.get_workspace": ("GET", "/api/v1/workspace"),
    "api_workspace.list_members": ("GET", "/api/v1/members"),
    "api_workspace.list_invitations": ("GET", "/api/v1/invitations"),
    "api_workspace.create_invitation": ("POST", "/api/v1/invitations"),
    "api_workspace.revoke_invitation": ("DELETE", "/api/v1/invitations/{invitation_id}"),
    "api_workspace.list_keys": ("GET", "/api/v1/api-keys"),
    "api_workspace.revoke_key": ("DELETE", "/api/v1/api-keys/{api_key_id}"),
    "api_workspace.list_audit_events": ("GET", "/api/v1/audit-events"),
    "api_transcripts.list_engines": ("GET", "/api/v1/engines"),
    "api_transcripts.list_transcripts": ("GET", "/api/v1/transcripts"),
    "api_transcripts.create_from_link": ("POST", "/api/v1/transcripts"),
    "api_transcripts.create_from_file": ("POST", "/api/v1/transcripts/file"),
    "api_transcripts.get_transcript": ("GET", "/api/v1/transcripts/{transcript_id}"),
    "api_transcripts.update_transcript": ("PATCH", "/api/v1/transcripts/{transcript_id}"),
    "api_transcripts.delete_transcript": ("DELETE", "/api/v1/transcripts/{transcript_id}"),
    "api_transcripts.get_content": ("GET", "/api/v1/transcripts/{transcript_id}/content"),
    "api_transcripts.cancel_transcript": ("POST", "/api/v1/transcripts/{transcript_id}/cancel"),
    "api_transcripts.retry_transcript": ("POST", "/api/v1/transcripts/{transcript_id}/retry"),
    "api_transcripts.rename_speaker": (
        "PATCH",
        "/api/v1/transcripts/{transcript_id}/speakers/{label}",
    ),
    "api_uploads.create_upload": ("POST", "/api/v1/uploads"),
    "api_uploads.get_upload": ("GET", "/api/v1/uploads/{upload_id}"),
    "api_uploads.append_upload": ("PATCH", "/api/v1/uploads/{upload_id}"),
    "api_uploads.abort_upload": ("DELETE", "/api/v1/uploads/{upload_id}"),
}
for _feature in _FEATURES:
    API.update(_feature.API)

CHILD_PLACEHOLDERS = (
    "{membership_id}",
    "{invitation_id}",
    "{api_key_id}",
    "{transcript_id}",
    "{upload_id}",
    "{group_id}",
    "{segment_id}",
    "{share_id}",
    "{folder_id}",
    "{summary_id}",
    "{message_id}",
    "{template_id}",
)
