"""Which event type lives on which topic, with which model and version."""

from dataclasses import dataclass

from pydantic import BaseModel

from hhc_contracts import v1, v2
from hhc_contracts.topics import Topic

ANY_PRODUCER = "any"
"""Producer of an event type every service publishes; the envelope names which one."""


@dataclass(frozen=True, slots=True)
class EventSpec:
    event_type: str
    version: int
    topic: Topic
    model: type[BaseModel]
    producer: str


EVENT_TYPES: dict[tuple[str, int], EventSpec] = {
    (spec.event_type, spec.version): spec
    for spec in (
        EventSpec(
            "intake.report-submitted",
            1,
            Topic.INTAKE_SUBMISSIONS,
            v1.ReportSubmitted,
            # Intake owns the inbound topic; the submitting system names itself in the
            # envelope's producer.
            "intake",
        ),
        EventSpec("intake.report-received", 1, Topic.INTAKE_CASES, v1.ReportReceived, "intake"),
        EventSpec("intake.consent-changed", 1, Topic.INTAKE_CASES, v1.ConsentChanged, "intake"),
        EventSpec("intake.case-team-changed", 1, Topic.INTAKE_CASES, v1.CaseTeamChanged, "intake"),
        EventSpec(
            "intake.case-status-changed", 1, Topic.INTAKE_CASES, v1.CaseStatusChanged, "intake"
        ),
        EventSpec(
            "intake.case-owner-assigned", 1, Topic.INTAKE_CASES, v1.CaseOwnerAssigned, "intake"
        ),
        EventSpec(
            "intake.case-track-changed", 1, Topic.INTAKE_CASES, v1.CaseTrackChanged, "intake"
        ),
        EventSpec(
            "intake.satisfaction-survey-offered",
            1,
            Topic.INTAKE_CASES,
            v1.SatisfactionSurveyOffered,
            "intake",
        ),
        EventSpec(
            "intake.satisfaction-recorded", 1, Topic.INTAKE_CASES, v1.SatisfactionRecorded, "intake"
        ),
        EventSpec("risk.risk-assessed", 1, Topic.RISK_ASSESSMENTS, v1.RiskAssessed, "risk"),
        EventSpec("risk.action-required", 1, Topic.RISK_ACTIONS, v1.ActionRequired, "risk"),
        EventSpec("risk.action-completed", 1, Topic.RISK_ACTIONS, v1.ActionCompleted, "risk"),
        EventSpec("risk.action-overdue", 1, Topic.RISK_ACTIONS, v1.ActionOverdue, "risk"),
        EventSpec("risk.action-stopped", 1, Topic.RISK_ACTIONS, v1.ActionStopped, "risk"),
        EventSpec(
            "risk.first-response-recorded", 1, Topic.RISK_ACTIONS, v1.FirstResponseRecorded, "risk"
        ),
        EventSpec("risk.escalation-notified", 1, Topic.RISK_ACTIONS, v1.EscalationNotified, "risk"),
        EventSpec(
            "risk.escalation-acknowledged",
            1,
            Topic.RISK_ACTIONS,
            v1.EscalationAcknowledged,
            "risk",
        ),
        EventSpec(
            "risk.safeguarding-alert-raised",
            1,
            Topic.RISK_SAFEGUARDING,
            v1.SafeguardingAlertRaised,
            "risk",
        ),
        EventSpec("referrals.referral-made", 1, Topic.REFERRALS, v1.ReferralMade, "referrals"),
        EventSpec(
            "referrals.referral-withheld", 1, Topic.REFERRALS, v1.ReferralWithheld, "referrals"
        ),
        EventSpec(
            "referrals.referral-updated", 1, Topic.REFERRALS, v1.ReferralUpdated, "referrals"
        ),
        EventSpec(
            "referrals.referral-status-changed",
            1,
            Topic.REFERRALS,
            v1.ReferralStatusChanged,
            "referrals",
        ),
        EventSpec(
            "referrals.rehousing-requested",
            1,
            Topic.REFERRALS,
            v1.RehousingRequested,
            "referrals",
        ),
        EventSpec(
            "referrals.exemption-decided", 1, Topic.REFERRALS, v1.ExemptionDecided, "referrals"
        ),
        EventSpec(
            "referrals.multi-agency-meeting-recorded",
            1,
            Topic.REFERRALS,
            v1.MultiAgencyMeetingRecorded,
            "referrals",
        ),
        EventSpec(
            "enforcement.case-opened",
            1,
            Topic.ENFORCEMENT_CASES,
            v1.EnforcementCaseOpened,
            "enforcement",
        ),
        EventSpec(
            "enforcement.action-taken",
            1,
            Topic.ENFORCEMENT_CASES,
            v1.EnforcementActionTaken,
            "enforcement",
        ),
        EventSpec(
            "enforcement.evidence-recorded",
            1,
            Topic.ENFORCEMENT_CASES,
            v1.EnforcementEvidenceRecorded,
            "enforcement",
        ),
        EventSpec(
            "enforcement.step-decided",
            1,
            Topic.ENFORCEMENT_CASES,
            v1.EnforcementStepDecided,
            "enforcement",
        ),
        EventSpec(
            "enforcement.hearing-scheduled",
            1,
            Topic.ENFORCEMENT_CASES,
            v1.EnforcementHearingScheduled,
            "enforcement",
        ),
        EventSpec(
            "enforcement.order-recorded",
            1,
            Topic.ENFORCEMENT_CASES,
            v1.EnforcementOrderRecorded,
            "enforcement",
        ),
        EventSpec(
            "enforcement.validity-recorded",
            1,
            Topic.ENFORCEMENT_CASES,
            v1.EnforcementValidityRecorded,
            "enforcement",
        ),
        EventSpec(
            "enforcement.reminder-due",
            1,
            Topic.ENFORCEMENT_CASES,
            v1.EnforcementReminderDue,
            "enforcement",
        ),
        EventSpec(
            "reporting.monthly-report-published",
            1,
            Topic.REPORTING_MONTHLY,
            v1.MonthlyReportPublished,
            "reporting",
        ),
        EventSpec(
            "reporting.monthly-report-published",
            2,
            Topic.REPORTING_MONTHLY_V2,
            v2.MonthlyReportPublished,
            "reporting",
        ),
        # Every service records its own audit; the envelope's producer names which.
        EventSpec("audit.access-recorded", 1, Topic.AUDIT_ACCESS, v1.AccessRecorded, ANY_PRODUCER),
        EventSpec("intake.case-erased", 1, Topic.INTAKE_CASES, v1.CaseErased, "intake"),
        EventSpec(
            "audit.retention-disposed", 1, Topic.AUDIT_ACCESS, v1.RecordsDisposed, ANY_PRODUCER
        ),
    )
}

_BY_MODEL: dict[type[BaseModel], EventSpec] = {spec.model: spec for spec in EVENT_TYPES.values()}


def event_spec(model: type[BaseModel]) -> EventSpec:
    """The spec of a payload model; a model that is not registered is a programming error."""
    return _BY_MODEL[model]


def model_for(event_type: str, version: int) -> type[BaseModel] | None:
    spec = EVENT_TYPES.get((event_type, version))
    return spec.model if spec else None
