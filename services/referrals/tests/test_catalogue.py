"""The partner catalogue (policy 3.2.6, 3.3, 3.5.2, 3.6): the shipped default covers every
partner with placeholder endpoints only; a deployment's file replaces entries whole and
adds partners; a bad file stops the service with every problem named by entry and field;
the listing over HTTP never shows a secret."""

import json
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import ValidationError

from hhc_chassis.access import Caller, Permission, Role
from hhc_contracts.vocabulary import DeliveryChannel, Partner, PartnerKind, is_recognised
from hhc_referrals.catalogue import (
    CatalogueError,
    PartnerCatalogue,
    PartnerEntry,
    load_catalogue,
    shipped_entries,
)
from hhc_referrals.partners_api import router
from hhc_referrals.settings import ReferralsSettings


def entry(**overrides: Any) -> dict[str, Any]:
    """A valid catalogue entry as a deployment's file gives it."""
    return {
        "id": "police",
        "name": "Merseyside Police",
        "kind": "statutory",
        "lawful_basis_without_consent": "vital_interests",
        "sharing_agreement": "ISA-2026-POLICE",
        "channel": "webhook",
        "webhook_url": "https://police.example/referrals",
        "webhook_secret_env": "PARTNER_SECRET_POLICE",
        "allowed_fields": ["case_reference", "survivor_name", "description"],
        "acknowledge_within": "P1D",
    } | overrides


HMAC_KEY = "hunter2-very-secret"
NOT_AN_ENV_NAME = "not a name"


def write(tmp_path: Path, content: object) -> Path:
    path = tmp_path / "partners.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


# --- the shipped catalogue ---------------------------------------------------------------


def test_shipped_catalogue_is_valid_and_covers_every_partner_in_vocabulary_order() -> None:
    catalogue = load_catalogue(None)
    assert [e.id for e in catalogue.entries] == list(Partner)
    for partner in Partner:
        found = catalogue.get(partner)
        assert found is not None
        assert found.id is partner


def test_shipped_catalogue_has_no_real_endpoint_and_no_secret() -> None:
    for shipped in shipped_entries():
        assert shipped.webhook_secret is None, shipped.id
        if shipped.webhook_url is not None:
            host = urlsplit(shipped.webhook_url).hostname or ""
            assert host.endswith(".invalid"), shipped.id
        if shipped.email is not None:
            assert shipped.email.endswith(".invalid"), shipped.id


# How the policy has each partner reached: staff phone 999 for an emergency and 101 for
# the police (3.2.6, 3.3.1); the rest by the service.
TELEPHONE = {Partner.EMERGENCY_SERVICES: "999", Partner.POLICE: "101"}


@pytest.mark.parametrize("partner", list(Partner), ids=str)
def test_shipped_channels(partner: Partner) -> None:
    found = load_catalogue(None).get(partner)
    assert found is not None
    if partner in TELEPHONE:
        assert found.channel is DeliveryChannel.TELEPHONE
        assert found.telephone == TELEPHONE[partner]
    else:
        assert found.channel is not DeliveryChannel.TELEPHONE


ACKNOWLEDGE_WITHIN = {
    PartnerKind.EMERGENCY: timedelta(minutes=15),
    PartnerKind.STATUTORY: timedelta(hours=24),
    PartnerKind.HOUSING: timedelta(hours=24),
    PartnerKind.SUPPORT_AND_ADVOCACY: timedelta(days=5),
}


@pytest.mark.parametrize("partner", list(Partner), ids=str)
def test_shipped_acknowledgement_windows_by_kind(partner: Partner) -> None:
    found = load_catalogue(None).get(partner)
    assert found is not None
    assert found.acknowledge_within == ACKNOWLEDGE_WITHIN[found.kind]


# --- a deployment's file -----------------------------------------------------------------


@pytest.mark.parametrize("wrapped", [False, True], ids=["list", "partners-object"])
def test_file_replaces_an_entry_whole_and_adds_one(tmp_path: Path, wrapped: bool) -> None:
    jag = entry(
        id="joint_action_group",
        name="Joint Action Group",
        kind="statutory",
        lawful_basis_without_consent=None,
        channel="email",
        webhook_url=None,
        webhook_secret_env=None,
        email="jag@council.example",
        allowed_fields=["case_reference", "categories"],
        acknowledge_within="P5D",
    )
    partners = [entry(telephone=None), jag]
    catalogue = load_catalogue(write(tmp_path, {"partners": partners} if wrapped else partners))

    police = catalogue.get(Partner.POLICE)
    assert police is not None
    assert police.channel is DeliveryChannel.WEBHOOK
    assert police.webhook_url == "https://police.example/referrals"
    # Whole: the shipped 101 and allowed fields are gone, not merged.
    assert police.telephone is None
    assert police.allowed_fields == {"case_reference", "survivor_name", "description"}

    added = catalogue.get(Partner("joint_action_group"))
    assert added is not None
    assert not is_recognised(added.id)
    assert added.email == "jag@council.example"

    ids = [e.id.value for e in catalogue.entries]
    # The replaced entry keeps its place; the new one goes last; the rest stay shipped.
    assert ids == [*(p.value for p in Partner), "joint_action_group"]
    stop_hate = catalogue.get(Partner.STOP_HATE_UK)
    assert stop_hate is not None
    assert stop_hate.email == "referrals@stop-hate-uk.invalid"


def test_no_file_is_the_shipped_catalogue() -> None:
    assert load_catalogue(None).entries == PartnerCatalogue(shipped_entries()).entries


BAD_ENTRIES = [
    pytest.param(entry(allowed_fields=["reporter_name"]), "allowed_fields", id="unknown-field"),
    pytest.param(entry(channel="carrier_pigeon"), "channel", id="unknown-channel"),
    pytest.param(entry(kind="friends"), "kind", id="unknown-kind"),
    pytest.param(entry(webhook_url=None), "webhook_url", id="webhook-without-url"),
    pytest.param(entry(webhook_secret_env=None), "webhook_secret_env", id="webhook-without-secret"),
    pytest.param(entry(webhook_secret=HMAC_KEY), "webhook_secret", id="two-secrets"),
    pytest.param(
        entry(webhook_url="http://police.example/referrals"), "webhook_url", id="plain-http"
    ),
    pytest.param(entry(webhook_secret_env=NOT_AN_ENV_NAME), "webhook_secret_env", id="env-name"),
    pytest.param(entry(email="nobody"), "email", id="email-shape"),
    pytest.param(entry(telephone="call me"), "telephone", id="telephone-shape"),
    pytest.param(entry(acknowledge_within="PT0S"), "acknowledge_within", id="no-window"),
    pytest.param(
        entry(lawful_basis_without_consent="legitimate_interests"),
        "lawful_basis_without_consent",
        id="lawful-basis",
    ),
    pytest.param(entry() | {"webhook_secret_evn": "X"}, "webhook_secret_evn", id="misspelt-field"),
    pytest.param({k: v for k, v in entry().items() if k != "name"}, "name", id="no-name"),
]


@pytest.mark.parametrize(("bad", "field"), BAD_ENTRIES)
def test_bad_entry_is_named_by_entry_and_field(
    tmp_path: Path, bad: dict[str, Any], field: str
) -> None:
    good = entry(id="stop_hate_uk", kind="support_and_advocacy")
    path = write(tmp_path, [good, bad])
    with pytest.raises(CatalogueError) as raised:
        load_catalogue(path)
    assert raised.value.source == str(path)
    assert len(raised.value.problems) == 1, raised.value.problems
    assert raised.value.problems[0].startswith(f"partner 'police' (entry 1): {field}: ")
    assert str(path) in str(raised.value)


def test_every_bad_entry_is_named_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, [entry(webhook_url=None), entry(id="stop_hate_uk", email="x")])
    with pytest.raises(CatalogueError) as raised:
        load_catalogue(path)
    assert [p.split(":")[0] for p in raised.value.problems] == [
        "partner 'police' (entry 0)",
        "partner 'stop_hate_uk' (entry 1)",
    ]


def test_a_problem_never_shows_the_secret(tmp_path: Path) -> None:
    # A missing field's error holds the whole entry as its input.
    bad = entry(webhook_secret=HMAC_KEY, webhook_secret_env=None)
    del bad["name"]
    with pytest.raises(CatalogueError) as raised:
        load_catalogue(write(tmp_path, [bad]))
    assert HMAC_KEY not in str(raised.value)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        pytest.param("[{", "not JSON", id="not-json"),
        pytest.param({"partner": []}, "expected", id="wrong-key"),
        pytest.param('"police"', "expected a list", id="not-a-list"),
        pytest.param(["police"], "entry 0: expected an object", id="not-an-object"),
        pytest.param(
            [entry(), entry()], "partner 'police' (entry 1): id: also entry 0", id="twice"
        ),
    ],
)
def test_bad_file_shape_is_refused(tmp_path: Path, content: object, problem: str) -> None:
    with pytest.raises(CatalogueError) as raised:
        load_catalogue(write(tmp_path, content))
    assert problem in str(raised.value)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="cannot be read"):
        load_catalogue(tmp_path / "absent.json")


# --- the channel's endpoint --------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "endpoint"),
    [
        ("webhook", {"webhook_url": "https://p.example/r", "webhook_secret_env": "S"}),
        ("webhook", {"webhook_url": "https://p.example/r", "webhook_secret": "s"}),
        ("webhook", {"webhook_url": "http://127.0.0.1:9000/r", "webhook_secret": "s"}),
        ("email", {"email": "referrals@p.example"}),
        ("telephone", {"telephone": "999"}),
        ("telephone", {"telephone": "+44 151 555 0100"}),
    ],
)
def test_channel_with_its_endpoint_is_valid(channel: str, endpoint: dict[str, str]) -> None:
    base = {"id": "police", "name": "P", "kind": "statutory", "channel": channel}
    parsed = PartnerEntry.model_validate(
        base | endpoint | {"allowed_fields": [], "acknowledge_within": 60}
    )
    assert parsed.channel == channel


@pytest.mark.parametrize(
    ("channel", "missing"),
    [
        ("webhook", {"webhook_url", "webhook_secret_env"}),
        ("email", {"email"}),
        ("telephone", {"telephone"}),
    ],
)
def test_channel_without_its_endpoint_is_refused(channel: str, missing: set[str]) -> None:
    # Every other channel's endpoint given: only the channel's own counts.
    others = {
        "webhook_url": "https://p.example/r",
        "webhook_secret_env": "S",
        "email": "r@p.example",
        "telephone": "101",
    }
    given = {k: v for k, v in others.items() if k not in missing}
    with pytest.raises(ValidationError) as raised:
        PartnerEntry.model_validate(
            {"id": "police", "name": "P", "kind": "statutory", "channel": channel}
            | given
            | {"allowed_fields": [], "acknowledge_within": 60}
        )
    assert {error["loc"][0] for error in raised.value.errors()} == missing


# --- the webhook's secret ----------------------------------------------------------------


def test_secret_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed = PartnerEntry.model_validate(entry())
    monkeypatch.delenv("PARTNER_SECRET_POLICE", raising=False)
    assert parsed.secret() is None
    monkeypatch.setenv("PARTNER_SECRET_POLICE", "from-env")
    assert parsed.secret() == b"from-env"
    monkeypatch.setenv("PARTNER_SECRET_POLICE", "")
    assert parsed.secret() is None


def test_secret_given_in_the_file_is_hidden_but_used() -> None:
    parsed = PartnerEntry.model_validate(entry(webhook_secret_env=None, webhook_secret=HMAC_KEY))
    assert parsed.secret() == HMAC_KEY.encode()
    assert HMAC_KEY not in repr(parsed)


def test_no_secret_for_other_channels() -> None:
    parsed = PartnerEntry.model_validate(
        entry(channel="telephone", telephone="101", webhook_url=None, webhook_secret_env=None)
    )
    assert parsed.secret() is None


# --- GET /v1/partners --------------------------------------------------------------------


class FakeVerifier:
    def __init__(self, caller: Caller) -> None:
        self.caller = caller

    async def verify(self, token: str) -> Caller:
        return self.caller


def app_for(role: Role, **state: object) -> FastAPI:
    app = FastAPI()
    app.include_router(router)
    app.state.token_verifier = FakeVerifier(Caller(subject="s-1", roles=frozenset({role})))
    refused: list[Permission] = []

    async def record_refusal(request: Request, caller: Caller, permission: Permission) -> None:
        refused.append(permission)

    app.state.record_refusal = record_refusal
    app.state.refused = refused
    for name, value in state.items():
        setattr(app.state, name, value)
    return app


async def get_partners(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://referrals") as client:
        return await client.get("/v1/partners", headers={"Authorization": "Bearer t"})


async def test_listing_shows_every_partner_and_never_a_secret(tmp_path: Path) -> None:
    secret = entry(webhook_secret=HMAC_KEY, webhook_secret_env=None)
    catalogue = load_catalogue(write(tmp_path, [secret]))
    response = await get_partners(app_for(Role.ADVISER, partner_catalogue=catalogue))
    assert response.status_code == 200
    listed = response.json()
    assert [p["id"] for p in listed] == [p.value for p in Partner]
    assert HMAC_KEY not in response.text
    assert "PARTNER_SECRET_" not in response.text
    police = next(p for p in listed if p["id"] == "police")
    assert police["webhook_url"] == "https://police.example/referrals"
    assert police["allowed_fields"] == ["case_reference", "description", "survivor_name"]
    assert police["acknowledge_within_seconds"] == 86400
    assert police["lawful_basis_without_consent"] == "vital_interests"
    emergency = next(p for p in listed if p["id"] == "emergency_services")
    assert emergency["telephone"] == "999"


async def test_listing_needs_reference_data_permission() -> None:
    app = app_for(Role.AUDITOR, partner_catalogue=load_catalogue(None))
    response = await get_partners(app)
    assert response.status_code == 403
    assert app.state.refused == [Permission.READ_REFERENCE_DATA]


async def test_listing_loads_the_configured_file_once(tmp_path: Path) -> None:
    path = write(tmp_path, [entry()])
    runtime = SimpleNamespace(settings=ReferralsSettings(partner_catalogue_file=path))
    app = app_for(Role.CASEWORKER, runtime=runtime)
    first = await get_partners(app)
    police = next(p for p in first.json() if p["id"] == "police")
    assert police["channel"] == "webhook"
    path.unlink()  # kept on app.state: not read again
    assert (await get_partners(app)).json() == first.json()
