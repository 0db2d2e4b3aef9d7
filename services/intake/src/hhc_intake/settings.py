"""Intake's settings: the chassis's, and how cases are given to teams."""

from fastapi import Request
from pydantic import Field

from hhc_chassis.service import runtime_of
from hhc_chassis.settings import ServiceSettings
from hhc_intake.domain import TeamAssignment


class IntakeSettings(ServiceSettings):
    service_name: str = "intake"
    http_port: int = 8001
    teams_by_area: dict[str, str] = Field(
        default_factory=dict,
        description='JSON, area prefix to team: {"M14": "south", "M": "north"}',
    )
    default_team: str = Field(
        default="north", min_length=1, description="Team of a case whose area matches none"
    )

    @property
    def team_assignment(self) -> TeamAssignment:
        return TeamAssignment(by_area=self.teams_by_area, default=self.default_team)


def intake_settings(request: Request) -> IntakeSettings:
    settings = runtime_of(request).settings
    assert isinstance(settings, IntakeSettings)
    return settings
