"""The Hate Crime Reporting Centre's Police referral (3.2.6) follows consent (3.5.2).

Risk plans it as an action for this service (``police_referral``, carried out by
referrals, partner ``police``); what happens to it is decided here, by the survivor's
consent, as for any partner. A table over consent and danger, through the service's own
handler of ``risk.action-required`` and the shipped catalogue's Police entry (statutory,
telephoned by staff), against a real database.
"""

import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from hhc_chassis.db import MigrationSet, create_pool, migrate
from hhc_chassis.events import new_envelope
from hhc_contracts.v1 import ActionRequired
from hhc_contracts.vocabulary import (
    ActionKind,
    AppliesTo,
    ConsentGiver,
    ConsentState,
    Executor,
    Partner,
    PartnerKind,
    ReferralBasis,
    ReferralStatus,
)
from hhc_devstack.infrastructure import create_database
from hhc_referrals.catalogue import load_catalogue
from hhc_referrals.handlers import handlers
from hhc_referrals.settings import ReferralsSettings
from hhc_referrals.store import CaseConsent, store_consent

GIVEN, REFUSED, NOT_ASKED = ConsentState.GIVEN, ConsentState.REFUSED, ConsentState.NOT_ASKED
READY, PENDING = ReferralStatus.READY, ReferralStatus.PENDING_CONSENT
STATUTORY = PartnerKind.STATUTORY


@pytest.fixture(scope="module")
async def pool(postgres_server_url: str) -> AsyncIterator[asyncpg.Pool]:
    database_url = await create_database(postgres_server_url, f"test_{uuid.uuid4().hex[:12]}")
    settings = ReferralsSettings(database_url=database_url)
    await migrate(settings, [MigrationSet(name="referrals", package="hhc_referrals")])
    pool = await create_pool(settings)
    try:
        yield pool
    finally:
        await pool.close()


def test_the_police_are_a_statutory_partner_told_by_telephone() -> None:
    """What the table below relies on: the Police entry's kind (whose consent counts) and
    its lawful basis to be told without consent, which only ever *proposes* an override."""
    police = load_catalogue(None).get(Partner.POLICE)
    assert police is not None
    assert police.kind is STATUTORY
    assert police.lawful_basis_without_consent


@pytest.mark.parametrize(
    ("consent", "by_kind", "danger", "status", "override_proposed"),
    [
        pytest.param(GIVEN, {}, False, READY, False, id="given"),
        pytest.param(GIVEN, {}, True, READY, False, id="given-in-danger"),
        pytest.param(REFUSED, {}, False, PENDING, False, id="refused"),
        pytest.param(REFUSED, {}, True, PENDING, True, id="refused-in-danger-override-proposed"),
        pytest.param(NOT_ASKED, {}, False, PENDING, False, id="not-asked"),
        pytest.param(NOT_ASKED, {}, True, PENDING, True, id="not-asked-in-danger"),
        pytest.param(ConsentState("given_verbally"), {}, False, PENDING, False, id="unknown-word"),
        pytest.param(GIVEN, {STATUTORY: REFUSED}, False, PENDING, False, id="refused-for-police"),
        pytest.param(REFUSED, {STATUTORY: GIVEN}, False, READY, False, id="given-for-police"),
        pytest.param(
            GIVEN,
            {PartnerKind.SUPPORT_AND_ADVOCACY: REFUSED},
            False,
            READY,
            False,
            id="refused-for-others-only",
        ),
    ],
)
async def test_the_reporting_centres_police_referral_follows_consent(
    pool: asyncpg.Pool,
    consent: ConsentState,
    by_kind: Mapping[PartnerKind, ConsentState],
    danger: bool,
    status: ReferralStatus,
    override_proposed: bool,
) -> None:
    case_id = uuid.uuid4()
    now = datetime.now(UTC)
    # As risk's playbook plans it for a non-customer's hate crime (3.2.6).
    action = ActionRequired(
        action_id=uuid.uuid4(),
        case_id=case_id,
        kind=ActionKind.POLICE_REFERRAL,
        applies_to=AppliesTo.ALL_REPORTEES,
        clause="3.2.6",
        carried_out_by=Executor.REFERRALS,
        partner=Partner.POLICE,
        required_at=now,
        due_at=now + timedelta(days=1),
        immediate_danger=danger,
        consent_to_share=consent,
    )
    on_action_required = handlers(
        load_catalogue(None), seek_consent_after=timedelta(days=7), deadline_scale=1.0
    )["risk.action-required"]
    async with pool.acquire() as connection, connection.transaction():
        # The survivor's word as intake last recorded it.
        await store_consent(
            connection,
            case_id,
            CaseConsent(consent, dict(by_kind), ConsentGiver.SURVIVOR),
            now,
        )
        envelope = new_envelope(action, case_id=case_id, occurred_at=now)
        await on_action_required(connection, envelope, action)
        referral = await connection.fetchrow(
            "SELECT * FROM referrals WHERE action_id = $1", action.action_id
        )

    assert referral is not None
    assert referral["partner"] == Partner.POLICE.value
    assert (referral["status"], referral["override_proposed"]) == (
        status.value,
        override_proposed,
    )
    # Consent is the only basis on which it becomes ready; nothing reaches the Police by
    # itself: a call by a named member of staff is still awaited (or, for an override, a
    # named person's decision first, 3.5.2).
    assert referral["basis"] == (ReferralBasis.CONSENT.value if status is READY else None)
    assert referral["sent_at"] is None
    assert referral["shared_fields"] is None
