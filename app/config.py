"""Settings from the environment, one prefix (VERBATIM_), typed.

Every field here is documented in the README's configuration table; a test checks that.
"""

from __future__ import annotations

from functools import cached_property

from pydantic import Field, field_validator
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
    ratelimit_share_password: str = Field(
        "10 per 15 minutes", description="Wrong share-link passwords per link and client."
    )

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

    # Ingest and audio lifecycle.
    staging_dir: str = Field(
        "var/staging",
        description="Encrypted audio awaiting transcription; shared by web and workers.",
    )
    audio_deadline_hours: float = Field(
        24.0, description="The sweeper deletes staged audio older than this, whatever its job."
    )
    upload_max_bytes: int = Field(5 * 1024**3, description="Largest file one upload may be.")
    upload_chunk_max_bytes: int = Field(
        64 * 1024**2, description="Largest piece one resumable-upload request may carry."
    )
    upload_ttl_hours: float = Field(24.0, description="An unfinished upload expires after this.")
    max_audio_seconds: int = Field(4 * 3600, description="Longest recording accepted.")
    url_max_bytes: int = Field(2 * 1024**3, description="Largest download from a link.")
    url_extractors: str = Field(
        "youtube,vimeo,soundcloud,dailymotion,twitch,tiktok,bandcamp,mixcloud,applepodcasts,"
        "spotify,ted,archiveorg,wistia,loom",
        description="yt-dlp extractors links may use (comma-separated); no generic one.",
    )
    url_allow_http: bool = Field(False, description="Accept plain-http links (tests only).")

    # Transcription.
    models_dir: str = Field("var/models", description="Local model directories, one per model.")
    hub_models: str = Field(
        "tiny,base,small,large-v3-turbo",
        description="Model names fetched from the hub on first use (comma-separated).",
    )
    allow_model_download: bool = Field(True, description="Let engines download hub models.")
    default_engine: str = Field("faster-whisper", description="Engine used when none is asked.")
    default_model: str = Field("", description="Model used when none is asked; empty: first.")
    engine_device: str = Field("auto", description="auto, cpu or cuda.")
    engine_compute_type: str = Field("default", description="CTranslate2 compute type.")
    engine_cpu_threads: int = Field(0, description="CPU threads per engine; 0: library default.")
    engine_temperatures: str = Field(
        "0,0.2,0.4,0.6,0.8,1.0",
        description="Decoding temperatures tried in turn (comma-separated); 0 alone: repeatable.",
    )
    hf_token: str = Field("", description="Hugging Face token for gated diarization models.")
    transcribe_retries: int = Field(2, description="Retries of a failed transcription job.")
    job_timeout_base_seconds: int = Field(600, description="Job timeout before audio length.")
    job_timeout_per_audio_second: float = Field(
        2.0, description="Extra job timeout per second of audio."
    )
    heartbeat_seconds: float = Field(10.0, description="How often a running job reports in.")
    stalled_after_seconds: float = Field(
        90.0, description="A running job silent this long is requeued or failed."
    )

    # Search.
    search_backend: str = Field(
        "auto",
        description="postgres, sqlite, meilisearch or a plugin's; auto: the database's own.",
    )
    meili_url: str = Field("", description="Meilisearch URL, for the meilisearch backend.")
    meili_api_key: str = Field("", description="Meilisearch API key (admin or master key).")
    meili_index: str = Field("verbatim_chunks", description="Meilisearch index (uid) used.")
    search_timeout_seconds: float = Field(
        5.0, description="A search or index request longer than this is given up."
    )
    search_reconcile_minutes: int = Field(
        60, description="How often the index is compared with the database and repaired."
    )

    # AI (app/ai). A workspace's admins may override provider, model, URL and key.
    ai_provider: str = Field(
        "auto",
        description="extractive, openai or a plugin's; auto: openai when a key or URL is set.",
    )
    openai_api_key: str = Field("", description="API key of the OpenAI(-compatible) server.")
    openai_base_url: str = Field(
        "", description="Chat Completions server, e.g. http://vllm:8000/v1; empty: OpenAI."
    )
    openai_model: str = Field("gpt-4o-mini", description="Model asked for summaries and answers.")
    ai_timeout_seconds: float = Field(
        60.0, description="Longest wait for data from the AI server (per read, not per reply)."
    )
    ai_max_retries: int = Field(3, description="Retries (with backoff) on timeouts, 429 and 5xx.")
    ai_context_tokens: int = Field(
        16000, description="Context window of the model; longer transcripts are map-reduced."
    )
    ai_max_output_tokens: int = Field(1500, description="Longest reply asked of the model.")
    ai_workspace_endpoints: bool = Field(
        True, description="Let workspace admins point AI at their own server and key."
    )

    # Private Transcript (client-side encryption)
    private_kdf_iterations: int = Field(
        1_000_000,
        ge=600_000,
        le=10_000_000,
        description="PBKDF2-SHA256 iterations for new and changed passphrases (min 600,000).",
    )
    private_max_bytes: int = Field(
        64 * 1024 * 1024, description="Largest encrypted transcript the browser may store."
    )

    # Billing (plans and packs are data in app/billing/entitlements.py)
    billing_currency: str = Field("usd", description="Currency of prices and checkouts.")
    billing_grace_days: int = Field(
        7, ge=0, description="Days a failed payment keeps the paid plan before its limits go."
    )
    stripe_secret_key: str = Field("", description="Stripe secret key; empty hides Stripe.")
    stripe_webhook_secret: str = Field(
        "", description="Signing secret (whsec_...) of the Stripe webhook endpoint."
    )
    stripe_webhook_tolerance_seconds: int = Field(
        300, description="Oldest Stripe signature timestamp accepted (replay window)."
    )
    stripe_api_base: str = Field(
        "", description="Stripe API address; empty: Stripe's own (tests point it elsewhere)."
    )
    stripe_price_pro: str = Field("", description="Stripe price id of the Pro plan, per seat.")
    stripe_price_business: str = Field(
        "", description="Stripe price id of the Business plan, per seat."
    )
    square_access_token: str = Field("", description="Square access token; empty hides Square.")
    square_location_id: str = Field("", description="Square location that takes the payments.")
    square_base_url: str = Field(
        "https://connect.squareup.com",
        description="Square API address (https://connect.squareupsandbox.com for the sandbox).",
    )
    square_webhook_signature_key: str = Field(
        "", description="Signature key of the Square webhook subscription."
    )
    square_notification_url: str = Field(
        "",
        description="The exact URL Square posts webhooks to; signatures cover it. Empty: "
        "base_url + /billing/webhooks/square.",
    )

    # Privacy and data rights.
    operator_emails: str = Field(
        "",
        description="People who run this installation (comma-separated emails): they see "
        "data-rights requests and cut Voice Lab releases.",
    )
    languages: str = Field(
        "en,de,fr",
        description="Interface languages offered (comma-separated); the first is the default.",
    )
    export_dir: str = Field(
        "var/exports", description="Data exports (encrypted) waiting to be downloaded."
    )
    export_link_hours: int = Field(72, description="Hours a data export can be downloaded.")
    analytics_retention_days: int = Field(
        90, description="Days before usage analytics lose the person, IP and browser."
    )
    api_log_retention_days: int = Field(90, description="Days API request metadata is kept.")
    failed_job_ttl_hours: int = Field(
        24, description="Hours a failed job's record (ids and error kind only) stays in Redis."
    )
    voice_lab_dir: str = Field(
        "var/voice-lab", description="Audio contributed to Voice Lab (encrypted at rest)."
    )

    @field_validator("engine_temperatures")
    @classmethod
    def _temperatures_are_numbers(cls, value: str) -> str:
        try:
            numbers = [float(x) for x in value.split(",") if x.strip()]
        except ValueError:
            raise ValueError("engine_temperatures must be numbers separated by commas") from None
        if any(not 0.0 <= n <= 2.0 for n in numbers):
            raise ValueError("engine_temperatures must lie between 0 and 2")
        return value

    @cached_property
    def effective_migration_url(self) -> str:
        return self.migration_database_url or self.database_url

    @property
    def url_extractor_list(self) -> tuple[str, ...]:
        return tuple(x.strip() for x in self.url_extractors.split(",") if x.strip())

    @property
    def engine_temperature_list(self) -> tuple[float, ...]:
        return tuple(float(x) for x in self.engine_temperatures.split(",") if x.strip())

    @property
    def operator_email_list(self) -> frozenset[str]:
        return frozenset(x.strip().lower() for x in self.operator_emails.split(",") if x.strip())

    @property
    def language_list(self) -> tuple[str, ...]:
        return tuple(x.strip() for x in self.languages.split(",") if x.strip()) or ("en",)

    @property
    def hub_model_list(self) -> tuple[str, ...]:
        return tuple(x.strip() for x in self.hub_models.split(",") if x.strip())


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
