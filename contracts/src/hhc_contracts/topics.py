"""The topic catalogue: one topic per owning service and aggregate, keyed by case id.

Names follow ``hhc.<service>.<aggregate>.v<major>``; dead letters of a topic go
to ``<topic>.dlq``.
"""

from enum import StrEnum


class Topic(StrEnum):
    INTAKE_CASES = "hhc.intake.cases.v1"
    # Inbound: other systems of the housing group submit reports here (policy 3.2.1).
    INTAKE_SUBMISSIONS = "hhc.intake.report-submissions.v1"
    RISK_ASSESSMENTS = "hhc.risk.assessments.v1"
    RISK_ACTIONS = "hhc.risk.actions.v1"
    RISK_SAFEGUARDING = "hhc.risk.safeguarding-alerts.v1"
    REFERRALS = "hhc.referrals.referrals.v1"
    ENFORCEMENT_CASES = "hhc.enforcement.cases.v1"
    REPORTING_MONTHLY = "hhc.reporting.monthly-reports.v1"
    # The monthly report's v2, side by side with v1 while subscribers move.
    REPORTING_MONTHLY_V2 = "hhc.reporting.monthly-reports.v2"
    # Every service records each look at personal data here (no personal data in it).
    AUDIT_ACCESS = "hhc.audit.access.v1"


DEAD_LETTER_SUFFIX = ".dlq"


def dead_letter_topic(topic: str) -> str:
    return f"{topic}{DEAD_LETTER_SUFFIX}"


def all_topics() -> list[str]:
    """Every topic the system uses, dead-letter topics included, for provisioning."""
    names = [topic.value for topic in Topic]
    return names + [dead_letter_topic(name) for name in names]
