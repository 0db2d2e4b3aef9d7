"""One example message per registered event type, all from one fictional case.

The schema generator writes these to ``contracts/examples/`` once per version and
never rewrites them, so the committed files keep what each version looked like
when it was released (golden examples); the functions here always build the
current shape. Examples fill optional fields too, so that checks based on them
see every field. Names and contact details are fictional (Ofcom drama number,
example.org).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from pydantic import BaseModel

from hhc_contracts import submission, v1, v2
from hhc_contracts.envelope import Envelope
from hhc_contracts.registry import ANY_PRODUCER, EventSpec
from hhc_contracts.vocabulary import (
    AccessibleFormat,
    ActionKind,
    AppliesTo,
    CaseStatus,
    Channel,
    Classification,
    ClosureReason,
    ConsentState,
    ContactMethod,
    DeliveryChannel,
    DisposalBasis,
    EnforcementRoute,
    EnforcementStep,
    EvidenceKind,
    EvidenceLevel,
    EvidenceStrength,
    Executor,
    IncidentCategory,
    NotificationChannel,
    Partner,
    PerceivedMotivation,
    PerpetratorKind,
    ReferralBasis,
    ReferralStatus,
    ReminderSubject,
    ReporterRole,
    RiskLevel,
    SaferFeeling,
    Track,
    Vulnerability,
)


@dataclass(frozen=True, slots=True)
class _Example:
    event_id: UUID
    occurred_at: datetime
    payload: BaseModel
    caused_by: UUID | None = None


def _at(day: int, hour: int, minute: int, second: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


CASE_ID = UUID("3f2b8c1e-6d4a-4e8f-9b2a-7c5d1e0f4a61")
REPORT_ID = UUID("0b9e7d52-1c3f-4a8e-8d6b-2f4a9c1e7b30")
ASSESSMENT_ID = UUID("c4e1a9d3-5b7f-4c2e-9a8d-1e3f5b7d9c02")
SAFEGUARDING_ACTION_ID = UUID("7a1c3e5f-9b2d-4f6a-8c0e-2d4f6a8c0e13")
HOUSING_OPTIONS_ACTION_ID = UUID("8b2d4f6a-0c3e-4a7b-9d1f-3e5a7b9d1f24")
TARGET_HARDENING_ACTION_ID = UUID("9c3e5a7b-1d4f-4b8c-8e2a-4f6b8c0e2a35")
INJUNCTION_ACTION_ID = UUID("ad4f6b8c-2e5a-4c9d-9f3b-5a7c9d1f3b46")
ALERT_ID = UUID("be5a7c9d-3f6b-4dae-8a4c-6b8dae2a4c57")
SAFEGUARDING_REFERRAL_ID = UUID("cf6b8dae-4a7c-4ebf-9b5d-7c9ebf3b5d68")
HOUSING_OPTIONS_REFERRAL_ID = UUID("d07c9ebf-5b8d-4fc0-8c6e-8daf0c4c6e79")
ENFORCEMENT_CASE_ID = UUID("e18daf0c-6c9e-4ad1-9d7f-9eb01d5d7f8a")
DECISION_ID = UUID("6cf28138-495a-4b12-9cc3-94a5b6c7d8e9")

REPORT_RECEIVED_EVENT_ID = UUID("f29eb01d-7dae-4be2-8e80-afc12e6e809b")
RISK_ASSESSED_EVENT_ID = UUID("03afc12e-8ebf-4cf3-9f91-b0d23f7f91ac")
ACTION_REQUIRED_EVENT_ID = UUID("14b0d23f-9fc0-4d04-8aa2-c1e340809abd")
SUBMITTED_EVENT_ID = UUID("25c1e451-a0d1-4e15-9bb3-d2f451919bce")
CONSENT_CHANGED_EVENT_ID = UUID("36d2f562-b1e2-4f26-8cc4-e30562a2acdf")
# The report's event id correlates every event it led to (chassis new_envelope).
CORRELATION_ID = REPORT_RECEIVED_EVENT_ID


# Built on use, one at a time, not at import: a model change that breaks one example
# then fails the checks of that event only, not every import of the generator.
_EXAMPLES: dict[type[BaseModel], Callable[[], _Example]] = {
    v1.ReportSubmitted: lambda: _Example(
        event_id=SUBMITTED_EVENT_ID,
        occurred_at=_at(3, 9, 10),
        payload=submission.ReportSubmitted(
            channel=Channel.MY_ACCOUNT,
            reporter=submission.Reporter(
                role=ReporterRole.SURVIVOR, name="Amara Okafor", contact="07700 900123"
            ),
            survivor=submission.Survivor(
                is_customer=True,
                name="Amara Okafor",
                phone="07700 900123",
                email="amara.okafor@example.org",
                tenancy_reference="T-004512",
                vulnerabilities=[Vulnerability.MENTAL_HEALTH],
                children_in_household=True,
                female_staff_requested=True,
                access=submission.AccessNeeds(
                    preferred_contact_method=ContactMethod.TEXT_MESSAGE,
                    safe_contact_method=ContactMethod.EMAIL,
                    safe_contact_times="9am to 3pm",
                    language="English",
                    accessible_formats=[AccessibleFormat.LARGE_PRINT],
                ),
            ),
            witnesses=[submission.Witness(name="J. Smith", contact="07700 900456")],
            alleged_perpetrators=[
                submission.AllegedPerpetrator(
                    kind=PerpetratorKind.CUSTOMER, description="Neighbour at number 14"
                )
            ],
            incident=submission.Incident(
                categories=[IncidentCategory.THREATS_OF_VIOLENCE, IncidentCategory.GRAFFITI],
                perceived_motivation=[PerceivedMotivation.RACE],
                description="A neighbour shouted racist threats at my door last night.",
                location="Flat 4, 12 Example Street",
                occurred_at=_at(2, 22, 40),
                ongoing=True,
            ),
            immediate_danger=True,
            consent=submission.Consent(
                share_with_partners=True,
                safe_contact=submission.SafeContact(text_message=True),
            ),
        ),
    ),
    v1.ConsentChanged: lambda: _Example(
        event_id=CONSENT_CHANGED_EVENT_ID,
        occurred_at=_at(4, 11, 0),
        caused_by=None,
        payload=v1.ConsentChanged(
            case_id=CASE_ID,
            consent_to_share=ConsentState.REFUSED,
            safe_contact_voicemail=False,
            safe_contact_text_message=True,
            safe_contact_letter=False,
            changed_at=_at(4, 11, 0),
            personal=v1.ConsentPersonalData(recorded_by="Community Safety Officer 12"),
        ),
    ),
    v1.ReportReceived: lambda: _Example(
        event_id=REPORT_RECEIVED_EVENT_ID,
        occurred_at=_at(3, 9, 14, 27),
        payload=v1.ReportReceived(
            case_id=CASE_ID,
            report_id=REPORT_ID,
            reference="HHC-2026-000123",
            further_report=False,
            channel=Channel.TELEPHONE,
            reporter_role=ReporterRole.SURVIVOR,
            survivor_is_customer=True,
            survivor_is_staff=False,
            perpetrator_kinds=[PerpetratorKind.CUSTOMER],
            categories=[IncidentCategory.THREATS_OF_VIOLENCE, IncidentCategory.GRAFFITI],
            perceived_motivation=[PerceivedMotivation.RACE],
            classification=Classification.HATE_CRIME,
            track=Track.CUSTOMER_CASE,
            track_clauses=["3.2.1", "3.3.1"],
            immediate_danger=True,
            vulnerable_adult=True,
            children_in_household=True,
            female_staff_requested=True,
            capacity_concern=False,
            consent_to_share=ConsentState.GIVEN,
            incident_occurred_at=_at(2, 22, 40),
            received_at=_at(3, 9, 14, 27),
            personal=v1.ReportPersonalData(
                survivor_name="Amara Okafor",
                survivor_phone="07700 900123",
                survivor_email="amara.okafor@example.org",
                survivor_tenancy_reference="T-004512",
                reporter_name="Amara Okafor",
                reporter_contact="07700 900123",
                description="A neighbour shouted racist threats at my door last night "
                "and sprayed graffiti on it. I am scared to leave the flat.",
                location="Flat 4, 12 Example Street",
            ),
        ),
    ),
    v1.RiskAssessed: lambda: _Example(
        event_id=RISK_ASSESSED_EVENT_ID,
        occurred_at=_at(3, 9, 14, 28),
        caused_by=REPORT_RECEIVED_EVENT_ID,
        payload=v1.RiskAssessed(
            assessment_id=ASSESSMENT_ID,
            case_id=CASE_ID,
            risk_level=RiskLevel.HIGH,
            basis="report",
            reasons=["immediate_danger", "vulnerable_adult", "children_in_household"],
            assessed_at=_at(3, 9, 14, 28),
            review_due_at=_at(10, 9, 14, 28),
        ),
    ),
    v1.ActionRequired: lambda: _Example(
        event_id=ACTION_REQUIRED_EVENT_ID,
        occurred_at=_at(3, 9, 14, 28),
        caused_by=RISK_ASSESSED_EVENT_ID,
        payload=v1.ActionRequired(
            action_id=SAFEGUARDING_ACTION_ID,
            case_id=CASE_ID,
            kind=ActionKind.SAFEGUARDING_ALERT,
            applies_to=AppliesTo.ALL_REPORTEES,
            clause="3.3.1",
            carried_out_by=Executor.REFERRALS,
            partner=Partner.ADULT_SOCIAL_SERVICES,
            due_at=_at(3, 17, 0),
            required_at=_at(3, 9, 14, 28),
            immediate_danger=True,
            consent_to_share=ConsentState.GIVEN,
        ),
    ),
    v1.ActionCompleted: lambda: _Example(
        event_id=UUID("25c1e340-a0d1-4e15-9bb3-d2f451919bce"),
        occurred_at=_at(3, 11, 2, 45),
        caused_by=ACTION_REQUIRED_EVENT_ID,
        payload=v1.ActionCompleted(
            action_id=SAFEGUARDING_ACTION_ID,
            case_id=CASE_ID,
            kind=ActionKind.SAFEGUARDING_ALERT,
            completed_at=_at(3, 11, 2, 45),
            outcome="done",
            first_response=True,
            personal=v1.ActionOutcomePersonalData(
                notes="Spoke to the duty social worker; a visit is arranged for tomorrow."
            ),
        ),
    ),
    v1.ActionOverdue: lambda: _Example(
        event_id=UUID("36d2f451-b1e2-4f26-8cc4-e30562a2acdf"),
        occurred_at=_at(6, 9, 15, 0),
        payload=v1.ActionOverdue(
            action_id=TARGET_HARDENING_ACTION_ID,
            case_id=CASE_ID,
            kind=ActionKind.TARGET_HARDENING,
            due_at=_at(6, 9, 14, 28),
            detected_at=_at(6, 9, 15, 0),
            escalated_to="manager",
        ),
    ),
    v1.SafeguardingAlertRaised: lambda: _Example(
        event_id=UUID("47e30562-c2f3-4037-9dd5-f41673b3bde0"),
        occurred_at=_at(3, 10, 5, 12),
        caused_by=ACTION_REQUIRED_EVENT_ID,
        payload=v1.SafeguardingAlertRaised(
            alert_id=ALERT_ID,
            case_id=CASE_ID,
            partner=Partner.ADULT_SOCIAL_SERVICES,
            raised_at=_at(3, 10, 5, 12),
            clause="3.3.1",
        ),
    ),
    v1.ReferralMade: lambda: _Example(
        event_id=UUID("58f41673-d304-4148-8ee6-0527849ccef1"),
        occurred_at=_at(3, 10, 5, 12),
        caused_by=ACTION_REQUIRED_EVENT_ID,
        payload=v1.ReferralMade(
            referral_id=SAFEGUARDING_REFERRAL_ID,
            case_id=CASE_ID,
            action_id=SAFEGUARDING_ACTION_ID,
            partner=Partner.ADULT_SOCIAL_SERVICES,
            basis=ReferralBasis.CONSENT,
            made_at=_at(3, 10, 5, 12),
            channel=DeliveryChannel.WEBHOOK,
            shared_fields=["case_reference", "survivor_name", "survivor_phone", "categories"],
        ),
    ),
    v1.ReferralWithheld: lambda: _Example(
        event_id=UUID("69052784-e415-4259-9ff7-1638950ddf02"),
        occurred_at=_at(3, 10, 20, 3),
        payload=v1.ReferralWithheld(
            referral_id=HOUSING_OPTIONS_REFERRAL_ID,
            case_id=CASE_ID,
            action_id=HOUSING_OPTIONS_ACTION_ID,
            partner=Partner.HOUSING_OPTIONS,
            reason="consent_refused_for_partner",
            withheld_at=_at(3, 10, 20, 3),
            seek_consent_by=_at(10, 10, 20, 3),
        ),
    ),
    v1.ReferralUpdated: lambda: _Example(
        event_id=UUID("5b8f1c2d-3e4f-4a61-9b72-c83d94ea5fb6"),
        occurred_at=_at(4, 9, 12, 5),
        payload=v1.ReferralUpdated(
            referral_id=SAFEGUARDING_REFERRAL_ID,
            case_id=CASE_ID,
            action_id=UUID("6c9a2d3e-4f5a-4b72-8c83-d94ea5fb6c07"),
            partner=Partner.ADULT_SOCIAL_SERVICES,
            status=ReferralStatus.SENT,
            updated_at=_at(4, 9, 12, 5),
        ),
    ),
    v1.ReferralStatusChanged: lambda: _Example(
        event_id=UUID("4a7e0b1c-2d3e-4f50-8a61-b72c83d94ea5"),
        occurred_at=_at(3, 11, 2, 40),
        payload=v1.ReferralStatusChanged(
            referral_id=SAFEGUARDING_REFERRAL_ID,
            case_id=CASE_ID,
            action_id=SAFEGUARDING_ACTION_ID,
            partner=Partner.ADULT_SOCIAL_SERVICES,
            status=ReferralStatus.ACKNOWLEDGED,
            previous_status=ReferralStatus.SENT,
            changed_at=_at(3, 11, 2, 40),
        ),
    ),
    v1.RehousingRequested: lambda: _Example(
        event_id=UUID("7d0b3e4f-5a6b-4c83-9d94-ea5fb6c7d8e9"),
        occurred_at=_at(5, 14, 0, 0),
        payload=v1.RehousingRequested(
            request_id=UUID("8e1c4f5a-6b7c-4d94-8ea5-fb6c7d8e9fa0"),
            case_id=CASE_ID,
            banding="emergency",
            requested_by="caseworker-12",
            requested_at=_at(5, 14, 0, 0),
            incident_count=1,
            assessment_count=1,
            police_reference_count=1,
            highest_risk_level=RiskLevel.HIGH,
            personal=v1.RehousingEvidence(
                incidents=[
                    v1.RehousingIncident(
                        occurred_at=_at(2, 21, 0),
                        received_at=_at(3, 9, 30),
                        categories=[IncidentCategory.VERBAL_ABUSE],
                        description="Shouted racist abuse at my door late at night.",
                    )
                ],
                assessments=[
                    v1.RehousingAssessment(assessed_at=_at(3, 9, 31), risk_level=RiskLevel.HIGH)
                ],
                police_references=["CAD-2211"],
            ),
        ),
    ),
    v1.ExemptionDecided: lambda: _Example(
        event_id=UUID("9f2d5a6b-7c8d-4ea5-9fb6-c7d8e9fab0b1"),
        occurred_at=_at(6, 11, 0, 0),
        payload=v1.ExemptionDecided(
            exemption_id=UUID("a03e6b7c-8d9e-4fb6-8c07-d8e9fab0c1c2"),
            case_id=CASE_ID,
            rule="rent arrears bar on transfer",
            approved=True,
            supported_by="police (multi-agency risk assessment conference)",
            requested_by="caseworker-12",
            decided_by="manager-3",
            decided_at=_at(6, 11, 0, 0),
        ),
    ),
    v1.MultiAgencyMeetingRecorded: lambda: _Example(
        event_id=UUID("b14f7c8d-9eaf-4c07-9d18-e9fab0c1d2d3"),
        occurred_at=_at(10, 16, 0, 0),
        payload=v1.MultiAgencyMeetingRecorded(
            meeting_id=UUID("c2508d9e-afb0-4d18-8e29-fab0c1d2e3e4"),
            case_id=CASE_ID,
            held_on=date(2026, 3, 10),
            agencies=["police", "adult_social_services", "landlord"],
            recorded_by="caseworker-12",
            recorded_at=_at(10, 16, 0, 0),
            personal=v1.MultiAgencyMeetingPersonalData(
                actions_agreed=["Police to visit the perpetrator", "CCTV at the entrance"]
            ),
        ),
    ),
    v1.EnforcementCaseOpened: lambda: _Example(
        event_id=UUID("7a163895-f526-436a-8a08-2749a61ee013"),
        occurred_at=_at(3, 9, 30, 0),
        caused_by=REPORT_RECEIVED_EVENT_ID,
        payload=v1.EnforcementCaseOpened(
            enforcement_case_id=ENFORCEMENT_CASE_ID,
            case_id=CASE_ID,
            perpetrator_kind=PerpetratorKind.CUSTOMER,
            route=EnforcementRoute.TENANCY_ENFORCEMENT,
            opened_at=_at(3, 9, 30, 0),
        ),
    ),
    v1.EnforcementActionTaken: lambda: _Example(
        event_id=UUID("8b2749a6-0637-447b-9b19-385ab72ff124"),
        occurred_at=_at(4, 14, 45, 0),
        payload=v1.EnforcementActionTaken(
            enforcement_case_id=ENFORCEMENT_CASE_ID,
            case_id=CASE_ID,
            action="ex_parte_injunction_requested",
            action_id=INJUNCTION_ACTION_ID,
            taken_at=_at(4, 14, 45, 0),
            step=EnforcementStep.EX_PARTE_INJUNCTION,
            decision_id=DECISION_ID,
            recorded_by="legal-officer-2",
        ),
    ),
    v1.EnforcementEvidenceRecorded: lambda: _Example(
        event_id=UUID("d3619eaf-b0c1-4e29-8f3a-0b1c2d3e4f50"),
        occurred_at=_at(3, 16, 0, 0),
        payload=v1.EnforcementEvidenceRecorded(
            evidence_id=UUID("e47a0fb0-c1d2-4f3a-9a4b-1c2d3e4f5061"),
            enforcement_case_id=ENFORCEMENT_CASE_ID,
            case_id=CASE_ID,
            kind=EvidenceKind.POLICE_REPORT,
            strength=EvidenceStrength.STRONG,
            recorded_by="legal-officer-2",
            recorded_at=_at(3, 16, 0, 0),
            evidence_level=EvidenceLevel.SUBSTANTIAL,
            personal=v1.EvidencePersonalData(
                source="Merseyside Police", reference="CRN-5521", summary="Officer's account"
            ),
        ),
    ),
    v1.EnforcementStepDecided: lambda: _Example(
        event_id=UUID("f58b1ac1-d2e3-4a4b-8b5c-2d3e4f506172"),
        occurred_at=_at(4, 14, 30, 0),
        payload=v1.EnforcementStepDecided(
            decision_id=DECISION_ID,
            enforcement_case_id=ENFORCEMENT_CASE_ID,
            case_id=CASE_ID,
            route=EnforcementRoute.TENANCY_ENFORCEMENT,
            step=EnforcementStep.EX_PARTE_INJUNCTION,
            decided_by=["legal-officer-2"],
            decided_at=_at(4, 14, 30, 0),
            evidence_level=EvidenceLevel.STRONG,
            review_due_at=_at(11, 14, 30, 0),
            target_due_at=_at(4, 9, 30, 0) + timedelta(hours=24),
            target_met=True,
            personal=v1.DecisionPersonalData(reason="Threats with a weapon; police report"),
        ),
    ),
    v1.EnforcementHearingScheduled: lambda: _Example(
        event_id=UUID("069c2bd2-e3f4-4b5c-9c6d-3e4f50617283"),
        occurred_at=_at(5, 10, 0, 0),
        payload=v1.EnforcementHearingScheduled(
            hearing_id=UUID("17ad3ce3-f405-4c6d-8d7e-4f5061728394"),
            enforcement_case_id=ENFORCEMENT_CASE_ID,
            case_id=CASE_ID,
            step=EnforcementStep.INJUNCTION,
            hearing_at=_at(18, 10, 0, 0),
            court="Liverpool County Court",
            recorded_by="legal-officer-2",
            recorded_at=_at(5, 10, 0, 0),
        ),
    ),
    v1.EnforcementOrderRecorded: lambda: _Example(
        event_id=UUID("28be4df4-0516-4d7e-9e8f-5061728394a5"),
        occurred_at=_at(18, 15, 0, 0),
        payload=v1.EnforcementOrderRecorded(
            order_id=UUID("39cf5e05-1627-4e8f-8f90-61728394a5b6"),
            enforcement_case_id=ENFORCEMENT_CASE_ID,
            case_id=CASE_ID,
            step=EnforcementStep.INJUNCTION,
            made_on=date(2026, 3, 18),
            expires_on=date(2026, 9, 18),
            recorded_by="legal-officer-2",
            recorded_at=_at(18, 15, 0, 0),
            personal=v1.OrderPersonalData(terms="Not to enter the block"),
        ),
    ),
    v1.EnforcementValidityRecorded: lambda: _Example(
        event_id=UUID("0a4b6c8d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"),
        occurred_at=_at(6, 11, 0, 0),
        payload=v1.EnforcementValidityRecorded(
            finding_id=UUID("1b5c7d9e-2f3a-4b4c-9d5e-6f7a8b9c0d1e"),
            case_id=CASE_ID,
            valid=True,
            recorded_by="caseworker-0007",
            recorded_at=_at(6, 11, 0, 0),
            personal=v1.ValidityPersonalData(reason="Two neighbours confirm the graffiti"),
        ),
    ),
    v1.EnforcementReminderDue: lambda: _Example(
        event_id=UUID("4ad06f16-2738-4f90-9aa1-728394a5b6c7"),
        occurred_at=_at(17, 10, 0, 0),
        payload=v1.EnforcementReminderDue(
            reminder_id=UUID("5be17027-3849-4a01-8bb2-8394a5b6c7d8"),
            enforcement_case_id=ENFORCEMENT_CASE_ID,
            case_id=CASE_ID,
            about=ReminderSubject.HEARING,
            due_at=_at(18, 10, 0, 0),
            detected_at=_at(17, 10, 0, 0),
        ),
    ),
    v1.MonthlyReportPublished: lambda: _Example(
        event_id=UUID("9c385ab7-1748-458c-8c2a-496bc8300235"),
        occurred_at=_at(1, 6, 0, 0, month=4),
        payload=v1.MonthlyReportPublished(
            month=date(2026, 3, 1),
            reports_received=42,
            cases_responded=40,
            median_seconds_to_first_response=5400.0,
            p90_seconds_to_first_response=19800.0,
            published_at=_at(1, 6, 0, 0, month=4),
        ),
    ),
    v1.CaseTeamChanged: lambda: _Example(
        event_id=UUID("ad496bc8-2859-469d-9d3b-5a7cd9411346"),
        occurred_at=_at(2, 10, 0, 0),
        payload=v1.CaseTeamChanged(
            case_id=CASE_ID,
            team="south",
            previous_team="north",
            changed_by="manager-0042",
            changed_at=_at(2, 10, 0, 0),
        ),
    ),
    v1.CaseStatusChanged: lambda: _Example(
        event_id=UUID("4d8e2f61-7a3b-4c5d-9e6f-708192a3b4c5"),
        occurred_at=_at(20, 16, 0, 0),
        payload=v1.CaseStatusChanged(
            case_id=CASE_ID,
            status=CaseStatus.CLOSED,
            previous_status=CaseStatus.AWAITING_CLOSURE,
            closure_reason=ClosureReason.RESOLVED,
            changed_by="caseworker-0007",
            agreed_by="manager-0042",
            risk_level=RiskLevel.HIGH,
            changed_at=_at(20, 16, 0, 0),
            personal=v1.CaseStatusPersonalData(reason_detail="Perpetrator moved away"),
        ),
    ),
    v1.CaseOwnerAssigned: lambda: _Example(
        event_id=UUID("5e9f3072-8b4c-4d6e-8f70-8192a3b4c5d6"),
        occurred_at=_at(2, 9, 45, 0),
        payload=v1.CaseOwnerAssigned(
            case_id=CASE_ID,
            owner="caseworker-0007",
            previous_owner=None,
            team="north",
            assigned_by="manager-0042",
            assigned_at=_at(2, 9, 45, 0),
        ),
    ),
    v1.CaseTrackChanged: lambda: _Example(
        event_id=UUID("6fa04183-9c5d-4e7f-9081-92a3b4c5d6e7"),
        occurred_at=_at(3, 11, 0, 0),
        payload=v1.CaseTrackChanged(
            case_id=CASE_ID,
            track=Track.CUSTOMER_CASE,
            previous_track=Track.THIRD_PARTY_DISCREET_CONTACT,
            track_clauses=["3.2.4", "3.3"],
            reporter_role=ReporterRole.SURVIVOR,
            changed_by="caseworker-0007",
            changed_at=_at(3, 11, 0, 0),
            personal=v1.TrackChangePersonalData(reason="Confirmed at the discreet contact"),
        ),
    ),
    v1.SatisfactionSurveyOffered: lambda: _Example(
        event_id=UUID("70b15294-ad6e-4f80-8192-a3b4c5d6e7f8"),
        occurred_at=_at(20, 16, 0, 5),
        payload=v1.SatisfactionSurveyOffered(
            survey_id=UUID("81c263a5-be7f-4091-92a3-b4c5d6e7f809"),
            case_id=CASE_ID,
            contact_method=ContactMethod.EMAIL,
            delivered=True,
            offered_at=_at(20, 16, 0, 5),
            expires_at=_at(20, 16, 0, 5, month=4),
        ),
    ),
    v1.SatisfactionRecorded: lambda: _Example(
        event_id=UUID("92d374b6-cf80-41a2-a3b4-c5d6e7f8091a"),
        occurred_at=_at(22, 19, 30, 0),
        payload=v1.SatisfactionRecorded(
            survey_id=UUID("81c263a5-be7f-4091-92a3-b4c5d6e7f809"),
            case_id=CASE_ID,
            handling_score=4,
            feels_safer=SaferFeeling.YES,
            answered_at=_at(22, 19, 30, 0),
        ),
    ),
    v1.ActionStopped: lambda: _Example(
        event_id=UUID("a3e485c7-d091-42b3-b4c5-d6e7f8091a2b"),
        occurred_at=_at(20, 16, 0, 1),
        payload=v1.ActionStopped(
            action_id=TARGET_HARDENING_ACTION_ID,
            case_id=CASE_ID,
            kind=ActionKind.TARGET_HARDENING,
            reason="case-closed",
            stopped_at=_at(20, 16, 0, 1),
        ),
    ),
    v1.FirstResponseRecorded: lambda: _Example(
        event_id=UUID("b4f596d8-e1a2-43c4-85d6-e7f8091a2b3c"),
        occurred_at=_at(2, 9, 12, 0),
        payload=v1.FirstResponseRecorded(
            case_id=CASE_ID,
            action_id=SAFEGUARDING_ACTION_ID,
            kind=ActionKind.VISIT_WITH_RISK_ASSESSMENT,
            responded_at=_at(2, 9, 12, 0),
            received_at=_at(2, 9, 0, 0),
        ),
    ),
    v1.EscalationNotified: lambda: _Example(
        event_id=UUID("c506a7e9-f2b3-44d5-96e7-f8091a2b3c4d"),
        occurred_at=_at(3, 9, 5, 0),
        payload=v1.EscalationNotified(
            escalation_id=UUID("d617b8fa-03c4-45e6-a7f8-091a2b3c4d5e"),
            action_id=SAFEGUARDING_ACTION_ID,
            case_id=CASE_ID,
            kind=ActionKind.VISIT_WITH_RISK_ASSESSMENT,
            recipient_role="manager",
            team="north",
            channel=NotificationChannel.EMAIL,
            attempt=1,
            notified_at=_at(3, 9, 5, 0),
        ),
    ),
    v1.EscalationAcknowledged: lambda: _Example(
        event_id=UUID("e728c90b-14d5-46f7-b809-1a2b3c4d5e6f"),
        occurred_at=_at(3, 9, 20, 0),
        payload=v1.EscalationAcknowledged(
            escalation_id=UUID("d617b8fa-03c4-45e6-a7f8-091a2b3c4d5e"),
            action_id=SAFEGUARDING_ACTION_ID,
            case_id=CASE_ID,
            acknowledged_by="manager-0042",
            acknowledged_at=_at(3, 9, 20, 0),
        ),
    ),
    v2.MonthlyReportPublished: lambda: _Example(
        event_id=UUID("f839da1c-25e6-4708-891a-2b3c4d5e6f70"),
        occurred_at=_at(1, 6, 0, 0, month=4),
        payload=v2.MonthlyReportPublished(
            month=date(2026, 3, 1),
            first_response=v2.FirstResponseTimes(
                cases_received=42,
                cases_responded=40,
                median_seconds=5400.0,
                p90_seconds=19800.0,
                share_within_24_hours=0.93,
                share_within_target_by_risk_level={"high": 0.9, "medium": None, "standard": 1.0},
            ),
            overdue_actions=None,
            by_classification={"hate_crime": 12, "hate_incident": 30},
            by_track={"customer_case": 35, "third_party_discreet_contact": 7},
            by_channel={"telephone": 20, "web_form": 18, "email": None},
            by_perceived_motivation={"race": 19, "religion": 9, "disability": None},
            by_risk_level={"high": 10, "medium": None, "standard": 28},
            referrals_by_partner_and_outcome={"police": {"accepted": 9, "declined": None}},
            enforcement_steps_taken={"warning_letter": 6},
            cases_closed_by_reason={"resolved": 22, "survivor_withdrew": None},
            satisfaction=v2.SatisfactionScores(
                responses=14,
                mean_handling_score=4.1,
                share_feeling_safer=0.71,
                by_handling_score={"5": 6, "4": 5, "3": None},
            ),
            tenant_satisfaction_measures=v2.TenantSatisfactionMeasures(
                homes=12000,
                asb_cases=42,
                asb_cases_per_1000_homes=3.5,
                hate_incident_cases=42,
                hate_incident_cases_per_1000_homes=3.5,
            ),
            published_at=_at(1, 6, 0, 0, month=4),
        ),
    ),
    v1.AccessRecorded: lambda: _Example(
        event_id=UUID("be5a7cd9-396a-47ae-8e4c-6b8dea522457"),
        occurred_at=_at(2, 11, 0, 0),
        payload=v1.AccessRecorded(
            audit_id=17,
            service="intake",
            subject="caseworker-0007",
            roles=["caseworker"],
            team="north",
            case_id=CASE_ID,
            operation="GET /v1/cases/{case_id}",
            fields=["reports", "consent_history"],
            outcome="granted",
            recorded_at=_at(2, 11, 0, 0),
            request_id="4bf92f3577b34da6",
            trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
            record_hash="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        ),
    ),
    v1.CaseErased: lambda: _Example(
        event_id=UUID("5b0c3f0e-8f5a-4d59-9a57-0d7a2f1c6e31"),
        occurred_at=_at(3, 9, 30, 0),
        payload=v1.CaseErased(
            case_id=CASE_ID, basis=DisposalBasis.SUBJECT_REQUEST, erased_at=_at(3, 9, 30, 0)
        ),
    ),
    v1.RecordsDisposed: lambda: _Example(
        event_id=UUID("0f6e4d2b-3c1a-4b8e-9d7f-2a5c6b8e1f40"),
        occurred_at=_at(3, 9, 30, 5),
        payload=v1.RecordsDisposed(
            service="risk",
            case_id=CASE_ID,
            basis=DisposalBasis.SUBJECT_REQUEST,
            counts={"action_notes": 3},
            disposed_at=_at(3, 9, 30, 5),
        ),
    ),
}


def _example(spec: EventSpec) -> _Example:
    try:
        build = _EXAMPLES[spec.model]
    except KeyError:
        raise LookupError(
            f"no example for {spec.event_type} v{spec.version}: add one to hhc_contracts.examples"
        ) from None
    return build()


def example_message(spec: EventSpec) -> Envelope:
    """The whole message, wrapped the way the chassis wraps outgoing events."""
    example = _example(spec)
    payload = example.payload
    case_id: UUID | None = getattr(payload, "case_id", None)
    return Envelope(
        event_id=example.event_id,
        event_type=spec.event_type,
        schema_version=spec.version,
        producer="intake" if spec.producer == ANY_PRODUCER else spec.producer,
        case_id=case_id,
        occurred_at=example.occurred_at,
        # An event about no case starts its own correlation, as the chassis does.
        correlation_id=CORRELATION_ID if case_id else example.event_id,
        causation_id=example.caused_by,
        payload=payload.model_dump(mode="json"),
    )
