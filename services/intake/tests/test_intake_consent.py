"""Consent to share is the survivor's (policy 3.5.2): who may give or refuse it, how a
report's consent joins the case's, and what intake stores and publishes. The rules alone
first, then the web form's reading of them, then intake served in-process on a real
PostgreSQL and the session's broker, over HTTP and the inbound topic."""

import json
import logging
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from hhc_contracts import Envelope, Topic
from hhc_contracts.vocabulary import ConsentGiver, ConsentState, PartnerKind, ReporterRole
from hhc_devstack.pytest_plugin import Broker, TokenFactory, bearer, eventually
from hhc_intake.domain import (
    NOT_ASKED,
    CaseConsent,
    ConsentStatement,
    consent_of_report,
    consent_refusal,
    may_give_consent,
    merge_consent,
    recorded_consent,
)
from hhc_intake.web import NOT_YOURS_TO_SHARE, Answers, FormError, ReportFor, read_report

from .conftest import Intake, from_client

Role = ReporterRole
GIVEN, REFUSED = ConsentState.GIVEN, ConsentState.REFUSED
SURVIVOR, REPRESENTATIVE = ConsentGiver.SURVIVOR, ConsentGiver.AUTHORISED_REPRESENTATIVE
NOT_THE_SURVIVOR = [role for role in Role if role is not Role.SURVIVOR] + [Role("neighbour")]


def said(
    share: bool | None = None, *, by: ConsentGiver | None = None, **kinds: bool
) -> ConsentStatement:
    """A statement: in general, by whom, and for kinds of partner (``housing=False``)."""
    return ConsentStatement(
        share_with_partners=share,
        by_partner_kind={PartnerKind(kind): given for kind, given in kinds.items()},
        given_by=by,
    )


def consent(
    to_share: ConsentState = ConsentState.NOT_ASKED,
    *,
    by: ConsentGiver | None = SURVIVOR,
    **kinds: ConsentState,
) -> CaseConsent:
    """A case's consent: in general, by whom, and where a kind differs."""
    return CaseConsent(to_share, {PartnerKind(k): state for k, state in kinds.items()}, by)


# --------------------------------------------------------------------------- who may give it


@pytest.mark.parametrize("role", [Role.SURVIVOR, *NOT_THE_SURVIVOR], ids=str)
def test_of_reporters_only_the_survivor_may_give_or_refuse_consent(role: Role) -> None:
    # 3.5.2: "the explicit consent of potential survivors"; a role the vocabulary does
    # not know is not the survivor.
    assert may_give_consent(role) is (role is Role.SURVIVOR)


STATEMENTS = [
    pytest.param(said(True), id="given"),
    pytest.param(said(False), id="refused"),
    pytest.param(said(housing=False), id="one-kind-only"),
    pytest.param(said(True, by=REPRESENTATIVE, emergency=False), id="with-giver"),
]


@pytest.mark.parametrize("statement", STATEMENTS)
@pytest.mark.parametrize("role", NOT_THE_SURVIVOR, ids=str)
def test_consent_stated_by_anyone_else_is_refused_with_the_reason(
    role: Role, statement: ConsentStatement
) -> None:
    reason = consent_refusal(role, statement)
    assert reason is not None
    assert role.value in reason
    assert "3.5.2" in reason
    # Where the report is taken all the same (the inbound topic), its consent gives the
    # case nothing.
    assert consent_of_report(role, statement) == ConsentStatement()
    assert merge_consent(consent(GIVEN), consent_of_report(role, statement)) == consent(GIVEN)
    assert merge_consent(NOT_ASKED, consent_of_report(role, statement)) == NOT_ASKED


@pytest.mark.parametrize("statement", STATEMENTS)
def test_the_survivors_own_consent_is_taken_given_by_them_unless_it_says_otherwise(
    statement: ConsentStatement,
) -> None:
    assert consent_refusal(Role.SURVIVOR, statement) is None
    taken = consent_of_report(Role.SURVIVOR, statement)
    assert taken == ConsentStatement(
        statement.share_with_partners, statement.by_partner_kind, statement.given_by or SURVIVOR
    )


@pytest.mark.parametrize("role", [Role.SURVIVOR, *NOT_THE_SURVIVOR], ids=str)
@pytest.mark.parametrize("statement", [said(), said(by=SURVIVOR)], ids=["empty", "only-giver"])
def test_a_report_silent_on_consent_is_refused_from_no_one(
    role: Role, statement: ConsentStatement
) -> None:
    assert statement.silent
    assert consent_refusal(role, statement) is None
    assert consent_of_report(role, statement).silent


# --------------------------------------------------------------------------- merging it

MERGES = [
    # A report silent on consent leaves the case's exactly as it was.
    pytest.param(consent(GIVEN), said(), consent(GIVEN), id="silent-keeps-given"),
    pytest.param(consent(REFUSED), said(), consent(REFUSED), id="silent-keeps-refused"),
    pytest.param(
        consent(GIVEN, by=REPRESENTATIVE, housing=REFUSED),
        said(by=SURVIVOR),
        consent(GIVEN, by=REPRESENTATIVE, housing=REFUSED),
        id="silent-keeps-exceptions-and-giver",
    ),
    pytest.param(NOT_ASKED, said(), NOT_ASKED, id="silent-keeps-not-asked"),
    # An answer in general replaces the case's consent whole.
    pytest.param(consent(GIVEN), said(False, by=SURVIVOR), consent(REFUSED), id="withdrawn"),
    pytest.param(
        consent(REFUSED, housing=GIVEN),
        said(True, by=SURVIVOR),
        consent(GIVEN),
        id="given-after-refusal",
    ),
    pytest.param(
        NOT_ASKED,
        said(True, by=SURVIVOR, housing=False, emergency=True),
        consent(GIVEN, housing=REFUSED),
        id="exceptions-kept-only-where-they-differ",
    ),
    pytest.param(
        consent(GIVEN),
        said(True, by=REPRESENTATIVE),
        consent(GIVEN, by=REPRESENTATIVE),
        id="given-by-a-representative",
    ),
    # Kinds of partner only: those change, the rest stays.
    pytest.param(
        consent(GIVEN),
        said(by=SURVIVOR, housing=False),
        consent(GIVEN, housing=REFUSED),
        id="one-kind-refused",
    ),
    pytest.param(
        consent(GIVEN, housing=REFUSED, statutory=REFUSED),
        said(by=SURVIVOR, housing=True),
        consent(GIVEN, statutory=REFUSED),
        id="one-kind-back-to-the-general-answer",
    ),
    pytest.param(
        NOT_ASKED,
        said(by=SURVIVOR, emergency=True),
        consent(emergency=GIVEN),
        id="one-kind-given-nothing-else-asked",
    ),
    pytest.param(
        consent(REFUSED, by=REPRESENTATIVE),
        said(by=SURVIVOR, support_and_advocacy=True),
        consent(REFUSED, support_and_advocacy=GIVEN),
        id="one-kind-said-by-the-survivor",
    ),
]


@pytest.mark.parametrize(("before", "statement", "after"), MERGES)
def test_a_reports_consent_merged_into_the_cases(
    before: CaseConsent, statement: ConsentStatement, after: CaseConsent
) -> None:
    assert merge_consent(before, statement) == after


RECORDED = [
    pytest.param(said(True, by=SURVIVOR), consent(GIVEN), id="given"),
    pytest.param(said(False, by=REPRESENTATIVE), consent(REFUSED, by=REPRESENTATIVE), id="refused"),
    pytest.param(said(by=SURVIVOR, housing=True), consent(housing=GIVEN), id="one-kind"),
    pytest.param(said(True, by=SURVIVOR, housing=True), consent(GIVEN), id="same-as-general"),
    # Nothing given or refused: no one gave it.
    pytest.param(said(by=SURVIVOR), NOT_ASKED, id="nothing"),
]


@pytest.mark.parametrize(("statement", "expected"), RECORDED)
def test_consent_recorded_anew_replaces_the_cases_whole(
    statement: ConsentStatement, expected: CaseConsent
) -> None:
    assert recorded_consent(statement) == expected


def test_a_kind_not_named_follows_the_general_answer() -> None:
    exceptional = consent(GIVEN, housing=REFUSED)
    assert exceptional.for_kind(PartnerKind.HOUSING) is REFUSED
    assert exceptional.for_kind(PartnerKind.EMERGENCY) is GIVEN


# --------------------------------------------------------------------------- the web form

REQUIRED = {"categories": ["verbal_abuse"], "customer": ["yes"], "danger": ["no"]}


def form(**values: str) -> Answers:
    return Answers({**REQUIRED, **{name: [value] for name, value in values.items()}})


@pytest.mark.parametrize("report_for", [ReportFor.SOMEONE_ELSE, ReportFor.ANONYMOUS])
@pytest.mark.parametrize("answer", ["yes", "no"])
def test_the_form_refuses_consent_sent_with_anyone_elses_report(
    report_for: ReportFor, answer: str
) -> None:
    report, errors = read_report(report_for, form(consent=answer))
    assert report is None
    assert errors == [FormError("consent", NOT_YOURS_TO_SHARE)]


@pytest.mark.parametrize("report_for", [ReportFor.SOMEONE_ELSE, ReportFor.ANONYMOUS])
def test_the_form_takes_anyone_elses_report_without_consent(report_for: ReportFor) -> None:
    for answers in (form(), form(consent="not-sure")):
        report, errors = read_report(report_for, answers)
        assert errors == []
        assert report is not None
        assert report.consent.share_with_partners is None


def test_the_form_takes_the_survivors_own_consent() -> None:
    report, errors = read_report(ReportFor.SELF, form(consent="yes"))
    assert errors == []
    assert report is not None
    assert report.consent.share_with_partners is True


# --------------------------------------------------------------------------- over HTTP


def report_body(role: str = "survivor", **consent_stated: Any) -> dict[str, Any]:
    """A report by ``role`` about a survivor of a name no other test uses; ``consent`` only
    when some is stated."""
    name = f"Resident {uuid.uuid4().hex[:8]}"
    named = role not in ("survivor", "anonymous")
    return {
        "channel": "telephone",
        "reporter": {"role": role, "name": "B. Friend"} if named else {"role": role},
        "survivor": {"is_customer": True, "name": name},
        "alleged_perpetrators": [{"kind": "customer"}],
        "incident": {"categories": ["verbal_abuse"], "perceived_motivation": ["race"]},
        "immediate_danger": False,
        **({"consent": consent_stated} if consent_stated else {}),
    }


class Staff:
    """An adviser of their own, who may read back the cases they took."""

    def __init__(self, intake: Intake, token: str) -> None:
        self.client = httpx.AsyncClient(base_url=intake.url, headers=bearer(token))
        self.database_url = intake.database_url

    async def report(self, body: dict[str, Any]) -> httpx.Response:
        return await self.client.post("/v1/reports", json=body)

    async def opened(self, body: dict[str, Any]) -> str:
        response = await self.report(body)
        assert response.status_code == 202, response.text
        case_id: str = response.json()["case_id"]
        return case_id

    async def further(self, case_id: str, body: dict[str, Any]) -> httpx.Response:
        return await self.client.post(f"/v1/cases/{case_id}/reports", json=body)

    async def case(self, case_id: str) -> dict[str, Any]:
        response = await self.client.get(f"/v1/cases/{case_id}")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    async def published(self, case_id: str) -> list[tuple[str, dict[str, Any]]]:
        return await published(self.database_url, case_id)


CASE_EVENTS = ["intake.report-received", "intake.consent-changed"]


async def published(database_url: str, case_id: str) -> list[tuple[str, dict[str, Any]]]:
    """(event type, payload) of the reports and consent changes intake staged for the
    case, in order (the audit's events are keyed by the case too)."""
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            """SELECT event_type, payload FROM intake.outbox
               WHERE message_key = $1 AND event_type = ANY($2::text[]) ORDER BY id""",
            case_id,
            CASE_EVENTS,
        )
    finally:
        await connection.close()
    return [(row["event_type"], json.loads(row["payload"])["payload"]) for row in rows]


async def count_cases(database_url: str) -> int:
    connection = await asyncpg.connect(database_url)
    try:
        return int(await connection.fetchval("SELECT count(*) FROM intake.cases"))
    finally:
        await connection.close()


def case_consent(case: dict[str, Any]) -> tuple[str, dict[str, str], str | None]:
    return case["consent_to_share"], case["consent_by_partner_kind"], case["consent_given_by"]


def report_consent(payload: dict[str, Any]) -> tuple[str, dict[str, str], str | None]:
    return (
        payload["consent_to_share"],
        payload["consent_by_partner_kind"],
        payload["consent_given_by"],
    )


def history(case: dict[str, Any]) -> list[tuple[str, dict[str, str], str | None]]:
    return [
        (entry["consent_to_share"], entry["by_partner_kind"], entry["given_by"])
        for entry in case["consent_history"]
    ]


@pytest.fixture
async def staff(intake: Intake, issue_token: TokenFactory) -> Any:
    adviser = Staff(intake, issue_token("adviser", subject=f"adviser-{uuid.uuid4().hex[:6]}"))
    try:
        yield adviser
    finally:
        await adviser.client.aclose()


def refused_on_consent(response: httpx.Response) -> bool:
    body = response.json()
    return (
        response.status_code == 422
        and [error["field"] for error in body["errors"]] == ["consent"]
        and "3.5.2" in body["errors"][0]["message"]
    )


OTHER_REPORTERS = ["third_party", "witness", "anonymous", "staff_observer", "partner_agency"]
STATED = [
    pytest.param({"share_with_partners": True}, id="given"),
    pytest.param({"share_with_partners": False}, id="refused"),
    pytest.param({"by_partner_kind": {"emergency": True}}, id="one-kind"),
]


@pytest.mark.parametrize("stated", STATED)
@pytest.mark.parametrize("role", OTHER_REPORTERS)
async def test_a_report_stating_consent_from_anyone_but_the_survivor_is_refused(
    staff: Staff, role: str, stated: dict[str, Any]
) -> None:
    before = await count_cases(staff.database_url)
    response = await staff.report(report_body(role, **stated))
    assert refused_on_consent(response), response.text
    assert await count_cases(staff.database_url) == before
    # Without consent, the same report is taken; the case's consent is not asked.
    case_id = await staff.opened(report_body(role, safe_contact={"letter": True}))
    case = await staff.case(case_id)
    assert case_consent(case) == ("not_asked", {}, None)
    assert history(case) == [("not_asked", {}, None)]


async def test_a_survivors_report_gives_consent_per_kind_given_by_them(staff: Staff) -> None:
    case_id = await staff.opened(
        report_body(share_with_partners=True, by_partner_kind={"housing": False, "emergency": True})
    )
    case = await staff.case(case_id)
    assert case_consent(case) == ("given", {"housing": "refused"}, "survivor")
    assert history(case) == [("given", {"housing": "refused"}, "survivor")]
    [(kind, payload)] = await staff.published(case_id)
    assert kind == "intake.report-received"
    assert report_consent(payload) == ("given", {"housing": "refused"}, "survivor")


async def test_a_further_report_silent_on_consent_leaves_it_as_it_was(staff: Staff) -> None:
    case_id = await staff.opened(
        report_body(share_with_partners=True, by_partner_kind={"housing": False})
    )
    # The survivor's own report and a witness's, both silent (an empty consent, or only
    # the giver, says nothing), each with the same answer.
    for body in (
        report_body(),
        report_body(given_by="authorised_representative"),
        report_body("witness"),
    ):
        response = await staff.further(case_id, body)
        assert response.status_code == 202, response.text
    case = await staff.case(case_id)
    assert case_consent(case) == ("given", {"housing": "refused"}, "survivor")
    assert len(case["consent_history"]) == 1
    events = await staff.published(case_id)
    assert [kind for kind, _ in events] == ["intake.report-received"] * 4
    for _, payload in events:
        assert report_consent(payload) == ("given", {"housing": "refused"}, "survivor")
    assert [payload["further_report"] for _, payload in events] == [False, True, True, True]


async def test_a_further_report_may_not_carry_anyone_elses_consent(staff: Staff) -> None:
    case_id = await staff.opened(report_body(share_with_partners=True))
    refused = await staff.further(case_id, report_body("third_party", share_with_partners=False))
    assert refused_on_consent(refused), refused.text
    case = await staff.case(case_id)
    assert case_consent(case) == ("given", {}, "survivor")
    assert len(case["reports"]) == 1


async def test_the_survivors_further_report_withdrawing_consent_is_recorded_and_published(
    staff: Staff,
) -> None:
    case_id = await staff.opened(report_body(share_with_partners=True))
    withdrawn = await staff.further(case_id, report_body(share_with_partners=False))
    assert withdrawn.status_code == 202, withdrawn.text
    narrowed = await staff.further(case_id, report_body(by_partner_kind={"statutory": True}))
    assert narrowed.status_code == 202, narrowed.text

    case = await staff.case(case_id)
    assert case_consent(case) == ("refused", {"statutory": "given"}, "survivor")
    assert history(case) == [
        ("given", {}, "survivor"),
        ("refused", {}, "survivor"),
        ("refused", {"statutory": "given"}, "survivor"),
    ]
    events = await staff.published(case_id)
    assert [kind for kind, _ in events] == [
        "intake.report-received",
        "intake.report-received",
        "intake.consent-changed",
        "intake.report-received",
        "intake.consent-changed",
    ]
    assert [report_consent(p) for k, p in events if k == "intake.report-received"] == [
        ("given", {}, "survivor"),
        ("refused", {}, "survivor"),
        ("refused", {"statutory": "given"}, "survivor"),
    ]
    assert [
        (p["consent_to_share"], p["by_partner_kind"], p["given_by"])
        for k, p in events
        if k == "intake.consent-changed"
    ] == [("refused", {}, "survivor"), ("refused", {"statutory": "given"}, "survivor")]


async def test_staff_record_consent_saying_who_gave_it(staff: Staff) -> None:
    case_id = await staff.opened(report_body())
    url = f"/v1/cases/{case_id}/consent"

    unsaid = await staff.client.put(url, json={"share_with_partners": True})
    assert unsaid.status_code == 422
    assert [error["field"] for error in unsaid.json()["errors"]] == ["given_by"]
    assert case_consent(await staff.case(case_id)) == ("not_asked", {}, None)

    given = await staff.client.put(
        url,
        json={
            "share_with_partners": True,
            "by_partner_kind": {"housing": False, "emergency": True},
            "given_by": "authorised_representative",
        },
    )
    assert given.status_code == 200, given.text
    assert given.json() | {"changed_at": None} == {
        "case_id": case_id,
        "consent_to_share": "given",
        "by_partner_kind": {"housing": "refused"},
        "given_by": "authorised_representative",
        "changed_at": None,
    }
    # Withdrawn: consent refused after it was given, replacing it whole.
    withdrawn = await staff.client.put(
        url, json={"share_with_partners": False, "given_by": "survivor"}
    )
    assert withdrawn.status_code == 200, withdrawn.text

    case = await staff.case(case_id)
    assert case_consent(case) == ("refused", {}, "survivor")
    assert history(case) == [
        ("not_asked", {}, None),
        ("given", {"housing": "refused"}, "authorised_representative"),
        ("refused", {}, "survivor"),
    ]
    changes = [p for kind, p in await staff.published(case_id) if kind == "intake.consent-changed"]
    assert [(p["consent_to_share"], p["by_partner_kind"], p["given_by"]) for p in changes] == [
        ("given", {"housing": "refused"}, "authorised_representative"),
        ("refused", {}, "survivor"),
    ]


# --------------------------------------------------------------------------- the public form


async def test_the_public_form_refuses_consent_with_someone_elses_report(intake: Intake) -> None:
    before = await count_cases(intake.database_url)
    async with httpx.AsyncClient(base_url=intake.public_url, headers=from_client()) as client:
        page = await client.get("/report?for=someone-else")
        assert page.status_code == 200
        assert 'name="consent"' not in page.text  # not asked of them
        hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page.text))
        assert {"for", "token", "submission"} <= set(hidden)
        answers = {**hidden, "categories": "graffiti", "customer": "yes", "danger": "no"}
        refused = await client.post("/report", data={**answers, "consent": "yes"})
        assert refused.status_code == 422
        assert "Only the person it happened to can tell us" in refused.text
        assert await count_cases(intake.database_url) == before
        taken = await client.post("/report", data=answers)
        assert taken.status_code == 200, taken.text
    assert await count_cases(intake.database_url) == before + 1


# --------------------------------------------------------------------------- the inbound topic


async def submit(broker: Broker, body: dict[str, Any]) -> Envelope:
    now = datetime.now(UTC)
    event_id = uuid.uuid4()
    envelope = Envelope(
        event_id=event_id,
        event_type="intake.report-submitted",
        schema_version=1,
        producer="crm",
        case_id=None,
        occurred_at=now,
        correlation_id=event_id,
        payload=body,
    )
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(
            Topic.INTAKE_SUBMISSIONS.value,
            envelope.model_dump_json().encode(),
            key=str(event_id).encode(),
            headers=[(k, v.encode()) for k, v in envelope.headers().items()],
        )
    finally:
        await producer.stop()
    return envelope


async def case_of_survivor(database_url: str, name: str) -> dict[str, Any] | None:
    connection = await asyncpg.connect(database_url)
    try:
        row = await connection.fetchrow(
            """SELECT c.case_id, c.consent_to_share, c.consent_by_partner_kind::text,
                      c.consent_given_by
               FROM intake.cases c JOIN intake.reports r USING (case_id)
               WHERE r.body -> 'survivor' ->> 'name' = $1""",
            name,
        )
    finally:
        await connection.close()
    if row is None:
        return None
    return {**row, "consent_by_partner_kind": json.loads(row["consent_by_partner_kind"])}


def logged_text(records: Sequence[logging.LogRecord]) -> str:
    return "\n".join(f"{r.getMessage()} {sorted(vars(r).items())!r}" for r in records)


async def test_a_submission_from_another_system_is_taken_without_anyone_elses_consent(
    intake: Intake, broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="hhc_intake")
    body = report_body("third_party", share_with_partners=True, by_partner_kind={"housing": True})
    name = body["survivor"]["name"]
    await submit(broker, body)

    async def opened() -> dict[str, Any] | None:
        return await case_of_survivor(intake.database_url, name)

    case = await eventually(opened, timeout=60, message="the submission opened no case")
    assert (
        case["consent_to_share"],
        case["consent_by_partner_kind"],
        case["consent_given_by"],
    ) == ("not_asked", {}, None)
    [(kind, payload)] = await published(intake.database_url, str(case["case_id"]))
    assert kind == "intake.report-received"
    assert report_consent(payload) == ("not_asked", {}, None)

    ignored = [
        record
        for record in caplog.records
        if getattr(record, "case_id", None) == str(case["case_id"])
    ]
    assert [record.getMessage() for record in ignored] == [
        "consent stated by a reporter who is not the survivor ignored (3.5.2)"
    ]
    assert getattr(ignored[0], "reporter_role", None) == "third_party"
    text = logged_text(caplog.records)
    # No personal data.
    assert name not in text
    assert "B. Friend" not in text
