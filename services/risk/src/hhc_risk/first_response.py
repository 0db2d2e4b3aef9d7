"""The 5.2 measure: when a case's request for support was first responded to.

Policy 5.2: "PCHA will ... record the time taken to respond to requests for support and
will include this in monthly reporting". A response is defined here, once:

    the first contact with the survivor by staff (the visit, a call made, advice given),
    or the first protective action taken (3.3.1), whichever is first,

timed by the server that recorded it (never a time a client stated), so the figure can
be neither faked nor moved. Pure: the handlers and the API feed it what was done.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from hhc_contracts.vocabulary import ActionKind

K = ActionKind

CONTACT_WITH_SURVIVOR: frozenset[ActionKind] = frozenset(
    {
        K.VISIT_WITH_RISK_ASSESSMENT,  # 3.3.1: the visit within 24 hours
        K.DISCREET_CONTACT,  # 3.2.4: the call made to a survivor someone else reported for
        K.GIVE_ADVICE,  # 3.1, 3.2.6: advice given on the advice-only tracks
        K.REHOUSING_ADVICE,  # 3.3.2: advice given on rehousing options
        K.REFER_TO_LINE_MANAGER,  # 4.3: a member of staff is supported through their manager
    }
)
"""Actions that are staff's contact with the survivor."""

PROTECTIVE: frozenset[ActionKind] = frozenset(
    {
        K.INFORM_EMERGENCY_SERVICES,  # 3.3.1, done when the referral is made
        K.SAFEGUARDING_ALERT,  # 3.3.1, an alert raised with social services
        K.HOUSING_OPTIONS_REFERRAL,  # 3.3.1, emergency rehousing
        K.TARGET_HARDENING,  # 3.3.1, 4.2
        K.EX_PARTE_INJUNCTION,  # 3.3.1, taken by enforcement
        K.FIRE_AUTHORITY_REFERRAL,  # 3.3.1
        K.POLICE_REFERRAL,  # 3.2.6: the Reporting Centre contacts the Police
        K.SUPPORT_AND_ADVOCACY_REFERRAL,  # 3.3.2: the survivor put in touch with support
    }
)
"""Protective actions: steps taken for the survivor's safety or support."""

RESPONDING_KINDS = CONTACT_WITH_SURVIVOR | PROTECTIVE

NOT_DONE_OUTCOMES = frozenset({"consent_withdrawn"})
"""Outcomes that close an action without its being done: a referral withdrawn with the
survivor's consent (3.5.2) reached nobody."""


@dataclass(frozen=True, slots=True)
class Completion:
    action_id: UUID
    kind: ActionKind
    outcome: str
    recorded_at: datetime
    """The server's time: when staff's completion was received, or when the partner
    service recorded the step (a referral made, an injunction applied for)."""


def responds(completion: Completion) -> bool:
    """Whether a completed action is a response to the request for support (5.2). A kind
    the vocabulary does not know is not known to be one."""
    return completion.kind in RESPONDING_KINDS and completion.outcome not in NOT_DONE_OUTCOMES


def first_response(completions: Iterable[Completion]) -> Completion | None:
    """The case's first response (5.2): the earliest completion that responds; None while
    none has. Ties go to the action recorded first in ``completions``."""
    responses = [completion for completion in completions if responds(completion)]
    return min(responses, key=lambda completion: completion.recorded_at, default=None)
