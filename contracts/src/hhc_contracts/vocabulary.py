"""Shared vocabulary of the policy, as used in event payloads.

Values are stable wire strings: add members freely, never rename or remove one
within a major version.

Because members are added freely, a consumer meets values newer than its copy of
this module. Every vocabulary is an :class:`OpenEnum`: an unknown value parses as
an unrecognised member that keeps the string as received (re-serialising gives it
back unchanged) and equals no known member, so rules fall through to their safe
default instead of the event being dead-lettered. Input from outside the case system
refuses unknown values all the same (:class:`hhc_contracts.tolerance.StrictInput`).
"""

from enum import Enum, StrEnum
from typing import Self


class OpenEnum(StrEnum):
    """A vocabulary that may grow faster than its readers (the module docstring)."""

    @classmethod
    def _missing_(cls, value: object) -> Self | None:
        # Only strings: anything else is the wrong type, not a newer vocabulary. The
        # member is not cached in the enum, so it never becomes a known one.
        if not isinstance(value, str):
            return None
        member = str.__new__(cls, value)
        member._name_ = "UNRECOGNISED"
        member._value_ = value
        return member


def is_recognised(value: Enum) -> bool:
    """Whether ``value`` is a member this version of the vocabulary knows."""
    return type(value).__members__.get(value.name) is value


class Channel(OpenEnum):
    """How a report reached the landlord (policy 3.2.1, 3.2.6)."""

    IN_PERSON = "in_person"
    TELEPHONE = "telephone"
    TEXT_MESSAGE = "text_message"
    MY_ACCOUNT = "my_account"
    OFFICE_VISIT = "office_visit"
    EMAIL = "email"
    LETTER = "letter"
    WEB_FORM = "web_form"
    PARTNER_AGENCY = "partner_agency"
    HOUSING_SYSTEM = "housing_system"


class ReporterRole(OpenEnum):
    """Who made the report (policy 3.2.2 - 3.2.5)."""

    SURVIVOR = "survivor"
    WITNESS = "witness"
    THIRD_PARTY = "third_party"
    ANONYMOUS = "anonymous"
    STAFF_OBSERVER = "staff_observer"
    PARTNER_AGENCY = "partner_agency"


class PerpetratorKind(OpenEnum):
    """Who the alleged perpetrator is (policy 1.3, 2.6, 3.2.5)."""

    CUSTOMER = "customer"
    STAFF = "staff"
    ACTING_FOR_LANDLORD = "acting_for_landlord"
    NOT_CUSTOMER = "not_customer"
    UNKNOWN = "unknown"


class IncidentCategory(OpenEnum):
    """The forms harassment and hate incidents take (policy 3.1)."""

    VERBAL_ABUSE = "verbal_abuse"
    BULLYING_OR_INTIMIDATION = "bullying_or_intimidation"
    PHYSICAL_ATTACK = "physical_attack"
    THREATS_OF_VIOLENCE = "threats_of_violence"
    HOAX_CALLS_ABUSIVE_MESSAGES_HATE_MAIL = "hoax_calls_abusive_messages_hate_mail"
    ONLINE_ABUSE = "online_abuse"
    DISCRIMINATORY_LITERATURE = "discriminatory_literature"
    DAMAGE_TO_PROPERTY = "damage_to_property"
    GRAFFITI = "graffiti"
    ARSON = "arson"
    MALICIOUS_COMPLAINTS = "malicious_complaints"


class PerceivedMotivation(OpenEnum):
    """Hostility or prejudice the survivor perceives (policy 3.1.3)."""

    DISABILITY = "disability"
    RACE = "race"
    RELIGION = "religion"
    TRANSGENDER_IDENTITY = "transgender_identity"
    SEXUAL_ORIENTATION = "sexual_orientation"
    GENDER = "gender"
    AGE = "age"


class Classification(OpenEnum):
    """Derived from the report, never typed in (policy 3.1, 3.1.3)."""

    HARASSMENT = "harassment"
    HATE_INCIDENT = "hate_incident"
    HATE_CRIME = "hate_crime"


class ConsentState(OpenEnum):
    """Consent to share information with partners (policy 3.5.2)."""

    GIVEN = "given"
    REFUSED = "refused"
    NOT_ASKED = "not_asked"


class Track(OpenEnum):
    """The route a case takes (design.md, routing rules; policy 3.1, 3.2, 4.3, 1.2)."""

    CUSTOMER_CASE = "customer_case"
    HATE_CRIME_REPORTING_CENTRE = "hate_crime_reporting_centre"
    PERPETRATOR_INVESTIGATION = "perpetrator_investigation"
    STAFF_GRIEVANCE = "staff_grievance"
    THIRD_PARTY_DISCREET_CONTACT = "third_party_discreet_contact"
    ANONYMOUS_VALIDITY_CHECK = "anonymous_validity_check"
    ONLINE_ADVICE_ONLY = "online_advice_only"
    CROSS_REFERRAL = "cross_referral"


class RelatedPolicy(OpenEnum):
    """The interlinked policies a report may belong to instead (policy 1.2)."""

    DOMESTIC_ABUSE = "domestic_abuse"
    ANTI_SOCIAL_BEHAVIOUR = "anti_social_behaviour"


class Vulnerability(OpenEnum):
    """What may make a survivor an adult at risk (policy 1.6, 3.3.1)."""

    AGE = "age"
    DISABILITY = "disability"
    MENTAL_HEALTH = "mental_health"
    ISOLATION = "isolation"
    LEARNING_DISABILITY = "learning_disability"
    PREGNANCY = "pregnancy"


class ContactMethod(OpenEnum):
    TELEPHONE = "telephone"
    TEXT_MESSAGE = "text_message"
    EMAIL = "email"
    LETTER = "letter"
    IN_PERSON = "in_person"


class AccessibleFormat(OpenEnum):
    """Formats for people who need them (policy 1.6.1)."""

    LARGE_PRINT = "large_print"
    BRAILLE = "braille"
    EASY_READ = "easy_read"
    AUDIO = "audio"


class RiskLevel(OpenEnum):
    STANDARD = "standard"
    MEDIUM = "medium"
    HIGH = "high"


class AppliesTo(OpenEnum):
    """Whom a playbook action is for (policy 3.3.1)."""

    ALL_REPORTEES = "all_reportees"
    CUSTOMERS_ONLY = "customers_only"


class Executor(OpenEnum):
    """Which part of the organisation carries an action out."""

    REFERRALS = "referrals"
    ENFORCEMENT = "enforcement"
    LANDLORD = "landlord"


class ActionKind(OpenEnum):
    """Actions of the immediate-danger playbook (3.3.1) and secondary actions (3.3.2)."""

    INFORM_EMERGENCY_SERVICES = "inform_emergency_services"
    VISIT_WITH_RISK_ASSESSMENT = "visit_with_risk_assessment"
    SAFEGUARDING_ALERT = "safeguarding_alert"
    HOUSING_OPTIONS_REFERRAL = "housing_options_referral"
    FEMALE_ONLY_STAFF = "female_only_staff"
    TARGET_HARDENING = "target_hardening"
    EX_PARTE_INJUNCTION = "ex_parte_injunction"
    FIRE_AUTHORITY_REFERRAL = "fire_authority_referral"
    REHOUSING_EVIDENCE = "rehousing_evidence"
    REHOUSING_ADVICE = "rehousing_advice"
    SUPPORT_AND_ADVOCACY_REFERRAL = "support_and_advocacy_referral"
    PERPETRATOR_ENFORCEMENT = "perpetrator_enforcement"
    INDEPENDENT_LIVING_REFERRAL = "independent_living_referral"
    CAPACITY_ASSESSMENT_REQUEST = "capacity_assessment_request"
    POLICY_CROSS_REFERRAL = "policy_cross_referral"
    POLICE_REFERRAL = "police_referral"
    RISK_REVIEW = "risk_review"
    DISCREET_CONTACT = "discreet_contact"
    VALIDITY_INVESTIGATION = "validity_investigation"
    REFER_TO_LINE_MANAGER = "refer_to_line_manager"
    GIVE_ADVICE = "give_advice"
    """Advice recorded with what was advised (3.1 online abuse; 3.2.6 reporting centre)."""


class Partner(OpenEnum):
    """External agencies the landlord refers to (policy 3.2.6, 3.3, 3.6)."""

    EMERGENCY_SERVICES = "emergency_services"
    POLICE = "police"
    ADULT_SOCIAL_SERVICES = "adult_social_services"
    CHILDRENS_SOCIAL_SERVICES = "childrens_social_services"
    HOUSING_OPTIONS = "housing_options"
    FIRE_AUTHORITY = "fire_authority"
    STOP_HATE_UK = "stop_hate_uk"
    SURVIVOR_SUPPORT = "survivor_support"
    ANTHONY_WALKER_FOUNDATION = "anthony_walker_foundation"
    INDEPENDENT_LIVING_SERVICE = "independent_living_service"
    CAPACITY_PRACTITIONER = "capacity_practitioner"


class ReferralBasis(OpenEnum):
    """Why sharing was lawful (policy 3.5.2)."""

    CONSENT = "consent"
    IMMEDIATE_HARM_OVERRIDE = "immediate_harm_override"


class PartnerKind(OpenEnum):
    """Kinds of partner; consent is given or refused per kind (policy 3.5.2)."""

    EMERGENCY = "emergency"
    STATUTORY = "statutory"
    SUPPORT_AND_ADVOCACY = "support_and_advocacy"
    HOUSING = "housing"


class ConsentGiver(OpenEnum):
    """Who gave or refused consent: only the survivor, or someone with authority to act
    for them, may (3.5.2); never a third-party or anonymous reporter."""

    SURVIVOR = "survivor"
    AUTHORISED_REPRESENTATIVE = "authorised_representative"


class DeliveryChannel(OpenEnum):
    """How a referral reaches its partner."""

    WEBHOOK = "webhook"
    EMAIL = "email"
    TELEPHONE = "telephone"


class ReferralStatus(OpenEnum):
    """Where a referral is in its lifecycle (policy 3.5.2, 3.6).

    pending_consent -> ready -> sent -> acknowledged -> accepted | declined -> closed;
    withdrawn when consent is withdrawn before it was sent."""

    PENDING_CONSENT = "pending_consent"
    READY = "ready"
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"


class EnforcementRoute(OpenEnum):
    """Which route enforcement takes against an alleged perpetrator (policy 2.5, 2.6, 3.2.5)."""

    TENANCY_ENFORCEMENT = "tenancy_enforcement"
    STAFF_DISCIPLINARY = "staff_disciplinary"
    POLICE_AND_CIVIL = "police_and_civil"
    """Not a customer, or not known: the Police and civil remedies, no tenancy steps."""
    CONTRACT_MANAGEMENT = "contract_management"
    """A contractor or agent acting for the landlord (1.3): with the contract's owner."""


class EnforcementStep(OpenEnum):
    """Every step of every enforcement route (2.5, 2.6, 3.3.1, 4.2, 4.3)."""

    ADVICE_OR_VERBAL_WARNING = "advice_or_verbal_warning"
    WRITTEN_WARNING = "written_warning"
    ACCEPTABLE_BEHAVIOUR_AGREEMENT = "acceptable_behaviour_agreement"
    INJUNCTION = "injunction"
    EX_PARTE_INJUNCTION = "ex_parte_injunction"
    NOTICE_OF_SEEKING_POSSESSION = "notice_of_seeking_possession"
    POSSESSION_CLAIM = "possession_claim"
    OUTCOME_ORDER_GRANTED = "outcome_order_granted"
    OUTCOME_SUSPENDED = "outcome_suspended"
    OUTCOME_DISMISSED = "outcome_dismissed"
    BREACH_REPORTED = "breach_reported"
    POLICE_REFERRAL = "police_referral"
    CIVIL_REMEDY = "civil_remedy"
    CONTRACT_MANAGEMENT_REFERRAL = "contract_management_referral"
    CONTRACT_OUTCOME = "contract_outcome"
    DISCIPLINARY_HANDED_OVER = "disciplinary_handed_over"
    DISCIPLINARY_MILESTONE = "disciplinary_milestone"
    DISCIPLINARY_CONCLUDED = "disciplinary_concluded"


class EvidenceKind(OpenEnum):
    """Kinds of evidence an enforcement case logs (2.5)."""

    DIARY_ENTRY = "diary_entry"
    WITNESS_STATEMENT = "witness_statement"
    POLICE_REPORT = "police_report"
    CRIME_NUMBER = "crime_number"
    PHOTOGRAPH = "photograph"
    RECORDING = "recording"
    PROFESSIONAL_WITNESS_REPORT = "professional_witness_report"


class EvidenceStrength(OpenEnum):
    WEAK = "weak"
    MODERATE = "moderate"
    STRONG = "strong"


class EvidenceLevel(OpenEnum):
    """A case's evidence as a whole, lowest first."""

    NONE = "none"
    SOME = "some"
    SUBSTANTIAL = "substantial"
    STRONG = "strong"


class ReminderSubject(OpenEnum):
    HEARING = "hearing"
    ORDER_EXPIRY = "order_expiry"
    REVIEW = "review"
    EX_PARTE_TARGET = "ex_parte_target"


class CaseStatus(OpenEnum):
    """Where a case is, from first report to closure (policy 3.2, 5.1)."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    AWAITING_CLOSURE = "awaiting_closure"
    CLOSED = "closed"
    REOPENED = "reopened"


class ClosureReason(OpenEnum):
    """Why a case was closed."""

    RESOLVED = "resolved"
    SURVIVOR_WITHDREW = "survivor_withdrew"
    NO_FURTHER_ACTION = "no_further_action"
    TRANSFERRED = "transferred"
    """To another policy of the landlord (3.4) or to another agency."""
    COULD_NOT_CONTACT = "could_not_contact"


class DisposalBasis(OpenEnum):
    """Why a case's personal data was disposed of (policy 3.5.2)."""

    SUBJECT_REQUEST = "subject_request"
    """The data protection officer erased it on the person's request."""
    RETENTION_SCHEDULE = "retention_schedule"
    """Its retention period ended."""


class SaferFeeling(OpenEnum):
    """The survivor's answer to "do you feel safer now?" (policy 5.1)."""

    YES = "yes"
    NO = "no"
    UNSURE = "unsure"


class NotificationChannel(OpenEnum):
    """How a notification to a member of staff was delivered."""

    EMAIL = "email"
    WEBHOOK = "webhook"
