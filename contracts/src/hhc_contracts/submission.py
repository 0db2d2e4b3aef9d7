"""A report as submitted: the body of intake's ``POST /v1/reports`` and the payload of
``intake.report-submitted`` on the inbound topic, so both get the same validation.

Unlike events, a submission refuses unknown fields: a typo must not silently drop what
a survivor said. It refuses values the vocabulary lacks too (``StrictInput``): events
tolerate them because a newer service may have sent them, but a submission comes from
outside, where an unknown value is a mistake to send back. Almost all of it is personal
data; only intake keeps it.
"""

from pydantic import AwareDatetime, ConfigDict, Field, model_validator

from hhc_contracts.tolerance import StrictInput
from hhc_contracts.vocabulary import (
    AccessibleFormat,
    Channel,
    ConsentGiver,
    ContactMethod,
    IncidentCategory,
    PartnerKind,
    PerceivedMotivation,
    PerpetratorKind,
    RelatedPolicy,
    ReporterRole,
    Vulnerability,
)

NAME = Field(default=None, max_length=200)
CONTACT = Field(default=None, max_length=254)


class Strict(StrictInput):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class Reporter(Strict):
    role: ReporterRole
    name: str | None = NAME
    contact: str | None = CONTACT

    @model_validator(mode="after")
    def _anonymous_means_no_details(self) -> "Reporter":
        if self.role is ReporterRole.ANONYMOUS and (self.name or self.contact):
            raise ValueError("an anonymous reporter gives no name or contact")
        return self


class AccessNeeds(Strict):
    """How to reach the survivor safely and in a way they can use (policy 1.6.1)."""

    preferred_contact_method: ContactMethod | None = None
    safe_contact_method: ContactMethod | None = Field(
        default=None, description="A way of contact the perpetrator will not see or hear"
    )
    safe_contact_times: str | None = Field(default=None, max_length=200)
    language: str | None = Field(default=None, max_length=60, examples=["Polish"])
    interpreter_needed: bool = False
    british_sign_language: bool = False
    accessible_formats: list[AccessibleFormat] = Field(default_factory=list)


class Survivor(Strict):
    is_customer: bool
    is_staff: bool = Field(default=False, description="Staff harmed during their duties (4.3)")
    name: str | None = NAME
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = CONTACT
    tenancy_reference: str | None = Field(default=None, max_length=40)
    vulnerable_adult: bool = False
    vulnerabilities: list[Vulnerability] = Field(default_factory=list)
    children_in_household: bool = False
    female_staff_requested: bool = Field(default=False, description="3.3.1, on request")
    capacity_concern: bool = Field(default=False, description="Doubt about capacity (1.6.2)")
    access: AccessNeeds = Field(default_factory=AccessNeeds)

    @property
    def at_risk(self) -> bool:
        return self.vulnerable_adult or bool(self.vulnerabilities)


class Witness(Strict):
    name: str | None = NAME
    contact: str | None = CONTACT


class AllegedPerpetrator(Strict):
    kind: PerpetratorKind
    description: str | None = Field(default=None, max_length=2000)


class Incident(Strict):
    categories: list[IncidentCategory] = Field(min_length=1)
    perceived_motivation: list[PerceivedMotivation] = Field(
        default_factory=list, description="As the survivor perceives it (3.1.3)"
    )
    description: str | None = Field(default=None, max_length=20_000)
    location: str | None = Field(default=None, max_length=500)
    occurred_at: AwareDatetime | None = None
    ongoing: bool = False
    related_policy: RelatedPolicy | None = Field(
        default=None, description="Domestic abuse or plain anti-social behaviour (1.2)"
    )


class SafeContact(Strict):
    """What the survivor allows when staff get in touch (3.5)."""

    voicemail: bool = False
    text_message: bool = False
    letter: bool = False


class Consent(Strict):
    """The survivor's consent to share with partners (3.5.2), as stated with a report or
    recorded by staff. Only the survivor, or someone with authority to act for them, gives
    or refuses it: intake refuses consent stated with anyone else's report."""

    share_with_partners: bool | None = Field(
        default=None, description="true: given; false: refused; absent: not asked (3.5.2)"
    )
    by_partner_kind: dict[PartnerKind, bool] = Field(
        default_factory=dict,
        description="Exceptions per kind of partner: true given, false refused for that kind "
        "whatever share_with_partners says (3.5.2)",
        examples=[{"housing": False}],
    )
    given_by: ConsentGiver | None = Field(
        default=None,
        description="Who gave or refused it: the survivor (the default for their own report) "
        "or someone with authority to act for them (3.5.2)",
    )
    safe_contact: SafeContact = Field(default_factory=SafeContact)
    recorded_by: str | None = Field(
        default=None, max_length=100, description="Member of staff who recorded the consent"
    )


class ReportSubmitted(Strict):
    """intake.report-submitted: a report for intake to take, from another system."""

    channel: Channel
    reporter: Reporter
    survivor: Survivor
    witnesses: list[Witness] = Field(default_factory=list, max_length=20)
    alleged_perpetrators: list[AllegedPerpetrator] = Field(default_factory=list, max_length=50)
    incident: Incident
    immediate_danger: bool = False
    consent: Consent = Field(default_factory=Consent)
    area: str | None = Field(
        default=None,
        max_length=16,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9 -]*$",
        description="Where the survivor lives or the incident happened, as a postcode "
        "district or area code (e.g. 'M14'); decides the team that takes the case",
    )
