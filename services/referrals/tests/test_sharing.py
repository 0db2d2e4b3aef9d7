"""The sharing rules against policy 3.5.2: a partner is given the fields of the case its
entry allows that have a value, and nothing else; the account of the incident reaches only
partners whose work needs it; without consent only partners with a lawful basis for it
are told anything."""

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from hhc_contracts.v1 import ReportPersonalData, ReportReceived
from hhc_contracts.vocabulary import (
    AccessibleFormat,
    Channel,
    Classification,
    ConsentState,
    ContactMethod,
    IncidentCategory,
    Partner,
    PerceivedMotivation,
    PerpetratorKind,
    ReferralBasis,
    ReporterRole,
    Track,
)
from hhc_referrals.catalogue import PartnerEntry, load_catalogue
from hhc_referrals.sharing import (
    CASE_DETAIL_FIELDS,
    HEADER_FIELDS,
    NARRATIVE,
    PERSONAL_DETAIL_FIELDS,
    SharingRefused,
    case_details,
    share,
)

REFERRAL_ID = uuid.UUID("6f1d2a8e-3b7c-4d5e-9f01-23456789abcd")
CATALOGUE = load_catalogue(None)


def report(**personal: Any) -> ReportReceived:
    return ReportReceived(
        case_id=uuid.uuid4(),
        report_id=uuid.uuid4(),
        reference="HHC-2026-000123",
        channel=Channel.TELEPHONE,
        reporter_role=ReporterRole.THIRD_PARTY,
        survivor_is_customer=True,
        perpetrator_kinds=[PerpetratorKind.CUSTOMER],
        categories=[IncidentCategory.THREATS_OF_VIOLENCE, IncidentCategory.GRAFFITI],
        perceived_motivation=[PerceivedMotivation.RACE],
        classification=Classification.HATE_CRIME,
        track=Track.CUSTOMER_CASE,
        immediate_danger=True,
        vulnerable_adult=True,
        children_in_household=True,
        capacity_concern=True,
        ongoing=True,
        consent_to_share=ConsentState.GIVEN,
        incident_occurred_at=datetime(2026, 3, 2, 22, 40, tzinfo=UTC),
        received_at=datetime(2026, 3, 3, 9, 14, 27, tzinfo=UTC),
        personal=ReportPersonalData(**personal),
    )


FULL = case_details(
    report(
        survivor_name="Amara Okafor",
        survivor_phone="07700 900123",
        survivor_email="amara@example.org",
        survivor_tenancy_reference="T-004512",
        reporter_name="Reporting Neighbour",
        reporter_contact="07700 900999",
        witnesses=["A Witness, 07700 900555"],
        description="A neighbour shouted threats at my door and sprayed graffiti on it.",
        location="Flat 4, 12 Example Street",
        safe_contact_method=ContactMethod.TEXT_MESSAGE,
        safe_contact_times="weekdays after 6pm",
        language="Somali",
        interpreter_needed=True,
        british_sign_language=True,
        accessible_formats=[AccessibleFormat.LARGE_PRINT],
    )
)
"""Every field of the case with a value."""

EMPTY = case_details(report(interpreter_needed=False, british_sign_language=False))
"""The case with no personal data at all, as intake says it: no names, no contacts, no
interpreter needed."""

WITHHELD = case_details(report())
"""A report whose personal part never came (its case's key destroyed: erased, 3.5.2)."""


def entry_of(partner: Partner) -> PartnerEntry:
    found = CATALOGUE.get(partner)
    assert found is not None
    return found


# --- the case's fields -------------------------------------------------------------------


def test_case_details_are_exactly_the_named_fields_and_json() -> None:
    assert list(FULL) == list(CASE_DETAIL_FIELDS)
    assert json.loads(json.dumps(FULL)) == FULL
    assert FULL["categories"] == ["threats_of_violence", "graffiti"]
    assert FULL["safe_contact_method"] == "text_message"
    assert FULL["classification"] == "hate_crime"
    assert FULL["accessible_formats"] == ["large_print"]
    assert FULL["incident_occurred_at"] == "2026-03-02T22:40:00+00:00"
    assert FULL["case_reference"] == "HHC-2026-000123"


def test_every_case_field_has_a_value_in_the_full_case() -> None:
    # Else the table tests below could pass by a field being empty.
    assert all(FULL[name] not in (None, "", []) for name in CASE_DETAIL_FIELDS)


@pytest.mark.parametrize("name", ["reporter_name", "reporter_contact", "witnesses"])
def test_third_parties_details_are_no_case_field(name: str) -> None:
    # A referral is about the survivor: a reporter's or witness's details go to no one.
    assert name not in CASE_DETAIL_FIELDS
    assert name not in FULL


def test_an_unrecognised_vocabulary_value_is_passed_as_received() -> None:
    details = case_details(report(safe_contact_method=ContactMethod("signal_message")))
    assert details["safe_contact_method"] == "signal_message"


# --- what each partner is given ----------------------------------------------------------


@pytest.mark.parametrize("partner", list(Partner), ids=str)
def test_each_partner_gets_exactly_its_allowed_fields(partner: Partner) -> None:
    entry = entry_of(partner)
    shared = share(entry, FULL, referral_id=REFERRAL_ID, basis=ReferralBasis.CONSENT)
    assert set(shared.fields) == entry.allowed_fields
    details = shared.document["details"]
    assert isinstance(details, dict)
    assert set(details) == entry.allowed_fields
    assert all(details[name] == FULL[name] for name in details)
    assert set(shared.document) == {*HEADER_FIELDS, "details"}
    json.dumps(shared.document)


def test_fields_outside_the_named_ones_never_go() -> None:
    everything = dict(FULL, reporter_name="Reporting Neighbour", team="north")
    for partner in Partner:
        shared = share(
            entry_of(partner), everything, referral_id=REFERRAL_ID, basis=ReferralBasis.CONSENT
        )
        assert "Reporting Neighbour" not in json.dumps(shared.document)
        assert "north" not in json.dumps(shared.document)


@pytest.mark.parametrize("partner", list(Partner), ids=str)
def test_a_field_without_a_value_is_not_shared(partner: Partner) -> None:
    entry = entry_of(partner)
    blank = dict(EMPTY, survivor_name="  ", safe_contact_times="")
    shared = share(entry, blank, referral_id=REFERRAL_ID, basis=ReferralBasis.CONSENT)
    details = shared.document["details"]
    assert isinstance(details, dict)
    assert set(shared.fields) == set(details)
    for name in ("survivor_name", "survivor_phone", "safe_contact_times", "description"):
        assert name not in shared.fields
    assert "accessible_formats" not in shared.fields  # an empty list is no value
    # False is a value: "no interpreter needed" is worth knowing.
    assert ("interpreter_needed" in shared.fields) == ("interpreter_needed" in entry.allowed_fields)
    assert details.get("interpreter_needed", False) is False


def test_a_personal_part_that_never_came_says_nothing_of_the_survivor() -> None:
    # Its defaults are no facts: "no interpreter needed" is not passed on for a report
    # whose personal part was withheld. The case is still referred, by its reference.
    assert all(WITHHELD[name] is None for name in PERSONAL_DETAIL_FIELDS)
    assert WITHHELD["case_reference"] == "HHC-2026-000123"
    for partner in Partner:
        shared = share(
            entry_of(partner), WITHHELD, referral_id=REFERRAL_ID, basis=ReferralBasis.CONSENT
        )
        assert not set(shared.fields) & set(PERSONAL_DETAIL_FIELDS)
        assert "case_reference" in shared.fields


def test_fields_listed_in_case_order() -> None:
    shared = share(
        entry_of(Partner.POLICE), FULL, referral_id=REFERRAL_ID, basis=ReferralBasis.CONSENT
    )
    assert list(shared.fields) == [n for n in CASE_DETAIL_FIELDS if n in shared.fields]


# The account of the incident goes only where the work needs it: the police to record and
# investigate, Social Services to raise a safeguarding alert (3.3.1). A support agency
# hears it from the survivor.
NARRATIVE_ALLOWED = {
    Partner.POLICE,
    Partner.ADULT_SOCIAL_SERVICES,
    Partner.CHILDRENS_SOCIAL_SERVICES,
}


@pytest.mark.parametrize("partner", list(Partner), ids=str)
def test_the_narrative_reaches_only_partners_allowed_it(partner: Partner) -> None:
    shared = share(entry_of(partner), FULL, referral_id=REFERRAL_ID, basis=ReferralBasis.CONSENT)
    allowed = partner in NARRATIVE_ALLOWED
    assert (NARRATIVE in shared.fields) is allowed
    assert (str(FULL[NARRATIVE]) in json.dumps(shared.document)) is allowed


SUPPORT_AND_ADVOCACY = [
    Partner.STOP_HATE_UK,
    Partner.SURVIVOR_SUPPORT,
    Partner.ANTHONY_WALKER_FOUNDATION,
]


@pytest.mark.parametrize("partner", SUPPORT_AND_ADVOCACY, ids=str)
def test_support_agencies_get_contact_needs_and_motivation_only(partner: Partner) -> None:
    assert entry_of(partner).allowed_fields == {
        "case_reference",
        "survivor_name",
        "survivor_phone",
        "survivor_email",
        "safe_contact_method",
        "safe_contact_times",
        "language",
        "interpreter_needed",
        "british_sign_language",
        "accessible_formats",
        "categories",
        "perceived_motivation",
    }


def test_emergency_services_get_what_a_999_call_needs() -> None:
    assert entry_of(Partner.EMERGENCY_SERVICES).allowed_fields == {
        "case_reference",
        "survivor_name",
        "survivor_phone",
        "location",
        "immediate_danger",
        "categories",
        "vulnerable_adult",
        "children_in_household",
        "language",
        "interpreter_needed",
        "british_sign_language",
    }


# --- sharing without consent (3.5.2) -----------------------------------------------------

LAWFUL_BASIS_WITHOUT_CONSENT = {
    Partner.EMERGENCY_SERVICES: "vital_interests",
    Partner.POLICE: "vital_interests",
    Partner.FIRE_AUTHORITY: "vital_interests",
    Partner.ADULT_SOCIAL_SERVICES: "vital_interests",
    Partner.CHILDRENS_SOCIAL_SERVICES: "vital_interests",
    Partner.HOUSING_OPTIONS: None,
    Partner.STOP_HATE_UK: None,
    Partner.SURVIVOR_SUPPORT: None,
    Partner.ANTHONY_WALKER_FOUNDATION: None,
    Partner.INDEPENDENT_LIVING_SERVICE: None,
    Partner.CAPACITY_PRACTITIONER: None,
}


def test_lawful_basis_table_covers_every_partner() -> None:
    assert set(LAWFUL_BASIS_WITHOUT_CONSENT) == set(Partner)


@pytest.mark.parametrize(("partner", "basis"), LAWFUL_BASIS_WITHOUT_CONSENT.items(), ids=str)
def test_lawful_basis_without_consent(partner: Partner, basis: str | None) -> None:
    assert entry_of(partner).lawful_basis_without_consent == basis


@pytest.mark.parametrize(("partner", "basis"), LAWFUL_BASIS_WITHOUT_CONSENT.items(), ids=str)
def test_override_shares_only_with_a_lawful_basis(partner: Partner, basis: str | None) -> None:
    entry = entry_of(partner)
    if basis is None:
        with pytest.raises(SharingRefused):
            share(entry, FULL, referral_id=REFERRAL_ID, basis=ReferralBasis.IMMEDIATE_HARM_OVERRIDE)
        return
    shared = share(
        entry, FULL, referral_id=REFERRAL_ID, basis=ReferralBasis.IMMEDIATE_HARM_OVERRIDE
    )
    assert shared.document["basis"] == "immediate_harm_override"
    assert shared.document["lawful_basis"] == basis
    assert set(shared.fields) == entry.allowed_fields


def test_an_unknown_basis_is_not_consent() -> None:
    with pytest.raises(SharingRefused):
        share(
            entry_of(Partner.STOP_HATE_UK),
            FULL,
            referral_id=REFERRAL_ID,
            basis=ReferralBasis("implied_consent"),
        )


def test_header_names_referral_partner_basis_and_agreement() -> None:
    entry = entry_of(Partner.STOP_HATE_UK)
    shared = share(entry, FULL, referral_id=REFERRAL_ID, basis=ReferralBasis.CONSENT)
    header = {k: v for k, v in shared.document.items() if k != "details"}
    assert header == {
        "referral_id": str(REFERRAL_ID),
        "partner": "stop_hate_uk",
        "basis": "consent",
        "lawful_basis": None,
        "sharing_agreement": entry.sharing_agreement,
    }
    assert entry.sharing_agreement


# --- the catalogue's allowed fields ------------------------------------------------------


@pytest.mark.parametrize("unknown", ["reporter_name", "witnesses", "survivor_nmae", ""])
def test_unknown_field_names_are_refused(unknown: str) -> None:
    with pytest.raises(ValidationError) as raised:
        PartnerEntry.model_validate(
            {
                "id": "stop_hate_uk",
                "name": "Stop Hate UK",
                "kind": "support_and_advocacy",
                "channel": "email",
                "email": "referrals@stop-hate-uk.example",
                "allowed_fields": ["case_reference", unknown],
                "acknowledge_within": "P5D",
            }
        )
    assert [error["loc"] for error in raised.value.errors()] == [("allowed_fields",)]
