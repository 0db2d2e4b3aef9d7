"""The satisfaction survey's page on intake's public listener (policy 5.1), beside the
report form and the status lookup, behind the same guard.

``GET /survey/{token}`` shows three questions; ``POST`` takes the answers once. The token
in the address is the only key: a link used, expired, replaced or never made gets a page
that says so and nothing about any case (410 used or expired, 404 otherwise). Requests are
counted with status lookups (``PUBLIC_STATUS_RATE_LIMIT``): both try a secret. The pages
carry no script and work without one; nothing the person typed is logged.
"""

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from hhc_chassis.service import runtime_of
from hhc_intake.public import from_another_site, guard_of
from hhc_intake.survey import (
    COMMENTS_MAX_LENGTH,
    AnswerError,
    LinkState,
    link_state,
    read_answers,
)
from hhc_intake.survey_store import LinkedSurvey, record_answers, survey_by_token
from hhc_intake.web import Answers, _page, _refused, _too_many

router = APIRouter(include_in_schema=False)

Option = tuple[str, str, str | None]

HANDLING_OPTIONS: list[Option] = [
    ("5", "Very satisfied", None),
    ("4", "Satisfied", None),
    ("3", "Neither satisfied nor dissatisfied", None),
    ("2", "Dissatisfied", None),
    ("1", "Very dissatisfied", None),
]
SAFER_OPTIONS: list[Option] = [
    ("yes", "Yes", None),
    ("no", "No", None),
    ("unsure", "I am not sure", None),
]

GONE: dict[LinkState | None, tuple[int, str, list[str]]] = {
    LinkState.ANSWERED: (
        410,
        "This link has already been used",
        ["The answers to this survey have been sent. Each link can be used once.", "Thank you."],
    ),
    LinkState.EXPIRED: (
        410,
        "This link has expired",
        ["The time to answer this survey has passed."],
    ),
    None: (
        404,
        "This link does not work",
        [
            "Check that you copied the whole link. If we sent you a newer link, use that one.",
        ],
    ),
}
CONTACT_US = "To tell us what you think of our service, phone or text us on 0300 365 1111."


def _gone(request: Request, state: LinkState | None) -> Response:
    status, title, paragraphs = GONE[state]
    context = {"title": title, "paragraphs": [*paragraphs, CONTACT_US]}
    return _page(request, "problem.html", context, status=status, private=True)


def _state_of(survey: LinkedSurvey | None) -> LinkState | None:
    if survey is None or survey.expires_at is None:
        return None
    return link_state(
        answered_at=survey.answered_at, expires_at=survey.expires_at, now=datetime.now(UTC)
    )


def _form(
    request: Request,
    token: str,
    answers: Answers,
    errors: list[AnswerError],
    status: int = 200,
) -> Response:
    context: dict[str, Any] = {
        "token": token,
        "answers": answers,
        "errors": errors,
        "error_for": {error.field: error.message for error in errors},
        "handling_options": HANDLING_OPTIONS,
        "safer_options": SAFER_OPTIONS,
        "comments_max": COMMENTS_MAX_LENGTH,
    }
    return _page(request, "survey.html", context, status=status, private=True)


@router.get("/survey/{token}")
async def survey_page(token: str, request: Request) -> Response:
    if (wait := await guard_of(request).limits.retry_after("status", request)) is not None:
        return _too_many(request, wait)
    async with runtime_of(request).pool.acquire() as connection:
        state = _state_of(await survey_by_token(connection, token))
    if state is not LinkState.OPEN:
        return _gone(request, state)
    return _form(request, token, Answers({}), [])


@router.post("/survey/{token}")
async def answer_survey(token: str, request: Request) -> Response:
    """The answers, once: the survey's row is locked while they are taken, so two posts
    of one link record one answer, and the second is told the link is used."""
    if from_another_site(request):
        return _refused(request)
    if (wait := await guard_of(request).limits.retry_after("status", request)) is not None:
        return _too_many(request, wait)
    async with request.form(max_files=0, max_fields=10) as form:
        values = {name: [v for v in form.getlist(name) if isinstance(v, str)] for name in form}
    answers = Answers(values)
    read = read_answers({name: answers.get(name) for name in ("handling", "safer", "comments")})
    async with runtime_of(request).pool.acquire() as connection, connection.transaction():
        survey = await survey_by_token(connection, token, for_update=True)
        state = _state_of(survey)
        if survey is None or state is not LinkState.OPEN:
            return _gone(request, state)
        if isinstance(read, list):
            return _form(request, token, answers, read, status=422)
        await record_answers(connection, survey, read, at=datetime.now(UTC))
    return _page(request, "survey_done.html", {}, private=True)
