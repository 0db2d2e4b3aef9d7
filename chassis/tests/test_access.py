"""The permission table and the case-level rule, table-tested (no I/O)."""

import dataclasses
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from hhc_chassis.access import (
    CASE_PERMISSIONS,
    ROLE_PERMISSIONS,
    Caller,
    CaseScope,
    Permission,
    Role,
    may,
    reaches,
)
from hhc_chassis.audit import GENESIS_HASH, AuditEntry, AuditRecord, record_hash, verify_chain

NORTH = CaseScope(team="north")
STAFF_SURVIVOR = CaseScope(team="north", survivor_is_staff=True)
SAFEGUARDING_SOUTH = CaseScope(team="south", safeguarding=True)
TAKEN_BY_ADA = CaseScope(team="south", taken_by="ada")


def caller(role: Role, team: str | None = "north", subject: str = "ada") -> Caller:
    return Caller(subject=subject, roles=frozenset({role}), team=team)


# (role, case, may read the case file) - READ_CASE is the widest look at personal data.
READ_CASE_REACH = [
    (Role.CASEWORKER, NORTH, True),
    (Role.CASEWORKER, SAFEGUARDING_SOUTH, False),
    (Role.CASEWORKER, STAFF_SURVIVOR, False),  # 4.3: not even their own team's
    (Role.MANAGER, NORTH, True),
    (Role.MANAGER, SAFEGUARDING_SOUTH, False),
    (Role.MANAGER, STAFF_SURVIVOR, False),
    (Role.SAFEGUARDING_LEAD, SAFEGUARDING_SOUTH, True),  # every team
    (Role.SAFEGUARDING_LEAD, NORTH, False),
    (Role.PEOPLE_AND_LEARNING, STAFF_SURVIVOR, True),
    (Role.PEOPLE_AND_LEARNING, NORTH, False),
    (Role.ADVISER, TAKEN_BY_ADA, True),  # what they took, whatever the team
    (Role.ADVISER, NORTH, False),
    (Role.DATA_PROTECTION_OFFICER, STAFF_SURVIVOR, True),
    (Role.DATA_PROTECTION_OFFICER, SAFEGUARDING_SOUTH, True),
    (Role.LEGAL_OFFICER, NORTH, False),  # enforcement, not the case file
    (Role.AUDITOR, NORTH, False),
    (Role.REPORTING_READER, NORTH, False),
    (Role.SYSTEM, NORTH, False),
]


@pytest.mark.parametrize(("role", "case", "expected"), READ_CASE_REACH)
def test_who_reads_which_case_file(role: Role, case: CaseScope, expected: bool) -> None:
    assert reaches(caller(role), Permission.READ_CASE, case) is expected


def test_a_caseworker_without_a_team_reaches_no_team_case() -> None:
    assert not reaches(caller(Role.CASEWORKER, team=None), Permission.READ_CASE, NORTH)


def test_legal_officer_reaches_enforcement_of_any_team_but_no_staff_survivor() -> None:
    legal = caller(Role.LEGAL_OFFICER, team=None)
    assert reaches(legal, Permission.READ_ENFORCEMENT, SAFEGUARDING_SOUTH)
    assert not reaches(legal, Permission.READ_ENFORCEMENT, STAFF_SURVIVOR)


def test_a_role_reaching_a_case_lends_no_permission_it_lacks() -> None:
    # A manager who is also an auditor reads the audit, but the auditor role does not
    # widen what the manager reaches, nor the reverse.
    both = Caller(subject="m", roles=frozenset({Role.MANAGER, Role.AUDITOR}), team="north")
    assert may(both, Permission.READ_AUDIT)
    assert reaches(both, Permission.READ_CASE, NORTH)
    assert not reaches(both, Permission.READ_CASE, SAFEGUARDING_SOUTH)


def test_the_auditor_and_reporting_reader_see_no_case() -> None:
    for role in (Role.AUDITOR, Role.REPORTING_READER, Role.SYSTEM):
        assert not ROLE_PERMISSIONS[role] & CASE_PERMISSIONS, role


def test_only_managers_move_cases_and_publish_the_monthly_report() -> None:
    for permission in (Permission.CHANGE_TEAM, Permission.PUBLISH_MONTHLY_REPORT):
        assert {role for role in Role if permission in ROLE_PERMISSIONS[role]} == {Role.MANAGER}


def test_every_role_is_in_the_table_and_unknown_claims_are_ignored() -> None:
    assert set(ROLE_PERMISSIONS) == set(Role)
    parsed = Caller.from_claims("s", ["caseworker", "superuser", "admin"], "north")
    assert parsed.roles == frozenset({Role.CASEWORKER})


def _chain(count: int) -> list[AuditRecord]:
    records: list[AuditRecord] = []
    previous = GENESIS_HASH
    start = datetime(2026, 11, 1, tzinfo=UTC)
    for index in range(1, count + 1):
        entry = AuditEntry(
            subject="ada",
            roles=("caseworker",),
            team="north",
            case_id=UUID(int=index),
            operation="GET /v1/cases/{case_id}",
            fields=("reports",),
            purpose=None,
            outcome="granted",
            request_id=f"r{index}",
            trace_id=None,
        )
        at = start + timedelta(seconds=index)
        digest = record_hash(index, at, entry, previous)
        records.append(AuditRecord(index, at, entry, previous, digest))
        previous = digest
    return records


def test_an_untouched_chain_verifies() -> None:
    assert verify_chain(_chain(5)) is None


def test_a_changed_record_breaks_the_chain_where_it_was_changed() -> None:
    records = _chain(5)
    changed = dataclasses.replace(records[2].entry, subject="someone-else")
    records[2] = dataclasses.replace(records[2], entry=changed)
    assert verify_chain(records) == 3


def test_a_removed_record_breaks_the_chain() -> None:
    records = _chain(5)
    del records[1]
    assert verify_chain(records) == 3


def test_a_rehashed_record_still_breaks_the_link_to_the_next() -> None:
    records = _chain(5)
    entry = dataclasses.replace(records[1].entry, outcome="refused")
    forged = record_hash(2, records[1].recorded_at, entry, records[1].previous_hash)
    records[1] = dataclasses.replace(records[1], entry=entry, record_hash=forged)
    assert verify_chain(records) == 3


STAFF_PERPETRATOR = CaseScope(team="north", staff_perpetrator=True)


@pytest.mark.parametrize(
    ("permission", "reached"),
    [
        (Permission.READ_ENFORCEMENT, True),
        (Permission.DECIDE_ENFORCEMENT, True),
        (Permission.READ_CASE, False),  # the survivor's file is not theirs (4.2, 4.3)
        (Permission.READ_RISK, False),
        (Permission.READ_REFERRALS, False),
    ],
)
def test_people_and_learning_reach_a_staff_perpetrators_enforcement_only(
    permission: Permission, reached: bool
) -> None:
    people = Caller(subject="pl-1", roles=frozenset({Role.PEOPLE_AND_LEARNING}))
    assert reaches(people, permission, STAFF_PERPETRATOR) is reached
    assert not reaches(people, permission, CaseScope(team="north"))
