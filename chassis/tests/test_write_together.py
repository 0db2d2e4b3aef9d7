"""Independent writes made in one round trip (hhc_chassis.db.together): the same rows as
one statement after another, foreign keys and triggers included, all or none."""

import uuid
from typing import Any

import asyncpg
import pytest

from hhc_chassis.db import together, write_together

_TABLES = """
CREATE TEMPORARY TABLE parents (parent_id uuid PRIMARY KEY, label text NOT NULL);
CREATE TEMPORARY TABLE children (
    child_id uuid PRIMARY KEY,
    parent_id uuid NOT NULL REFERENCES parents,
    labels text[] NOT NULL
);
CREATE TEMPORARY TABLE statements_seen (table_name text NOT NULL);
CREATE FUNCTION pg_temp.count_statement() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    INSERT INTO statements_seen VALUES (TG_TABLE_NAME);
    RETURN NULL;
END;
$body$;
CREATE TRIGGER parents_statement AFTER INSERT ON parents
    FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.count_statement();
CREATE TRIGGER children_statement AFTER INSERT ON children
    FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.count_statement();
"""

_PARENT = "INSERT INTO parents (parent_id, label) VALUES ($1, $2)"
_CHILDREN = """INSERT INTO children (child_id, parent_id, labels)
               SELECT child_id, $2, $3::text[] FROM unnest($1::uuid[]) AS made (child_id)"""
_RELABEL = "UPDATE parents SET label = $2 WHERE parent_id = $1"


@pytest.fixture
async def connection(database_url: str) -> Any:
    connection = await asyncpg.connect(database_url)
    await connection.execute(_TABLES)
    yield connection
    await connection.close()


async def test_writes_are_made_in_one_round_trip_as_if_one_after_another(
    connection: asyncpg.Connection,
) -> None:
    parent, other, children = uuid.uuid4(), uuid.uuid4(), [uuid.uuid4(), uuid.uuid4()]
    await connection.execute(_PARENT, other, "before")
    sent: list[str] = []
    connection.add_query_logger(lambda query: sent.append(query.query))

    await write_together(
        connection,
        [
            # The child names a parent written by a later query of the same statement:
            # foreign keys are checked once the statement is done.
            (_CHILDREN, (children, parent, ["a", "b"])),
            (_PARENT, (parent, "new")),
            (_RELABEL, (other, "after")),
        ],
    )

    parents = dict(await connection.fetch("SELECT parent_id, label FROM parents"))
    assert parents == {parent: "new", other: "after"}
    rows = await connection.fetch("SELECT child_id, parent_id, labels FROM children")
    assert {(row["child_id"], row["parent_id"], tuple(row["labels"])) for row in rows} == {
        (child, parent, ("a", "b")) for child in children
    }
    # Statement triggers fire for each query, as they would for each statement.
    seen = await connection.fetch("SELECT table_name FROM statements_seen")
    assert sorted(row["table_name"] for row in seen) == ["children", "parents", "parents"]
    # One statement sent that writes (asyncpg also looks up types it has not met yet, and
    # logs each query once the event loop runs again, as it has for the reads above).
    assert [query for query in sent if "parents" in query and "SELECT parent_id" not in query] == [
        together([(_CHILDREN, ((), 0, ())), (_PARENT, (0, 0)), (_RELABEL, (0, 0))])[0]
    ]


async def test_one_failing_write_leaves_none_made(connection: asyncpg.Connection) -> None:
    parent = uuid.uuid4()
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await write_together(
            connection,
            [(_PARENT, (parent, "kept?")), (_CHILDREN, ([uuid.uuid4()], uuid.uuid4(), ["x"]))],
        )
    assert await connection.fetchval("SELECT count(*) FROM parents") == 0


def test_each_writes_placeholders_are_numbered_after_the_previous_ones() -> None:
    statement, arguments = together([(_PARENT, (1, "a")), (_RELABEL, (2, "b"))])
    assert statement == (
        "WITH write_0 AS (INSERT INTO parents (parent_id, label) VALUES ($1, $2))\n"
        "UPDATE parents SET label = $4 WHERE parent_id = $3"
    )
    assert arguments == (1, "a", 2, "b")
    assert together([(_RELABEL, (2, "b"))]) == (_RELABEL, (2, "b"))


@pytest.mark.parametrize(
    ("writes", "reason"),
    [
        ([], "no writes"),
        # A query in WITH runs only if read: a SELECT would silently not run.
        ([("SELECT pg_advisory_xact_lock($1)", (1,)), (_PARENT, (1, "a"))], "not a plain"),
        # A WITH of its own cannot be nested in another's.
        (
            [
                ("WITH x AS (SELECT 1) INSERT INTO parents SELECT $1, $2", (1, "a")),
                (_RELABEL, (1, "b")),
            ],
            "not a plain",
        ),
        ([(_PARENT, (1,)), (_RELABEL, (1, "b"))], "placeholders"),
        ([(_PARENT, (1, "a", "extra")), (_RELABEL, (1, "b"))], "placeholders"),
    ],
)
def test_what_cannot_be_made_together_is_refused(
    writes: list[tuple[str, tuple[Any, ...]]], reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        together(writes)
