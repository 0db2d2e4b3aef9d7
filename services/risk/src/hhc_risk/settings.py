from pydantic import Field

from hhc_chassis.settings import ServiceSettings


class RiskSettings(ServiceSettings):
    service_name: str = "risk"
    http_port: int = 8002
    overdue_poll_seconds: float = Field(
        default=5.0, gt=0, description="Longest wait between two looks for passed deadlines"
    )
    deadline_scale: float = Field(
        default=1.0,
        gt=0,
        le=1,
        description="Shortens every clock by this factor, for drills and tests only",
    )
