"""Version 1 payloads of every event in the flow (design.md, "Shape").

Rules for evolving them (style.md, "Schema evolution"): within v1 only add
optional fields with defaults, and enum values; consumers ignore unknown fields and
keep unknown enum values as received (``vocabulary.OpenEnum``), deciding on them by
their safe defaults; anything else is a v2 published side by side. Personal data
always sits in a ``personal`` sub-object so that it can be minimised, encrypted or
dropped by consumers that must not keep it (reporting keeps none).
"""

from datetime import date
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

# The inbound submission is part of v1 too; it lives in its own module (it is a command,
# and refuses unknown fields).
from hhc_contracts.submission import ReportSubmitted as ReportSubmitted
from hhc_contracts.vocabulary import (
    AccessibleFormat,
    ActionKind,
    AppliesTo,
    CaseStatus,
    Channel,
    Classification,
    ClosureReason,
    ConsentGiver,
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
    PartnerKind,
    PerceivedMotivation,
    PerpetratorKind,
    ReferralBasis,
    ReferralStatus,
    RelatedPolicy,
    ReminderSubject,
    ReporterRole,
    RiskLevel,
    SaferFeeling,
    Track,
)


class Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, use_enum_values=False)


class ReportPersonalData(Payload):
    """Who and what, in the reporter's words: personal data (policy 3.5)."""

    survivor_name: str | None = None
    survivor_phone: str | None = None
    survivor_email: str | None = None
    survivor_tenancy_reference: str | None = None
    reporter_name: str | None = None
    reporter_contact: str | None = None
    description: str | None = None
    location: str | None = None
    witnesses: list[str] = Field(default_factory=list, description="Names and contacts")
    preferred_contact_method: ContactMethod | None = None
    safe_contact_method: ContactMethod | None = None
    safe_contact_times: str | None = None
    language: str | None = None
    interpreter_needed: bool = False
    british_sign_language: bool = False
    accessible_formats: list[AccessibleFormat] = Field(default_factory=list)


class ReportReceived(Payload):
    """intake.report-received: a report was accepted and a case opened or joined."""

    case_id: UUID
    report_id: UUID
    reference: str = Field(description="Human-readable case reference, e.g. HHC-2026-000123.")
    further_report: bool = Field(
        default=False, description="True when the report joined an already open case."
    )
    channel: Channel
    reporter_role: ReporterRole
    survivor_is_customer: bool
    survivor_is_staff: bool = False
    perpetrator_kinds: list[PerpetratorKind]
    categories: list[IncidentCategory] = Field(min_length=1)
    perceived_motivation: list[PerceivedMotivation] = Field(default_factory=list)
    classification: Classification
    track: Track
    track_clauses: list[str] = Field(default_factory=list)
    immediate_danger: bool
    vulnerable_adult: bool = False
    children_in_household: bool = False
    female_staff_requested: bool = False
    capacity_concern: bool = False
    ongoing: bool = Field(default=False, description="The behaviour is continuing or repeated.")
    consent_to_share: ConsentState = Field(
        description="The case's consent after this report (a report silent on it leaves it)."
    )
    consent_by_partner_kind: dict[PartnerKind, ConsentState] = Field(
        default_factory=dict,
        description="Consent per kind of partner where it differs from consent_to_share.",
    )
    consent_given_by: ConsentGiver | None = None
    related_policy: RelatedPolicy | None = Field(
        default=None, description="Cross-referred to that policy (1.2)"
    )
    reporter_receives_feedback: bool = Field(
        default=True, description="False for third-party and anonymous reporters (3.2.3)"
    )
    incident_occurred_at: AwareDatetime | None = None
    received_at: AwareDatetime
    team: str = Field(
        default="", description="Team the case belongs to, from the report's area at intake."
    )
    taken_by: str | None = Field(
        default=None, description="Subject (staff account id) who took the report, if staff did."
    )
    linked_case_id: UUID | None = Field(
        default=None,
        description="A closed case this new one follows on from: a further report made "
        "after the reopening window opens a new case linked to the old one.",
    )
    personal: ReportPersonalData = Field(default_factory=ReportPersonalData)


class CaseTeamChanged(Payload):
    """intake.case-team-changed: a manager moved the case to another team."""

    case_id: UUID
    team: str
    previous_team: str
    changed_by: str = Field(description="Subject (staff account id) of the manager.")
    changed_at: AwareDatetime


class CaseStatusPersonalData(Payload):
    reason_detail: str | None = Field(
        default=None, description="Why, in staff's words (required for no further action)."
    )


class CaseStatusChanged(Payload):
    """intake.case-status-changed: a case moved along its lifecycle. Closing stops the
    case's clocks; reopening starts them again."""

    case_id: UUID
    status: CaseStatus
    previous_status: CaseStatus
    closure_reason: ClosureReason | None = Field(
        default=None, description="Set when ``status`` is closed."
    )
    changed_by: str = Field(description="Subject of the member of staff, or 'intake'.")
    agreed_by: str | None = Field(
        default=None, description="The manager who agreed the closure of a high-risk case."
    )
    risk_level: RiskLevel | None = Field(
        default=None, description="The case's newest risk level when its status changed."
    )
    changed_at: AwareDatetime
    personal: CaseStatusPersonalData = Field(default_factory=CaseStatusPersonalData)


class CaseOwnerAssigned(Payload):
    """intake.case-owner-assigned: the member of staff who owns a case now."""

    case_id: UUID
    owner: str = Field(description="Subject (staff account id) of the owner.")
    previous_owner: str | None = None
    team: str
    assigned_by: str
    assigned_at: AwareDatetime


class TrackChangePersonalData(Payload):
    reason: str | None = None


class CaseTrackChanged(Payload):
    """intake.case-track-changed: a report turned out otherwise (3.2.4, 3.2.5): a
    third-party or witness report confirmed by the survivor, or an anonymous report
    found valid. Risk plans the support of the new track."""

    case_id: UUID
    track: Track
    previous_track: Track
    track_clauses: list[str] = Field(default_factory=list)
    reporter_role: ReporterRole = Field(description="Whose report the case now counts as.")
    changed_by: str
    changed_at: AwareDatetime
    personal: TrackChangePersonalData = Field(default_factory=TrackChangePersonalData)


class SatisfactionSurveyOffered(Payload):
    """intake.satisfaction-survey-offered: the survivor was offered the survey (5.1)
    through their safe contact method; ``delivered`` says whether it reached them or a
    member of staff must pass it on."""

    survey_id: UUID
    case_id: UUID
    contact_method: ContactMethod | None = None
    delivered: bool
    offered_at: AwareDatetime
    expires_at: AwareDatetime


class SatisfactionRecorded(Payload):
    """intake.satisfaction-recorded: the survivor's answers, scores only (5.1). Free
    text stays with intake, apart from the case's file."""

    survey_id: UUID
    case_id: UUID
    handling_score: int = Field(ge=1, le=5, description="1 very dissatisfied .. 5 very satisfied")
    feels_safer: SaferFeeling
    answered_at: AwareDatetime


class ConsentPersonalData(Payload):
    recorded_by: str | None = None


class ConsentChanged(Payload):
    """intake.consent-changed: the survivor's consent to share was recorded anew (3.5.2)."""

    case_id: UUID
    consent_to_share: ConsentState
    by_partner_kind: dict[PartnerKind, ConsentState] = Field(
        default_factory=dict,
        description="Consent per kind of partner where it differs from consent_to_share.",
    )
    given_by: ConsentGiver | None = Field(
        default=None, description="Who gave or refused it; None while it is not asked."
    )
    safe_contact_voicemail: bool = False
    safe_contact_text_message: bool = False
    safe_contact_letter: bool = False
    changed_at: AwareDatetime
    personal: ConsentPersonalData = Field(default_factory=ConsentPersonalData)


class RiskAssessed(Payload):
    """risk.risk-assessed: a case was given a risk level (policy 3.3)."""

    assessment_id: UUID
    case_id: UUID
    risk_level: RiskLevel
    basis: str = Field(description="'report' for the automatic first assessment, 'visit' etc.")
    reasons: list[str] = Field(default_factory=list)
    assessed_at: AwareDatetime
    review_due_at: AwareDatetime | None = None
    score: int | None = Field(default=None, description="Matrix score behind the level.")


class ActionRequired(Payload):
    """risk.action-required: an action of the playbook is due (policy 3.3.1, 3.3.2)."""

    action_id: UUID
    case_id: UUID
    kind: ActionKind
    applies_to: AppliesTo
    clause: str
    carried_out_by: Executor
    partner: Partner | None = None
    due_at: AwareDatetime
    required_at: AwareDatetime
    immediate_danger: bool = Field(
        description="Whether the survivor is in immediate danger (3.5.2 override applies)."
    )
    consent_to_share: ConsentState


class ActionOutcomePersonalData(Payload):
    notes: str | None = None


class ActionCompleted(Payload):
    """risk.action-completed: staff completed an action."""

    action_id: UUID
    case_id: UUID
    kind: ActionKind
    completed_at: AwareDatetime
    outcome: str = Field(description="Short outcome code, e.g. 'done', 'declined'.")
    first_response: bool = Field(
        description="True for the first response to the request for support (policy 5.2)."
    )
    personal: ActionOutcomePersonalData = Field(default_factory=ActionOutcomePersonalData)


class ActionOverdue(Payload):
    """risk.action-overdue: a deadline passed with the action not completed."""

    action_id: UUID
    case_id: UUID
    kind: ActionKind
    due_at: AwareDatetime
    detected_at: AwareDatetime
    escalated_to: str = "manager"


class ActionStopped(Payload):
    """risk.action-stopped: an open action's clock was stopped, not completed: its case
    was closed. Reopening the case plans what is still needed afresh."""

    action_id: UUID
    case_id: UUID
    kind: ActionKind
    reason: str = Field(description="e.g. 'case-closed'.")
    stopped_at: AwareDatetime


class FirstResponseRecorded(Payload):
    """risk.first-response-recorded: the case's first response (policy 5.2), once per
    case: the first contact with the survivor by staff or the first protective action,
    at the server's time."""

    case_id: UUID
    action_id: UUID
    kind: ActionKind
    responded_at: AwareDatetime
    received_at: AwareDatetime | None = Field(
        default=None, description="When the case's first report was received."
    )
    clause: str = "5.2"


class EscalationNotified(Payload):
    """risk.escalation-notified: an overdue action's escalation was delivered to a
    member of staff (delivered and accepted by the channel, not merely decided)."""

    escalation_id: UUID
    action_id: UUID
    case_id: UUID
    kind: ActionKind
    recipient_role: str = Field(description="'manager' or 'on_call_safeguarding_lead'.")
    team: str | None = None
    channel: NotificationChannel
    attempt: int = Field(ge=1)
    notified_at: AwareDatetime


class EscalationAcknowledged(Payload):
    """risk.escalation-acknowledged: a named member of staff acknowledged an escalation;
    its repeats stop."""

    escalation_id: UUID
    action_id: UUID
    case_id: UUID
    acknowledged_by: str
    acknowledged_at: AwareDatetime


class SafeguardingAlertRaised(Payload):
    """risk.safeguarding-alert-raised: Social Services made aware (policy 3.3.1)."""

    alert_id: UUID
    case_id: UUID
    partner: Partner
    raised_at: AwareDatetime
    clause: str = "3.3.1"


class ReferralConfirmationPersonalData(Payload):
    """What the member of staff who made a telephone referral recorded."""

    spoke_to: str | None = None
    incident_number: str | None = None


class ReferralMade(Payload):
    """referrals.referral-made: information went to a partner (policy 3.5.2, 3.6).

    Published only once it did: delivered and accepted by the partner's endpoint or mail
    server, or confirmed by the named member of staff who telephoned."""

    referral_id: UUID
    case_id: UUID
    action_id: UUID | None = None
    partner: Partner
    basis: ReferralBasis
    made_at: AwareDatetime
    channel: DeliveryChannel | None = None
    shared_fields: list[str] = Field(
        default_factory=list, description="Names of the fields the partner was given."
    )
    covers_action_ids: list[UUID] = Field(
        default_factory=list,
        description="Further actions this referral answers (a further report's, say).",
    )
    confirmed_by: str | None = Field(
        default=None, description="Subject of the staff member who telephoned, if one did."
    )
    override_by: str | None = Field(
        default=None, description="Subject of the staff member who overrode consent (3.5.2)."
    )
    personal: ReferralConfirmationPersonalData = Field(
        default_factory=ReferralConfirmationPersonalData
    )


class ReferralWithheld(Payload):
    """referrals.referral-withheld: a referral waits for consent, and why (policy 3.5.2).

    Nothing was shared; the action stays open, and consent is to be sought again by
    ``seek_consent_by``."""

    referral_id: UUID
    case_id: UUID
    action_id: UUID | None = None
    partner: Partner
    reason: str
    withheld_at: AwareDatetime
    seek_consent_by: AwareDatetime | None = None
    override_proposed: bool = Field(
        default=False,
        description="Immediate danger: the playbook proposes that staff override consent.",
    )


class ReferralUpdated(Payload):
    """referrals.referral-updated: a further action for a partner joined the case's open
    referral to it, which is updated rather than repeated."""

    referral_id: UUID
    case_id: UUID
    action_id: UUID = Field(description="The further action the open referral answers.")
    partner: Partner
    status: ReferralStatus = Field(description="The open referral's status.")
    updated_at: AwareDatetime


class ReferralStatusChanged(Payload):
    """referrals.referral-status-changed: a referral moved on (acknowledged, accepted,
    declined, withdrawn, closed), or was chased or escalated while it waited."""

    referral_id: UUID
    case_id: UUID
    action_id: UUID | None = None
    partner: Partner
    status: ReferralStatus
    previous_status: ReferralStatus
    note: str | None = Field(
        default=None, description="A short code: 'chased', 'escalated', 'not-recalled'."
    )
    changed_at: AwareDatetime


class RehousingIncident(Payload):
    occurred_at: AwareDatetime | None = None
    received_at: AwareDatetime
    categories: list[IncidentCategory] = Field(default_factory=list)
    description: str | None = None


class RehousingAssessment(Payload):
    assessed_at: AwareDatetime
    risk_level: RiskLevel


class RehousingEvidence(Payload):
    """The evidence bundle for rehousing (3.3.2, 3.4): personal data."""

    incidents: list[RehousingIncident] = Field(default_factory=list)
    assessments: list[RehousingAssessment] = Field(default_factory=list)
    police_references: list[str] = Field(default_factory=list)
    notes: str | None = None


class RehousingRequested(Payload):
    """referrals.rehousing-requested: a priority banding request to the housing
    allocations system, with the evidence bundle (policy 3.3.2, 3.4)."""

    request_id: UUID
    case_id: UUID
    banding: str = Field(description="Banding asked for, e.g. 'emergency', 'priority'.")
    requested_by: str = Field(description="Subject of the member of staff who asked.")
    requested_at: AwareDatetime
    incident_count: int
    assessment_count: int
    police_reference_count: int
    highest_risk_level: RiskLevel | None = None
    personal: RehousingEvidence = Field(default_factory=RehousingEvidence)


class ExemptionDecided(Payload):
    """referrals.exemption-decided: a request to set aside a tenancy rule (3.4.3) was
    approved or refused by a manager other than the one who asked."""

    exemption_id: UUID
    case_id: UUID
    rule: str = Field(description="Which tenancy or allocations rule is set aside.")
    approved: bool
    supported_by: str = Field(description="The statutory or multi-agency support recorded.")
    requested_by: str
    decided_by: str
    decided_at: AwareDatetime


class MultiAgencyMeetingPersonalData(Payload):
    actions_agreed: list[str] = Field(default_factory=list)


class MultiAgencyMeetingRecorded(Payload):
    """referrals.multi-agency-meeting-recorded: the case was taken to a multi-agency
    meeting (2.8, 3.6.3), with its date, the agencies present and the actions agreed."""

    meeting_id: UUID
    case_id: UUID
    held_on: date
    agencies: list[str]
    recorded_by: str
    recorded_at: AwareDatetime
    personal: MultiAgencyMeetingPersonalData = Field(default_factory=MultiAgencyMeetingPersonalData)


class EnforcementCaseOpened(Payload):
    """enforcement.case-opened: action against an alleged perpetrator began (2.5, 2.6, 3.2.5)."""

    enforcement_case_id: UUID
    case_id: UUID
    perpetrator_kind: PerpetratorKind
    route: EnforcementRoute
    opened_at: AwareDatetime


class EnforcementActionTaken(Payload):
    """enforcement.action-taken: a step of enforcement was carried out (policy 2.6, 3.3.1,
    4.2), as recorded by the named member of staff who did it."""

    enforcement_case_id: UUID
    case_id: UUID
    action: str = Field(description="Step taken, e.g. 'ex_parte_injunction'.")
    action_id: UUID | None = Field(default=None, description="Risk action that asked for it.")
    taken_at: AwareDatetime
    step: EnforcementStep | None = None
    decision_id: UUID | None = Field(default=None, description="The decision it carried out.")
    recorded_by: str | None = Field(
        default=None, description="Subject of the member of staff who recorded it."
    )


class ValidityPersonalData(Payload):
    reason: str | None = Field(default=None, description="What the investigation found.")


class EnforcementValidityRecorded(Payload):
    """enforcement.validity-recorded: what the validity investigation of an anonymous
    report found (3.2.5), by whom. Risk's investigation action is done; found valid,
    enforcement opens for the case's alleged perpetrators."""

    finding_id: UUID
    case_id: UUID
    valid: bool
    recorded_by: str
    recorded_at: AwareDatetime
    personal: ValidityPersonalData = Field(default_factory=ValidityPersonalData)


class EvidencePersonalData(Payload):
    source: str | None = None
    reference: str | None = Field(default=None, description="Crime number, report reference.")
    storage_reference: str | None = Field(
        default=None, description="Where a photograph or recording is kept (not the file)."
    )
    summary: str | None = None


class EnforcementEvidenceRecorded(Payload):
    """enforcement.evidence-recorded: an item was added to a case's evidence log (2.5)."""

    evidence_id: UUID
    enforcement_case_id: UUID
    case_id: UUID
    kind: EvidenceKind
    strength: EvidenceStrength
    recorded_by: str
    recorded_at: AwareDatetime
    evidence_level: EvidenceLevel = Field(description="The case's evidence as a whole, now.")
    personal: EvidencePersonalData = Field(default_factory=EvidencePersonalData)


class DecisionPersonalData(Payload):
    reason: str | None = None
    skip_reason: str | None = None


class EnforcementStepDecided(Payload):
    """enforcement.step-decided: a step of the ladder was decided by the named people it
    needs (two for notice and possession), on the evidence it needs (2.5, 2.6)."""

    decision_id: UUID
    enforcement_case_id: UUID
    case_id: UUID
    route: EnforcementRoute
    step: EnforcementStep
    decided_by: list[str] = Field(min_length=1)
    decided_at: AwareDatetime
    evidence_level: EvidenceLevel
    review_due_at: AwareDatetime | None = None
    skipped_steps: list[EnforcementStep] = Field(default_factory=list)
    target_due_at: AwareDatetime | None = Field(
        default=None, description="The step's own clock, e.g. ex parte: 24 hours from the report."
    )
    target_met: bool | None = None
    personal: DecisionPersonalData = Field(default_factory=DecisionPersonalData)


class EnforcementHearingScheduled(Payload):
    """enforcement.hearing-scheduled: a court hearing was listed for an application."""

    hearing_id: UUID
    enforcement_case_id: UUID
    case_id: UUID
    step: EnforcementStep
    hearing_at: AwareDatetime
    court: str
    recorded_by: str
    recorded_at: AwareDatetime


class OrderPersonalData(Payload):
    terms: str | None = None


class EnforcementOrderRecorded(Payload):
    """enforcement.order-recorded: the court made an order (an injunction, possession)."""

    order_id: UUID
    enforcement_case_id: UUID
    case_id: UUID
    step: EnforcementStep
    made_on: date
    expires_on: date | None = None
    recorded_by: str
    recorded_at: AwareDatetime
    personal: OrderPersonalData = Field(default_factory=OrderPersonalData)


class EnforcementReminderDue(Payload):
    """enforcement.reminder-due: a hearing is near, an order is about to expire, a review
    or the ex parte 24-hour target is due (durable clocks)."""

    reminder_id: UUID
    enforcement_case_id: UUID
    case_id: UUID
    about: ReminderSubject
    due_at: AwareDatetime
    detected_at: AwareDatetime


class MonthlyReportPublished(Payload):
    """reporting.monthly-report-published: the month's figures for the EMT (policy 5.2)."""

    month: date = Field(description="First day of the month reported on.")
    reports_received: int
    cases_responded: int
    median_seconds_to_first_response: float | None
    p90_seconds_to_first_response: float | None
    published_at: AwareDatetime


class CaseErased(Payload):
    """intake.case-erased: the case's personal data is to be gone everywhere (3.5.2).

    Intake has destroyed the case's key, so every sealed copy is unreadable already;
    each service now erases what it keeps in clear and records it (retention.disposed).
    Carries no personal data: the reason given stays with intake's erasure record."""

    case_id: UUID
    basis: DisposalBasis
    erased_at: AwareDatetime


class RecordsDisposed(Payload):
    """audit.retention-disposed: a service disposed of a case's records (3.5.2): ids and counts.

    Published by every service that kept any, on the audit topic; carries no content."""

    service: str
    case_id: UUID
    basis: DisposalBasis
    counts: dict[str, int] = Field(
        default_factory=dict, description="Rows erased or anonymised, by kind of record."
    )
    disposed_at: AwareDatetime


class AccessRecorded(Payload):
    """audit.access-recorded: someone read or changed a case's personal data, or tried to.

    Published by every service that holds personal data; carries none itself."""

    audit_id: int = Field(description="Position in the recording service's audit chain.")
    service: str
    subject: str = Field(description="Account id of the caller (staff or system).")
    roles: list[str]
    team: str | None = None
    case_id: UUID | None = None
    operation: str = Field(description="e.g. 'GET /v1/cases/{case_id}'.")
    fields: list[str] = Field(default_factory=list, description="Names of the fields touched.")
    outcome: str = Field(description="'granted', 'refused' or 'not-found'.")
    recorded_at: AwareDatetime
    request_id: str | None = None
    trace_id: str | None = None
    record_hash: str = Field(description="SHA-256 of the record and the one before it.")
