"""Settings from the environment, one prefix (VERBATIM_), typed.

Every field here is documented in the README's configuration table; a test checks that.
"""

from __future__ import annotations

from functools import cached_property

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VERBATIM_", extra="ignore")

    secret_key: str = Field("", description="Flask session signing key; required in production.")
    api_key_pepper: str = Field(
        "", description="HMAC key for API key hashes; defaults to secret_key."
    )
    env: str = Field("production", description="production, development or test.")
    base_url: str = Field("http://127.0.0.1:5000", description="Public URL used in emails.")

    database_url: str = Field(
        "sqlite:///var/verbatim.db", description="SQLAlchemy URL the app connects with."
    )
    migration_database_url: str = Field(
        "", description="URL of the table owner that runs migrations; defaults to database_url."
    )
    db_pool_size: int = Field(10, description="Connections kept per process (PostgreSQL).")
    redis_url: str = Field(
        "", description="Redis for RQ and rate limits; empty uses an in-process stand-in."
    )
    inline_worker: bool = Field(
        False, description="Run a worker thread inside the web process (quick start)."
    )

    secure_cookies: bool = Field(True, description="Mark cookies Secure; off only for plain http.")
    hsts_seconds: int = Field(31536000, description="Strict-Transport-Security max-age.")
    ratelimit_login: str = Field("10 per minute", description="Sign-in attempts per client.")
    ratelimit_api: str = Field("120 per minute", description="API calls per key.")
    ratelimit_reset: str = Field("5 per hour", description="Password reset mails per client.")

    smtp_host: str = Field("", description="SMTP server; empty prints mail to the log.")
    smtp_port: int = Field(587, description="SMTP port.")
    smtp_username: str = Field("", description="SMTP user.")
    smtp_password: str = Field("", description="SMTP password.")
    smtp_starttls: bool = Field(True, description="Upgrade SMTP with STARTTLS.")
    mail_from: str = Field("Verbatim <no-reply@localhost>", description="From address of mail.")

    google_client_id: str = Field("", description="Google OAuth client id; empty hides Google.")
    google_client_secret: str = Field("", description="Google OAuth client secret.")
    google_metadata_url: str = Field(
        "https://accounts.google.com/.well-known/openid-configuration",
        description="OIDC discovery document of the Google provider.",
    )

    default_seat_limit: int = Field(5, description="Seats of a workspace before billing.")
    invitation_ttl_hours: int = Field(168, description="Hours an invitation link stays valid.")
    reset_token_ttl_minutes: int = Field(60, description="Minutes a password reset link lives.")

    safe_mode: bool = Field(False, description="Load first-party plugins only.")
    outbound_allow_private: bool = Field(
        False,
        description="Let outbound webhooks reach loopback/private addresses (tests only).",
    )
    outbound_timeout_seconds: float = Field(10.0, description="Timeout of outbound HTTP calls.")

    @cached_property
    def effective_migration_url(self) -> str:
        return self.migration_database_url or self.database_url


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
