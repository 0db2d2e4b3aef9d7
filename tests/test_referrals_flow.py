"""Referrals carried out, not just recorded (policy 3.3.1, 3.5.2, 3.6), over HTTP and the
topics, with a deployment's own partner endpoints (a webhook receiver and a mail server)
set through ``PARTNER_CATALOGUE_FILE``.

A customer in immediate danger who refused consent: emergency services are asked of a
named officer, and escalated when nobody has confirmed the call in time; the officer
overrides consent with a reason, which is recorded with their name; the safeguarding
referral is delivered by webhook with only its allowed fields and a valid signature;
consent given later releases Stop Hate UK by email; a further report repeats nothing; a
third-party reporter cannot give consent."""

from typing import Any

import httpx
import pytest

from hhc_devstack.partners import LocalPartners
from hhc_devstack.pytest_plugin import TokenFactory, bearer, eventually
from hhc_devstack.system import ServiceProcesses
from hhc_referrals.catalogue import load_catalogue

from .conftest import STAFF_SUBJECT, report_body, wait_for_timeline

# 15 minutes to tell emergency services become 18 seconds.
DEADLINE_SCALE = 0.02


@pytest.fixture
def system_env() -> dict[str, str]:
    return {"DEADLINE_SCALE": str(DEADLINE_SCALE)}


async def referrals_of(clients: dict[str, httpx.AsyncClient], case_id: str) -> dict[str, Any]:
    response = await clients["referrals"].get(f"/v1/cases/{case_id}/referrals")
    if response.status_code == 404:
        return {}
    response.raise_for_status()
    return {referral["partner"]: referral for referral in response.json()}


async def action_of(clients: dict[str, httpx.AsyncClient], case_id: str, kind: str) -> Any:
    actions = (await clients["risk"].get(f"/v1/cases/{case_id}/actions")).json()
    return next(action for action in actions if action["kind"] == kind)


async def test_a_survivor_in_danger_who_refused_consent(
    system: ServiceProcesses,
    clients: dict[str, httpx.AsyncClient],
    local_partners: LocalPartners,
    issue_token: TokenFactory,
) -> None:
    body = report_body(consent={"share_with_partners": False})
    body["survivor"]["vulnerable_adult"] = True
    response = await clients["intake"].post("/v1/reports", json=body)
    assert response.status_code == 202, response.text
    case_id = response.json()["case_id"]

    # The playbook proposes; nobody has shared anything.
    async def emergency_and_safeguarding_await_consent() -> dict[str, Any] | None:
        referrals = await referrals_of(clients, case_id)
        wanted = ("emergency_services", "adult_social_services")
        if all(referrals.get(partner, {}).get("status") == "pending_consent" for partner in wanted):
            return referrals
        return None

    referrals = await eventually(
        emergency_and_safeguarding_await_consent, message="no referral awaits consent"
    )
    for partner in ("emergency_services", "adult_social_services"):
        assert referrals[partner]["override_proposed"] is True
        assert referrals[partner]["sent_at"] is None
    assert referrals["stop_hate_uk"]["status"] == "pending_consent"
    assert referrals["stop_hate_uk"]["override_proposed"] is False
    emergency_action = await action_of(clients, case_id, "inform_emergency_services")
    assert emergency_action["state"] == "open"
    # The referral answers the action it was opened for.
    assert referrals["emergency_services"]["covers_action_ids"] == [emergency_action["action_id"]]

    # Nobody confirmed the call within 15 (scaled) minutes: it is escalated.
    await wait_for_timeline(clients["reporting"], case_id, "risk.action-overdue", timeout=90)
    emergency_action = await action_of(clients, case_id, "inform_emergency_services")
    assert emergency_action["overdue"] is True
    assert emergency_action["state"] == "open"

    # A named officer overrides consent, with a reason (3.5.2).
    officer = issue_token("safeguarding_lead", "caseworker", team="north", subject="officer-42")
    overridden = await clients["referrals"].post(
        f"/v1/cases/{case_id}/consent-overrides",
        json={
            "partners": ["emergency_services", "adult_social_services"],
            "reason": "Perpetrator outside the door with a weapon; police needed now.",
        },
        headers=bearer(officer),
    )
    assert overridden.status_code == 201, overridden.text
    assert {r["partner"]: r["status"] for r in overridden.json()} == {
        "emergency_services": "ready",
        "adult_social_services": "ready",
    }

    # The safeguarding referral is delivered by webhook: only its allowed fields, signed.
    catalogue = load_catalogue(local_partners.catalogue)
    allowed = catalogue.get("adult_social_services").allowed_fields  # type: ignore[arg-type, union-attr]

    async def safeguarding_posted() -> Any:
        for request in local_partners.webhooks.received:
            document = request.json()
            if (
                isinstance(document, dict)
                and document.get("referral_id")
                == (referrals["adult_social_services"]["referral_id"])
            ):
                return request
        return None

    posted = await eventually(safeguarding_posted, message="safeguarding referral not delivered")
    assert posted.signature_valid is True
    assert posted.headers["idempotency-key"] == referrals["adult_social_services"]["referral_id"]
    sent_details = posted.json()["details"]
    assert set(sent_details) <= allowed
    assert sent_details["survivor_name"] == body["survivor"]["name"]
    assert posted.json()["basis"] == "immediate_harm_override"

    # The partner's system acknowledges it, as that partner; no other partner may.
    safeguarding_id = referrals["adult_social_services"]["referral_id"]
    callback = f"/v1/partner-callbacks/referrals/{safeguarding_id}"

    async def safeguarding_sent() -> bool:
        return (await referrals_of(clients, case_id))["adult_social_services"]["status"] == "sent"

    await eventually(safeguarding_sent, message="safeguarding referral not marked sent")
    other_partner = bearer(issue_token("partner", subject="stop_hate_uk"))
    answer = {"status": "acknowledged", "partner_reference": "ASC-77"}
    refused = await clients["referrals"].post(callback, json=answer, headers=other_partner)
    assert refused.status_code == 404
    the_partner = bearer(issue_token("partner", subject="adult_social_services"))
    acknowledged = await clients["referrals"].post(callback, json=answer, headers=the_partner)
    assert acknowledged.status_code == 204, acknowledged.text
    safeguarding = (await referrals_of(clients, case_id))["adult_social_services"]
    assert safeguarding["status"] == "acknowledged"
    assert safeguarding["partner_reference"] == "ASC-77"
    # Said again (a retry) is no change; going back is a conflict.
    again = await clients["referrals"].post(callback, json=answer, headers=the_partner)
    assert again.status_code == 204
    late_ack = {"status": "acknowledged"}
    declined = await clients["referrals"].post(
        callback, json={"status": "declined"}, headers=the_partner
    )
    assert declined.status_code == 204, declined.text
    backwards = await clients["referrals"].post(callback, json=late_ack, headers=the_partner)
    assert backwards.status_code == 409

    # Emergency services: nothing happens until the officer records the call.
    referrals = await referrals_of(clients, case_id)
    assert referrals["emergency_services"]["status"] == "ready"
    assert referrals["emergency_services"]["channel"] == "telephone"
    confirmed = await clients["referrals"].post(
        f"/v1/referrals/{referrals['emergency_services']['referral_id']}/confirmation",
        json={"spoke_to": "Call handler 5521", "incident_number": "CAD-2211"},
        headers=bearer(officer),
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "sent"
    assert confirmed.json()["confirmed_by"] == "officer-42"
    assert confirmed.json()["incident_number"] == "CAD-2211"

    async def emergency_action_closed() -> Any:
        action = await action_of(clients, case_id, "inform_emergency_services")
        return action if action["state"] == "completed" else None

    closed = await eventually(emergency_action_closed, message="the call did not close the action")
    assert closed["outcome"] == "referral_made"

    # The overrides are listed for the data protection officer, with the officer's name.
    listed = await clients["referrals"].get("/v1/consent-overrides")
    assert listed.status_code == 200, listed.text
    mine = [o for o in listed.json() if o["case_id"] == case_id]
    assert {o["partner"] for o in mine} == {"emergency_services", "adult_social_services"}
    assert {o["overridden_by"] for o in mine} == {"officer-42"}

    # Stop Hate UK waits for consent; given later (by the survivor), it goes by email.
    mails_before = len(local_partners.mail.received)
    given = await clients["intake"].put(
        f"/v1/cases/{case_id}/consent",
        json={"share_with_partners": True, "given_by": "survivor"},
    )
    assert given.status_code == 200, given.text
    stop_hate_id = referrals["stop_hate_uk"]["referral_id"]

    async def stop_hate_mailed() -> Any:
        for mail in local_partners.mail.received[mails_before:]:
            if stop_hate_id in (mail.message_id or ""):
                return mail
        return None

    mail = await eventually(stop_hate_mailed, message="Stop Hate UK was not emailed")
    assert mail.over_tls is True
    assert body["incident"]["description"] not in mail.body  # not an allowed field

    async def stop_hate_sent() -> Any:
        referral = (await referrals_of(clients, case_id))["stop_hate_uk"]
        return referral if referral["status"] == "sent" else None

    sent = await eventually(stop_hate_sent, message="Stop Hate UK's referral not sent")
    assert sent["channel"] == "email"
    assert sent["basis"] == "consent"
    assert "survivor_name" in sent["shared_fields"]
    assert "description" not in sent["shared_fields"]

    # Risk has heard that it was sent: its action is closed (a further report arriving
    # before that would find the action open, and rightly plan nothing new).
    async def stop_hate_action_closed() -> Any:
        actions = (await clients["risk"].get(f"/v1/cases/{case_id}/actions")).json()
        mine = [a for a in actions if a.get("partner") == "stop_hate_uk"]
        return mine if mine and all(a["state"] == "completed" for a in mine) else None

    await eventually(stop_hate_action_closed, message="risk did not close Stop Hate UK's action")

    # A further report repeats nothing: no second referral, no second delivery.
    deliveries_before = len(local_partners.webhooks.received)
    mails_before = len(local_partners.mail.received)
    referral_ids_before = {
        p: r["referral_id"] for p, r in (await referrals_of(clients, case_id)).items()
    }
    further_body = report_body(immediate_danger=False)
    del further_body["consent"]  # silent on consent
    further = await clients["intake"].post(f"/v1/cases/{case_id}/reports", json=further_body)
    assert further.status_code == 202, further.text
    await wait_for_timeline(clients["reporting"], case_id, "referrals.referral-updated")
    referrals = await referrals_of(clients, case_id)
    assert {p: r["referral_id"] for p, r in referrals.items()} == referral_ids_before
    assert len(local_partners.webhooks.received) == deliveries_before
    assert len(local_partners.mail.received) == mails_before
    # The further report, silent on consent, left it given.
    case = (await clients["intake"].get(f"/v1/cases/{case_id}")).json()
    assert case["consent_to_share"] == "given"

    # A third-party reporter cannot give consent.
    third_party = report_body(reporter={"role": "third_party"})
    refused = await clients["intake"].post("/v1/reports", json=third_party)
    assert refused.status_code == 422, refused.text
    assert any("consent" in error["loc"] for error in refused.json()["detail"])
    assert STAFF_SUBJECT  # the default client's token stays the team's caseworker
