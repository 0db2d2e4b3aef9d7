"""Intake's key-encryption keys (CASE_KEY_KEK, CASE_KEY_KEKS_RETIRED): without good ones
intake does not start, saying what to set; rotating to a new one keeps every case key."""

import asyncio
import base64
import json
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import cast

import asyncpg
import pytest
from pydantic import SecretStr

from hhc_chassis.db import create_pool
from hhc_chassis.sealing import LocalKeyWrapper
from hhc_chassis.service import create_app
from hhc_contracts.vocabulary import DisposalBasis
from hhc_devstack.pytest_plugin import Broker, TokenFactory
from hhc_devstack.system import dev_key_encryption_key
from hhc_intake.app import definition
from hhc_intake.case_keys import (
    DatabaseCaseKeys,
    KeyRing,
    MissingKeyEncryptionKey,
    UnknownKeyEncryptionKey,
    destroy_case_key,
    every_stored_key_opens,
    key_ring,
    main,
    rewrap_case_keys,
)
from hhc_intake.settings import IntakeSettings

from .conftest import Intake, new_kek
from .lifecycle_support import Staff, intake_serving

NO_POOL = cast(asyncpg.Pool, None)
"""The key store is refused before it would use its pool."""
NEW_KEK_ID = "kek-2"
NEW_KEK = new_kek()
"""The key this module's intake rotates to (the tests share its database)."""


@pytest.mark.parametrize(
    "kek",
    [
        pytest.param("", id="empty"),
        pytest.param("not base64 at all!", id="not base64"),
        pytest.param(base64.b64encode(os.urandom(16)).decode(), id="16 bytes"),
    ],
)
def test_intake_refuses_to_start_without_a_good_key_encryption_key(kek: str) -> None:
    service = definition(IntakeSettings(case_key_kek=SecretStr(kek)))
    assert service.case_keys is not None
    with pytest.raises(MissingKeyEncryptionKey, match="CASE_KEY_KEK"):
        service.case_keys(NO_POOL)


def test_intake_refuses_to_start_with_a_bad_retired_key_encryption_key() -> None:
    malformed = IntakeSettings(
        case_key_kek=new_kek(),
        case_key_kek_id=NEW_KEK_ID,
        case_key_keks_retired={"local-1": SecretStr("not base64 at all!")},
    )
    with pytest.raises(MissingKeyEncryptionKey, match=r"CASE_KEY_KEKS_RETIRED\['local-1'\]"):
        key_ring(malformed)
    # The old key's id kept for the new key: the keys it wrapped would be unwrapped with
    # the wrong one.
    same_id = IntakeSettings(case_key_kek=new_kek(), case_key_keks_retired={"local-1": new_kek()})
    with pytest.raises(MissingKeyEncryptionKey, match="new CASE_KEY_KEK_ID"):
        key_ring(same_id)


def test_a_case_key_is_wrapped_and_unwrapped_with_it() -> None:
    kek = base64.b64encode(os.urandom(32)).decode()
    keys = key_ring(IntakeSettings(case_key_kek=SecretStr(kek)))
    key = os.urandom(32)
    wrapped = keys.wrap(key)
    assert wrapped != key
    assert keys.unwrap(wrapped, "local-1") == key
    assert keys.key_id == "local-1"


def test_retired_key_encryption_keys_are_read_from_the_environment_as_json(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old, new = new_kek(), new_kek()
    key = os.urandom(32)
    wrapped_by_old = LocalKeyWrapper.from_base64(old.get_secret_value()).wrap(key)
    monkeypatch.setenv("CASE_KEY_KEK", new.get_secret_value())
    monkeypatch.setenv("CASE_KEY_KEK_ID", NEW_KEK_ID)
    monkeypatch.setenv("CASE_KEY_KEKS_RETIRED", f'{{"local-1": "{old.get_secret_value()}"}}')

    keys = key_ring(IntakeSettings())

    assert keys.key_id == NEW_KEK_ID
    assert keys.unwrap(wrapped_by_old, "local-1") == key
    assert keys.unwrap(keys.wrap(key), NEW_KEK_ID) == key


# Rotation, on intake's own database: its relay made the cases' keys with its KEK


@pytest.fixture(scope="module")
async def intake(postgres_server_url: str, broker: Broker) -> AsyncIterator[Intake]:
    async with intake_serving(postgres_server_url, broker) as served:
        yield served


@pytest.fixture
async def caseworker(intake: Intake, issue_token: TokenFactory) -> AsyncIterator[Staff]:
    staff = Staff(intake, issue_token, "caseworker", team="north")
    yield staff
    await staff.close()


@pytest.fixture
async def pool(intake: Intake) -> AsyncIterator[asyncpg.Pool]:
    opened = await create_pool(IntakeSettings(database_url=intake.database_url))
    yield opened
    await opened.close()


def old_kek(intake: Intake) -> SecretStr:
    return SecretStr(dev_key_encryption_key(intake.database_url))


def rotated(intake: Intake) -> IntakeSettings:
    """Intake's settings during a rotation: the new key, the old one retired."""
    return IntakeSettings(
        database_url=intake.database_url,
        case_key_kek=NEW_KEK,
        case_key_kek_id=NEW_KEK_ID,
        case_key_keks_retired={"local-1": old_kek(intake)},
    )


async def kek_ids(pool: asyncpg.Pool, cases: list[uuid.UUID]) -> dict[uuid.UUID, str | None]:
    rows = await pool.fetch(
        "SELECT case_id, kek_id FROM case_keys WHERE case_id = ANY($1::uuid[])", cases
    )
    return {row["case_id"]: row["kek_id"] for row in rows}


async def test_rotating_the_key_encryption_key_keeps_every_case_key(
    intake: Intake, caseworker: Staff, pool: asyncpg.Pool
) -> None:
    cases = [uuid.UUID(await caseworker.open_case()) for _ in range(4)]
    live, erased, made_after = cases[:2], cases[2], cases[3]
    before = await DatabaseCaseKeys(
        pool, KeyRing(LocalKeyWrapper.from_base64(old_kek(intake).get_secret_value()))
    ).keys_for(cases)
    async with pool.acquire() as connection:
        await destroy_case_key(
            connection, erased, DisposalBasis.SUBJECT_REQUEST, at=datetime.now(UTC)
        )
        await connection.execute("DELETE FROM case_keys WHERE case_id = $1", made_after)
    during = DatabaseCaseKeys(pool, key_ring(rotated(intake)))

    # While both are given: the old key's case keys read as they were, a new one is
    # wrapped with the new key.
    assert {case: await during.key_for(case) for case in live} == {c: before[c] for c in live}
    assert await during.key_for(erased) is None
    made = await during.key_for(made_after)
    assert made is not None
    assert (await kek_ids(pool, cases))[made_after] == NEW_KEK_ID

    # One batch a case key, to go through more than one; the module's other cases too.
    assert await rewrap_case_keys(pool, key_ring(rotated(intake)), batch_size=1) >= 2

    assert await kek_ids(pool, cases) == {
        live[0]: NEW_KEK_ID,
        live[1]: NEW_KEK_ID,
        erased: "local-1",  # destroyed: nothing to wrap, left as it was
        made_after: NEW_KEK_ID,
    }
    # The old key can go: the new one alone opens every case key, the same keys as before.
    after = DatabaseCaseKeys(
        pool, key_ring(IntakeSettings(case_key_kek=NEW_KEK, case_key_kek_id=NEW_KEK_ID))
    )
    assert await after.keys_for(cases) == {
        live[0]: before[live[0]],
        live[1]: before[live[1]],
        erased: None,
        made_after: made,
    }
    assert await rewrap_case_keys(pool, key_ring(rotated(intake))) == 0


async def test_a_case_key_of_a_key_encryption_key_not_given_is_named_and_left_as_it_is(
    intake: Intake, caseworker: Staff, pool: asyncpg.Pool
) -> None:
    """The old key left out of CASE_KEY_KEKS_RETIRED too soon: nothing is wrapped again
    with the wrong key, and the error names the key-encryption key that is missing."""
    case = uuid.UUID(await caseworker.open_case())
    old_only = KeyRing(LocalKeyWrapper.from_base64(old_kek(intake).get_secret_value()))
    key = await DatabaseCaseKeys(pool, old_only).key_for(case)
    wrapped_before = await pool.fetchval(
        "SELECT wrapped_key FROM case_keys WHERE case_id = $1", case
    )
    new_alone = key_ring(IntakeSettings(case_key_kek=NEW_KEK, case_key_kek_id=NEW_KEK_ID))

    with pytest.raises(UnknownKeyEncryptionKey, match="'local-1'"):
        await DatabaseCaseKeys(pool, new_alone).key_for(case)
    with pytest.raises(UnknownKeyEncryptionKey, match="'local-1'"):
        await rewrap_case_keys(pool, new_alone)

    assert (
        await pool.fetchval("SELECT wrapped_key FROM case_keys WHERE case_id = $1", case)
        == wrapped_before
    )
    assert await DatabaseCaseKeys(pool, old_only).key_for(case) == key


async def test_the_rewrap_command_reports_what_it_did_and_refuses_a_missing_key(
    intake: Intake,
    caseworker: Staff,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``python -m hhc_intake.case_keys rewrap`` with intake's own environment (in a thread:
    the command runs its own event loop)."""
    await caseworker.open_case()
    monkeypatch.setenv("DATABASE_URL", intake.database_url)
    monkeypatch.setenv("CASE_KEY_KEK", NEW_KEK.get_secret_value())
    monkeypatch.setenv("CASE_KEY_KEK_ID", NEW_KEK_ID)
    monkeypatch.delenv("CASE_KEY_KEKS_RETIRED", raising=False)

    assert await asyncio.to_thread(main, ["rewrap"]) == 2
    assert "'local-1'" in capsys.readouterr().err

    monkeypatch.setenv(
        "CASE_KEY_KEKS_RETIRED", f'{{"local-1": "{old_kek(intake).get_secret_value()}"}}'
    )
    assert await asyncio.to_thread(main, ["rewrap"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["rewrapped"] >= 1
    assert list(printed["keys_by_kek_id"]) == [NEW_KEK_ID]


async def test_intake_does_not_start_while_a_stored_key_needs_a_key_encryption_key_not_given(
    intake: Intake, caseworker: Staff, pool: asyncpg.Pool
) -> None:
    """The retired key removed before the rewrap has run: the new replica stops at start
    (the old ones keep serving) instead of leaving the cases it wraps unreadable."""
    case = uuid.UUID(await caseworker.open_case())
    old_only = KeyRing(LocalKeyWrapper.from_base64(old_kek(intake).get_secret_value()))
    await DatabaseCaseKeys(pool, old_only).key_for(case)  # wrapped with local-1
    too_soon = IntakeSettings(
        database_url=intake.database_url, case_key_kek=NEW_KEK, case_key_kek_id=NEW_KEK_ID
    )

    with pytest.raises(UnknownKeyEncryptionKey, match=r"\['local-1'\]"):
        await every_stored_key_opens(too_soon)(pool)
    app = create_app(definition(too_soon))
    with pytest.raises(UnknownKeyEncryptionKey, match="CASE_KEY_KEKS_RETIRED"):
        async with app.router.lifespan_context(app):
            pass
    await every_stored_key_opens(rotated(intake))(pool)  # both given: it starts
