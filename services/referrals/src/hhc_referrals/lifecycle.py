"""A referral's lifecycle (policy 3.5.2, 3.6). Pure: no I/O.

A referral is a deed, not a decision: it is *sent* only when the partner's endpoint or
mail server took it, or when the named member of staff who telephoned says so. Until
then it is pending, and the action that asked for it stays open with its clock.

    pending_consent -> ready -> sent -> acknowledged -> accepted | declined -> closed
    pending_consent | ready -> withdrawn   (consent withdrawn before anything was sent)

A sent referral cannot be recalled: withdrawal of consent after it is recorded as such
(``not-recalled``) and the referral stays as it is.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from hhc_contracts.vocabulary import (
    ConsentState,
    PartnerKind,
    ReferralBasis,
    ReferralStatus,
    is_recognised,
)


class Step(StrEnum):
    """What happens to a referral."""

    CONSENT_GIVEN = "consent_given"
    CONSENT_OVERRIDDEN = "consent_overridden"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    DELIVERED = "delivered"
    CONFIRMED_BY_STAFF = "confirmed_by_staff"
    ACKNOWLEDGED = "acknowledged"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    CLOSED = "closed"


_S = ReferralStatus
TRANSITIONS: Mapping[tuple[ReferralStatus, Step], ReferralStatus] = {
    (_S.PENDING_CONSENT, Step.CONSENT_GIVEN): _S.READY,
    (_S.PENDING_CONSENT, Step.CONSENT_OVERRIDDEN): _S.READY,
    (_S.PENDING_CONSENT, Step.CONSENT_WITHDRAWN): _S.PENDING_CONSENT,
    (_S.READY, Step.CONSENT_WITHDRAWN): _S.WITHDRAWN,
    (_S.READY, Step.DELIVERED): _S.SENT,
    (_S.READY, Step.CONFIRMED_BY_STAFF): _S.SENT,
    # A partner may answer without acknowledging first.
    (_S.SENT, Step.ACKNOWLEDGED): _S.ACKNOWLEDGED,
    (_S.SENT, Step.ACCEPTED): _S.ACCEPTED,
    (_S.SENT, Step.DECLINED): _S.DECLINED,
    (_S.ACKNOWLEDGED, Step.ACCEPTED): _S.ACCEPTED,
    (_S.ACKNOWLEDGED, Step.DECLINED): _S.DECLINED,
    (_S.ACCEPTED, Step.CLOSED): _S.CLOSED,
    (_S.DECLINED, Step.CLOSED): _S.CLOSED,
    (_S.WITHDRAWN, Step.CLOSED): _S.CLOSED,
}

OPEN_STATUSES = frozenset({_S.PENDING_CONSENT, _S.READY, _S.SENT, _S.ACKNOWLEDGED, _S.ACCEPTED})
"""A referral in one of these is the case's referral to that partner: a further report
updates it rather than making another (issue: "updated, not repeated")."""

NOT_YET_SENT = frozenset({_S.PENDING_CONSENT, _S.READY})


def joins_open_referral(
    status: ReferralStatus, kind: PartnerKind | None, *, immediate_danger: bool
) -> bool:
    """Whether a further action for a partner is answered by the case's open referral to
    it (updated, not repeated). One not yet sent always does. One already sent does,
    except that emergency services are called again for each new immediate danger
    (3.3.1): a call about yesterday's danger says nothing about today's."""
    if status in NOT_YET_SENT:
        return True
    if status not in OPEN_STATUSES:
        return False
    return not (immediate_danger and kind is PartnerKind.EMERGENCY)


def next_status(status: ReferralStatus, step: Step) -> ReferralStatus | None:
    """The status after ``step``, or None when the step does not apply in ``status``."""
    return TRANSITIONS.get((status, step))


def consent_for(
    kind: PartnerKind, consent: ConsentState, by_kind: Mapping[PartnerKind, ConsentState]
) -> ConsentState:
    """The survivor's consent for one kind of partner: their word for that kind where they
    gave one, else their consent to share with partners (3.5.2)."""
    return by_kind.get(kind, consent)


@dataclass(frozen=True, slots=True)
class Opening:
    """How a new referral starts."""

    status: ReferralStatus
    basis: ReferralBasis | None
    reason: str | None = None
    override_proposed: bool = False


def open_referral(
    *, consent: ConsentState, immediate_danger: bool, may_share_without_consent: bool
) -> Opening:
    """The consent gate (3.5.2): information goes to a third party only with the
    survivor's explicit consent, unless they are in danger of immediate harm and emergency
    intervention is required. The playbook only *proposes* that override, for partners
    with a lawful basis to be told without consent; a named member of staff makes it.

    An unknown consent state is not explicit consent (3.5.1: confidentiality first)."""
    if consent is ConsentState.GIVEN:
        return Opening(ReferralStatus.READY, ReferralBasis.CONSENT)
    if immediate_danger and may_share_without_consent:
        return Opening(
            ReferralStatus.PENDING_CONSENT,
            None,
            "survivor in immediate danger: staff to decide on overriding consent (3.5.2)",
            override_proposed=True,
        )
    if consent is ConsentState.REFUSED:
        return Opening(
            ReferralStatus.PENDING_CONSENT, None, "survivor refused consent to share (3.5.2)"
        )
    if not is_recognised(consent):
        return Opening(
            ReferralStatus.PENDING_CONSENT,
            None,
            "consent to share not recorded as given (3.5.2)",
        )
    return Opening(ReferralStatus.PENDING_CONSENT, None, "consent to share not yet asked (3.5.2)")


def seek_consent_by(withheld_at: datetime, after: timedelta, deadline_scale: float) -> datetime:
    """When consent is to be sought again for a referral that waits for it."""
    return withheld_at + after * deadline_scale


@dataclass(frozen=True, slots=True)
class Chase:
    note: str


def chase_due(
    *,
    status: ReferralStatus,
    sent_at: datetime | None,
    acknowledge_within: timedelta,
    deadline_scale: float,
    chased_at: datetime | None,
    escalated_at: datetime | None,
    now: datetime,
) -> Chase | None:
    """A sent referral not acknowledged in time is chased; still not acknowledged after
    twice the time, it is escalated to the case's manager."""
    if status is not ReferralStatus.SENT or sent_at is None:
        return None
    window = acknowledge_within * deadline_scale
    if escalated_at is None and chased_at is not None and now >= sent_at + 2 * window:
        return Chase("escalated")
    if chased_at is None and now >= sent_at + window:
        return Chase("chased")
    return None
