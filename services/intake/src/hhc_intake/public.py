"""What guards intake's public listener: rate limits per client address, the report
form's token, and the refusal of posts from other sites.

- Rate limits (``PUBLIC_SUBMIT_RATE_LIMIT``, ``PUBLIC_STATUS_RATE_LIMIT``) count per
  client address, an IPv6 client by its /64; over the limit the answer is 429 with
  ``Retry-After``. The client address is uvicorn's: behind a proxy, name the proxy in
  ``FORWARDED_ALLOW_IPS`` so that ``X-Forwarded-For`` is believed.
- The form carries a token signed with ``PUBLIC_FORM_SECRET`` over when it was opened,
  its submission id and the client's network: one that is missing, old or fetched from
  elsewhere is not accepted. There is no cookie, so nothing is left in the browser.
- A post whose ``Sec-Fetch-Site`` says another site, or whose ``Origin`` is another
  host, is refused outright.

The guard is made once at start-up (:func:`guarded`) and reached by the routes through
:func:`guard_of`.
"""

import base64
import hashlib
import hmac
import ipaddress
import logging
import math
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from limits import RateLimitItem, parse_many
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from pydantic import BaseModel, Field

from hhc_chassis.service import runtime_of
from hhc_intake.settings import IntakeSettings
from hhc_intake.status import report_status

log = logging.getLogger(__name__)

Limited = Literal["submit", "status"]


def client_network(request: Request) -> str:
    """Who is counted: the client's address, or its /64 for IPv6 (one household or phone
    holds a whole /64 and can change address within it at will)."""
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class RateLimits:
    """Moving-window counts per client network, one set of limits per kind of request.

    A moving window keeps each request's time, so the limit holds exactly over any
    stretch of the window's length; a window counter weighs the previous window by an
    estimate and lets a burst through at a window's edge."""

    def __init__(self, storage_uri: str, rates: Mapping[Limited, str]) -> None:
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))
        self._rates: dict[Limited, list[RateLimitItem]] = {
            kind: parse_many(rate) for kind, rate in rates.items()
        }

    async def retry_after(self, kind: Limited, request: Request) -> int | None:
        """Count this request; None when it is within the limits, else the whole seconds
        to wait (a request over the limit is not counted)."""
        client = client_network(request)
        waits = []
        for item in self._rates[kind]:
            if not await self._limiter.test(item, kind, client):
                stats = await self._limiter.get_window_stats(item, kind, client)
                waits.append(max(1, math.ceil(stats.reset_time - time.time())))
        if waits:
            return max(waits)
        for item in self._rates[kind]:
            await self._limiter.hit(item, kind, client)
        return None


class FormTokens:
    """``<opened at>.<signature>``, the signature over the opening time, the form's
    submission id and the client's network."""

    def __init__(self, secret: bytes, max_age_seconds: int) -> None:
        self._secret = secret
        self._max_age = max_age_seconds

    def issue(self, submission: str, request: Request) -> str:
        opened = int(time.time())
        return f"{opened}.{self._sign(opened, submission, request)}"

    def valid(self, token: str, submission: str, request: Request) -> bool:
        opened_text, _, signature = token.partition(".")
        if not opened_text.isdigit() or len(opened_text) > 12:
            return False
        opened = int(opened_text)
        age = time.time() - opened
        if not -60 <= age <= self._max_age:
            return False
        return hmac.compare_digest(signature, self._sign(opened, submission, request))

    def _sign(self, opened: int, submission: str, request: Request) -> str:
        message = f"report-form\n{opened}\n{submission}\n{client_network(request)}".encode()
        digest = hmac.new(self._secret, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def from_another_site(request: Request) -> bool:
    """A post a page of another site made the browser send. Browsers say so in
    ``Sec-Fetch-Site``; older ones only in ``Origin``, which is ``null`` for a post from
    our own pages (they send no referrer), so that case rests on the form's token."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site not in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return False
    return urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower()


@dataclass(frozen=True)
class PublicGuard:
    limits: RateLimits
    tokens: FormTokens

    @classmethod
    def from_settings(cls, settings: IntakeSettings) -> "PublicGuard":
        secret = settings.public_form_secret.get_secret_value().encode()
        if not secret:
            log.warning(
                "PUBLIC_FORM_SECRET is not set: report forms can be sent only to this "
                "process, until it restarts"
            )
            secret = secrets.token_bytes(32)
        return cls(
            limits=RateLimits(
                settings.public_rate_limit_storage,
                {
                    "submit": settings.public_submit_rate_limit,
                    "status": settings.public_status_rate_limit,
                },
            ),
            tokens=FormTokens(secret, settings.public_form_max_age_seconds),
        )

    def attach(self, request: Request) -> None:
        request.state.public_guard = self


def guard_of(request: Request) -> PublicGuard:
    guard = request.state.public_guard
    assert isinstance(guard, PublicGuard), "public routes are included through guarded()"
    return guard


def guarded(guard: PublicGuard, *routers: APIRouter) -> APIRouter:
    """The public listener's routes, each reaching ``guard``."""
    public = APIRouter(dependencies=[Depends(guard.attach)])
    for router in routers:
        public.include_router(router)
    return public


def too_many_requests(seconds: int) -> JSONResponse:
    return JSONResponse(
        status_code=429,
        content={"detail": "too many requests: try again later"},
        headers={"Retry-After": str(seconds)},
    )


# --- the status lookup for programs (the page is in hhc_intake.web) --------------------

status_api = APIRouter(tags=["status"])


class StatusLookup(BaseModel):
    reference: str = Field(max_length=40)
    status_code: str = Field(max_length=40)


class StatusOut(BaseModel):
    reference: str
    status: str
    opened_at: datetime


NOT_FOUND = {"detail": "no report with this reference and status code"}


@status_api.post("/v1/report-status", response_model=StatusOut)
async def look_up_status(
    lookup: StatusLookup, request: Request, guard: Annotated[PublicGuard, Depends(guard_of)]
) -> StatusOut | JSONResponse:
    """A report's status for its reference and status code; the same 404 for every
    failure (3.2.3: third-party and anonymous reporters get no feedback)."""
    if (wait := await guard.limits.retry_after("status", request)) is not None:
        return too_many_requests(wait)
    found = await report_status(runtime_of(request).pool, lookup.reference, lookup.status_code)
    if found is None:
        return JSONResponse(status_code=404, content=NOT_FOUND)
    return StatusOut(reference=found.reference, status=found.status, opened_at=found.opened_at)
