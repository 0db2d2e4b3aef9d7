"""Intake keeps every case's key (crypto-shredding, policy 3.5.2; :mod:`hhc_chassis.sealing`).

A case's key is made the first time something of the case is sealed, wrapped with the
key-encryption key (``CASE_KEY_KEK``) and stored in ``case_keys``; only the wrapped form
is ever stored. Intake's own relay seals with it, and the services in
``CASE_KEY_CLIENTS`` fetch it from ``GET /v1/case-keys/{case_id}``. Destroying it
(:func:`destroy_case_key`, in an erasure's transaction) leaves the row with no key, so
the case can never be given a new one and every sealed copy of its personal data, on
the topics, their dead-letter topics and in backups, stays unreadable.

Rotating the key-encryption key: give intake the new one as ``CASE_KEY_KEK`` with a new
``CASE_KEY_KEK_ID`` and the old one in ``CASE_KEY_KEKS_RETIRED``, then run
``python -m hhc_intake.case_keys rewrap`` (:func:`rewrap_case_keys`), which wraps every
stored key again with the new one; then the old one can go. The case keys themselves,
and so everything sealed with them, stay as they are.
"""

import argparse
import asyncio
import binascii
import json
import sys
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

import asyncpg

from hhc_chassis.db import create_pool
from hhc_chassis.sealing import CaseKeys, KeyWrapper, LocalKeyWrapper, new_case_key
from hhc_contracts.vocabulary import DisposalBasis
from hhc_intake.settings import IntakeSettings

_KEY_OF_CASE = "SELECT wrapped_key, kek_id FROM case_keys WHERE case_id = $1"


class UnknownKeyEncryptionKey(LookupError):
    """A case key is wrapped with a key-encryption key intake was not given."""


@dataclass(frozen=True, slots=True)
class KeyRing:
    """Intake's key-encryption keys: ``current`` wraps every new case key, and ``retired``
    ones (by id) only unwrap the keys they wrapped, until :func:`rewrap_case_keys` has
    wrapped each of those with ``current``."""

    current: KeyWrapper
    retired: Mapping[str, KeyWrapper] = field(default_factory=dict)

    @property
    def key_id(self) -> str:
        return self.current.key_id

    def wrap(self, key: bytes) -> bytes:
        return self.current.wrap(key)

    def wrapper_of(self, key_id: str) -> KeyWrapper | None:
        """The key-encryption key named ``key_id``, if given."""
        return self.current if key_id == self.current.key_id else self.retired.get(key_id)

    def unwrap(self, wrapped: bytes, key_id: str) -> bytes:
        wrapper = self.wrapper_of(key_id)
        if wrapper is None:
            raise UnknownKeyEncryptionKey(
                f"a case key is wrapped with key-encryption key {key_id!r}, which is neither "
                "CASE_KEY_KEK_ID nor one of CASE_KEY_KEKS_RETIRED"
            )
        return wrapper.unwrap(wrapped)


class DatabaseCaseKeys:
    """Case keys in intake's database, wrapped; no cache, so a destroyed key is gone at
    once for every replica."""

    def __init__(self, pool: asyncpg.Pool, keys: KeyRing) -> None:
        self._pool = pool
        self._keys = keys

    async def key_for(self, case_id: UUID) -> bytes | None:
        """The case's key, made now if it has none yet; None once destroyed.

        Two replicas asking at once for a new case both try to insert; the primary key
        keeps the first, and both read that one back. An insert waiting on an erasure's
        uncommitted destruction finds the destroyed row and adds nothing."""
        async with self._pool.acquire() as connection:
            row = await connection.fetchrow(_KEY_OF_CASE, case_id)
            if row is None:
                await connection.execute(
                    """INSERT INTO case_keys (case_id, wrapped_key, kek_id, created_at)
                       SELECT $1, $2, $3, now() FROM cases WHERE case_id = $1
                       ON CONFLICT (case_id) DO NOTHING""",
                    case_id,
                    self._keys.wrap(new_case_key()),
                    self._keys.key_id,
                )
                row = await connection.fetchrow(_KEY_OF_CASE, case_id)
        # No row: intake has no such case, so there is nothing of it to seal.
        if row is None or row["wrapped_key"] is None:
            return None
        return self._keys.unwrap(row["wrapped_key"], row["kek_id"])

    async def keys_for(self, case_ids: Collection[UUID]) -> dict[UUID, bytes | None]:
        """:meth:`key_for` for many cases in one round trip (two more when some are new):
        the relay's batch."""
        known = await self.known_keys(case_ids)
        return {case_id: known.get(case_id) for case_id in case_ids}

    async def known_keys(self, case_ids: Collection[UUID]) -> dict[UUID, bytes | None]:
        """The key of each of the cases intake has (made now if it has none yet; None once
        destroyed); a case intake does not have is left out. One read, two more when some
        keys are new."""
        ids = list(dict.fromkeys(case_ids))
        async with self._pool.acquire() as connection:
            wrapped, new = await self._wrapped_keys(connection, ids)
            if new:
                await connection.execute(
                    """INSERT INTO case_keys (case_id, wrapped_key, kek_id, created_at)
                       SELECT made.case_id, made.wrapped_key, $3, now()
                       FROM unnest($1::uuid[], $2::bytea[]) AS made (case_id, wrapped_key)
                       JOIN cases USING (case_id)
                       ON CONFLICT (case_id) DO NOTHING""",
                    new,
                    [self._keys.wrap(new_case_key()) for _ in new],
                    self._keys.key_id,
                )
                made, _ = await self._wrapped_keys(connection, new)
                wrapped |= made
        return {
            case_id: None if key is None else self._keys.unwrap(*key)
            for case_id, key in wrapped.items()
        }

    @staticmethod
    async def _wrapped_keys(
        connection: asyncpg.Connection, case_ids: list[UUID]
    ) -> tuple[dict[UUID, tuple[bytes, str] | None], list[UUID]]:
        """Of the cases intake has: each one's wrapped key and the id of the key-encryption
        key that wrapped it (None once destroyed), and those that have never had one."""
        rows = await connection.fetch(
            """SELECT c.case_id, k.case_id IS NOT NULL AS keyed, k.wrapped_key, k.kek_id
               FROM cases c LEFT JOIN case_keys k USING (case_id)
               WHERE c.case_id = ANY($1::uuid[])""",
            case_ids,
        )
        wrapped = {
            row["case_id"]: None
            if row["wrapped_key"] is None
            else (row["wrapped_key"], row["kek_id"])
            for row in rows
            if row["keyed"]
        }
        return wrapped, [row["case_id"] for row in rows if not row["keyed"]]

    def forget(self, case_id: UUID) -> None:
        """Nothing is cached here."""


async def destroy_case_key(
    connection: asyncpg.Connection, case_id: UUID, basis: DisposalBasis, *, at: datetime
) -> None:
    """Destroy the case's key, in the caller's transaction. A case that never had one gets
    a destroyed row all the same, so that none is ever made for it afterwards."""
    await connection.execute(
        """INSERT INTO case_keys (case_id, wrapped_key, kek_id, created_at, destroyed_at,
                                  destroyed_basis)
           VALUES ($1, NULL, NULL, $2, $2, $3)
           ON CONFLICT (case_id) DO UPDATE
           SET wrapped_key = NULL,
               destroyed_at = coalesce(case_keys.destroyed_at, EXCLUDED.destroyed_at),
               destroyed_basis = coalesce(case_keys.destroyed_basis, EXCLUDED.destroyed_basis)""",
        case_id,
        at,
        basis.value,
    )


class MissingKeyEncryptionKey(ValueError):
    """CASE_KEY_KEK is empty or not base64 of 32 bytes, or a retired one is not: intake
    must not start."""


def key_ring(settings: IntakeSettings) -> KeyRing:
    """The key-encryption keys from the settings; refuses an empty or malformed one."""
    encoded = settings.case_key_kek.get_secret_value().strip()
    if not encoded:
        raise MissingKeyEncryptionKey(
            "CASE_KEY_KEK is not set: intake keeps every case's key wrapped with it and "
            "cannot start without it (base64 of 32 random bytes: openssl rand -base64 32)"
        )
    retired = settings.case_key_keks_retired
    if settings.case_key_kek_id in retired:
        raise MissingKeyEncryptionKey(
            f"CASE_KEY_KEKS_RETIRED names {settings.case_key_kek_id!r}, the id of "
            "CASE_KEY_KEK: a new key-encryption key needs a new CASE_KEY_KEK_ID"
        )
    return KeyRing(
        _wrapper(encoded, settings.case_key_kek_id, "CASE_KEY_KEK"),
        {
            key_id: _wrapper(
                kek.get_secret_value().strip(), key_id, f"CASE_KEY_KEKS_RETIRED[{key_id!r}]"
            )
            for key_id, kek in retired.items()
        },
    )


def _wrapper(encoded: str, key_id: str, setting: str) -> LocalKeyWrapper:
    try:
        return LocalKeyWrapper.from_base64(encoded, key_id)
    except (binascii.Error, ValueError):
        raise MissingKeyEncryptionKey(
            f"{setting} must be base64 of exactly 32 bytes (openssl rand -base64 32)"
        ) from None


def every_stored_key_opens(settings: IntakeSettings) -> Callable[[asyncpg.Pool], Awaitable[None]]:
    """Intake's start check: each key-encryption key that wraps a stored case key is given
    (CASE_KEY_KEK_ID or CASE_KEY_KEKS_RETIRED). A retired key removed before
    ``rewrap`` has finished stops the new replicas at start, while the old ones serve,
    instead of leaving the cases it wraps unreadable."""

    async def check(pool: asyncpg.Pool) -> None:
        keys = key_ring(settings)
        in_use = [
            row["kek_id"]
            for row in await pool.fetch(
                "SELECT DISTINCT kek_id FROM case_keys WHERE wrapped_key IS NOT NULL"
            )
        ]
        missing = sorted(key_id for key_id in in_use if keys.wrapper_of(key_id) is None)
        if missing:
            raise UnknownKeyEncryptionKey(
                f"stored case keys are wrapped with key-encryption keys {missing}, which are "
                "neither CASE_KEY_KEK_ID nor among CASE_KEY_KEKS_RETIRED: give them in "
                "CASE_KEY_KEKS_RETIRED until `python -m hhc_intake.case_keys rewrap` has run"
            )

    return check


def database_case_keys(settings: IntakeSettings) -> Callable[[asyncpg.Pool], CaseKeys]:
    """The factory ServiceDefinition.case_keys calls at start-up, with the pool."""

    def make(pool: asyncpg.Pool) -> CaseKeys:
        return DatabaseCaseKeys(pool, key_ring(settings))

    return make


async def rewrap_case_keys(pool: asyncpg.Pool, keys: KeyRing, *, batch_size: int = 500) -> int:
    """Wrap every stored case key that another key-encryption key wraps with the current
    one, a batch a transaction, in the order of the cases' ids; returns how many. Intake may
    keep running meanwhile: its replicas unwrap either kind while they have the retired
    keys. A key wrapped with a key-encryption key ``keys`` lacks stops it, with that key's
    id, before anything of its batch changes. Destroyed keys have nothing to wrap."""
    rewrapped = 0
    after = UUID(int=0)
    while True:
        async with pool.acquire() as connection, connection.transaction():
            rows = await connection.fetch(
                """SELECT case_id, wrapped_key, kek_id FROM case_keys
                   WHERE case_id > $1 AND wrapped_key IS NOT NULL
                     AND kek_id IS DISTINCT FROM $2
                   ORDER BY case_id LIMIT $3 FOR UPDATE""",
                after,
                keys.key_id,
                batch_size,
            )
            if not rows:
                return rewrapped
            await connection.execute(
                """UPDATE case_keys SET wrapped_key = again.wrapped_key, kek_id = $3
                   FROM unnest($1::uuid[], $2::bytea[]) AS again (case_id, wrapped_key)
                   WHERE case_keys.case_id = again.case_id""",
                [row["case_id"] for row in rows],
                [keys.wrap(keys.unwrap(row["wrapped_key"], row["kek_id"])) for row in rows],
                keys.key_id,
            )
        rewrapped += len(rows)
        after = rows[-1]["case_id"]


async def _rewrap(settings: IntakeSettings) -> dict[str, object]:
    keys = key_ring(settings)
    pool = await create_pool(settings)
    try:
        rewrapped = await rewrap_case_keys(pool, keys)
        remaining = await pool.fetch(
            """SELECT kek_id, count(*) AS keys FROM case_keys
               WHERE wrapped_key IS NOT NULL GROUP BY kek_id ORDER BY kek_id"""
        )
    finally:
        await pool.close()
    return {
        "rewrapped": rewrapped,
        "keys_by_kek_id": {row["kek_id"]: row["keys"] for row in remaining},
    }


def main(arguments: Sequence[str] | None = None) -> int:
    """``python -m hhc_intake.case_keys rewrap``, with intake's own settings (DATABASE_URL,
    CASE_KEY_KEK, CASE_KEY_KEK_ID, CASE_KEY_KEKS_RETIRED): prints how many keys were wrapped
    again and how many each key-encryption key now wraps."""
    parser = argparse.ArgumentParser(
        prog="python -m hhc_intake.case_keys",
        description="Wrap every stored case key with the current key-encryption key.",
    )
    parser.add_argument("command", choices=["rewrap"])
    parser.parse_args(arguments)
    try:
        result = asyncio.run(_rewrap(IntakeSettings()))
    except (MissingKeyEncryptionKey, UnknownKeyEncryptionKey) as error:
        print(f"rewrap: {error}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
