"""Enforcement's rules on values the vocabulary does not know, as a newer producer may
send them: enforcement needs strong evidence of who is responsible (2.5), so unknown
values lead to none. Pure: no I/O."""

import uuid

import pytest

from hhc_contracts.vocabulary import (
    ActionKind,
    Classification,
    EnforcementRoute,
    EnforcementStep,
    EvidenceLevel,
    Executor,
    PerpetratorKind,
    Track,
)
from hhc_enforcement.evidence import meets
from hhc_enforcement.ladder import allowed_next, routes_for
from hhc_enforcement.rules import Admission, Known, Naming, admission, answers, is_request, namings

P = PerpetratorKind
NEW_PERPETRATOR = P("contractor_of_partner")
NEW_ACTION = ActionKind("community_protection_notice")
NEW_TRACK = Track("neighbourhood_mediation")
NEW_CLASSIFICATION = Classification("hate_speech")
NEW_STEP = EnforcementStep("community_protection_notice")
NEW_LEVEL = EvidenceLevel("overwhelming")


@pytest.mark.parametrize(
    ("kinds", "expected"),
    [
        pytest.param([NEW_PERPETRATOR], Admission.NONE, id="alone-none"),
        pytest.param([NEW_PERPETRATOR, P.CUSTOMER], Admission.OPEN, id="beside-a-customer"),
    ],
)
def test_an_unknown_perpetrator_kind_calls_for_no_route(
    kinds: list[PerpetratorKind], expected: Admission
) -> None:
    assert NEW_PERPETRATOR not in routes_for(kinds).values()
    allowed = admission(
        track=Track.CUSTOMER_CASE,
        classification=Classification.HARASSMENT,
        perpetrator_kinds=kinds,
        validity_confirmed=False,
    )
    assert allowed is expected


def test_an_unknown_perpetrator_kind_names_nobody_and_learns_no_kind() -> None:
    unknown_one = Known(perpetrator_id=uuid.UUID(int=1), kind=P.UNKNOWN)
    assert namings([NEW_PERPETRATOR], [unknown_one]) == []
    assert namings([NEW_PERPETRATOR, P.STAFF], []) == [Naming(P.STAFF, None)]


@pytest.mark.parametrize(
    ("track", "classification"),
    [
        pytest.param(NEW_TRACK, Classification.HATE_CRIME, id="unknown-track"),
        pytest.param(Track.CUSTOMER_CASE, NEW_CLASSIFICATION, id="unknown-classification"),
    ],
)
def test_an_unknown_track_or_classification_opens_nothing(
    track: Track, classification: Classification
) -> None:
    for confirmed in (False, True):
        allowed = admission(
            track=track,
            classification=classification,
            perpetrator_kinds=[P.CUSTOMER],
            validity_confirmed=confirmed,
        )
        assert allowed is Admission.NONE


def test_an_unknown_action_kind_is_no_request_and_answered_by_nothing() -> None:
    # No step is invented; risk escalates the open action when it is overdue.
    assert not is_request(NEW_ACTION, Executor.ENFORCEMENT)
    assert not is_request(ActionKind.EX_PARTE_INJUNCTION, Executor("courts"))
    assert not any(answers(NEW_ACTION, step) for step in EnforcementStep)


def test_an_unknown_step_answers_nothing_and_is_never_allowed() -> None:
    assert not any(answers(kind, NEW_STEP) for kind in ActionKind)
    for route in EnforcementRoute:
        assert NEW_STEP not in allowed_next(route, [NEW_STEP])
    assert allowed_next(EnforcementRoute("restorative_justice"), []) == frozenset()


def test_an_unknown_evidence_level_meets_nothing_and_is_met_by_nothing() -> None:
    for level in EvidenceLevel:
        assert not meets(NEW_LEVEL, level)
        assert not meets(level, NEW_LEVEL)
