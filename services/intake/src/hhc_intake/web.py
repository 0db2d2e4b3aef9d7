"""Intake's public web pages: report for yourself, for someone else or anonymously,
self-help guidance one click from the start page, and the status of your own report
(policy 1.6.1, 3.2.1, 3.2.3, 3.6.2). Served on the public listener only.

Server-rendered, usable without JavaScript, following GOV.UK's accessible patterns.
A form is read into a :class:`ReportSubmitted` (channel ``web_form``), validated like
every other way in, and opens a case exactly as ``POST /v1/reports`` does; the answer
to the post is the page showing the reference and, to a reporter who gets feedback, the
status code, shown this once (it is in no address, so not in the browser's history).
The form is guarded and the posts rate limited by :mod:`hhc_intake.public`. No cookies,
no sessions; nothing a person typed is logged.
"""

import hashlib
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any
from uuid import UUID

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from hhc_chassis.service import runtime_of
from hhc_contracts.submission import ReportSubmitted
from hhc_contracts.vocabulary import (
    AccessibleFormat,
    Channel,
    ContactMethod,
    IncidentCategory,
    PerceivedMotivation,
    PerpetratorKind,
    ReporterRole,
    Vulnerability,
)
from hhc_intake.cases import open_case
from hhc_intake.domain import ConsentStatement, consent_refusal
from hhc_intake.public import from_another_site, guard_of
from hhc_intake.settings import intake_settings
from hhc_intake.status import reissue_status_code, report_status

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"

templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
)
_static = StaticFiles(directory=STATIC_DIR)

router = APIRouter(include_in_schema=False)

# Pages carry no script of their own, post only to themselves and must not be framed.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'none'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
# A page showing what someone typed, or their reference, is never kept in a cache: a
# shared computer must not show it to the next person.
PRIVATE = {**SECURITY_HEADERS, "Cache-Control": "no-store"}


class ReportFor(StrEnum):
    """The three ways in from the start page (3.2.2, 3.2.3, 3.2.5)."""

    SELF = "self"
    SOMEONE_ELSE = "someone-else"
    ANONYMOUS = "anonymous"


ROLE_FOR = {
    ReportFor.SELF: ReporterRole.SURVIVOR,
    ReportFor.SOMEONE_ELSE: ReporterRole.THIRD_PARTY,
    ReportFor.ANONYMOUS: ReporterRole.ANONYMOUS,
}

# Plain-English labels for the shared vocabulary: (value, label, hint).
Option = tuple[str, str, str | None]

CATEGORY_OPTIONS: list[Option] = [
    (IncidentCategory.VERBAL_ABUSE, "Verbal abuse, like name-calling or offensive jokes", None),
    (IncidentCategory.BULLYING_OR_INTIMIDATION, "Bullying or intimidation", None),
    (
        IncidentCategory.PHYSICAL_ATTACK,
        "A physical attack, like hitting, punching, pushing or spitting",
        None,
    ),
    (IncidentCategory.THREATS_OF_VIOLENCE, "Threats of violence", None),
    (
        IncidentCategory.HOAX_CALLS_ABUSIVE_MESSAGES_HATE_MAIL,
        "Hoax calls, abusive phone calls or text messages, or hate mail",
        None,
    ),
    (
        IncidentCategory.ONLINE_ABUSE,
        "Online abuse, for example on social media",
        "We give advice on online abuse but cannot look into personal messages or accounts.",
    ),
    (
        IncidentCategory.DISCRIMINATORY_LITERATURE,
        "Displaying or handing out discriminatory leaflets or posters",
        None,
    ),
    (IncidentCategory.DAMAGE_TO_PROPERTY, "Harm or damage to property, a pet or a vehicle", None),
    (IncidentCategory.GRAFFITI, "Graffiti", None),
    (IncidentCategory.ARSON, "Arson (setting fire to something on purpose)", None),
    (IncidentCategory.MALICIOUS_COMPLAINTS, "False or malicious complaints", None),
]

MOTIVATION_OPTIONS: list[Option] = [
    (PerceivedMotivation.DISABILITY, "Disability", None),
    (PerceivedMotivation.RACE, "Race or ethnicity", None),
    (PerceivedMotivation.RELIGION, "Religion or belief", None),
    (PerceivedMotivation.TRANSGENDER_IDENTITY, "Being transgender, or gender expression", None),
    (PerceivedMotivation.SEXUAL_ORIENTATION, "Sexual orientation", None),
    (PerceivedMotivation.GENDER, "Gender", None),
    (PerceivedMotivation.AGE, "Age", None),
]

PERPETRATOR_OPTIONS: list[Option] = [
    (PerpetratorKind.CUSTOMER, "Someone who lives in a Pine Court home", None),
    (PerpetratorKind.STAFF, "Someone who works for Pine Court", None),
    (
        PerpetratorKind.ACTING_FOR_LANDLORD,
        "Someone doing work for Pine Court, like a contractor",
        None,
    ),
    (PerpetratorKind.NOT_CUSTOMER, "Someone else", None),
    (PerpetratorKind.UNKNOWN, "I do not know who did it", None),
]

VULNERABILITY_OPTIONS: list[Option] = [
    (Vulnerability.AGE, "Older age", None),
    (Vulnerability.DISABILITY, "A disability", None),
    (Vulnerability.MENTAL_HEALTH, "A mental health condition", None),
    (Vulnerability.LEARNING_DISABILITY, "A learning disability", None),
    (Vulnerability.ISOLATION, "Living alone or having little support", None),
    (Vulnerability.PREGNANCY, "Pregnancy", None),
]

SAFE_METHOD_OPTIONS: list[Option] = [
    (ContactMethod.TELEPHONE, "Phone call", None),
    (ContactMethod.TEXT_MESSAGE, "Text message", None),
    (ContactMethod.EMAIL, "Email", None),
    (ContactMethod.LETTER, "Letter", None),
    (ContactMethod.IN_PERSON, "In person", None),
]

SAFE_CONTACT_OPTIONS: list[Option] = [
    ("voicemail", "Leave a voicemail", None),
    ("text_message", "Send a text message", None),
    ("letter", "Send a letter", None),
]

FORMAT_OPTIONS: list[Option] = [
    (AccessibleFormat.LARGE_PRINT, "Large print", None),
    (AccessibleFormat.BRAILLE, "Braille", None),
    (AccessibleFormat.EASY_READ, "Easy read", None),
    (AccessibleFormat.AUDIO, "Audio", None),
]

YES_NO: list[Option] = [("yes", "Yes", None), ("no", "No", None)]

CUSTOMER_OPTIONS: dict[ReportFor, list[Option]] = {
    ReportFor.SELF: [
        ("yes", "Yes", None),
        ("no", "No", None),
        (
            "staff",
            "No, I work for Pine Court and it happened while I was working",
            "We will pass it to your line manager or the People and Learning Team.",
        ),
    ],
    ReportFor.SOMEONE_ELSE: [
        ("yes", "Yes", None),
        ("no", "No", None),
        ("not-sure", "I am not sure", None),
    ],
    ReportFor.ANONYMOUS: [
        ("yes", "Yes", None),
        ("no", "No", None),
        ("not-sure", "I am not sure", None),
    ],
}

CONSENT_OPTIONS: list[Option] = [
    ("yes", "Yes", None),
    ("no", "No", None),
    ("not-sure", "I am not sure yet", "We will ask you again when we contact you."),
]

# Fields in the order they appear on the page, with the words an error uses for them.
FIELD_NAMES: dict[str, str] = {
    "categories": "what happened",
    "motivation": "why you think it happened",
    "description": "Your description",
    "location": "Where it happened",
    "occurred": "The date it happened",
    "ongoing": "whether it is still happening",
    "perpetrators": "who did it",
    "perpetrator_description": "The description of who did it",
    "customer": "whether they are a Pine Court customer",
    "survivor_name": "Name",
    "survivor_phone": "Phone number",
    "survivor_email": "Email address",
    "tenancy_reference": "Tenancy reference",
    "danger": "whether anyone is in danger now",
    "vulnerabilities": "what may make them more at risk",
    "children": "whether children live there",
    "reporter_name": "Your name",
    "reporter_contact": "Your phone number or email address",
    "safe_method": "the safest way to contact you",
    "safe_contact": "how we may contact you",
    "safe_times": "When it is safe to contact you",
    "language": "Language",
    "formats": "the formats you need",
    "consent": "whether we can share what you told us",
}

REQUIRED_MESSAGES: dict[str, str] = {
    "categories": "Select what happened",
    "customer": "Select whether the person it happened to is a Pine Court tenant or customer",
    "danger": "Select yes if anyone is in danger now",
}
YOU_ARE_A_CUSTOMER = "Select whether you are a Pine Court tenant or customer"
NOT_YOURS_TO_SHARE = (
    "Only the person it happened to can tell us whether we may share what they told us. "
    "We will ask them"
)

# Where in ReportSubmitted each form field lands: an error there is shown on the field.
_FIELD_AT: dict[tuple[str, ...], str] = {
    ("incident", "categories"): "categories",
    ("incident", "perceived_motivation"): "motivation",
    ("incident", "description"): "description",
    ("incident", "location"): "location",
    ("incident", "occurred_at"): "occurred",
    ("incident", "ongoing"): "ongoing",
    ("alleged_perpetrators", "kind"): "perpetrators",
    ("alleged_perpetrators", "description"): "perpetrator_description",
    ("alleged_perpetrators",): "perpetrators",
    ("survivor", "is_customer"): "customer",
    ("survivor", "name"): "survivor_name",
    ("survivor", "phone"): "survivor_phone",
    ("survivor", "email"): "survivor_email",
    ("survivor", "tenancy_reference"): "tenancy_reference",
    ("survivor", "vulnerabilities"): "vulnerabilities",
    ("survivor", "children_in_household"): "children",
    ("survivor", "access", "safe_contact_method"): "safe_method",
    ("survivor", "access", "safe_contact_times"): "safe_times",
    ("survivor", "access", "language"): "language",
    ("survivor", "access", "accessible_formats"): "formats",
    ("reporter", "name"): "reporter_name",
    ("reporter", "contact"): "reporter_contact",
    ("consent", "share_with_partners"): "consent",
}

SUBMISSION_TOKEN = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True, slots=True)
class FormError:
    field: str
    message: str

    @property
    def target(self) -> str:
        """The id the error summary links to: the field's first input."""
        return "occurred-day" if self.field == "occurred" else self.field


class Answers:
    """What the person entered, to read the report from and to show back on errors."""

    def __init__(self, values: Mapping[str, Sequence[str]]) -> None:
        self._values = {name: [v for v in items if v] for name, items in values.items()}

    def get(self, name: str) -> str:
        items = self._values.get(name)
        return items[0] if items else ""

    def getlist(self, name: str) -> list[str]:
        return list(self._values.get(name, []))

    def checked(self, name: str, value: str) -> bool:
        return value in self._values.get(name, [])

    def text(self, name: str) -> str | None:
        return self.get(name).strip() or None


def _yes_no(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value)


def _occurred_at(answers: Answers) -> tuple[datetime | None, FormError | None]:
    """A GOV.UK date input: blank is fine, a partial or impossible date is not."""
    parts = [answers.get(f"occurred_{part}").strip() for part in ("day", "month", "year")]
    if not any(parts):
        return None, None
    if not all(parts):
        return None, FormError(
            "occurred", "The date it happened must include a day, month and year"
        )
    try:
        day, month, year = (int(part) for part in parts)
        when = date(year, month, day)
    except ValueError:
        return None, FormError("occurred", "The date it happened must be a real date")
    if year < 1900:
        return None, FormError("occurred", "The date it happened must be a real date")
    if when > datetime.now(UTC).date():
        return None, FormError("occurred", "The date it happened must be today or in the past")
    # Midnight UTC falls on the same calendar day in the UK, summer or winter.
    return datetime(when.year, when.month, when.day, tzinfo=UTC), None


def _describe(error: Mapping[str, Any], report_for: ReportFor) -> FormError:
    """One pydantic error in plain words, on the form field it belongs to."""
    path = tuple(str(part) for part in error["loc"] if not isinstance(part, int))
    field = next(
        (_FIELD_AT[path[:n]] for n in range(len(path), 0, -1) if path[:n] in _FIELD_AT),
        "categories",
    )
    name = FIELD_NAMES[field]
    kind = error["type"]
    if kind in ("missing", "too_short") and field in REQUIRED_MESSAGES:
        if field == "customer" and report_for is ReportFor.SELF:
            return FormError(field, YOU_ARE_A_CUSTOMER)
        return FormError(field, REQUIRED_MESSAGES[field])
    if kind == "string_too_long":
        limit = error.get("ctx", {}).get("max_length")
        return FormError(field, f"{name[0].upper()}{name[1:]} must be {limit} characters or fewer")
    if kind == "too_long":
        return FormError(field, f"Select fewer options for {name}")
    if kind in ("enum", "literal_error", "bool_parsing"):
        return FormError(field, f"Select {name} from the options given")
    return FormError(field, f"Check {name}")


def read_report(
    report_for: ReportFor, answers: Answers
) -> tuple[ReportSubmitted | None, list[FormError]]:
    """The form's answers as a submission, or the errors to show, in page order."""
    errors: list[FormError] = []
    occurred_at, date_error = _occurred_at(answers)
    if date_error:
        errors.append(date_error)
    danger = _yes_no(answers.get("danger"))
    if danger is None:
        errors.append(FormError("danger", REQUIRED_MESSAGES["danger"]))

    survivor: dict[str, Any] = {
        "vulnerabilities": answers.getlist("vulnerabilities"),
        "children_in_household": answers.checked("children", "yes"),
    }
    match answers.get("customer"):
        case "yes" | "not-sure" if report_for is not ReportFor.SELF:
            # Not sure counts as a customer: staff then make discreet enquiries (3.2.4)
            # or check the report (3.2.5) rather than treat it as someone else's matter.
            survivor["is_customer"] = True
        case "yes":
            survivor["is_customer"] = True
        case "no":
            survivor["is_customer"] = False
        case "staff" if report_for is ReportFor.SELF:
            survivor |= {"is_customer": False, "is_staff": True}
        case _:
            pass  # missing: the model says so
    reporter: dict[str, Any] = {"role": ROLE_FOR[report_for]}
    consent: dict[str, Any] = {}
    if report_for is ReportFor.SELF:
        survivor |= {
            "name": answers.text("survivor_name"),
            "phone": answers.text("survivor_phone"),
            "email": answers.text("survivor_email"),
            "tenancy_reference": answers.text("tenancy_reference"),
            "female_staff_requested": answers.checked("female_staff", "yes"),
            "access": {
                "safe_contact_method": answers.get("safe_method") or None,
                "safe_contact_times": answers.text("safe_times"),
                "language": answers.text("language"),
                "interpreter_needed": answers.checked("interpreter", "yes"),
                "british_sign_language": answers.checked("bsl", "yes"),
                "accessible_formats": answers.getlist("formats"),
            },
        }
        # The consent is the survivor's to give (3.5.2): asked only of them.
        consent = {
            "share_with_partners": _yes_no(answers.get("consent")),
            "safe_contact": {
                option: answers.checked("safe_contact", option)
                for option, _, _ in SAFE_CONTACT_OPTIONS
            },
        }
    elif report_for is ReportFor.SOMEONE_ELSE:
        survivor |= {
            "name": answers.text("survivor_name"),
            "phone": answers.text("survivor_phone"),
        }
        reporter |= {
            "name": answers.text("reporter_name"),
            "contact": answers.text("reporter_contact"),
        }
    # Anonymous: no name or contact of anyone is asked for, so none can be given. Nor is
    # consent asked of anyone but the survivor (3.5.2): an answer to it sent with anyone
    # else's report did not come from their page, and is refused, not ignored.
    stated = ConsentStatement(share_with_partners=_yes_no(answers.get("consent")))
    if consent_refusal(ROLE_FOR[report_for], stated) is not None:
        errors.append(FormError("consent", NOT_YOURS_TO_SHARE))

    perpetrator_description = answers.text("perpetrator_description")
    kinds = answers.getlist("perpetrators")
    if perpetrator_description and not kinds:
        kinds = [PerpetratorKind.UNKNOWN]
    data: dict[str, Any] = {
        "channel": Channel.WEB_FORM,
        "reporter": reporter,
        "survivor": survivor,
        "alleged_perpetrators": [
            {"kind": kind, "description": perpetrator_description if i == 0 else None}
            for i, kind in enumerate(kinds)
        ],
        "incident": {
            "categories": answers.getlist("categories"),
            "perceived_motivation": answers.getlist("motivation"),
            "description": answers.text("description"),
            "location": answers.text("location"),
            "occurred_at": occurred_at,
            "ongoing": answers.get("ongoing") == "yes",
        },
        "immediate_danger": bool(danger),
        "consent": consent,
    }
    try:
        report = ReportSubmitted.model_validate(data)
    except ValidationError as invalid:
        errors.extend(_describe(error, report_for) for error in invalid.errors(include_input=False))
        report = None
    return (None if errors else report), _in_page_order(errors)


def _in_page_order(errors: Iterable[FormError]) -> list[FormError]:
    first: dict[str, FormError] = {}
    for error in errors:
        first.setdefault(error.field, error)
    order = list(FIELD_NAMES)
    return sorted(first.values(), key=lambda error: order.index(error.field))


def _page(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    status: int = 200,
    private: bool = False,
) -> Response:
    return templates.TemplateResponse(
        request,
        template,
        context or {},
        status_code=status,
        headers=PRIVATE if private else SECURITY_HEADERS,
    )


def _report_for(value: str | None) -> ReportFor | None:
    try:
        return ReportFor(value or "")
    except ValueError:
        return None


def _form_context(
    request: Request,
    report_for: ReportFor,
    answers: Answers,
    errors: Sequence[FormError],
    submission: str,
) -> dict[str, Any]:
    return {
        "report_for": report_for.value,
        "answers": answers,
        "errors": list(errors),
        "error_for": {error.field: error.message for error in errors},
        "submission": submission,
        "token": guard_of(request).tokens.issue(submission, request),
        "categories": CATEGORY_OPTIONS,
        "motivations": MOTIVATION_OPTIONS,
        "perpetrators": PERPETRATOR_OPTIONS,
        "vulnerabilities": VULNERABILITY_OPTIONS,
        "customer_options": CUSTOMER_OPTIONS[report_for],
        "safe_methods": SAFE_METHOD_OPTIONS,
        "safe_contacts": SAFE_CONTACT_OPTIONS,
        "formats": FORMAT_OPTIONS,
        "yes_no": YES_NO,
        "consent_options": CONSENT_OPTIONS,
    }


# Shown when a form's token is missing, too old or from another connection: the answers
# are shown again, with a fresh token, to be sent once more.
NOT_SENT_YET = FormError(
    "send-report", "Your report has not been sent yet. Check your answers and send it again"
)


def _refused(request: Request) -> Response:
    """A post another site made the browser send: nothing of it is shown back."""
    context = {
        "title": "Your request was not sent",
        "paragraphs": [
            "It came from another website, not from this one, so we did not act on it.",
        ],
    }
    return _page(request, "problem.html", context, status=403, private=True)


def _too_many(request: Request, seconds: int) -> Response:
    minutes = max(1, -(-seconds // 60))
    wait = "1 minute" if minutes == 1 else f"{minutes} minutes"
    context = {
        "title": "Too many attempts",
        "paragraphs": [
            f"Too many have been sent from your connection in a short time. Wait {wait} "
            "and try again.",
            "You can also phone or text us on 0300 365 1111.",
        ],
    }
    response = _page(request, "problem.html", context, status=429, private=True)
    response.headers["Retry-After"] = str(seconds)
    return response


@router.get("/")
async def start_page(request: Request) -> Response:
    return _page(request, "start.html")


@router.get("/help")
async def help_page(request: Request) -> Response:
    return _page(request, "help.html")


@router.get("/report")
async def report_form(request: Request) -> Response:
    report_for = _report_for(request.query_params.get("for"))
    if report_for is None:
        return RedirectResponse("/", status_code=303)
    context = _form_context(request, report_for, Answers({}), [], uuid.uuid4().hex)
    # The page holds a token bound to this connection: not kept in a cache.
    return _page(request, "report.html", context, private=True)


@router.post("/report")
async def submit_report_form(request: Request) -> Response:
    if from_another_site(request):
        return _refused(request)
    if (wait := await guard_of(request).limits.retry_after("submit", request)) is not None:
        return _too_many(request, wait)
    async with request.form(max_files=0, max_fields=200) as form:
        values = {name: [v for v in form.getlist(name) if isinstance(v, str)] for name in form}
    answers = Answers(values)
    report_for = _report_for(answers.get("for"))
    if report_for is None:
        return RedirectResponse("/", status_code=303)
    submission = answers.get("submission")
    if not SUBMISSION_TOKEN.match(submission):
        submission = uuid.uuid4().hex
    report, errors = read_report(report_for, answers)
    if not guard_of(request).tokens.valid(answers.get("token"), submission, request):
        context = _form_context(request, report_for, answers, [NOT_SENT_YET, *errors], submission)
        return _page(request, "report.html", context, status=400, private=True)
    if report is None:
        context = _form_context(request, report_for, answers, errors, submission)
        return _page(request, "report.html", context, status=422, private=True)
    reference, status_code = await _open_case_once(request, report, submission)
    context = {
        "reference": reference,
        "status_code": status_code,
        "report_for": report_for.value,
    }
    return _page(request, "done.html", context, private=True)


async def _open_case_once(
    request: Request, report: ReportSubmitted, submission: str
) -> tuple[str, str | None]:
    """Open a case, as ``POST /v1/reports`` does, and give its reference and status code.
    The same form sent twice (a double click, a reload) opens one case: the page's token
    and the report make the key. The second answer is the one the browser shows, so it
    carries a new status code, which replaces the first (only its hash was kept)."""
    digest = hashlib.sha256(report.model_dump_json().encode()).hexdigest()
    key = f"web-form:{submission}:{digest}"
    async with runtime_of(request).pool.acquire() as connection, connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock(hashtext($1))", key)
        earlier = await connection.fetchrow(
            "SELECT case_id, response->>'reference' AS reference FROM idempotency_keys "
            "WHERE key = $1",
            key,
        )
        if earlier is not None:
            case_id: UUID = earlier["case_id"]
            return str(earlier["reference"]), await reissue_status_code(connection, case_id)
        accepted = await open_case(
            connection,
            report,
            received_at=datetime.now(UTC),
            teams=intake_settings(request).team_assignment,
        )
        await connection.execute(
            """INSERT INTO idempotency_keys (key, request_hash, case_id, response)
               VALUES ($1, $2, $3, jsonb_build_object('case_id', $3::uuid::text,
                                                      'reference', $4::text))""",
            key,
            digest,
            accepted.case_id,
            accepted.reference,
        )
    return accepted.reference, accepted.status_code


# --- the status of your own report -----------------------------------------------------

STATUS_WORDS: dict[str, tuple[str, str]] = {
    "open": (
        "Open",
        "We are dealing with your report. We will contact you in the way you told us is safe.",
    ),
    "in_progress": (
        "In progress",
        "We are dealing with your report. We will contact you in the way you told us is safe.",
    ),
    "awaiting_closure": (
        "In progress",
        "We are checking everything has been done before we close your report.",
    ),
    "reopened": (
        "Reopened",
        "We are dealing with your report again. We will contact you in the way you told us "
        "is safe.",
    ),
    "closed": ("Closed", "We have finished dealing with your report."),
}
NOT_FOUND = (
    "We could not find a report with that reference number and status code. Check both "
    "and try again."
)


def _status_page(
    request: Request,
    answers: Answers,
    errors: Sequence[FormError] = (),
    status: int = 200,
    not_found: bool = False,
) -> Response:
    context = {
        "answers": answers,
        "errors": list(errors),
        "error_for": {error.field: error.message for error in errors},
        "not_found": NOT_FOUND if not_found else None,
        "found": None,
    }
    return _page(request, "status.html", context, status=status, private=True)


@router.get("/status")
async def status_form(request: Request) -> Response:
    return _status_page(request, Answers({}))


@router.post("/status")
async def status_lookup(request: Request) -> Response:
    """Both the reference and the status code, or nothing: every failure is the same 404."""
    if from_another_site(request):
        return _refused(request)
    if (wait := await guard_of(request).limits.retry_after("status", request)) is not None:
        return _too_many(request, wait)
    async with request.form(max_files=0, max_fields=10) as form:
        values = {name: [v for v in form.getlist(name) if isinstance(v, str)] for name in form}
    # The code is never shown back; the reference is, to be corrected.
    answers = Answers({"reference": values.get("reference", [])})
    reference = answers.get("reference").strip().upper()
    code = Answers(values).get("status_code")
    errors = [
        FormError(field, message)
        for field, given, message in (
            ("reference", reference, "Enter your reference number"),
            ("status_code", code, "Enter your status code"),
        )
        if not given.strip()
    ]
    if errors:
        return _status_page(request, answers, errors, status=422)
    found = await report_status(runtime_of(request).pool, reference, code)
    if found is None:
        return _status_page(request, answers, status=404, not_found=True)
    label, meaning = STATUS_WORDS.get(found.status, (found.status.capitalize(), ""))
    context = {
        "errors": [],
        "found": {
            "reference": found.reference,
            "status": label,
            "meaning": meaning,
            "opened_on": f"{found.opened_at.day} {found.opened_at:%B %Y}",
        },
    }
    return _page(request, "status.html", context, private=True)


@router.get("/static/{path:path}")
async def static_file(path: str, request: Request) -> Response:
    return await _static.get_response(path, request.scope)
