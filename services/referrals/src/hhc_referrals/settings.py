"""Referrals' settings: the chassis's, the partner catalogue, mail and clocks."""

from datetime import timedelta
from pathlib import Path

from pydantic import Field

from hhc_chassis.delivery import SmtpSettings
from hhc_chassis.settings import ServiceSettings


class ReferralsSettings(ServiceSettings, SmtpSettings):
    service_name: str = "referrals"
    http_port: int = 8003
    # Referrals handles each partition on its own (sealed parts wait on case keys), so
    # every assigned partition may hold a decoded batch at once: smaller batches bound the
    # memory a backlog takes; a referral's handling costs far more than its transaction.
    consumer_batch_size: int = Field(default=100, ge=1)
    # On the immediate-danger path, as risk's (hhc_risk.settings): each hop may wait this
    # long on a broker that holds an empty fetch for its whole wait.
    consumer_fetch_wait_ms: int = Field(default=50, ge=1)

    partner_catalogue_file: Path | None = Field(
        default=None,
        description="A JSON file of partners replacing the shipped entries by id and adding "
        "new ones; the shipped catalogue has placeholder endpoints only",
    )

    smtp_sender: str = Field(
        default="referrals@hhc.invalid", description="The From address of referral mail"
    )

    delivery_poll_seconds: float = Field(
        default=1.0, gt=0, description="Longest wait between two looks for referrals to send"
    )
    seek_consent_after: timedelta = Field(
        default=timedelta(days=7),
        gt=timedelta(0),
        description="A withheld referral asks for consent to be sought again after this (3.5.2)",
    )
    deadline_scale: float = Field(
        default=1.0,
        gt=0,
        le=1,
        description="Shortens every clock by this factor, for drills and tests only",
    )
