"""The one settings object: every knob is an environment variable prefixed ``LOGSIGHT_``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MiB = 1024 * 1024


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOGSIGHT_", extra="ignore")

    # Where things live
    database_url: str | None = Field(
        default=None,
        description="PostgreSQL/TimescaleDB URL. Unset: the local runtime embeds a server.",
    )
    amqp_url: str = Field(
        default="amqp://guest:guest@127.0.0.1:5672/%2F",
        description="RabbitMQ / Amazon MQ URL (amqps:// on AWS).",
    )
    database_url_secret_arn: str | None = Field(
        default=None,
        description="Secrets Manager secret holding the database URL, or RDS's JSON credentials "
        "(AWS); fills DATABASE_URL.",
    )
    amqp_secret_arn: str | None = Field(
        default=None,
        description="Secrets Manager secret with the broker's username and password (AWS).",
    )
    data_dir: Path = Field(
        default=Path(".logsight"),
        description=(
            "Local runtime state (private to its user): embedded PostgreSQL, runtime.json, keys."
        ),
    )
    timescale: str = Field(
        default="auto",
        description=(
            "auto: TimescaleDB when its extension is installed and preloaded, else plain "
            "PostgreSQL (saying how to enable it); on: TimescaleDB or fail; off: plain PostgreSQL."
        ),
    )

    # Queue topology
    exchange: str = Field(default="logsight.events", description="Exchange events are sent to.")
    queue_prefix: str = Field(default="logsight.events", description="Shard queues: PREFIX.N.")
    shards: int = Field(default=2, ge=1, le=64, description="Number of shard queues.")
    delivery_limit: int = Field(
        default=5, ge=1, description="Deliveries before a message is dead-lettered."
    )
    publish_timeout_seconds: float = Field(
        default=5.0, gt=0, description="Longest wait for a broker confirm before answering 503."
    )
    connect_timeout_seconds: float = Field(default=3.0, gt=0, description="Broker connect timeout.")
    heartbeat_seconds: int = Field(default=30, ge=0, description="AMQP heartbeat interval.")
    retry_after_seconds: int = Field(default=5, ge=1, description="Retry-After on 503.")

    # Riding out database outages
    processor_retry_seconds: float = Field(
        default=900.0,
        ge=0,
        description="Longest the processor waits out an unreachable or failing database within "
        "one invocation before it raises and the batch comes back.",
    )
    processor_retry_margin_seconds: float = Field(
        default=10.0,
        ge=0,
        description="The processor stops waiting this long before its function would time out.",
    )
    redrive_attempts: int = Field(
        default=5,
        ge=0,
        description="Automatic re-drives of a dead letter that ran out of deliveries; past "
        "them it waits for `logsight dead-letters replay` (0: never automatic).",
    )
    redrive_backoff_seconds: float = Field(
        default=60.0,
        ge=0,
        description="Wait before re-driving the same dead letter again; doubles each time.",
    )

    # Ingest limits
    max_body_bytes: int = Field(default=1 * MiB, description="Largest request body as sent.")
    max_decompressed_bytes: int = Field(
        default=10 * MiB, description="Largest body after decompression (checked while inflating)."
    )
    max_events_per_request: int = Field(default=1000, description="Events in one request.")
    max_event_bytes: int = Field(default=1 * MiB, description="Largest single event (JSON bytes).")
    max_json_depth: int = Field(default=32, description="Deepest nesting of objects and arrays.")
    max_properties: int = Field(default=256, description="Keys in an event's properties.")
    max_string_bytes: int = Field(
        default=8 * 1024, description="Longer strings are trimmed; the original length is kept."
    )
    max_past_seconds: int = Field(
        default=30 * 24 * 3600, description="Older timestamps are clamped to received - this."
    )
    max_future_seconds: int = Field(
        default=60, description="Later timestamps are clamped to received + this."
    )
    key_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How long ingest trusts a looked-up key: revoking a key or deleting a "
        "project stops ingest within this time.",
    )
    privacy_cache_seconds: float = Field(
        default=10.0,
        ge=0,
        description="How long the processor keeps a project's privacy settings: a change made "
        "through the API applies to events processed after this time.",
    )
    key_stale_seconds: float = Field(
        default=900.0,
        ge=0,
        description="While the database cannot be reached, a key looked up within this time "
        "is still accepted (events keep being queued).",
    )

    # Quotas (per project through the API; these are the defaults, 0 = unlimited)
    project_events_per_minute: int = Field(
        default=60_000, ge=0, description="Events a project may send per minute (UTC minutes)."
    )
    project_events_per_month: int = Field(
        default=0, ge=0, description="Events a project may send per calendar month (UTC)."
    )
    key_events_per_second: int = Field(
        default=2_000, ge=0, description="Events one ingest key may send per second."
    )

    # Storage
    default_retention_days: int = Field(default=30, ge=1, description="Retention of new projects.")
    partitions_ahead_days: int = Field(
        default=3, ge=1, description="Plain PostgreSQL: daily partitions created ahead."
    )
    dedup_window_hours: int = Field(
        default=24,
        ge=1,
        le=30 * 24,
        description="A retried event whose timestamp ingest assigned (none sent) is stored "
        "once if its id was stored within this many hours.",
    )

    # Local runtime
    host: str = Field(default="127.0.0.1", description="Local gateway bind address.")
    port: int = Field(default=8000, description="Local gateway port.")
    gateway_workers: int = Field(
        default=32, ge=1, description="Concurrent handler invocations (like Lambda environments)."
    )
    gateway_max_header_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        description="Local gateway: largest request line and headers; larger answers 431.",
    )
    gateway_header_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Local gateway: time to receive a request's headers; then 408 (or, if "
        "nothing was sent, the connection is closed).",
    )
    gateway_body_timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Local gateway: time to receive a request's whole body; then 408.",
    )
    batch_size: int = Field(
        default=500, ge=1, le=10000, description="Messages per processor batch."
    )
    batch_window_seconds: float = Field(
        default=0.5, ge=0, le=300, description="Longest wait to fill a processor batch."
    )
    maintenance_interval_seconds: int = Field(
        default=3600, ge=10, description="Local scheduler: partitions and retention."
    )
    alerts_interval_seconds: int = Field(
        default=60, ge=1, description="Local scheduler: alerts function period."
    )

    # API
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Where clients reach LogSight (ingest and API); used in DSNs and snippets.",
    )
    api_pool_size: int = Field(default=8, ge=1, description="API database connections per process.")
    cloudfront_secret: str | None = Field(
        default=None,
        description="The value CloudFront sends in X-LogSight-CloudFront-Secret; only requests "
        "carrying it have their CloudFront-Viewer-Address believed. Unset: never believed.",
    )
    cloudfront_secret_arn: str | None = Field(
        default=None,
        description="Secrets Manager secret holding it (AWS); fills CLOUDFRONT_SECRET.",
    )
    api_pool_timeout_seconds: float = Field(
        default=3.0,
        gt=0,
        description="Longest an API request waits for a database connection before a 503.",
    )
    database_connect_timeout_seconds: int = Field(
        default=3, ge=2, description="API: connect timeout of each database connection."
    )
    allowed_origins: str = Field(
        default="",
        description="Comma-separated browser origins allowed to call the API (and Clerk's azp).",
    )

    # Authentication
    clerk_issuer_url: str | None = Field(
        default=None, description="Clerk issuer (https://<app>.clerk.accounts.dev); enables Clerk."
    )
    oidc_issuer_url: str | None = Field(
        default=None, description="Any OIDC issuer (Cognito, Auth0, Keycloak); enables it."
    )
    oidc_audience: str | None = Field(
        default=None, description="Audience the OIDC issuer's tokens must carry."
    )
    oidc_jwks_url: str | None = Field(
        default=None, description="JWKS URL when not found by OIDC discovery."
    )
    builtin_auth: bool = Field(
        default=True, description="LogSight's own email + password accounts and token issuer."
    )
    auth_issuer: str = Field(
        default="logsight", description="The built-in issuer's iss and aud claims."
    )
    access_token_seconds: int = Field(default=900, ge=60, description="Access JWT lifetime.")
    refresh_token_days: int = Field(default=30, ge=1, description="Refresh token lifetime.")
    signing_key_secret_arn: str | None = Field(
        default=None,
        description="Secrets Manager secret holding the signing keys (AWS); else DATA_DIR/keys.",
    )
    first_admin_secret_arn: str | None = Field(
        default=None,
        description="Secrets Manager secret the AWS deploy step writes the first administrator's "
        "generated password to, when it creates that account.",
    )
    signing_key_rotation_days: int = Field(
        default=90, ge=1, description="Age at which the built-in issuer rotates its signing key."
    )
    jwks_cache_seconds: int = Field(
        default=300, ge=0, description="How long fetched JWKS are kept."
    )
    jwks_refresh_cooldown_seconds: float = Field(
        default=30.0,
        ge=0,
        description="Shortest interval between key-set refetches caused by an unknown key id.",
    )
    # Login throttling (logsight.auth.throttle; the policy is in docs/architecture.md).
    login_free_failures: int = Field(
        default=3,
        ge=1,
        description="Failed logins of one account from one client network (/24, /64) before "
        "each further attempt from there must wait.",
    )
    login_delay_seconds: float = Field(
        default=1.0,
        gt=0,
        description="The first wait; it doubles with each further failure.",
    )
    login_max_delay_seconds: int = Field(
        default=300, ge=1, description="The longest wait after failed logins."
    )
    login_forget_seconds: int = Field(
        default=86400,
        ge=1,
        description="Failures of an account from a network are forgotten after this long "
        "without one (or at a successful login from there).",
    )
    login_account_failures: int = Field(
        default=10,
        ge=1,
        description="Failed logins of one account (all networks) per window that put it "
        "under attack: networks that failed against it then get no free failure.",
    )
    login_network_failures: int = Field(
        default=30,
        ge=1,
        description="Failed logins from one client network (any accounts) per window; "
        "beyond, that network waits.",
    )
    login_window_seconds: int = Field(
        default=900, ge=1, description="Window of the account and network failure counts."
    )

    # Alerting (logsight.alerting; docs/alerts.md)
    notifications_secret_arn: str | None = Field(
        default=None,
        description="Secrets Manager secret whose `key` encrypts alert channel secrets (AWS); "
        "else DATA_DIR/keys/alerts.key.",
    )
    alerts_allowed_networks: str = Field(
        default="",
        description="Comma-separated addresses or CIDR networks alert notifications may reach "
        "although private, loopback or link-local (internal webhooks; tests).",
    )
    alerts_http_timeout_seconds: float = Field(
        default=5.0, gt=0, le=30, description="Connect and read timeout of each notification."
    )
    alerts_delivery_attempts: int = Field(
        default=3, ge=1, le=5, description="Attempts per notification and channel."
    )
    alerts_retry_backoff_seconds: float = Field(
        default=1.0, ge=0, le=10, description="Wait before the second attempt; doubles after."
    )
    alerts_email_transport: str = Field(
        default="smtp", pattern="^(smtp|ses)$", description="smtp (local) or ses (AWS)."
    )
    alerts_email_from: str = Field(
        default="logsight@localhost", description="Sender of alert e-mails."
    )
    smtp_host: str = Field(default="127.0.0.1", description="SMTP server for alert e-mails.")
    smtp_port: int = Field(default=25, ge=1, le=65535, description="Its port.")
    alerts_pagerduty_url: str = Field(
        default="https://events.pagerduty.com/v2/enqueue",
        description="PagerDuty Events API v2 endpoint.",
    )
    alerts_telegram_url: str = Field(
        default="https://api.telegram.org", description="Telegram Bot API base URL."
    )

    @property
    def allowed_origin_list(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.allowed_origins.split(",") if o.strip()]

    def shard_queue(self, shard: int) -> str:
        return f"{self.queue_prefix}.{shard}"

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.exchange}.dlx"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.queue_prefix}.dead"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    settings = Settings()
    if (
        settings.database_url_secret_arn
        or settings.amqp_secret_arn
        or settings.cloudfront_secret_arn
    ):
        # Deferred: boto3 is loaded only where secrets are actually read (AWS), keeping the
        # ingest cold start and the local runtime free of it.
        from logsight.aws_secrets import resolve_secrets

        settings = settings.model_copy(
            update=resolve_secrets(
                database_url_secret_arn=settings.database_url_secret_arn,
                amqp_secret_arn=settings.amqp_secret_arn,
                amqp_url=settings.amqp_url,
                cloudfront_secret_arn=settings.cloudfront_secret_arn,
            )
        )
    return settings
