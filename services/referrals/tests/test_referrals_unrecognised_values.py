"""The consent gate on values the vocabulary does not know, as a newer producer may send
them: decided on the side of confidentiality (3.5.1, 3.5.2). Pure: no I/O."""

import itertools

import pytest

from hhc_contracts.vocabulary import ConsentState, Partner, ReferralBasis
from hhc_referrals.consent import (
    EMERGENCY_INTERVENTION_PARTNERS,
    Share,
    Withhold,
    consent_gate,
)

NEW_CONSENT = ConsentState("given_verbally")
NEW_PARTNER = Partner("victim_support_line")

OVERRIDE = Share(
    ReferralBasis.IMMEDIATE_HARM_OVERRIDE,
    override_reason="survivor in immediate danger; emergency intervention required (3.5.2)",
)
NOT_GIVEN = Withhold("consent to share with partners not recorded as given (3.5.2)")


@pytest.mark.parametrize(
    ("partner", "immediate_danger"),
    list(itertools.product(Partner, (False, True))),
    ids=lambda value: str(value),
)
def test_an_unknown_consent_state_is_not_consent(partner: Partner, immediate_danger: bool) -> None:
    # Only explicit consent shares; the immediate-harm override still protects (3.5.2).
    decision = consent_gate(partner=partner, consent=NEW_CONSENT, immediate_danger=immediate_danger)
    overridden = immediate_danger and partner in EMERGENCY_INTERVENTION_PARTNERS
    assert decision == (OVERRIDE if overridden else NOT_GIVEN)


@pytest.mark.parametrize(
    ("consent", "immediate_danger", "expected"),
    [
        pytest.param(ConsentState.GIVEN, False, Share(ReferralBasis.CONSENT), id="given"),
        pytest.param(ConsentState.GIVEN, True, Share(ReferralBasis.CONSENT), id="given-danger"),
        # Not known to be emergency intervention: no override, however great the danger.
        pytest.param(
            ConsentState.REFUSED,
            True,
            Withhold("survivor refused consent to share with partners (3.5.2)"),
            id="refused-danger",
        ),
        pytest.param(
            ConsentState.NOT_ASKED,
            True,
            Withhold("consent to share with partners not yet asked (3.5.2)"),
            id="not-asked-danger",
        ),
        pytest.param(NEW_CONSENT, True, NOT_GIVEN, id="unknown-consent-danger"),
    ],
)
def test_an_unknown_partner_is_told_only_with_consent(
    consent: ConsentState, immediate_danger: bool, expected: Share | Withhold
) -> None:
    assert NEW_PARTNER not in EMERGENCY_INTERVENTION_PARTNERS
    decision = consent_gate(partner=NEW_PARTNER, consent=consent, immediate_danger=immediate_danger)
    assert decision == expected
