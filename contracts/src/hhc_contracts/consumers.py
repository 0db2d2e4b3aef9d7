"""Who reads which events: the receive side of the catalogue.

Kept here, as data, because contracts depend on no service; ``tests/test_consumers.py``
holds it to each service's ``definition()`` (its ``topics`` and ``handlers``), so a
service that starts or stops handling an event type fails the tests until this
table, and with it the AsyncAPI document and the catalogue page, says so too.
"""

from collections.abc import Mapping

from hhc_contracts.registry import ANY_PRODUCER, EVENT_TYPES
from hhc_contracts.topics import Topic
from hhc_contracts.trust import OPEN_TO_OTHER_SYSTEMS

OTHER_SYSTEMS = "other-systems"
"""Sender of the topics other systems of the housing group write (trust.OPEN_TO_OTHER_SYSTEMS):
the housing system, partner agencies' portals, the web form's relay. Each names itself in
the envelope's producer; intake receives what they send."""

_NOT_REPORTED = frozenset({Topic.AUDIT_ACCESS, Topic.INTAKE_SUBMISSIONS})
# Reporting projects every event about the work on a case; the audit is about staff and
# submissions would count a report twice (hhc_reporting.handlers.NOT_CONSUMED).

CONSUMED_BY: Mapping[str, frozenset[str]] = {
    "intake": frozenset(
        {
            "intake.report-submitted",
            # 5.1: a closure offers the survivor the satisfaction survey.
            "intake.case-status-changed",
            # Risk's levels and actions: for closing a high-risk case and the worklists.
            "risk.risk-assessed",
            "risk.action-required",
            "risk.action-completed",
            "risk.action-overdue",
            "risk.action-stopped",
            # 3.5.2: a case with a court hearing listed is held from disposal.
            "enforcement.hearing-scheduled",
        }
    ),
    "risk": frozenset(
        {
            "intake.report-received",
            "intake.consent-changed",
            "intake.case-status-changed",
            "intake.case-track-changed",
            "referrals.referral-made",
            "referrals.referral-withheld",
            "referrals.referral-updated",
            "referrals.referral-status-changed",
            # Landlord actions another service records as done: the rehousing evidence
            # compiled into a request (3.4), the validity of an anonymous report (3.2.5).
            "referrals.rehousing-requested",
            "enforcement.action-taken",
            "enforcement.validity-recorded",
            # 3.5.2: a case erased at intake is erased here too (hhc_chassis.disposal).
            "intake.case-erased",
        }
    ),
    "referrals": frozenset(
        {
            "intake.report-received",
            "intake.consent-changed",
            "risk.risk-assessed",
            "risk.action-required",
            "intake.case-erased",
        }
    ),
    "enforcement": frozenset(
        {"intake.report-received", "risk.action-required", "intake.case-erased"}
    ),
    "reporting": frozenset(
        spec.event_type for spec in EVENT_TYPES.values() if spec.topic not in _NOT_REPORTED
    ),
}
"""Event types each service handles; every version of one is read from its own topic."""

CONSUMER_GROUP_PREFIX = "hhc"
"""A service's consumer group is ``hhc-<service>`` (ServiceSettings.group_id)."""


def consumer_group(service: str) -> str:
    return f"{CONSUMER_GROUP_PREFIX}-{service}"


def topics_consumed_by(service: str) -> frozenset[Topic]:
    handled = CONSUMED_BY[service]
    return frozenset(spec.topic for spec in EVENT_TYPES.values() if spec.event_type in handled)


def consumers_of(event_type: str) -> list[str]:
    return sorted(service for service, handled in CONSUMED_BY.items() if event_type in handled)


EVERY_SERVICE = "every-service"
"""Sender of the events every service publishes (registry.ANY_PRODUCER: the audit)."""


def senders_of(topic: Topic, producer: str) -> str:
    """Who writes a topic: its producing service, other systems for open topics, or every
    service."""
    if topic in OPEN_TO_OTHER_SYSTEMS:
        return OTHER_SYSTEMS
    return EVERY_SERVICE if producer == ANY_PRODUCER else producer
