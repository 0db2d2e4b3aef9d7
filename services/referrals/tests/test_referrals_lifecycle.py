"""A referral's lifecycle against policy 3.5.2 and 3.6. Pure: no I/O.

The consent gate: explicit consent makes a referral ready; without it, only a partner
with a lawful basis to be told without consent, for a survivor in immediate danger, gets
an override *proposed* (a named member of staff makes it). Values the vocabulary does not
know are decided on the side of confidentiality (3.5.1)."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from hhc_contracts.vocabulary import ConsentState, PartnerKind, ReferralBasis, ReferralStatus
from hhc_referrals.lifecycle import (
    NOT_YET_SENT,
    OPEN_STATUSES,
    TRANSITIONS,
    Chase,
    Opening,
    Step,
    chase_due,
    consent_for,
    joins_open_referral,
    next_status,
    open_referral,
)

S = ReferralStatus
NEW_CONSENT = ConsentState("given_verbally")
READY = Opening(S.READY, ReferralBasis.CONSENT)


@pytest.mark.parametrize(
    ("immediate_danger", "may_share_without_consent"),
    list(itertools.product((False, True), (False, True))),
)
def test_consent_given_makes_it_ready_whatever_else(
    immediate_danger: bool, may_share_without_consent: bool
) -> None:
    opening = open_referral(
        consent=ConsentState.GIVEN,
        immediate_danger=immediate_danger,
        may_share_without_consent=may_share_without_consent,
    )
    assert opening == READY


@pytest.mark.parametrize("consent", [ConsentState.REFUSED, ConsentState.NOT_ASKED, NEW_CONSENT])
@pytest.mark.parametrize(
    ("immediate_danger", "may_share_without_consent", "proposed"),
    [(True, True, True), (True, False, False), (False, True, False), (False, False, False)],
)
def test_without_consent_nothing_is_ready_and_only_danger_proposes_an_override(
    consent: ConsentState,
    immediate_danger: bool,
    may_share_without_consent: bool,
    proposed: bool,
) -> None:
    opening = open_referral(
        consent=consent,
        immediate_danger=immediate_danger,
        may_share_without_consent=may_share_without_consent,
    )
    # The playbook never shares by itself: a decision is not a deed, and an override is
    # a named person's (3.5.2).
    assert opening.status is S.PENDING_CONSENT
    assert opening.basis is None
    assert opening.override_proposed is proposed
    assert opening.reason
    assert "3.5.2" in opening.reason


def test_consent_per_kind_of_partner_overrides_the_general_word() -> None:
    by_kind = {PartnerKind.EMERGENCY: ConsentState.GIVEN}
    assert consent_for(PartnerKind.EMERGENCY, ConsentState.REFUSED, by_kind) is ConsentState.GIVEN
    assert (
        consent_for(PartnerKind.SUPPORT_AND_ADVOCACY, ConsentState.REFUSED, by_kind)
        is ConsentState.REFUSED
    )


# The whole table, written out: any change to the lifecycle shows here.
EXPECTED = {
    (S.PENDING_CONSENT, Step.CONSENT_GIVEN): S.READY,
    (S.PENDING_CONSENT, Step.CONSENT_OVERRIDDEN): S.READY,
    (S.PENDING_CONSENT, Step.CONSENT_WITHDRAWN): S.PENDING_CONSENT,
    (S.READY, Step.CONSENT_WITHDRAWN): S.WITHDRAWN,
    (S.READY, Step.DELIVERED): S.SENT,
    (S.READY, Step.CONFIRMED_BY_STAFF): S.SENT,
    (S.SENT, Step.ACKNOWLEDGED): S.ACKNOWLEDGED,
    (S.SENT, Step.ACCEPTED): S.ACCEPTED,
    (S.SENT, Step.DECLINED): S.DECLINED,
    (S.ACKNOWLEDGED, Step.ACCEPTED): S.ACCEPTED,
    (S.ACKNOWLEDGED, Step.DECLINED): S.DECLINED,
    (S.ACCEPTED, Step.CLOSED): S.CLOSED,
    (S.DECLINED, Step.CLOSED): S.CLOSED,
    (S.WITHDRAWN, Step.CLOSED): S.CLOSED,
}


@pytest.mark.parametrize(
    ("status", "step"), list(itertools.product(S, Step)), ids=lambda value: str(value)
)
def test_transitions(status: ReferralStatus, step: Step) -> None:
    assert next_status(status, step) == EXPECTED.get((status, step))


def test_table_is_the_expected_one() -> None:
    assert dict(TRANSITIONS) == EXPECTED


@pytest.mark.parametrize("status", [S.SENT, S.ACKNOWLEDGED, S.ACCEPTED, S.DECLINED, S.CLOSED])
def test_what_was_sent_cannot_be_withdrawn_or_sent_again(status: ReferralStatus) -> None:
    for step in (Step.CONSENT_WITHDRAWN, Step.DELIVERED, Step.CONFIRMED_BY_STAFF):
        assert next_status(status, step) is None


def test_only_pending_and_ready_are_not_yet_sent() -> None:
    assert {S.PENDING_CONSENT, S.READY} == NOT_YET_SENT
    assert NOT_YET_SENT < OPEN_STATUSES
    assert S.DECLINED not in OPEN_STATUSES
    assert S.WITHDRAWN not in OPEN_STATUSES


SENT_AT = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)


@pytest.mark.parametrize(
    ("status", "minutes", "chased", "escalated", "expected"),
    [
        (S.SENT, 14, False, False, None),
        (S.SENT, 15, False, False, Chase("chased")),
        (S.SENT, 29, True, False, None),
        (S.SENT, 30, True, False, Chase("escalated")),
        (S.SENT, 45, True, True, None),
        (S.ACKNOWLEDGED, 60, False, False, None),
        (S.READY, 60, False, False, None),
    ],
)
def test_unacknowledged_referrals_are_chased_then_escalated(
    status: ReferralStatus, minutes: int, chased: bool, escalated: bool, expected: Chase | None
) -> None:
    now = SENT_AT + timedelta(minutes=minutes)
    assert (
        chase_due(
            status=status,
            sent_at=SENT_AT,
            acknowledge_within=WINDOW,
            deadline_scale=1.0,
            chased_at=now if chased else None,
            escalated_at=now if escalated else None,
            now=now,
        )
        == expected
    )


@pytest.mark.parametrize(
    ("status", "kind", "immediate_danger", "joins"),
    [
        (S.PENDING_CONSENT, PartnerKind.EMERGENCY, True, True),
        (S.READY, PartnerKind.EMERGENCY, True, True),
        (S.SENT, PartnerKind.EMERGENCY, True, False),  # a new danger, a new call (3.3.1)
        (S.SENT, PartnerKind.EMERGENCY, False, True),
        (S.SENT, PartnerKind.SUPPORT_AND_ADVOCACY, True, True),
        (S.ACKNOWLEDGED, PartnerKind.STATUTORY, False, True),
        (S.ACCEPTED, PartnerKind.HOUSING, False, True),
        (S.DECLINED, PartnerKind.HOUSING, False, False),
        (S.WITHDRAWN, PartnerKind.HOUSING, False, False),
        (S.CLOSED, PartnerKind.STATUTORY, False, False),
        (S.SENT, None, True, True),
    ],
)
def test_a_further_action_joins_the_open_referral_unless_it_is_a_new_emergency(
    status: ReferralStatus, kind: PartnerKind | None, immediate_danger: bool, joins: bool
) -> None:
    assert joins_open_referral(status, kind, immediate_danger=immediate_danger) is joins
