"""Reading the web form into a submission (policy 3.2.2 - 3.2.5, 3.5.2), and the errors a
person sees, without a browser or a database."""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from hhc_contracts.vocabulary import Channel, IncidentCategory, PerpetratorKind, ReporterRole
from hhc_intake.web import Answers, FormError, ReportFor, read_report

REQUIRED = {"categories": ["verbal_abuse"], "customer": ["yes"], "danger": ["no"]}


def answers(**values: str | Sequence[str]) -> Answers:
    form = {**REQUIRED, **{k: [v] if isinstance(v, str) else list(v) for k, v in values.items()}}
    return Answers(form)


def test_report_for_yourself_carries_contact_consent_and_access_needs() -> None:
    report, errors = read_report(
        ReportFor.SELF,
        answers(
            categories=["verbal_abuse", "graffiti"],
            motivation=["race", "religion"],
            description="  Shouting at my door  ",
            occurred_day="5",
            occurred_month="11",
            occurred_year="2025",
            ongoing="yes",
            perpetrators=["customer"],
            perpetrator_description="Lives at number 3",
            survivor_name="A. Resident",
            survivor_phone="07700 900000",
            danger="yes",
            vulnerabilities=["disability"],
            children="yes",
            female_staff="yes",
            safe_method="text_message",
            safe_contact=["text_message", "letter"],
            language="Polish",
            interpreter="yes",
            formats=["large_print"],
            consent="no",
        ),
    )
    assert errors == []
    assert report is not None
    assert report.channel is Channel.WEB_FORM
    assert report.reporter.role is ReporterRole.SURVIVOR
    assert report.survivor.is_customer is True
    assert report.survivor.name == "A. Resident"
    assert report.survivor.at_risk
    assert report.survivor.children_in_household
    assert report.survivor.female_staff_requested
    assert report.survivor.access.language == "Polish"
    assert report.survivor.access.interpreter_needed
    assert report.incident.categories == [IncidentCategory.VERBAL_ABUSE, IncidentCategory.GRAFFITI]
    assert report.incident.description == "Shouting at my door"
    assert report.incident.occurred_at == datetime(2025, 11, 5, tzinfo=UTC)
    assert report.incident.ongoing
    assert report.alleged_perpetrators[0].kind is PerpetratorKind.CUSTOMER
    assert report.alleged_perpetrators[0].description == "Lives at number 3"
    assert report.immediate_danger is True
    assert report.consent.share_with_partners is False
    assert report.consent.safe_contact.text_message
    assert report.consent.safe_contact.letter
    assert not report.consent.safe_contact.voicemail


@pytest.mark.parametrize(("consent", "given"), [("yes", True), ("no", False), ("not-sure", None)])
def test_consent_yes_no_or_not_sure(consent: str, given: bool | None) -> None:
    report, _ = read_report(ReportFor.SELF, answers(consent=consent))
    assert report is not None
    assert report.consent.share_with_partners is given


def test_staff_harmed_at_work_is_not_a_customer() -> None:
    report, _ = read_report(ReportFor.SELF, answers(customer="staff"))
    assert report is not None
    assert (report.survivor.is_customer, report.survivor.is_staff) == (False, True)


def test_anonymous_report_keeps_no_name_even_if_one_is_sent() -> None:
    report, errors = read_report(
        ReportFor.ANONYMOUS,
        answers(
            reporter_name="Someone",
            reporter_contact="07700 900111",
            survivor_name="A. Resident",
            survivor_phone="07700 900000",
        ),
    )
    assert errors == []
    assert report is not None
    assert report.reporter.role is ReporterRole.ANONYMOUS
    assert (report.reporter.name, report.reporter.contact) == (None, None)
    assert (report.survivor.name, report.survivor.phone) == (None, None)
    # Consent is not the reporter's to give (3.5.2): test_intake_consent.py.
    assert report.consent.share_with_partners is None


@pytest.mark.parametrize(("customer", "is_customer"), [("yes", True), ("no", False)])
def test_someone_else_is_a_third_party(customer: str, is_customer: bool) -> None:
    report, _ = read_report(
        ReportFor.SOMEONE_ELSE, answers(customer=customer, reporter_name="B. Friend")
    )
    assert report is not None
    assert report.reporter.role is ReporterRole.THIRD_PARTY
    assert report.reporter.name == "B. Friend"
    assert report.survivor.is_customer is is_customer


def test_not_sure_whether_a_customer_counts_as_one() -> None:
    report, _ = read_report(ReportFor.SOMEONE_ELSE, answers(customer="not-sure"))
    assert report is not None
    assert report.survivor.is_customer


def test_nothing_answered_names_each_required_question_in_page_order() -> None:
    report, errors = read_report(ReportFor.SOMEONE_ELSE, Answers({}))
    assert report is None
    assert errors == [
        FormError("categories", "Select what happened"),
        FormError(
            "customer",
            "Select whether the person it happened to is a Pine Court tenant or customer",
        ),
        FormError("danger", "Select yes if anyone is in danger now"),
    ]
    _, own = read_report(ReportFor.SELF, answers(customer=[]))
    assert own == [FormError("customer", "Select whether you are a Pine Court tenant or customer")]


@pytest.mark.parametrize(
    ("day", "month", "year", "message"),
    [
        ("1", "", "2025", "The date it happened must include a day, month and year"),
        ("31", "2", "2025", "The date it happened must be a real date"),
        ("x", "2", "2025", "The date it happened must be a real date"),
        ("1", "1", "25", "The date it happened must be a real date"),
    ],
)
def test_dates_must_be_whole_and_real(day: str, month: str, year: str, message: str) -> None:
    report, errors = read_report(
        ReportFor.SELF, answers(occurred_day=day, occurred_month=month, occurred_year=year)
    )
    assert report is None
    assert errors == [FormError("occurred", message)]
    assert errors[0].target == "occurred-day"


def test_dates_in_the_future_are_refused() -> None:
    tomorrow = datetime.now(UTC).date() + timedelta(days=2)
    _, errors = read_report(
        ReportFor.SELF,
        answers(
            occurred_day=str(tomorrow.day),
            occurred_month=str(tomorrow.month),
            occurred_year=str(tomorrow.year),
        ),
    )
    assert errors == [FormError("occurred", "The date it happened must be today or in the past")]


def test_too_long_and_unknown_answers_are_named_in_plain_words() -> None:
    _, errors = read_report(
        ReportFor.SELF,
        answers(survivor_name="x" * 201, categories=["verbal_abuse", "shouting"]),
    )
    assert errors == [
        FormError("categories", "Select what happened from the options given"),
        FormError("survivor_name", "Name must be 200 characters or fewer"),
    ]


def test_a_description_of_who_did_it_without_a_kind_is_someone_unknown() -> None:
    report, _ = read_report(ReportFor.SELF, answers(perpetrator_description="A tall man"))
    assert report is not None
    assert [(p.kind, p.description) for p in report.alleged_perpetrators] == [
        (PerpetratorKind.UNKNOWN, "A tall man")
    ]
