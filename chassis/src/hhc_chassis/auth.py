"""Bearer tokens from the housing group's identity provider, checked on every staff and
system endpoint (policy 3.5.1).

PyJWT does the JOSE work: the signature against the issuer's JWKS (cached; an unknown
``kid`` fetches the set again, which is how key rotation arrives), issuer, audience,
expiry and not-before. A route asks for a permission with ``Depends(authorised(...))``
and gets the :class:`~hhc_chassis.access.Caller`; a route about one case then calls
:func:`hhc_chassis.audit.open_case_for` to check and audit the look at that case.
"""

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hhc_chassis.access import Caller, Permission, may
from hhc_chassis.settings import ServiceSettings

log = logging.getLogger(__name__)

# Asymmetric only: a token signed with a shared secret is never accepted.
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"]
REALM = "hhc"
PURPOSE_HEADER = "X-Purpose"


PURPOSE_SHAPE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,59}$")
"""A purpose is a short code ('safeguarding-review', 'subject-access-request'), never free
text: the audit is kept by services that must hold no personal data, and is published."""


def purpose_of(request: Request) -> str | None:
    """The caller's X-Purpose, or None; 422 when it is not a purpose code."""
    purpose = request.headers.get(PURPOSE_HEADER)
    if purpose is None:
        return None
    if not PURPOSE_SHAPE.match(purpose):
        raise RequestValidationError(
            [
                {
                    "loc": ("header", PURPOSE_HEADER),
                    "msg": "a purpose is a short code of lower-case letters, digits, '.', "
                    "'_' or '-' (at most 60), e.g. safeguarding-review",
                    "type": "value_error",
                }
            ]
        )
    return purpose


class AuthenticationError(Exception):
    """The token is missing, malformed, badly signed, expired or not for us."""


class IssuerUnavailable(Exception):
    """The issuer's keys could not be fetched, so no token can be checked."""


VERIFIED_TOKEN_SECONDS = 60.0
VERIFIED_TOKENS_KEPT = 4096


class TokenVerifier:
    def __init__(self, settings: ServiceSettings) -> None:
        if not (settings.oidc_issuer and settings.oidc_jwks_url):
            raise ValueError(
                "OIDC_ISSUER and OIDC_JWKS_URL must be set: every staff endpoint needs them"
            )
        self.issuer = settings.oidc_issuer
        self.audience = settings.oidc_audience
        self.leeway = settings.oidc_leeway_seconds
        self._keys = jwt.PyJWKClient(
            settings.oidc_jwks_url,
            cache_jwk_set=True,
            lifespan=settings.oidc_jwks_cache_seconds,
            cooldown_duration=settings.oidc_jwks_refresh_cooldown_seconds,
            timeout=5,
        )
        self._verified: dict[str, tuple[Caller, float]] = {}

    async def verify(self, token: str) -> Caller:
        """The caller a valid token names. A token once verified is taken on trust again
        until it expires or for ``VERIFIED_TOKEN_SECONDS``, whichever is sooner: a service's
        token is sent with every request, and checking its signature each time was a tenth
        of a request's CPU. (Keys themselves are trusted for ``OIDC_JWKS_CACHE_SECONDS``.)"""
        now = time.time()
        if (known := self._verified.get(token)) is not None:
            caller, good_until = known
            if now < good_until:
                return caller
            del self._verified[token]
        caller, expires_at = await self._verify(token)
        if len(self._verified) >= VERIFIED_TOKENS_KEPT:
            del self._verified[next(iter(self._verified))]  # the longest kept
        self._verified[token] = (caller, min(expires_at, now + VERIFIED_TOKEN_SECONDS))
        return caller

    async def _verify(self, token: str) -> tuple[Caller, float]:
        try:
            # The key set is cached; a fetch (first use, expiry, unknown kid) is blocking I/O.
            signing_key = await asyncio.to_thread(self._keys.get_signing_key_from_jwt, token)
        except jwt.PyJWKClientConnectionError as error:
            raise IssuerUnavailable(str(error)) from None
        except jwt.PyJWTError as error:
            raise AuthenticationError(str(error)) from None
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                signing_key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as error:
            raise AuthenticationError(str(error)) from None
        roles = claims.get("roles", [])
        team = claims.get("team")
        if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
            raise AuthenticationError("the roles claim must be a list of strings")
        if team is not None and not isinstance(team, str):
            raise AuthenticationError("the team claim must be a string")
        return Caller.from_claims(str(claims["sub"]), roles, team), float(claims["exp"])


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="StaffToken",
    description="A token from the housing group's identity provider "
    "(`uv run hhc-dev token --role caseworker --team north` locally)",
)

BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
RefusalRecorder = Callable[[Request, Caller, Permission], Awaitable[None]]


def _unauthorised(description: str, *, error: str | None = "invalid_token") -> HTTPException:
    challenge = f'Bearer realm="{REALM}"'
    if error:
        # RFC 6750 3: quoted-string, so the description must not carry a quote.
        challenge += f', error="{error}", error_description="{description.replace(chr(34), "")}"'
    return HTTPException(401, description, headers={"WWW-Authenticate": challenge})


async def authenticate(request: Request, credentials: BearerCredentials) -> Caller:
    if credentials is None:
        raise _unauthorised("a bearer token is required", error=None)
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        caller = await verifier.verify(credentials.credentials)
    except AuthenticationError as error:
        log.info("token refused", extra={"reason": str(error)})
        raise _unauthorised(str(error)) from None
    except IssuerUnavailable:
        log.warning("identity provider's keys unreachable")
        raise HTTPException(
            503, "the identity provider cannot be reached", headers={"Retry-After": "5"}
        ) from None
    request.state.caller = caller
    # Checked before anything is read or audited, so that a bad one changes nothing.
    purpose_of(request)
    return caller


class authorised:
    """A dependency: the verified caller, if one of their roles grants ``permission``;
    401 without a valid token, 403 (audited) without the permission. The permission is
    kept on the instance, so that tests can list every route's permission."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    async def __call__(
        self, request: Request, caller: Annotated[Caller, Depends(authenticate)]
    ) -> Caller:
        if not may(caller, self.permission):
            record_refusal: RefusalRecorder = request.app.state.record_refusal
            await record_refusal(request, caller, self.permission)
            raise HTTPException(403, f"your roles do not allow {self.permission.value}")
        return caller


def routes_of(routes: Iterable[Any]) -> Iterator[Any]:
    """Every route, those of included routers too (FastAPI keeps an included router as one
    entry; ours are included without a prefix, so their paths are the served ones)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from routes_of(included.routes)
        else:
            yield route


def document_access_answers(routes: Iterable[Any]) -> None:
    """Name in each protected route's OpenAPI the answers sign-in and access give."""
    for route in routes_of(routes):
        if permission_of(route) is None:
            continue
        route.responses.setdefault(401, {"description": "No valid bearer token"})
        route.responses.setdefault(403, {"description": "Your roles do not allow this"})
        if "{case_id}" in route.path or "{action_id}" in route.path:
            route.responses.setdefault(
                404, {"description": "No such case, or one you may not reach (the same answer)"}
            )


def permission_of(route: Any) -> Permission | None:
    """The permission a route asks for through :class:`authorised`, if any."""
    dependant = getattr(route, "dependant", None)
    pending = list(dependant.dependencies) if dependant else []
    while pending:
        dependant = pending.pop()
        if isinstance(dependant.call, authorised):
            return dependant.call.permission
        pending.extend(dependant.dependencies)
    return None
