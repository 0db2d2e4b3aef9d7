"""Intake keeps every case's key (crypto-shredding, policy 3.5.2; :mod:`hhc_chassis.sealing`).

A case's key is made the first time something of the case is sealed, wrapped with the
key-encryption key (``CASE_KEY_KEK``) and stored in ``case_keys``; only the wrapped form
is ever stored. Intake's own relay seals with it, and the services in
``CASE_KEY_CLIENTS`` fetch it from ``GET /v1/case-keys/{case_id}``. Destroying it
(:func:`destroy_case_key`, in an erasure's transaction) leaves the row with no key, so
the case can never be given a new one and every sealed copy of its personal data, on
the topics, their dead-letter topics and in backups, stays unreadable.
"""

import binascii
from collections.abc import Callable, Collection
from datetime import datetime
from uuid import UUID

import asyncpg

from hhc_chassis.sealing import CaseKeys, KeyWrapper, LocalKeyWrapper, new_case_key
from hhc_contracts.vocabulary import DisposalBasis
from hhc_intake.settings import IntakeSettings

_KEY_OF_CASE = "SELECT wrapped_key FROM case_keys WHERE case_id = $1"


class DatabaseCaseKeys:
    """Case keys in intake's database, wrapped; no cache, so a destroyed key is gone at
    once for every replica."""

    def __init__(self, pool: asyncpg.Pool, wrapper: KeyWrapper) -> None:
        self._pool = pool
        self._wrapper = wrapper

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
                    self._wrapper.wrap(new_case_key()),
                    self._wrapper.key_id,
                )
                row = await connection.fetchrow(_KEY_OF_CASE, case_id)
        # No row: intake has no such case, so there is nothing of it to seal.
        if row is None or row["wrapped_key"] is None:
            return None
        return self._wrapper.unwrap(row["wrapped_key"])

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
                    [self._wrapper.wrap(new_case_key()) for _ in new],
                    self._wrapper.key_id,
                )
                made, _ = await self._wrapped_keys(connection, new)
                wrapped |= made
        return {
            case_id: None if key is None else self._wrapper.unwrap(key)
            for case_id, key in wrapped.items()
        }

    @staticmethod
    async def _wrapped_keys(
        connection: asyncpg.Connection, case_ids: list[UUID]
    ) -> tuple[dict[UUID, bytes | None], list[UUID]]:
        """Of the cases intake has: each one's wrapped key (None once destroyed), and those
        that have never had one."""
        rows = await connection.fetch(
            """SELECT c.case_id, k.case_id IS NOT NULL AS keyed, k.wrapped_key
               FROM cases c LEFT JOIN case_keys k USING (case_id)
               WHERE c.case_id = ANY($1::uuid[])""",
            case_ids,
        )
        wrapped = {row["case_id"]: row["wrapped_key"] for row in rows if row["keyed"]}
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
    """CASE_KEY_KEK is empty or not base64 of 32 bytes: intake must not start."""


def key_wrapper(settings: IntakeSettings) -> LocalKeyWrapper:
    """The key-encryption key from the settings; refuses an empty or malformed one."""
    encoded = settings.case_key_kek.get_secret_value().strip()
    if not encoded:
        raise MissingKeyEncryptionKey(
            "CASE_KEY_KEK is not set: intake keeps every case's key wrapped with it and "
            "cannot start without it (base64 of 32 random bytes: openssl rand -base64 32)"
        )
    try:
        return LocalKeyWrapper.from_base64(encoded, settings.case_key_kek_id)
    except (binascii.Error, ValueError):
        raise MissingKeyEncryptionKey(
            "CASE_KEY_KEK must be base64 of exactly 32 bytes (openssl rand -base64 32)"
        ) from None


def database_case_keys(settings: IntakeSettings) -> Callable[[asyncpg.Pool], CaseKeys]:
    """The factory ServiceDefinition.case_keys calls at start-up, with the pool."""

    def make(pool: asyncpg.Pool) -> CaseKeys:
        return DatabaseCaseKeys(pool, key_wrapper(settings))

    return make
