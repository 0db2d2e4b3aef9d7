"""Verifying staff tokens, against the development issuer's published keys."""

import jwt
import pytest

from hhc_chassis.auth import AuthenticationError, TokenVerifier
from hhc_chassis.settings import ServiceSettings
from hhc_devstack.issuer import DevIssuer
from hhc_devstack.pytest_plugin import eventually


def _verifier(issuer: DevIssuer) -> TokenVerifier:
    return TokenVerifier(
        ServiceSettings(
            service_name="chassistest",
            database_url="postgresql://unused",
            oidc_issuer=issuer.issuer,
            oidc_jwks_url=issuer.jwks_url,
            oidc_leeway_seconds=0,
        )
    )


async def test_a_token_verified_once_is_taken_on_trust_the_next_time(
    dev_issuer: DevIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier = _verifier(dev_issuer)
    token = dev_issuer.token(roles=["caseworker"], team="north", subject="alice")
    checks = 0
    decode = jwt.decode

    def counted(*args: object, **kwargs: object) -> object:
        nonlocal checks
        checks += 1
        return decode(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(jwt, "decode", counted)
    for _ in range(3):
        caller = await verifier.verify(token)
        assert (caller.subject, caller.team) == ("alice", "north")
    assert checks == 1


async def test_a_token_trusted_once_is_refused_once_it_has_expired(dev_issuer: DevIssuer) -> None:
    verifier = _verifier(dev_issuer)
    token = dev_issuer.token(roles=["caseworker"], team="north", lifetime_seconds=2)
    assert (await verifier.verify(token)).team == "north"

    async def refused() -> bool:
        try:
            await verifier.verify(token)
        except AuthenticationError:
            return True
        return False

    await eventually(refused, timeout=10, message="an expired token was still accepted")
