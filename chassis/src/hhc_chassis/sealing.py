"""Personal data sealed per case: crypto-shredding (policy 3.5.1, 3.5.2).

Every event's ``personal`` part leaves its service encrypted with its case's own key
(AES-256-GCM; the case id and event id as associated data) and travels in the envelope's
``sealed`` field, the payload's ``personal`` left empty. Intake keeps the case keys,
wrapped by a key-encryption key, and hands one out only to a service whose work needs it.
Destroying a case's key makes every copy of its personal data unreadable at once: on the
topics, on their dead-letter topics, in outbox rows and in backups.

Sealing happens in the outbox relay, as a row is published, and the published row keeps
the sealed value (:mod:`hhc_chassis.outbox`). Until then the personal part sits in the
service's own database, beside the same data in its own tables, and an erasure removes
it from both.
"""

import asyncio
import base64
import json
import logging
import os
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable
from uuid import UUID

import httpx
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap, aes_key_wrap

from hhc_chassis.errors import PermanentError
from hhc_contracts import Envelope, SealedPersonal

log = logging.getLogger(__name__)

KEY_BYTES = 32
"""AES-256."""
_NONCE_BYTES = 12


class CaseKeys(Protocol):
    """Where a service gets a case's key."""

    async def key_for(self, case_id: UUID) -> bytes | None:
        """The case's key; None when it was destroyed (the case's personal data is gone)."""

    def forget(self, case_id: UUID) -> None:
        """Drop any cached copy of the case's key (after an erasure)."""


@runtime_checkable
class ManyCaseKeys(CaseKeys, Protocol):
    """A key source that fetches many keys in one round trip."""

    async def keys_for(self, case_ids: Collection[UUID]) -> dict[UUID, bytes | None]:
        """Each case's key, as :meth:`CaseKeys.key_for` would give it."""


CASE_KEY_LOOKUP_MAX = 500
"""Most cases in one ``POST /v1/case-key-lookups``: a consumer's batch of one partition is at
most 500 events."""


class KeyServiceUnavailable(ConnectionError):
    """The case key could not be fetched now; retried as any connection failure is."""


class CaseUnknownToIntake(PermanentError):
    """Intake has no such case, so no key: the event is not of one of this deployment's
    cases (dead-lettered, not retried: retrying for ``RETRY_MAX_SECONDS`` held its whole
    partition back, and ended in a dead letter all the same)."""


class SealBroken(PermanentError):
    """A sealed part that does not open with its case's key: tampered with, or moved."""


def _associated_data(case_id: UUID, event_id: UUID) -> bytes:
    return f"{case_id}/{event_id}".encode()


def has_personal_data(personal: object) -> bool:
    """Whether a ``personal`` part says anything (its defaults say nothing)."""
    if isinstance(personal, Mapping):
        return any(has_personal_data(value) for value in personal.values())
    if isinstance(personal, list | tuple):
        return any(has_personal_data(value) for value in personal)
    return personal not in (None, False, "", 0)


def seal(
    personal: Mapping[str, Any], key: bytes, *, case_id: UUID, event_id: UUID
) -> SealedPersonal:
    nonce = os.urandom(_NONCE_BYTES)
    ciphertext = AESGCM(key).encrypt(
        nonce,
        json.dumps(personal, separators=(",", ":")).encode(),
        _associated_data(case_id, event_id),
    )
    return SealedPersonal(
        nonce=base64.b64encode(nonce).decode(), ciphertext=base64.b64encode(ciphertext).decode()
    )


def unseal(sealed: SealedPersonal, key: bytes, *, case_id: UUID, event_id: UUID) -> dict[str, Any]:
    try:
        plain = AESGCM(key).decrypt(
            base64.b64decode(sealed.nonce),
            base64.b64decode(sealed.ciphertext),
            _associated_data(case_id, event_id),
        )
    except (InvalidTag, ValueError) as error:
        raise SealBroken(f"the personal part of event {event_id} does not open") from error
    opened: dict[str, Any] = json.loads(plain)
    return opened


@dataclass(frozen=True, slots=True)
class Sealed:
    """An outgoing message value after sealing."""

    value: str
    changed: bool = False
    """The value differs from what was staged (sealed or withheld)."""
    withheld: bool = False
    """Personal data was dropped rather than sealed."""


def _carries_personal_data(document: Mapping[str, Any]) -> bool:
    payload = document.get("payload")
    return isinstance(payload, dict) and has_personal_data(payload.get("personal"))


def case_to_seal(document: Mapping[str, Any]) -> UUID | None:
    """The case whose key a message (its parsed value) needs: None when it carries no
    personal data, or belongs to no case (then its personal part is withheld)."""
    case_id = document.get("case_id")
    return UUID(case_id) if case_id and _carries_personal_data(document) else None


async def fetch_keys(source: CaseKeys, case_ids: Collection[UUID]) -> dict[UUID, bytes | None]:
    """The cases' keys in one round trip, or one at a time side by side, in place of one
    after another. A key that cannot be fetched now is left out, to fail where it is
    needed."""
    if not case_ids:
        return {}
    if isinstance(source, ManyCaseKeys):
        try:
            return await source.keys_for(case_ids)
        except Exception:
            return {}
    ids = list(case_ids)
    found = await asyncio.gather(*(source.key_for(case) for case in ids), return_exceptions=True)
    return {
        case: key
        for case, key in zip(ids, found, strict=True)
        if not isinstance(key, BaseException)
    }


class KeysAtHand:
    """Keys fetched ahead for a batch (:func:`fetch_keys`) and kept with it; a case not
    among them is asked of the source."""

    def __init__(self, source: CaseKeys, keys: Mapping[UUID, bytes | None]) -> None:
        self._source = source
        self._keys = keys

    @classmethod
    async def fetch(cls, source: CaseKeys, case_ids: Collection[UUID]) -> "KeysAtHand":
        return cls(source, await fetch_keys(source, case_ids))

    async def key_for(self, case_id: UUID) -> bytes | None:
        if case_id in self._keys:
            return self._keys[case_id]
        return await self._source.key_for(case_id)

    def forget(self, case_id: UUID) -> None:
        self._source.forget(case_id)


async def seal_message(value: str, keys: CaseKeys | None) -> Sealed:
    """The message value to publish: its payload's personal part sealed with its case's key.

    Without a key source, or for a case whose key is destroyed, the personal part is
    withheld (published empty): personal data never leaves in clear."""
    return await seal_document(json.loads(value), value, keys)


async def seal_document(document: dict[str, Any], value: str, keys: CaseKeys | None) -> Sealed:
    """:func:`seal_message` for a value already parsed (``document``)."""
    if not _carries_personal_data(document):
        return Sealed(value)
    payload = document["payload"]
    case_id = document.get("case_id")
    key = await keys.key_for(UUID(case_id)) if keys is not None and case_id else None
    personal = payload["personal"]
    payload["personal"] = {}
    if key is None:
        document["sealed"] = None
        return Sealed(json.dumps(document, separators=(",", ":")), changed=True, withheld=True)
    document["sealed"] = seal(
        personal, key, case_id=UUID(case_id), event_id=UUID(document["event_id"])
    ).model_dump(mode="json")
    return Sealed(json.dumps(document, separators=(",", ":")), changed=True)


async def opened_payload(envelope: Envelope, keys: CaseKeys | None) -> dict[str, Any] | None:
    """The payload with its sealed personal part put back, for a consumer whose work needs
    it; None when there is nothing to open, or the key is not this service's or is gone."""
    if envelope.sealed is None or envelope.case_id is None or keys is None:
        return None
    key = await keys.key_for(envelope.case_id)
    if key is None:
        return None
    personal = unseal(envelope.sealed, key, case_id=envelope.case_id, event_id=envelope.event_id)
    return {**envelope.payload, "personal": personal}


class KeyWrapper(Protocol):
    """Wraps case keys with a key-encryption key (a local secret, or a cloud KMS)."""

    key_id: str

    def wrap(self, key: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes) -> bytes: ...


class LocalKeyWrapper:
    """AES key wrap (RFC 3394) with a key-encryption key from a secret."""

    def __init__(self, kek: bytes, key_id: str = "local-1") -> None:
        if len(kek) != KEY_BYTES:
            raise ValueError(f"the key-encryption key must be {KEY_BYTES} bytes")
        self._kek = kek
        self.key_id = key_id

    @classmethod
    def from_base64(cls, encoded: str, key_id: str = "local-1") -> "LocalKeyWrapper":
        return cls(base64.b64decode(encoded, validate=True), key_id)

    def wrap(self, key: bytes) -> bytes:
        return aes_key_wrap(self._kek, key)

    def unwrap(self, wrapped: bytes) -> bytes:
        return aes_key_unwrap(self._kek, wrapped)


def new_case_key() -> bytes:
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


class ServiceTokens:
    """This service's own access token (OAuth 2.0 client credentials), renewed before expiry."""

    def __init__(
        self, client: httpx.AsyncClient, token_url: str, client_id: str, client_secret: str
    ) -> None:
        self._client = client
        self._token_url = token_url
        self._credentials = (client_id, client_secret)
        self._token: str | None = None
        self._renew_at = 0.0

    async def token(self) -> str:
        if self._token is None or time.monotonic() >= self._renew_at:
            response = await self._client.post(
                self._token_url, data={"grant_type": "client_credentials"}, auth=self._credentials
            )
            if response.status_code != 200:
                raise KeyServiceUnavailable(
                    f"the identity provider refused this service a token ({response.status_code})"
                )
            granted = response.json()
            self._token = str(granted["access_token"])
            lifetime = float(granted.get("expires_in", 300))
            self._renew_at = time.monotonic() + max(lifetime * 0.8, lifetime - 60)
        return self._token

    def forget(self) -> None:
        self._token = None


class IntakeCaseKeys:
    """Case keys fetched from intake's key service, kept briefly in memory.

    Every hand-out is authorised and audited by intake; the cache (``ttl_seconds``) spares
    it one request per event, and an erasure is followed within that time at the latest
    (at once in this service: its erasure handler calls :meth:`forget`)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        tokens: ServiceTokens,
        *,
        ttl_seconds: float = 60.0,
        max_cached: int = 10_000,
    ) -> None:
        self._client = client
        self._base_url = base_url.rstrip("/")
        self._tokens = tokens
        self._ttl = ttl_seconds
        self._max_cached = max_cached
        self._cache: dict[UUID, tuple[bytes | None, float]] = {}

    async def key_for(self, case_id: UUID) -> bytes | None:
        cached = self._cache.get(case_id)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        key = await self._fetch(case_id)
        self._keep(case_id, key)
        return key

    async def keys_for(self, case_ids: Collection[UUID]) -> dict[UUID, bytes | None]:
        """Many cases' keys in one request for those not cached (``POST
        /v1/case-key-lookups``). A case intake does not know is left out: asked alone
        (:meth:`key_for`), it fails as such where it is needed."""
        now = time.monotonic()
        keys: dict[UUID, bytes | None] = {}
        wanted: list[UUID] = []
        for case_id in dict.fromkeys(case_ids):
            cached = self._cache.get(case_id)
            if cached is not None and cached[1] > now:
                keys[case_id] = cached[0]
            else:
                wanted.append(case_id)
        for start in range(0, len(wanted), CASE_KEY_LOOKUP_MAX):
            fetched = await self._look_up(wanted[start : start + CASE_KEY_LOOKUP_MAX])
            for case_id, key in fetched.items():
                self._keep(case_id, key)
            keys |= fetched
        return keys

    def _keep(self, case_id: UUID, key: bytes | None) -> None:
        if len(self._cache) >= self._max_cached:
            self._cache.clear()
        self._cache[case_id] = (key, time.monotonic() + self._ttl)

    def forget(self, case_id: UUID) -> None:
        self._cache.pop(case_id, None)

    async def _look_up(self, case_ids: list[UUID]) -> dict[UUID, bytes | None]:
        response = await self._ask(
            "POST",
            "/v1/case-key-lookups",
            json={"case_ids": [str(case_id) for case_id in case_ids]},
        )
        if response.status_code != 200:
            # An intake older than the lookup answers 404 or 405: each key is then asked
            # alone, where it is needed.
            raise KeyServiceUnavailable(
                f"intake's key service answered {response.status_code} for a key lookup"
            )
        answer = response.json()
        keys: dict[UUID, bytes | None] = {
            UUID(given["case_id"]): base64.b64decode(given["key"]) for given in answer["keys"]
        }
        keys |= dict.fromkeys((UUID(case_id) for case_id in answer["erased"]), None)
        return keys

    async def _ask(self, method: str, path: str, **request: Any) -> httpx.Response:
        """Intake's answer, with this service's token (renewed once if refused as expired)."""
        url = f"{self._base_url}{path}"
        try:
            response = await self._client.request(
                method, url, headers=await self._bearer(), **request
            )
            if response.status_code == 401:
                self._tokens.forget()  # expired early, or the issuer rotated its key
                response = await self._client.request(
                    method, url, headers=await self._bearer(), **request
                )
        except httpx.HTTPError as error:
            raise KeyServiceUnavailable(f"intake's key service: {type(error).__name__}") from None
        return response

    async def _bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self._tokens.token()}"}

    async def _fetch(self, case_id: UUID) -> bytes | None:
        response = await self._ask("GET", f"/v1/case-keys/{case_id}")
        if response.status_code == 410:
            return None
        if response.status_code == 404:
            raise CaseUnknownToIntake(f"intake has no case {case_id}")
        if response.status_code != 200:
            # 403 too: a wrong deployment, not something the message can fix, and the
            # outbox row or the message waits rather than going out without its key.
            raise KeyServiceUnavailable(
                f"intake's key service answered {response.status_code} for a case key"
            )
        return base64.b64decode(response.json()["key"])
