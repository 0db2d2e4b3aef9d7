"""The survivor's satisfaction survey at closure (policy 5.1): who is offered it and how,
its single-use link, and the answers read from its page. Pure: no database, no mail.

5.1: "PCHA ... will discuss service satisfaction with customers where appropriate". It is
appropriate only with the survivor, reached the way they told us is safe:

- never a third-party or witness reporter (3.2.2, 3.2.3: they get no feedback on the
  case, and the contact they gave is theirs, not the survivor's), nor an anonymous one
  (3.2.5), nor a member of staff or a partner who reported;
- only through the safe contact method the survivor gave in a report of their own: a
  survey mailed to an address the perpetrator reads would itself be a harm (1.6.1, 3.5).
"""

import hashlib
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from hhc_contracts.vocabulary import ClosureReason, ContactMethod, ReporterRole, SaferFeeling

# --- who is offered it, and how ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReportContact:
    """What one report of the case says about reaching the survivor."""

    reporter_role: ReporterRole
    received_at: datetime
    safe_contact_method: ContactMethod | None
    email: str | None
    phone: str | None


class NotOffered(StrEnum):
    """Why a closed case's survivor is not offered the survey."""

    NO_REPORT_BY_SURVIVOR = "no-report-by-survivor"
    """Only third-party, witness, anonymous, staff or partner reports (3.2.2-3.2.5)."""
    NO_SAFE_CONTACT = "no-safe-contact"
    """The survivor gave no safe contact method, or not the detail it needs (1.6.1)."""
    NOT_REACHED = "not-reached"
    """Closed because the survivor could not be contacted: the contact details are not
    known to reach them, and a message to them may reach someone else."""


@dataclass(frozen=True, slots=True)
class SurveyRoute:
    """How the offer reaches the survivor: mailed to ``email``, or, for every other safe
    method, passed on by a member of staff (who reads out or sends the link)."""

    method: ContactMethod
    email: str | None
    clauses: tuple[str, ...]

    @property
    def by_email(self) -> bool:
        return self.email is not None


# Methods a member of staff uses with a detail from the report; letter and in person use
# the address the landlord holds for the household, not one typed into a report.
_DETAIL_NEEDED: Mapping[ContactMethod, str] = {
    ContactMethod.EMAIL: "email",
    ContactMethod.TELEPHONE: "phone",
    ContactMethod.TEXT_MESSAGE: "phone",
}


def survey_route(
    reports: Sequence[ReportContact], closure_reason: ClosureReason | None = None
) -> SurveyRoute | NotOffered:
    """Whether, and how, the survivor of a closed case is offered the survey (5.1).

    Only the survivor's own reports count (3.2.3-3.2.5), the newest with a safe contact
    method first: contact details change, and the latest given is the one to trust. The
    method must come with the detail it needs (an email address for email, a phone
    number for a call or a text). A case closed because the survivor could not be
    contacted is not offered it."""
    if closure_reason is ClosureReason.COULD_NOT_CONTACT:
        return NotOffered.NOT_REACHED
    own = [report for report in reports if report.reporter_role is ReporterRole.SURVIVOR]
    if not own:
        return NotOffered.NO_REPORT_BY_SURVIVOR
    for report in sorted(own, key=lambda r: r.received_at, reverse=True):
        method = report.safe_contact_method
        if method is None:
            continue
        detail = _DETAIL_NEEDED.get(method)
        if detail is not None and not getattr(report, detail):
            continue
        return SurveyRoute(
            method=method,
            email=report.email if method is ContactMethod.EMAIL else None,
            clauses=("5.1", "3.2.3", "1.6.1"),
        )
    return NotOffered.NO_SAFE_CONTACT


# --- the single-use link ----------------------------------------------------------------

TOKEN_BYTES = 32
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # token_urlsafe(32), unpadded base64
_NO_TOKEN = hashlib.sha256(b"no token").digest()


def new_token() -> str:
    """256 random bits, URL-safe: the link's secret. Only its hash is stored."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> bytes:
    """What is stored and looked up. 256 random bits need no salt or slow hash; anything
    not shaped like a token hashes to a value no survey has."""
    if not _TOKEN_SHAPE.match(token):
        return _NO_TOKEN
    return hashlib.sha256(token.encode()).digest()


def survey_link(public_base_url: str, token: str) -> str:
    return f"{public_base_url.rstrip('/')}/survey/{token}"


class LinkState(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    EXPIRED = "expired"


def link_state(*, answered_at: datetime | None, expires_at: datetime, now: datetime) -> LinkState:
    """An answered survey's link is used up whatever its expiry; else it works until then."""
    if answered_at is not None:
        return LinkState.ANSWERED
    return LinkState.OPEN if now < expires_at else LinkState.EXPIRED


class Delivery(StrEnum):
    """Where an offer stands on its way to the survivor."""

    PENDING = "pending"
    """To be mailed by the survey mailer."""
    DELIVERED = "delivered"
    """The survivor's mail server accepted it."""
    BY_STAFF = "by_staff"
    """Not mailed (another safe method, no mail server, or mail that failed): a member of
    staff passes the link on."""


def fresh_link_refusal(
    *, delivery: Delivery, answered_at: datetime | None, expires_at: datetime, now: datetime
) -> str | None:
    """Why staff may not be given a new link for this offer (a 409), or None. Only an
    offer that is theirs to pass on, and still open: a mailed link is already with the
    survivor, and a second one in other hands would be a second way in."""
    if delivery is Delivery.DELIVERED:
        return "the survey was mailed to the survivor"
    if delivery is Delivery.PENDING:
        return "the survey is being mailed to the survivor"
    state = link_state(answered_at=answered_at, expires_at=expires_at, now=now)
    if state is LinkState.ANSWERED:
        return "the survivor has answered the survey"
    if state is LinkState.EXPIRED:
        return "the survey offer has expired"
    return None


# --- mail that did not go ---------------------------------------------------------------

MAX_MAIL_ATTEMPTS = 6
"""With the chassis's doubling delays from 5 seconds, about five minutes of trying; then
a member of staff passes it on, rather than the survivor never hearing."""


def give_mail_to_staff(*, attempts: int, permanent: bool) -> bool:
    """After a failed attempt: stop mailing and hand the offer to staff? A permanent
    failure (no such mailbox, no mail server) will not mend by itself."""
    return permanent or attempts >= MAX_MAIL_ATTEMPTS


def offer_expiry(offered_at: datetime, valid_for: timedelta) -> datetime:
    return offered_at + valid_for


# --- the answers --------------------------------------------------------------------------

COMMENTS_MAX_LENGTH = 2000
HANDLING_SCORES = range(1, 6)
_SAFER_ANSWERS: Mapping[str, SaferFeeling] = {feeling.value: feeling for feeling in SaferFeeling}


@dataclass(frozen=True, slots=True)
class SurveyAnswers:
    handling_score: int
    """1 very dissatisfied .. 5 very satisfied."""
    feels_safer: SaferFeeling
    comments: str | None


@dataclass(frozen=True, slots=True)
class AnswerError:
    field: str
    message: str

    @property
    def target(self) -> str:
        """The id the error summary links to: the field's first input."""
        return self.field


ANSWER_FIELDS = ("handling", "safer", "comments")


def read_answers(form: Mapping[str, str]) -> SurveyAnswers | list[AnswerError]:
    """The page's answers, or what is wrong with them in page order. The two choices are
    required; the comments are optional, and limited in length."""
    errors: list[AnswerError] = []
    handling = form.get("handling", "")
    score = int(handling) if handling.isdigit() and int(handling) in HANDLING_SCORES else None
    if score is None:
        errors.append(
            AnswerError("handling", "Select how satisfied you are with how we handled your case")
        )
    # Only the answers the page offers: the vocabulary would take any string as a newer one.
    safer = _SAFER_ANSWERS.get(form.get("safer", ""))
    if safer is None:
        errors.append(AnswerError("safer", "Select whether you feel safer now"))
    comments = form.get("comments", "").strip()
    if len(comments) > COMMENTS_MAX_LENGTH:
        errors.append(
            AnswerError(
                "comments", f"Your comments must be {COMMENTS_MAX_LENGTH} characters or fewer"
            )
        )
    if errors or score is None or safer is None:
        return errors
    return SurveyAnswers(handling_score=score, feels_safer=safer, comments=comments or None)
