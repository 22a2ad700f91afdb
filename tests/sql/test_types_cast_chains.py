"""Type changes judged cast by cast (``safemigrate.sql.types.conversion_steps``), checked on PostgreSQL.

Each case is a column type change with one stored value: the judgement (does a step lose data, does
the table get rewritten) is compared with what the server does to that value and to the table's file.
A lossy case's value comes back visibly changed; a lossless one comes back equal.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
import pytest
from psycopg import sql

from safemigrate.sql import model as m
from safemigrate.sql import parse, types

ENUMS = frozenset({"Role", "Role_new"})


@dataclass(frozen=True)
class Case:
    old: str
    value: str  # a SQL literal of the old type
    new: str
    using: str | None
    after: str  # the value read back as text after the change
    lossy: bool  # a step narrows (data-loss)
    rewrite: bool


CASES = {
    "cast-to-date-and-back": Case(
        "timestamp(3)", "'2024-05-06 13:14:15.123'", "timestamp(3)", '"c"::date', "2024-05-06 00:00:00", True, True
    ),
    "double-through-integer-to-text": Case("double precision", "1.5", "text", '"c"::integer::text', "2", True, True),
    "double-through-integer-and-back": Case(
        "double precision", "1.5", "double precision", '"c"::integer::double precision', "2", True, True
    ),
    "explicit-varchar-cuts": Case("text", "'ABCDEF'", "text", 'CAST("c" AS VARCHAR(2))', "AB", True, True),
    "explicit-varchar-of-the-new-type-cuts": Case(
        "text", "'ABCDEF'", "varchar(5)", '"c"::varchar(5)', "ABCDE", True, True
    ),
    "numeric-through-float": Case(
        "numeric(30,20)", "0.12345678901234567890", "text", '"c"::float8::text', "0.12345678901234568", True, True
    ),
    "enum-through-short-varchar": Case(
        '"Role"', "'ADMIN'", '"Role_new"', '"c"::varchar(2)::"Role_new"', "AD", True, True
    ),
    "prisma-enum-through-text": Case(
        '"Role"', "'ADMIN'", '"Role_new"', '("c"::text::"Role_new")', "ADMIN", False, True
    ),
    "varchar-through-text-to-wider": Case("varchar(5)", "'abcde'", "varchar(10)", '"c"::text', "abcde", False, True),
    "varchar-to-text-through-wider-varchar": Case(
        "varchar(5)", "'abcde'", "text", '"c"::varchar(10)', "abcde", False, False
    ),
    "varchar-to-text-binary-compatible": Case("varchar(50)", "'abc'", "text", '"c"::text', "abc", False, False),
    "integer-through-text-to-bigint": Case("integer", "7", "bigint", '"c"::text::bigint', "7", False, True),
    "timestamp-to-time": Case("timestamp(3)", "'2024-05-06 13:14:15.123'", "time(3)", None, "13:14:15.123", True, True),
    "timestamptz-to-time": Case(
        "timestamptz(3)", "'2024-05-06 13:14:15.123+00'", "time(3)", None, "13:14:15.123", True, True
    ),
    "timestamptz-to-timetz": Case("timestamptz", "'2024-05-06 13:14:15+00'", "timetz", None, "13:14:15+00", True, True),
    "interval-to-time": Case("interval", "'1 mon 3 days 04:05:06'", "time", None, "04:05:06", True, True),
    "timetz-to-time": Case("timetz", "'02:00:00+05'", "time", None, "02:00:00", True, True),
    "time-to-interval": Case("time", "'02:00:00'", "interval", None, "02:00:00", False, True),
    "numeric-to-money": Case("numeric(65,30)", "1.23456", "money", None, "$1.23", True, True),
    "integer-to-money": Case("integer", "2147483647", "money", None, "$2,147,483,647.00", False, True),
    "money-to-numeric": Case("money", "'1.25'", "numeric", None, "1.25", False, True),
}


def _type(spelled: str) -> m.TypeSpec:
    summary = parse.summarize(f"ALTER TABLE t ALTER COLUMN c TYPE {spelled}")
    assert isinstance(summary, m.AlterTable)
    action = summary.actions[0]
    assert isinstance(action, m.AlterColumnType)
    return action.new_type


def _steps(case: Case) -> tuple[types.ConversionStep, ...]:
    # The linter sees USING as the parser normalizes it.
    summary = parse.summarize(
        f'ALTER TABLE t ALTER COLUMN "c" TYPE {case.new}' + (f" USING {case.using}" if case.using else "")
    )
    assert isinstance(summary, m.AlterTable)
    action = summary.actions[0]
    assert isinstance(action, m.AlterColumnType)
    return types.conversion_steps(_type(case.old), action.new_type, action.using, "c", ENUMS)


@pytest.mark.parametrize("name", CASES)
def test_judgement_matches_postgresql(name: str, database_url: str) -> None:
    case = CASES[name]
    steps = _steps(case)
    assert any(step.change.kind == types.NARROWING for step in steps) == case.lossy, steps
    assert any(step.change.rewrite for step in steps) == case.rewrite, steps
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        conn.execute("SET lc_monetary TO 'C'")
        conn.execute("""CREATE TYPE "Role" AS ENUM ('USER', 'ADMIN')""")
        conn.execute("""CREATE TYPE "Role_new" AS ENUM ('USER', 'ADMIN', 'AD')""")
        conn.execute(sql.SQL("CREATE TABLE t (c {})").format(sql.SQL(case.old)))
        conn.execute(sql.SQL("INSERT INTO t VALUES ({})").format(sql.SQL(case.value)))
        file_before = conn.execute("SELECT pg_relation_filenode('t')").fetchone()
        alter = sql.SQL("ALTER TABLE t ALTER COLUMN c TYPE {}").format(sql.SQL(case.new))
        if case.using:
            alter = sql.SQL("{} USING {}").format(alter, sql.SQL(case.using))
        conn.execute(alter)
        assert conn.execute("SELECT c::text FROM t").fetchone() == (case.after,)
        rewritten = conn.execute("SELECT pg_relation_filenode('t')").fetchone() != file_before
        assert rewritten == case.rewrite


def test_cast_chain_lists_casts_innermost_first() -> None:
    assert types.cast_chain('CAST(CAST("score" AS INT) AS TEXT)', "score") == ("INT", "TEXT")
    assert types.cast_chain('(CAST(CAST("role" AS TEXT) AS "Role_new"))', "role") == ("TEXT", '"Role_new"')
    assert types.cast_chain('"score"', "score") == ()
    assert types.cast_chain('CAST(left("title", 5) AS TEXT)', "title") is None
    assert types.cast_chain('CAST("other" AS INT)', "score") is None


def test_explicit_cast_cuts_where_the_conversion_rejects() -> None:
    text, short = _type("TEXT"), _type("VARCHAR(2)")
    written = types.conversion_steps(text, short, 'CAST("code" AS VARCHAR(2))', "code", frozenset())
    assert [step.change.reason for step in written] == ["values longer than 2 characters are cut to 2"]
    implicit = types.conversion_steps(text, short, None, "code", frozenset())
    assert [step.change.reason for step in implicit] == ["values longer than 2 characters are rejected"]
