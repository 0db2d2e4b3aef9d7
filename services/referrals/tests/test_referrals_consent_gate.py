"""The consent gate against policy 3.5.2: share with explicit consent; without it only
when the survivor is in immediate danger and the partner is an emergency intervention."""

import itertools

import pytest

from hhc_contracts.vocabulary import ConsentState, Partner, ReferralBasis
from hhc_referrals.consent import (
    EMERGENCY_INTERVENTION_PARTNERS,
    OVERRIDE_RECORDED_BY,
    Share,
    Withhold,
    consent_gate,
)

# Every partner, and whether it is emergency intervention (3.3.1) that 3.5.2 lets the
# landlord tell without consent when the survivor is in immediate danger.
EMERGENCY_INTERVENTION = {
    Partner.EMERGENCY_SERVICES: True,
    Partner.POLICE: True,
    Partner.ADULT_SOCIAL_SERVICES: True,
    Partner.CHILDRENS_SOCIAL_SERVICES: True,
    Partner.HOUSING_OPTIONS: True,  # emergency rehousing (3.3.1)
    Partner.FIRE_AUTHORITY: True,
    # Support and advocacy agencies and other services of 3.3.2 / 1.6.2 are not.
    Partner.STOP_HATE_UK: False,
    Partner.SURVIVOR_SUPPORT: False,
    Partner.ANTHONY_WALKER_FOUNDATION: False,
    Partner.INDEPENDENT_LIVING_SERVICE: False,
    Partner.CAPACITY_PRACTITIONER: False,
}

WITHOUT_CONSENT = [ConsentState.REFUSED, ConsentState.NOT_ASKED]


def test_table_covers_every_partner() -> None:
    assert set(EMERGENCY_INTERVENTION) == set(Partner)


@pytest.mark.parametrize(
    ("partner", "expected"), list(EMERGENCY_INTERVENTION.items()), ids=lambda v: str(v)
)
def test_emergency_intervention_partners(partner: Partner, expected: bool) -> None:
    assert (partner in EMERGENCY_INTERVENTION_PARTNERS) is expected


@pytest.mark.parametrize(
    ("partner", "immediate_danger"),
    list(itertools.product(Partner, (False, True))),
    ids=lambda v: str(v) if isinstance(v, Partner) else ("danger" if v else "no-danger"),
)
def test_explicit_consent_shares_with_any_partner_on_consent(
    partner: Partner, immediate_danger: bool
) -> None:
    decision = consent_gate(
        partner=partner, consent=ConsentState.GIVEN, immediate_danger=immediate_danger
    )
    assert decision == Share(ReferralBasis.CONSENT, override_reason=None)


@pytest.mark.parametrize(
    ("partner", "consent", "reason_word"),
    [
        pytest.param(p, c, w, id=f"{p}-{c}")
        for p in Partner
        for c, w in ((ConsentState.REFUSED, "refused"), (ConsentState.NOT_ASKED, "not yet asked"))
    ],
)
def test_without_consent_or_danger_nothing_is_shared(
    partner: Partner, consent: ConsentState, reason_word: str
) -> None:
    decision = consent_gate(partner=partner, consent=consent, immediate_danger=False)
    assert isinstance(decision, Withhold)
    assert "3.5.2" in decision.reason
    assert reason_word in decision.reason


@pytest.mark.parametrize(
    ("partner", "consent"),
    [pytest.param(p, c, id=f"{p}-{c}") for p in Partner for c in WITHOUT_CONSENT],
)
def test_immediate_danger_overrides_only_for_emergency_intervention(
    partner: Partner, consent: ConsentState
) -> None:
    decision = consent_gate(partner=partner, consent=consent, immediate_danger=True)
    if EMERGENCY_INTERVENTION[partner]:
        assert isinstance(decision, Share)
        assert decision.basis is ReferralBasis.IMMEDIATE_HARM_OVERRIDE
        # The override records why (who and when are recorded by the handler).
        assert decision.override_reason
        assert "immediate danger" in decision.override_reason
        assert "3.5.2" in decision.override_reason
    else:
        assert isinstance(decision, Withhold)
        assert "3.5.2" in decision.reason


@pytest.mark.parametrize(
    ("partner", "consent", "danger", "expected"),
    [
        pytest.param(
            Partner.STOP_HATE_UK,
            ConsentState.REFUSED,
            True,
            Withhold("survivor refused consent to share with partners (3.5.2)"),
            id="stop-hate-uk-refused-in-danger-withheld",
        ),
        pytest.param(
            Partner.SURVIVOR_SUPPORT,
            ConsentState.NOT_ASKED,
            True,
            Withhold("consent to share with partners not yet asked (3.5.2)"),
            id="survivor-support-not-asked-in-danger-withheld",
        ),
        pytest.param(
            Partner.POLICE,
            ConsentState.REFUSED,
            False,
            Withhold("survivor refused consent to share with partners (3.5.2)"),
            id="police-refused-no-danger-withheld",
        ),
        pytest.param(
            Partner.POLICE,
            ConsentState.REFUSED,
            True,
            Share(
                ReferralBasis.IMMEDIATE_HARM_OVERRIDE,
                "survivor in immediate danger; emergency intervention required (3.5.2)",
            ),
            id="police-refused-in-danger-overridden",
        ),
        pytest.param(
            Partner.FIRE_AUTHORITY,
            ConsentState.GIVEN,
            True,
            Share(ReferralBasis.CONSENT),
            id="fire-consent-given-in-danger-no-override",
        ),
        pytest.param(
            Partner.STOP_HATE_UK,
            ConsentState.GIVEN,
            False,
            Share(ReferralBasis.CONSENT),
            id="stop-hate-uk-consent-given",
        ),
    ],
)
def test_consent_gate_examples(
    partner: Partner, consent: ConsentState, danger: bool, expected: Share | Withhold
) -> None:
    assert consent_gate(partner=partner, consent=consent, immediate_danger=danger) == expected


def test_override_names_who_decided() -> None:
    assert OVERRIDE_RECORDED_BY.strip()
