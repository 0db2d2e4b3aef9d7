"""Sign-in, object-level access and the audit, against intake served in-process on a real
PostgreSQL and the session's broker, with tokens from the development issuer."""

import base64
import hashlib
import hmac
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from hhc_chassis.service import create_app
from hhc_contracts import Topic
from hhc_devstack.infrastructure import create_database, free_port
from hhc_devstack.issuer import DevIssuer, sign
from hhc_devstack.pytest_plugin import (
    Broker,
    TokenFactory,
    bearer,
    eventually,
    kafka_consumer,
    serving,
)
from hhc_intake.app import definition
from hhc_intake.settings import IntakeSettings

from .conftest import report_body


@dataclass(frozen=True)
class Intake:
    client: httpx.AsyncClient
    database_url: str


@pytest.fixture(scope="module")
async def intake(postgres_server_url: str, broker: Broker) -> AsyncIterator[Intake]:
    database_url = await create_database(postgres_server_url, f"test_{uuid.uuid4().hex[:12]}")
    settings = IntakeSettings(
        database_url=database_url,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        consumer_group=f"test-auth-{uuid.uuid4().hex[:8]}",
        teams_by_area={"S": "south"},
        # Tokens naming unknown kids come before the rotation test here.
        oidc_jwks_refresh_cooldown_seconds=0,
        case_key_kek=SecretStr(base64.b64encode(os.urandom(32)).decode()),
    )
    async with (
        serving(create_app(definition(settings)), free_port()) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        yield Intake(client, database_url)


async def open_case(intake: Intake, token: str, **changes: Any) -> str:
    response = await intake.client.post(
        "/v1/reports", json=report_body(**changes), headers=bearer(token)
    )
    assert response.status_code == 202, response.text
    return str(response.json()["case_id"])


async def status_of(intake: Intake, case_id: str, token: str | None) -> int:
    headers = bearer(token) if token else {}
    return (await intake.client.get(f"/v1/cases/{case_id}", headers=headers)).status_code


# --- authentication -----------------------------------------------------------------


async def test_no_token_is_401_with_a_bearer_challenge(intake: Intake) -> None:
    response = await intake.client.get(f"/v1/cases/{uuid.uuid4()}")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="hhc"'


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _forged_tokens(issuer: DevIssuer) -> dict[str, str]:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    public_pem = issuer.jwks()["keys"][0]
    return {
        "garbage": "not.a.token",
        "expired": issuer.token(roles=["caseworker"], team="north", lifetime_seconds=-120),
        "other audience": issuer.token(roles=["caseworker"], team="north", aud="payroll"),
        "other issuer": sign(
            stranger, issuer="https://evil.example", roles=["caseworker"], team="north"
        ),
        # Same issuer and kid as ours, signed by a key the issuer never published.
        "unknown key": jwt.encode(
            {
                "iss": issuer.issuer,
                "aud": "hhc",
                "sub": "mallory",
                "iat": now,
                "exp": now + 600,
                "roles": ["data_protection_officer"],
            },
            stranger,
            algorithm="RS256",
            headers={"kid": public_pem["kid"]},
        ),
        # The published public key used as an HMAC secret (algorithm confusion); built by
        # hand, as PyJWT itself refuses to sign so.
        "hs256 with the public key": _hs256(
            {"alg": "HS256", "typ": "JWT", "kid": public_pem["kid"]},
            {
                "iss": issuer.issuer,
                "aud": "hhc",
                "sub": "mallory",
                "iat": now,
                "exp": now + 600,
                "roles": ["data_protection_officer"],
            },
            jwt.PyJWK(public_pem).key.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
        ),
        "not yet valid": issuer.token(roles=["caseworker"], team="north", nbf=now + 600),
    }


@pytest.mark.parametrize(
    "kind",
    [
        "garbage",
        "expired",
        "other audience",
        "other issuer",
        "unknown key",
        "hs256 with the public key",
        "not yet valid",
    ],
)
async def test_a_bad_token_is_401_invalid_token(
    intake: Intake, dev_issuer: DevIssuer, issue_token: TokenFactory, kind: str
) -> None:
    case_id = await open_case(intake, issue_token("caseworker", team="north"))
    response = await intake.client.get(
        f"/v1/cases/{case_id}", headers=bearer(_forged_tokens(dev_issuer)[kind])
    )
    assert response.status_code == 401, response.text
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert "Resident" not in response.text


async def test_a_rotated_key_is_fetched_when_a_token_names_it(
    intake: Intake, dev_issuer: DevIssuer, issue_token: TokenFactory
) -> None:
    case_id = await open_case(intake, issue_token("caseworker", team="north"))
    dev_issuer.rotate()
    fresh = issue_token("caseworker", team="north")
    assert jwt.get_unverified_header(fresh)["kid"] != dev_issuer.jwks()["keys"][1]["kid"]
    response = await intake.client.get(f"/v1/cases/{case_id}", headers=bearer(fresh))
    assert response.status_code == 200, response.text


# --- object-level access ------------------------------------------------------------


async def test_cases_are_seen_by_their_team_and_by_who_took_them(
    intake: Intake, issue_token: TokenFactory
) -> None:
    taker = issue_token("adviser", subject=f"adviser-{uuid.uuid4().hex[:6]}")
    case_id = await open_case(intake, taker)  # no area: the default team, north
    south_case = await open_case(intake, taker, area="S1 2AB")

    assert await status_of(intake, case_id, taker) == 200
    assert await status_of(intake, case_id, issue_token("adviser")) == 404
    assert await status_of(intake, case_id, issue_token("caseworker", team="north")) == 200
    assert await status_of(intake, case_id, issue_token("caseworker", team="south")) == 404
    assert await status_of(intake, south_case, issue_token("caseworker", team="south")) == 200
    assert await status_of(intake, south_case, issue_token("caseworker", team="north")) == 404
    assert await status_of(intake, case_id, issue_token("auditor")) == 403
    assert await status_of(intake, case_id, issue_token("reporting_reader")) == 403
    assert await status_of(intake, case_id, None) == 401
    # A case nobody may see and one that does not exist get the same answer.
    stranger = issue_token("caseworker", team="south")
    unknown = await intake.client.get(f"/v1/cases/{uuid.uuid4()}", headers=bearer(stranger))
    refused = await intake.client.get(f"/v1/cases/{case_id}", headers=bearer(stranger))
    assert (unknown.status_code, unknown.json()) == (refused.status_code, refused.json())


async def test_a_staff_survivors_case_is_seen_by_people_and_learning_only(
    intake: Intake, issue_token: TokenFactory
) -> None:
    case_id = await open_case(
        intake,
        issue_token("people_and_learning"),
        survivor={"is_customer": False, "is_staff": True, "name": "F. Officer"},
    )
    assert await status_of(intake, case_id, issue_token("caseworker", team="north")) == 404
    assert await status_of(intake, case_id, issue_token("manager", team="north")) == 404
    assert await status_of(intake, case_id, issue_token("people_and_learning")) == 200


async def test_a_manager_moves_a_case_and_access_follows(
    intake: Intake, issue_token: TokenFactory
) -> None:
    case_id = await open_case(intake, issue_token("caseworker", team="north"))
    move = {"team": "south"}
    caseworker = issue_token("caseworker", team="north")
    refused = await intake.client.put(
        f"/v1/cases/{case_id}/team", json=move, headers=bearer(caseworker)
    )
    assert refused.status_code == 403
    moved = await intake.client.put(
        f"/v1/cases/{case_id}/team",
        json=move,
        headers=bearer(issue_token("manager", team="north")),
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["previous_team"] == "north"
    assert await status_of(intake, case_id, caseworker) == 404
    assert await status_of(intake, case_id, issue_token("caseworker", team="south")) == 200


async def test_consent_is_recorded_as_given_by_the_signed_in_caller(
    intake: Intake, issue_token: TokenFactory
) -> None:
    adviser = issue_token("adviser", subject=f"adviser-{uuid.uuid4().hex[:6]}")
    case_id = await open_case(intake, adviser)
    response = await intake.client.put(
        f"/v1/cases/{case_id}/consent",
        json={"share_with_partners": False, "given_by": "survivor", "recorded_by": "someone else"},
        headers=bearer(adviser),
    )
    assert response.status_code == 200, response.text
    case = (await intake.client.get(f"/v1/cases/{case_id}", headers=bearer(adviser))).json()
    subject = jwt.decode(adviser, options={"verify_signature": False})["sub"]
    assert case["consent_history"][-1]["recorded_by"] == subject


# --- audit ----------------------------------------------------------------------------


async def audit_of(intake: Intake, token: str, case_id: str) -> dict[str, Any]:
    response = await intake.client.get(
        "/v1/audit", params={"case_id": case_id}, headers=bearer(token)
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_every_look_and_every_refusal_is_audited_and_published(
    intake: Intake, broker: Broker, issue_token: TokenFactory
) -> None:
    reader = f"caseworker-{uuid.uuid4().hex[:6]}"
    outsider = f"caseworker-{uuid.uuid4().hex[:6]}"
    name = f"Resident {uuid.uuid4().hex[:6]}"
    case_id = await open_case(
        intake,
        issue_token("caseworker", team="north"),
        survivor={"is_customer": True, "name": name, "phone": "07700 900123"},
    )
    async with kafka_consumer(broker.bootstrap_servers, Topic.AUDIT_ACCESS) as consumer:
        read = issue_token("caseworker", team="north", subject=reader)
        assert await status_of(intake, case_id, read) == 200
        tried = issue_token("caseworker", team="south", subject=outsider)
        assert await status_of(intake, case_id, tried) == 404

        auditor = issue_token("auditor")
        log = await audit_of(intake, auditor, case_id)
        assert log["chain_intact"] is True
        looks = [(r["subject"], r["outcome"]) for r in log["records"]]
        assert (reader, "granted") in looks
        assert (outsider, "refused") in looks
        read_record = next(r for r in log["records"] if r["subject"] == reader)
        assert read_record["operation"] == "GET /v1/cases/{case_id}"
        assert read_record["team"] == "north"
        assert "reports" in read_record["fields"]
        assert read_record["request_id"]

        published: list[bytes] = []

        async def both_published() -> bool:
            batch = await consumer.getmany(timeout_ms=500)
            published.extend(m.value for records in batch.values() for m in records)
            # The audit topic also carries records of disposal (audit.retention-disposed).
            subjects = {
                document["payload"]["subject"]
                for document in map(json.loads, published)
                if document["event_type"] == "audit.access-recorded"
            }
            return {reader, outsider} <= subjects

        await eventually(both_published, message="audit events not published")
        mine = [v for v in published if case_id.encode() in v]
        assert mine
        assert not any(name.encode() in value for value in mine)

    assert (await intake.client.get("/v1/audit", headers=bearer(read))).status_code == 403


async def test_a_report_taken_is_audited_with_the_case_it_opened(
    intake: Intake, issue_token: TokenFactory
) -> None:
    """The report's own writing is a look at personal data (3.5.1): recorded in the same
    statement as the case, by who took it."""
    taker = f"adviser-{uuid.uuid4().hex[:6]}"
    case_id = await open_case(intake, issue_token("caseworker", team="north", subject=taker))
    auditor = issue_token("auditor")

    async def recorded() -> bool:
        log = await audit_of(intake, auditor, case_id)
        return any(
            record["subject"] == taker
            and record["operation"] == "POST /v1/reports"
            and record["outcome"] == "granted"
            and record["fields"] == ["report"]
            for record in log["records"]
        )

    await eventually(recorded, message="the report's audit record never appeared")


async def test_a_purpose_is_recorded_as_a_code_and_never_as_free_text(
    intake: Intake, issue_token: TokenFactory
) -> None:
    case_id = await open_case(intake, issue_token("caseworker", team="north"))
    dpo = issue_token("data_protection_officer", subject=f"dpo-{uuid.uuid4().hex[:6]}")
    with_purpose = {**bearer(dpo), "X-Purpose": "subject-access-request"}
    assert (
        await intake.client.get(f"/v1/cases/{case_id}", headers=with_purpose)
    ).status_code == 200
    free_text = {**bearer(dpo), "X-Purpose": "asked by Jane Doe of 1 High St"}
    refused = await intake.client.get(f"/v1/cases/{case_id}", headers=free_text)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "X-Purpose"
    log = await audit_of(intake, issue_token("auditor"), case_id)
    purposes = [r["purpose"] for r in log["records"] if r["subject"].startswith("dpo-")]
    assert purposes == ["subject-access-request"]


async def test_the_database_refuses_to_change_the_audit_and_tampering_shows(
    intake: Intake, issue_token: TokenFactory
) -> None:
    case_id = await open_case(intake, issue_token("caseworker", team="north"))
    assert await status_of(intake, case_id, issue_token("caseworker", team="north")) == 200
    connection = await asyncpg.connect(intake.database_url)
    try:
        await connection.execute("SET search_path TO intake")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.execute("UPDATE audit_log SET outcome = 'refused'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.execute("DELETE FROM audit_log")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.execute("TRUNCATE audit_log")
        dpo = issue_token("data_protection_officer")
        assert (await audit_of(intake, dpo, case_id))["chain_intact"] is True

        # Someone with the owner's power to switch the guard off still leaves a trace.
        async with connection.transaction():
            await connection.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
            tampered = await connection.fetchval(
                """UPDATE audit_log SET subject = 'nobody'
                   WHERE id = (SELECT min(id) FROM audit_log WHERE case_id = $1)
                   RETURNING id""",
                uuid.UUID(case_id),
            )
            await connection.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")
        log = await audit_of(intake, dpo, case_id)
        assert log["chain_intact"] is False
        assert log["first_broken_id"] == tampered
    finally:
        # The chain is broken for this module's later tests: put it back.
        async with connection.transaction():
            await connection.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
            await connection.execute(
                "DELETE FROM audit_log WHERE id >= (SELECT min(id) FROM audit_log "
                "WHERE subject = 'nobody')"
            )
            await connection.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")
        await connection.close()
