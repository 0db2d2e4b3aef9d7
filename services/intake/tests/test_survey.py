"""The satisfaction survey's pure rules (policy 5.1, 3.2.3-3.2.5): who is offered it and
how, the single-use link, and the answers read from its page."""

from datetime import UTC, datetime, timedelta

import pytest

from hhc_contracts.vocabulary import ClosureReason, ContactMethod, ReporterRole, SaferFeeling
from hhc_intake.survey import (
    AnswerError,
    Delivery,
    NotOffered,
    ReportContact,
    SurveyAnswers,
    SurveyRoute,
    fresh_link_refusal,
    give_mail_to_staff,
    new_token,
    read_answers,
    survey_route,
    token_hash,
)

DAY_1 = datetime(2026, 11, 1, 9, tzinfo=UTC)
DAY_2 = DAY_1 + timedelta(days=1)


def report(
    role: ReporterRole = ReporterRole.SURVIVOR,
    method: ContactMethod | None = ContactMethod.EMAIL,
    *,
    at: datetime = DAY_1,
    email: str | None = "me@example.test",
    phone: str | None = None,
) -> ReportContact:
    return ReportContact(role, at, method, email, phone)


@pytest.mark.parametrize(
    ("reports", "method", "email"),
    [
        ([report()], ContactMethod.EMAIL, "me@example.test"),
        # A phone call is safe: staff pass it on, even though an email address is known.
        (
            [report(method=ContactMethod.TELEPHONE, phone="07700 900000")],
            ContactMethod.TELEPHONE,
            None,
        ),
        (
            [report(method=ContactMethod.LETTER, email=None)],
            ContactMethod.LETTER,
            None,
        ),
        # The newest safe contact the survivor gave is the one used.
        (
            [
                report(at=DAY_2, method=ContactMethod.TEXT_MESSAGE, phone="07700 900001"),
                report(at=DAY_1),
            ],
            ContactMethod.TEXT_MESSAGE,
            None,
        ),
        # A newer report without a usable one leaves the earlier in place.
        (
            [report(at=DAY_2, method=ContactMethod.EMAIL, email=None), report(at=DAY_1)],
            ContactMethod.EMAIL,
            "me@example.test",
        ),
        # The survivor's own report counts beside a third party's.
        (
            [report(ReporterRole.THIRD_PARTY, at=DAY_2, email="them@example.test"), report()],
            ContactMethod.EMAIL,
            "me@example.test",
        ),
    ],
)
def test_the_survivor_is_offered_it_through_their_own_safe_contact(
    reports: list[ReportContact], method: ContactMethod, email: str | None
) -> None:
    route = survey_route(reports)
    assert not isinstance(route, NotOffered)
    assert (route.method, route.email) == (method, email)


@pytest.mark.parametrize(
    ("reports", "reason"),
    [
        ([report(ReporterRole.THIRD_PARTY)], NotOffered.NO_REPORT_BY_SURVIVOR),
        ([report(ReporterRole.WITNESS)], NotOffered.NO_REPORT_BY_SURVIVOR),
        ([report(ReporterRole.ANONYMOUS, email=None)], NotOffered.NO_REPORT_BY_SURVIVOR),
        ([report(ReporterRole.PARTNER_AGENCY)], NotOffered.NO_REPORT_BY_SURVIVOR),
        ([report(method=None)], NotOffered.NO_SAFE_CONTACT),
        ([report(method=ContactMethod.TEXT_MESSAGE, phone=None)], NotOffered.NO_SAFE_CONTACT),
    ],
)
def test_no_one_else_is_offered_it(reports: list[ReportContact], reason: NotOffered) -> None:
    assert survey_route(reports) is reason


@pytest.mark.parametrize("closure_reason", list(ClosureReason), ids=str)
def test_a_survivor_who_could_not_be_contacted_is_not_sent_it(
    closure_reason: ClosureReason,
) -> None:
    route = survey_route([report()], closure_reason)
    if closure_reason is ClosureReason.COULD_NOT_CONTACT:
        assert route is NotOffered.NOT_REACHED
    else:
        assert isinstance(route, SurveyRoute)


def test_answers_are_read_and_a_missing_one_is_named() -> None:
    assert read_answers({"handling": "5", "safer": "unsure", "comments": "  Thanks  "}) == (
        SurveyAnswers(5, SaferFeeling.UNSURE, "Thanks")
    )
    assert read_answers({"handling": "3", "safer": "no", "comments": " "}) == (
        SurveyAnswers(3, SaferFeeling.NO, None)
    )
    errors = read_answers({"handling": "6", "safer": "maybe", "comments": "x" * 2001})
    assert isinstance(errors, list)
    assert [error.field for error in errors] == ["handling", "safer", "comments"]
    assert read_answers({"handling": "2"}) == [
        AnswerError("safer", "Select whether you feel safer now")
    ]


def test_a_fresh_link_only_for_an_open_offer_staff_pass_on() -> None:
    later = DAY_1 + timedelta(days=28)

    def refusal(
        delivery: Delivery, answered: datetime | None = None, now: datetime = DAY_2
    ) -> str | None:
        return fresh_link_refusal(
            delivery=delivery, answered_at=answered, expires_at=later, now=now
        )

    assert refusal(Delivery.BY_STAFF) is None
    assert refusal(Delivery.DELIVERED) is not None
    assert refusal(Delivery.PENDING) is not None
    assert refusal(Delivery.BY_STAFF, answered=DAY_2) is not None
    assert refusal(Delivery.BY_STAFF, now=later) is not None


def test_the_link_token_and_what_is_stored() -> None:
    token = new_token()
    assert token_hash(token) == token_hash(token) != token_hash(new_token())
    assert token.encode() not in token_hash(token)
    # Anything not shaped like a token matches no survey's hash.
    assert token_hash("x") == token_hash("../../etc") != token_hash(token)


def test_mail_goes_to_staff_when_it_will_not_go() -> None:
    assert give_mail_to_staff(attempts=1, permanent=True)
    assert not give_mail_to_staff(attempts=1, permanent=False)
    assert give_mail_to_staff(attempts=6, permanent=False)
