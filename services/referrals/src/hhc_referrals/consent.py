"""The consent gate (policy 3.5.2). Pure: no I/O.

Information goes to a third party only with the survivor's explicit consent, unless
there is good reason to believe they are at risk or in danger of immediate harm and
emergency intervention is required; such an override is recorded with who, when, why.

Values the vocabulary does not know (``is_recognised``) are decided on the side of
confidentiality (3.5.1): an unknown consent state is not explicit consent, and an
unknown partner is not known to be an emergency intervention.
"""

from dataclasses import dataclass

from hhc_contracts.vocabulary import ConsentState, Partner, ReferralBasis, is_recognised

# Partners whose involvement is emergency intervention (3.3.1); only they may be
# told without consent, and only when the survivor is in immediate danger.
EMERGENCY_INTERVENTION_PARTNERS = frozenset(
    {
        Partner.EMERGENCY_SERVICES,
        Partner.POLICE,
        Partner.FIRE_AUTHORITY,
        Partner.ADULT_SOCIAL_SERVICES,
        Partner.CHILDRENS_SOCIAL_SERVICES,
        Partner.HOUSING_OPTIONS,
    }
)

OVERRIDE_RECORDED_BY = "immediate-danger playbook"


@dataclass(frozen=True, slots=True)
class Share:
    basis: ReferralBasis
    override_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Withhold:
    reason: str


def consent_gate(
    *, partner: Partner, consent: ConsentState, immediate_danger: bool
) -> Share | Withhold:
    if consent is ConsentState.GIVEN:
        return Share(ReferralBasis.CONSENT)
    if immediate_danger and partner in EMERGENCY_INTERVENTION_PARTNERS:
        return Share(
            ReferralBasis.IMMEDIATE_HARM_OVERRIDE,
            override_reason="survivor in immediate danger; emergency intervention required (3.5.2)",
        )
    if consent is ConsentState.REFUSED:
        return Withhold("survivor refused consent to share with partners (3.5.2)")
    if not is_recognised(consent):
        return Withhold("consent to share with partners not recorded as given (3.5.2)")
    return Withhold("consent to share with partners not yet asked (3.5.2)")
