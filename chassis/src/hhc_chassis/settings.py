"""Configuration from environment variables: one settings object per service."""

import re
from datetime import timedelta
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_SQL_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class ServiceSettings(BaseSettings):
    """Settings every service has. Each service subclasses it to set its own defaults.

    Variable names are the field names in upper case (``DATABASE_URL``,
    ``KAFKA_BOOTSTRAP_SERVERS``, ``HTTP_PORT`` ...).
    """

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: str
    database_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    db_schema: str = Field(default="", description="Schema owned by the service; its name if empty")
    db_pool_size: int = Field(default=10, ge=1)
    migrate_on_start: bool = Field(
        default=True,
        description="Apply the schema's migrations when starting. False where the service's "
        "database role cannot change the schema: a migration step with the owner's role "
        "runs first (`python -m hhc_chassis.migrate_cli <service>`), and the service refuses "
        "to start while any migration it ships is missing",
    )
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT",
        description="SSL (mutual TLS, a KafkaUser with tls authentication) or SASL_SSL in "
        "production; PLAINTEXT for the embedded broker only",
    )
    kafka_ssl_ca_file: Path | None = Field(
        default=None, description="CA bundle the brokers' certificates are checked against"
    )
    kafka_ssl_cert_file: Path | None = Field(
        default=None, description="The service's client certificate (mutual TLS)"
    )
    kafka_ssl_key_file: Path | None = Field(default=None, description="Its private key")
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    consumer_group: str = Field(
        default="", description="Kafka consumer group; <CONSUMER_GROUP_PREFIX>-<service> if empty"
    )
    consumer_group_prefix: str = Field(
        default="hhc",
        description="Prefix of every service's group: one per deployment sharing a cluster",
    )
    http_host: str = "0.0.0.0"
    http_port: int = Field(default=8000, description="The staff listener: API, /docs, probes")
    public_http_port: int | None = Field(
        default=None,
        description="The public listener, for a service with public pages (intake: 8011); "
        "on HTTP_HOST too",
    )
    log_level: str = "INFO"
    max_body_bytes: int = Field(default=256 * 1024, ge=1024, description="Larger bodies get 413")

    relay_batch_size: int = Field(default=200, ge=1)
    relay_idle_poll_seconds: float = Field(
        default=2.0, gt=0, description="Fallback poll when no NOTIFY arrives"
    )
    retry_max_attempts: int = Field(
        default=5, ge=1, description="Attempts before a failing message is dead-lettered"
    )
    retry_base_delay_seconds: float = Field(default=0.2, gt=0)
    retry_max_delay_seconds: float = Field(default=30.0, gt=0)
    retry_max_seconds: float = Field(
        default=600.0,
        gt=0,
        description="How long a transient failure is retried before the message is "
        "dead-lettered as transient-gave-up",
    )
    shutdown_grace_seconds: float = Field(default=15.0, gt=0)
    db_command_timeout_seconds: float = Field(
        default=30.0, gt=0, description="Longest a database statement may take"
    )
    db_keepalive_seconds: int = Field(
        default=10,
        ge=1,
        description="TCP keepalive idle time; a vanished peer is noticed in about 2x this",
    )

    consumer_batch_size: int = Field(
        default=500, ge=1, description="Most messages of one partition handled in one transaction"
    )
    consumer_commit_every: int = Field(
        default=500, ge=1, description="Commit a partition's offset after this many messages ..."
    )
    consumer_commit_interval_ms: int = Field(
        default=200, ge=1, description="... or after this long, whichever comes first"
    )
    consumer_fetch_wait_ms: int = Field(
        default=100,
        ge=1,
        description="Longest the broker holds a fetch while less than CONSUMER_FETCH_MIN_BYTES "
        "is waiting",
    )
    consumer_fetch_min_bytes: int = Field(
        default=1,
        ge=1,
        description="What the broker waits for before answering a fetch (up to "
        "CONSUMER_FETCH_WAIT_MS): more than 1 trades latency for larger batches, so fewer "
        "transactions and less CPU per event",
    )
    consumer_session_timeout_ms: int = Field(
        default=10_000,
        ge=1_000,
        description="A consumer that stops heartbeating is out of its group after this "
        "(Kafka refuses less than its group.min.session.timeout.ms, 6 s by default; Tansu "
        "holds each join for half of it, so the embedded broker is given less)",
    )

    metrics_refresh_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How often the consumer's lag and the outbox's backlog are measured "
        "for the gauges (a scrape reads the last measure, never the broker or database)",
    )

    relay_stall_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A leading relay that cannot publish due rows for this long hands over",
    )
    relay_unknown_topic_grace_seconds: float = Field(
        default=300.0, ge=0, description="How long a row for an unknown topic is retried"
    )
    relay_send_timeout_seconds: float = Field(
        default=15.0, gt=0, description="Longest wait for the broker to accept or acknowledge"
    )

    outbox_retention: timedelta = Field(
        default=timedelta(days=7), description="Published outbox rows are deleted after this"
    )
    inbox_retention: timedelta = Field(
        default=timedelta(days=100),
        description="Inbox rows are deleted after this; keep it longer than topic and "
        "dead-letter retention, or a very late redelivery would act twice",
    )
    dead_letter_retention: timedelta = Field(
        default=timedelta(days=90),
        description="Dead-letter rows (each points at its message on the dead-letter topic) "
        "are deleted after this: the topic's retention, after which the message is gone",
    )
    retention_interval_seconds: float = Field(
        default=600.0, gt=0, description="Time between two purges of expired rows"
    )
    retention_batch_size: int = Field(default=1000, ge=1)

    oidc_issuer: str = Field(
        default="", description="Token issuer (the identity provider's URL); required to serve"
    )
    oidc_audience: str = Field(default="hhc", description="Audience tokens must be issued for")
    oidc_jwks_url: str = Field(default="", description="Where the issuer publishes its keys")
    oidc_jwks_cache_seconds: int = Field(
        default=300, ge=1, description="Keys are fetched again after this, or for an unknown kid"
    )
    oidc_jwks_refresh_cooldown_seconds: float = Field(
        default=30.0,
        ge=0,
        description="Least time between two fetches caused by unknown kids (a token naming "
        "random kids cannot make us hammer the identity provider)",
    )
    oidc_leeway_seconds: int = Field(
        default=30, ge=0, description="Clock skew allowed on exp, nbf and iat"
    )

    oidc_token_url: str = Field(
        default="",
        description="The identity provider's token endpoint, for this service's own token "
        "(client credentials) to fetch case keys from intake",
    )
    oidc_client_id: str = Field(
        default="", description="This service's client id; its name if empty"
    )
    oidc_client_secret: SecretStr | None = Field(default=None, description="Its client secret")
    case_keys_url: str = Field(
        default="",
        description="Intake's staff listener, which hands out case keys. Without it the "
        "service publishes no personal data (it is withheld, never sent in clear) and "
        "cannot read a sealed one",
    )
    case_key_cache_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How long a fetched case key is kept in memory (an erasure is followed "
        "within this time at the latest)",
    )

    task_restart_limit: int = Field(
        default=5,
        ge=1,
        description="A background task that dies this many times in a row makes /healthz fail",
    )

    @model_validator(mode="after")
    def _kafka_security_is_whole(self) -> Self:
        """A half-configured connection would fail at the first connect, or worse, fall
        back to less than was meant: refuse it at start, naming what is missing."""
        sasl = self.kafka_security_protocol.startswith("SASL_")
        if sasl and not (
            self.kafka_sasl_mechanism and self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError(
                f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
            )
        if not sasl and self.kafka_sasl_mechanism:
            raise ValueError("KAFKA_SASL_MECHANISM is set but the protocol is not SASL_*")
        if (self.kafka_ssl_cert_file is None) != (self.kafka_ssl_key_file is None):
            raise ValueError("KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE go together")
        if self.case_keys_url and not (self.oidc_token_url and self.oidc_client_secret):
            raise ValueError(
                "CASE_KEYS_URL needs OIDC_TOKEN_URL and OIDC_CLIENT_SECRET: intake hands "
                "case keys only to an authenticated service"
            )
        tls_files = self.kafka_ssl_ca_file or self.kafka_ssl_cert_file
        if tls_files and not self.kafka_security_protocol.endswith("SSL"):
            raise ValueError("KAFKA_SSL_* files are set but the protocol does not use TLS")
        return self

    @field_validator("db_schema")
    @classmethod
    def _schema_is_identifier(cls, value: str) -> str:
        if value and not _SQL_IDENTIFIER.match(value):
            raise ValueError("DB_SCHEMA must be a lower-case SQL identifier")
        return value

    @property
    def schema_name(self) -> str:
        return self.db_schema or self.service_name

    @property
    def group_id(self) -> str:
        return self.consumer_group or f"{self.consumer_group_prefix}-{self.service_name}"
