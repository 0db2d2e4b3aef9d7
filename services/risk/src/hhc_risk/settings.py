"""Risk's settings: the chassis's, clocks, and where escalations are sent."""

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from hhc_chassis.delivery import SmtpSettings
from hhc_chassis.settings import ServiceSettings


class NotificationTarget(BaseModel):
    """Where one recipient hears of escalations: an email address, a signed webhook, or
    both (each is its own channel)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    email: str | None = None
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None


class RiskSettings(ServiceSettings, SmtpSettings):
    service_name: str = "risk"
    http_port: int = 8002
    # On the immediate-danger path (report to risk's plan to referrals' referral): a broker
    # that holds an empty fetch for its whole wait, as Tansu does, makes each hop wait up
    # to this; 50 ms instead of 100 took the path's p99 at 50 reports/s from 250 to about
    # 190 ms for about 6% more CPU per report at that rate, none measurable at 100/s.
    consumer_fetch_wait_ms: int = Field(default=50, ge=1)
    overdue_poll_seconds: float = Field(
        default=5.0, gt=0, description="Longest wait between two looks for passed deadlines"
    )
    deadline_scale: float = Field(
        default=1.0,
        gt=0,
        le=1,
        description="Shortens every clock by this factor, for drills and tests only",
    )
    smtp_sender: str = Field(
        default="risk@hhc.invalid", description="The From address of escalation mail"
    )
    notify_managers: dict[str, NotificationTarget] = Field(
        default_factory=dict,
        description='Each team\'s manager, as JSON: {"north": {"email": ..., "webhook_url": '
        '..., "webhook_secret": ...}}',
    )
    on_call_safeguarding_lead: NotificationTarget | None = Field(
        default=None, description="The on-call safeguarding lead (3.3.1), as JSON like a manager"
    )
    escalation_repeat_every: timedelta = Field(
        default=timedelta(hours=1),
        gt=timedelta(0),
        description="An escalation is sent again this long after it was last delivered, "
        "until acknowledged (shortened by DEADLINE_SCALE)",
    )
    escalation_poll_seconds: float = Field(
        default=2.0, gt=0, description="Longest wait between two looks for escalations to send"
    )
    case_link_base: str = Field(
        default="", description="Prefix of the link to a case in escalations, e.g. a staff app"
    )
