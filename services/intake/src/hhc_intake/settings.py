"""Intake's settings: the chassis's, how cases are given to teams, the mail server and
links of the satisfaction survey (policy 5.1), the case keys it keeps, and how long a
closed case's personal data is kept (3.5.2)."""

from datetime import timedelta

from fastapi import Request
from limits import parse_many
from pydantic import Field, SecretStr, field_validator

from hhc_chassis.delivery import SmtpSettings
from hhc_chassis.service import runtime_of
from hhc_chassis.settings import ServiceSettings
from hhc_intake.domain import TeamAssignment


class IntakeSettings(ServiceSettings, SmtpSettings):
    service_name: str = "intake"
    http_port: int = 8001
    public_http_port: int | None = Field(
        default=8011, description="The public pages, form and status lookup; nothing else"
    )
    public_form_secret: SecretStr = Field(
        default=SecretStr(""),
        description="Signs the report form's tokens; set the same on every replica. Empty: "
        "a random key per process, and a form sent to another replica or after a restart "
        "is shown again to be sent once more",
    )
    public_form_max_age_seconds: int = Field(
        default=2 * 3600, ge=60, description="How long an opened report form can be sent"
    )
    public_submit_rate_limit: str = Field(
        default="10/minute;60/hour",
        description="Report form submissions per client address (limits' notation)",
    )
    public_status_rate_limit: str = Field(
        default="10/minute;30/hour",
        description="Status lookups per client address, page and JSON together",
    )
    public_rate_limit_storage: str = Field(
        default="async+memory://",
        description="Where the counts are kept (a limits storage URI): memory counts per "
        "process; async+redis://host:6379 shares them between replicas (needs coredis)",
    )
    teams_by_area: dict[str, str] = Field(
        default_factory=dict,
        description='JSON, area prefix to team: {"M14": "south", "M": "north"}',
    )
    default_team: str = Field(
        default="north", min_length=1, description="Team of a case whose area matches none"
    )
    reopen_window: timedelta = Field(
        default=timedelta(days=90),
        ge=timedelta(0),
        description="How long after closure a further report reopens the case (ISO 8601, "
        "e.g. P90D or PT1H); after it, the report opens a new case linked to the closed one. "
        "The policy names no period: about three months keeps repeated harassment (3.1) "
        "together with its history, owner and actions",
    )

    public_base_url: str = Field(
        default="http://localhost:8011",
        description="Where the public listener is reached from outside: the base of the "
        "survey links sent to survivors",
    )
    survey_valid_for: timedelta = Field(
        default=timedelta(days=28),
        gt=timedelta(0),
        description="How long a satisfaction survey offer can be answered (ISO 8601, P28D)",
    )
    survey_mail_poll_seconds: float = Field(
        default=5.0, gt=0, description="How often the survey mailer looks for offers to send"
    )

    case_key_kek: SecretStr = Field(
        default=SecretStr(""),
        description="The key-encryption key that wraps every case key: base64 of 32 random "
        "bytes (openssl rand -base64 32), the same on every replica. Required: intake "
        "refuses to start without it. Losing it loses every case's personal data on the "
        "topics",
    )
    case_key_kek_id: str = Field(
        default="local-1",
        min_length=1,
        max_length=60,
        description="Names CASE_KEY_KEK on each key it wraps; a new CASE_KEY_KEK needs a new id",
    )
    case_key_keks_retired: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Earlier key-encryption keys by their id, as JSON "
        '({"local-1": "<base64>"}): they only unwrap the case keys they wrapped, until '
        "`python -m hhc_intake.case_keys rewrap` has wrapped each with CASE_KEY_KEK; then "
        "remove them",
    )
    case_key_clients: list[str] = Field(
        default_factory=lambda: ["risk", "referrals", "enforcement"],
        description="Services (their token's subject, with the service role) that may fetch "
        "a case's key. Never reporting, which keeps aggregates only (3.5)",
    )

    retention_closed_case: timedelta = Field(
        default=timedelta(days=2192),
        gt=timedelta(0),
        description="How long after closure a case's personal data is kept (ISO 8601, "
        "e.g. P2192D, about 6 years): then it is erased (3.5.2)",
    )
    retention_anonymous_case: timedelta = Field(
        default=timedelta(days=731),
        gt=timedelta(0),
        description="The same for a case every report of which was anonymous (about 2 years)",
    )
    retention_staff_case: timedelta = Field(
        default=timedelta(days=2192),
        gt=timedelta(0),
        description="The same for a case whose survivor is staff: the HR records schedule "
        "(4.3; about 6 years)",
    )
    retention_check_interval_seconds: float = Field(
        default=86400,
        gt=0,
        description="How often intake looks for closed cases past their retention period",
    )

    @field_validator("public_submit_rate_limit", "public_status_rate_limit")
    @classmethod
    def _is_rate(cls, value: str) -> str:
        parse_many(value)  # "5/minute;50/hour"; raises ValueError when it is not
        return value

    @property
    def team_assignment(self) -> TeamAssignment:
        return TeamAssignment(by_area=self.teams_by_area, default=self.default_team)


def intake_settings(request: Request) -> IntakeSettings:
    settings = runtime_of(request).settings
    assert isinstance(settings, IntakeSettings)
    return settings
