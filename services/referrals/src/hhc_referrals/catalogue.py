"""The partner catalogue (policy 3.2.6, 3.3, 3.5.2, 3.6): every partner a referral may go
to, how it is reached, what it may be told, and whether it may be told without consent.

The catalogue is data. The service ships a default (``partners.json`` beside this module)
with an entry for every :class:`~hhc_contracts.vocabulary.Partner`, telephone numbers
where the policy has staff phone (999, 101) and placeholder endpoints under the reserved
``.invalid`` domain otherwise, and no secret. A deployment gives its own in
``PARTNER_CATALOGUE_FILE``: each entry there replaces the shipped entry of that id whole,
and an id the shipped catalogue lacks adds a partner. A file that is not a valid catalogue
stops the service at start, with every problem named by entry and field.

Only partners with a ``lawful_basis_without_consent`` may be told anything without the
survivor's explicit consent, and only when they are in danger of immediate harm and
emergency intervention is required (3.5.2).
"""

import json
import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

from hhc_contracts.vocabulary import DeliveryChannel, Partner, PartnerKind, is_recognised
from hhc_referrals.sharing import CASE_DETAIL_FIELDS

log = logging.getLogger(__name__)

SHIPPED = "partners.json"

LawfulBasis = Literal["vital_interests", "legal_obligation"]
"""UK GDPR article 6(1)(d) and (c): the grounds on which a partner may be told without
consent, under the 3.5.2 immediate-harm override."""

_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TELEPHONE = re.compile(r"^\+?[0-9][0-9 ]{1,19}$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


class CatalogueError(ValueError):
    """The partner catalogue is not valid; ``problems`` names each by entry and field."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = tuple(problems)
        super().__init__(
            f"{source} is not a valid partner catalogue:\n"
            + "\n".join(f"  {problem}" for problem in self.problems)
        )


class PartnerEntry(BaseModel):
    """One partner (policy 3.3, 3.5.2, 3.6)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Partner = Field(
        description="The partner's id; one the vocabulary does not know adds a partner"
    )
    name: str = Field(min_length=1)
    kind: PartnerKind = Field(description="Consent is given or refused per kind (3.5.2)")
    lawful_basis_without_consent: LawfulBasis | None = Field(
        default=None,
        description="Set only for partners that may be told without consent, when the "
        "survivor is in danger of immediate harm (3.5.2)",
    )
    sharing_agreement: str | None = Field(
        default=None, description="Reference of the information-sharing agreement (3.5.2)"
    )
    channel: DeliveryChannel
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = Field(
        default=None, description="HMAC key of the webhook; prefer webhook_secret_env"
    )
    webhook_secret_env: str | None = Field(
        default=None, description="Name of the environment variable holding the HMAC key"
    )
    email: str | None = None
    telephone: str | None = Field(default=None, description="e.g. 999, 101")
    allowed_fields: frozenset[str] = Field(
        description="The case's fields the partner may be given (data minimisation, 3.5.2)"
    )
    acknowledge_within: timedelta = Field(
        description="A referral not acknowledged in this long is chased"
    )

    @field_validator("kind", "channel")
    @classmethod
    def _recognised(cls, value: PartnerKind | DeliveryChannel) -> PartnerKind | DeliveryChannel:
        # Configuration, not an event: a value this version cannot act on is a mistake.
        if not is_recognised(value):
            known = ", ".join(repr(member.value) for member in type(value))
            raise ValueError(f"unknown value {value.value!r}; expected one of {known}")
        return value

    @field_validator("webhook_url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is None:
            return None
        url = urlsplit(value)
        if not url.hostname or url.scheme not in ("https", "http"):
            raise ValueError("must be an absolute https:// URL")
        if url.scheme == "http" and url.hostname not in _LOOPBACK:
            raise ValueError("must be https:// (plain http only to this host, for tests)")
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            raise ValueError("must be an email address")
        return value

    @field_validator("telephone")
    @classmethod
    def _telephone(cls, value: str | None) -> str | None:
        if value is not None and not _TELEPHONE.match(value):
            raise ValueError("must be a telephone number: digits and spaces, a leading +")
        return value

    @field_validator("webhook_secret_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError("must be an environment variable name (A-Z, 0-9, _)")
        return value

    @field_validator("allowed_fields")
    @classmethod
    def _known_fields(cls, value: frozenset[str]) -> frozenset[str]:
        unknown = sorted(value - set(CASE_DETAIL_FIELDS))
        if unknown:
            raise ValueError(
                f"unknown field names {unknown}; known: {', '.join(CASE_DETAIL_FIELDS)}"
            )
        return value

    @field_validator("acknowledge_within")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be longer than nothing")
        return value

    @model_validator(mode="after")
    def _channel_endpoint(self) -> Self:
        """The channel's endpoint is required: a referral must have somewhere to go."""
        problems: list[tuple[str, str]] = []
        if self.channel is DeliveryChannel.WEBHOOK:
            if self.webhook_url is None:
                problems.append(("webhook_url", "a webhook partner needs webhook_url"))
            if self.webhook_secret is None and self.webhook_secret_env is None:
                problems.append(
                    (
                        "webhook_secret_env",
                        "a webhook partner needs webhook_secret_env or webhook_secret",
                    )
                )
            elif self.webhook_secret is not None and self.webhook_secret_env is not None:
                problems.append(
                    ("webhook_secret", "give webhook_secret_env or webhook_secret, not both")
                )
        elif self.channel is DeliveryChannel.EMAIL and self.email is None:
            problems.append(("email", "an email partner needs email"))
        elif self.channel is DeliveryChannel.TELEPHONE and self.telephone is None:
            problems.append(("telephone", "a telephone partner needs telephone"))
        if problems:
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [
                    InitErrorDetails(
                        type=PydanticCustomError("channel_endpoint", text),
                        loc=(field,),
                        input=None,
                    )
                    for field, text in problems
                ],
            )
        return self

    def secret(self) -> bytes | None:
        """The webhook's HMAC key: the one given, else the named environment variable's
        value; None when there is neither (an unsigned referral is not sent)."""
        if self.webhook_secret is not None:
            return self.webhook_secret.get_secret_value().encode()
        if self.webhook_secret_env is not None:
            value = os.environ.get(self.webhook_secret_env, "")
            return value.encode() if value else None
        return None


class PartnerCatalogue:
    """The partners, one entry per id, in a stable order: the shipped order (an entry
    replaced by the deployment's file keeps its place), then partners the file added."""

    __slots__ = ("_by_id",)

    def __init__(self, entries: Iterable[PartnerEntry]) -> None:
        by_id: dict[Partner, PartnerEntry] = {}
        for entry in entries:
            if entry.id in by_id:
                raise ValueError(f"partner {entry.id.value!r} is listed twice")
            by_id[entry.id] = entry
        self._by_id: Mapping[Partner, PartnerEntry] = MappingProxyType(by_id)

    @property
    def entries(self) -> tuple[PartnerEntry, ...]:
        return tuple(self._by_id.values())

    def get(self, partner: Partner) -> PartnerEntry | None:
        return self._by_id.get(partner)


def _label(raw: object, index: int) -> str:
    """How a problem names its entry: by id where the entry has one, and by position."""
    if isinstance(raw, Mapping) and isinstance(raw.get("id"), str):
        return f"partner {raw['id']!r} (entry {index})"
    return f"entry {index}"


def _problem(label: str, error: ErrorDetails) -> str:
    # Never the input: an entry may hold a webhook secret.
    field = ".".join(str(part) for part in error["loc"]) or "(entry)"
    return f"{label}: {field}: {error['msg']}"


def parse_entries(text: str, *, source: str) -> list[PartnerEntry]:
    """The entries of a catalogue in JSON (a list of entries, or ``{"partners": [...]}``);
    :class:`CatalogueError` naming every bad entry and field."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise CatalogueError(
            source, [f"not JSON: {error.msg} at line {error.lineno} column {error.colno}"]
        ) from None
    if isinstance(data, dict):
        if set(data) != {"partners"}:
            raise CatalogueError(
                source, [f'expected {{"partners": [...]}}, found keys {sorted(data)}']
            )
        data = data["partners"]
    if not isinstance(data, list):
        raise CatalogueError(source, ['expected a list of partners or {"partners": [...]}'])

    entries: list[PartnerEntry] = []
    problems: list[str] = []
    first_of: dict[Partner, int] = {}
    for index, raw in enumerate(data):
        label = _label(raw, index)
        if not isinstance(raw, dict):
            problems.append(f"{label}: expected an object")
            continue
        try:
            entry = PartnerEntry.model_validate(raw)
        except ValidationError as error:
            problems.extend(_problem(label, detail) for detail in error.errors())
            continue
        if entry.id in first_of:
            problems.append(f"{label}: id: also entry {first_of[entry.id]}; give each once")
            continue
        first_of[entry.id] = index
        entries.append(entry)
    if problems:
        raise CatalogueError(source, problems)
    return entries


def shipped_entries() -> list[PartnerEntry]:
    text = resources.files("hhc_referrals").joinpath(SHIPPED).read_text(encoding="utf-8")
    return parse_entries(text, source=f"the shipped catalogue (hhc_referrals/{SHIPPED})")


def catalogue_at(webhook_base_url: str, webhook_secret: str) -> dict[str, object]:
    """The shipped catalogue as a ``PARTNER_CATALOGUE_FILE`` would give it, every webhook
    partner at ``<webhook_base_url>/<its id>`` with ``webhook_secret``: the partners of a
    test or a benchmark, on this machine."""
    entries = []
    for entry in shipped_entries():
        listed = entry.model_dump(mode="json", exclude_none=True)
        if entry.channel is DeliveryChannel.WEBHOOK:
            listed.pop("webhook_secret_env", None)
            listed |= {
                "webhook_url": f"{webhook_base_url}/{entry.id.value}",
                "webhook_secret": webhook_secret,
            }
        entries.append(listed)
    return {"partners": entries}


def load_catalogue(path: Path | None = None) -> PartnerCatalogue:
    """The shipped catalogue with ``path``'s entries over it (``PARTNER_CATALOGUE_FILE``);
    :class:`CatalogueError` when either is not valid, for the service to refuse to start."""
    merged = {entry.id: entry for entry in shipped_entries()}
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise CatalogueError(str(path), [f"cannot be read: {error.strerror}"]) from None
        for entry in parse_entries(text, source=str(path)):
            if entry.id not in merged and not is_recognised(entry.id):
                log.warning(
                    "partner catalogue adds a partner this version does not know",
                    extra={"partner": entry.id.value},
                )
            # A replaced entry keeps its place; a new one goes last.
            merged[entry.id] = entry
    catalogue = PartnerCatalogue(merged.values())
    unsigned = [
        entry.id.value
        for entry in catalogue.entries
        if entry.channel is DeliveryChannel.WEBHOOK and entry.secret() is None
    ]
    if unsigned:
        log.warning(
            "webhook partners without a secret: their referrals cannot be sent",
            extra={"partners": unsigned},
        )
    return catalogue
