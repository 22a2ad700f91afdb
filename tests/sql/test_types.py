"""Type changes judged by ``safemigrate.sql.types``, and what PostgreSQL does with the same change.

The judgement (a step narrows, fails on values, or keeps them) is checked against the value read
back after the change on a real server, and a rejection against the error the server raises.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
import pytest
from psycopg import sql

from safemigrate.sql import model as m
from safemigrate.sql import parse, types

ENUMS = frozenset({"Status", "Status_new"})


def _alter(spelled: str, using: str | None = None) -> m.AlterColumnType:
    summary = parse.summarize(f'ALTER TABLE t ALTER COLUMN "c" TYPE {spelled}' + (f" USING {using}" if using else ""))
    assert isinstance(summary, m.AlterTable)
    action = summary.actions[0]
    assert isinstance(action, m.AlterColumnType)
    return action


def _steps(old: str, new: str, using: str | None = None) -> tuple[types.ConversionStep, ...]:
    action = _alter(new, using)
    return types.conversion_steps(_alter(old).new_type, action.new_type, action.using, "c", ENUMS)


# ---- the schema of a user type (Prisma's multiSchema) --------------------------------------------


def test_type_name_keeps_the_schema_the_migration_wrote() -> None:
    assert types.type_name(_alter('"billing"."Plan_new"').new_type) == m.Name("Plan_new", "billing")
    assert types.type_name(_alter('"billing"."Plan_new"[]').new_type) == m.Name("Plan_new", "billing")
    assert types.type_name(_alter("Billing.Plan").new_type) == m.Name("plan", "billing")
    assert types.type_name(_alter('"Plan"').new_type) == m.Name("Plan")


# ---- serial pseudo-types in ALTER COLUMN ... TYPE -------------------------------------------------


@pytest.mark.parametrize(
    ("spelled", "base", "integer"),
    [
        ("BIGSERIAL", "bigserial", "bigint"),
        ("serial", "serial", "integer"),
        ("SMALLSERIAL", "smallserial", "smallint"),
        ("serial2", "serial2", "smallint"),
        ("SERIAL4", "serial4", "integer"),
        ("serial8", "serial8", "bigint"),
    ],
)
def test_serial_type_in_alter_column_is_kept_as_written(spelled: str, base: str, integer: str) -> None:
    new_type = _alter(spelled).new_type
    assert (new_type.base, new_type.user_defined) == (base, False)
    assert types.serial_integer(new_type) == integer
    assert types.serial_type_in(_alter(spelled)) == new_type
    # CREATE TABLE and ADD COLUMN still expand it: an integer column with a sequence.
    created = parse.summarize(f'CREATE TABLE t ("c" {spelled})')
    assert isinstance(created, m.CreateTable)
    assert created.columns[0].type.base == integer and created.columns[0].identity


def test_serial_type_in_a_using_cast_is_found() -> None:
    action = _alter("BIGINT", '"c"::bigserial')
    found = types.serial_type_in(action)
    assert found is not None and found.base == "bigserial"
    assert types.serial_type_in(_alter("BIGINT", '"c"::bigint')) is None
    assert types.serial_type_in(_alter("BIGINT")) is None


def test_serial_type_is_judged_as_failing_not_as_a_cast_or_a_rewrite() -> None:
    change = types.judge_type_change(_alter("INTEGER").new_type, _alter("BIGSERIAL").new_type, frozenset())
    assert (change.kind, change.rewrite) == (types.FAILS, False)
    assert change.reason == 'type "bigserial" does not exist'


# ---- values that change form, and the messages of item 4 ------------------------------------------


def test_bytea_and_lists_to_text_change_values_without_failing() -> None:
    (step,) = _steps("BYTEA", "TEXT")
    assert step.change.kind == types.NARROWING and "hex text of its bytes" in step.change.reason
    (step,) = _steps("TEXT[]", "TEXT")
    assert step.change.kind == types.NARROWING and "array syntax" in step.change.reason
    (step,) = _steps("TEXT[]", "VARCHAR(5)")
    assert step.change.reason.endswith("and values whose text is longer than 5 characters are rejected")


def test_list_cast_to_text_and_read_back_keeps_its_values() -> None:
    steps = _steps('"Status"[]', '"Status_new"[]', '("c"::text::"Status_new"[])')
    assert [step.change.kind for step in steps] == [types.WIDENING, types.CAST]
    assert steps[1].change.reason == "values of Status that Status_new does not have are rejected"
    steps = _steps("INTEGER[]", "BIGINT[]", '"c"::text::bigint[]')
    assert not any(step.change.kind == types.NARROWING for step in steps), steps


def test_char_to_shorter_varchar_says_both_losses() -> None:
    (step,) = _steps("CHAR(5)", "VARCHAR(3)")
    assert step.change.reason == (
        "char(n) values lose their trailing spaces, and values longer than 3 characters are rejected"
    )
    (step,) = _steps("CHAR(5)", "VARCHAR(10)")
    assert step.change.reason == "char(n) values lose their trailing spaces"


def test_timestamp_to_timestamptz_with_fewer_digits_says_the_rounding() -> None:
    (step,) = _steps("TIMESTAMP(6)", "TIMESTAMPTZ(3)")
    assert step.change.reason == (
        "values are reinterpreted in the session's time zone, "
        "and fractional seconds are rounded from 6 to 3 digits (microseconds to milliseconds)"
    )
    (step,) = _steps("TIMESTAMP(3)", "TIMESTAMPTZ(6)")
    assert step.change.reason == "values are reinterpreted in the session's time zone"
    (step,) = _steps("TIMESTAMP(6)", "TIMESTAMP(0)")
    assert step.change.reason == "fractional seconds are rounded from 6 to 0 digits (microseconds to whole seconds)"


# ---- the same changes on PostgreSQL ------------------------------------------------------------------


@dataclass(frozen=True)
class Observed:
    old: str
    value: str  # a SQL literal of the old type
    new: str
    using: str | None
    after: str  # the value read back as text
    changed: bool  # the judgement: a step changes or loses values (narrowing)


OBSERVED = {
    "bytea-to-text": Observed("bytea", "'hello'::bytea", "text", None, "\\x68656c6c6f", True),
    "text-list-to-text": Observed("text[]", "ARRAY['a b', 'c', NULL]", "text", None, '{"a b",c,NULL}', True),
    "enum-list-through-text": Observed(
        '"Status"[]',
        "ARRAY['ACTIVE', NULL]::\"Status\"[]",
        '"Status_new"[]',
        '("c"::text::"Status_new"[])',
        "{ACTIVE,NULL}",
        False,
    ),
    "char-to-shorter-varchar": Observed("char(5)", "'ab'", "varchar(3)", None, "ab", True),
    "timestamp-to-timestamptz-fewer-digits": Observed(
        "timestamp(6)", "'2024-05-06 13:14:15.123456'", "timestamptz(3)", None, "2024-05-06 13:14:15.123+00", True
    ),
}


def _column_holding(conn: psycopg.Connection, old: str, value: str) -> None:
    """Table ``t`` with one row whose column ``c`` of type ``old`` holds ``value``."""
    conn.execute("SET TIME ZONE 'UTC'")
    conn.execute("SET bytea_output = 'hex'")
    conn.execute("""CREATE TYPE "Status" AS ENUM ('ACTIVE', 'INACTIVE', 'BANNED')""")
    conn.execute("""CREATE TYPE "Status_new" AS ENUM ('ACTIVE', 'INACTIVE')""")
    conn.execute(sql.SQL("CREATE TABLE t (c {})").format(sql.SQL(old)))
    conn.execute(sql.SQL("INSERT INTO t VALUES ({})").format(sql.SQL(value)))


@pytest.mark.parametrize("name", OBSERVED)
def test_judgement_matches_postgresql(name: str, database_url: str) -> None:
    case = OBSERVED[name]
    steps = _steps(case.old, case.new, case.using)
    assert any(step.change.kind == types.NARROWING for step in steps) == case.changed, steps
    assert not any(step.change.kind == types.CAST and step.target.base != "Status_new" for step in steps), steps
    alter = sql.SQL("ALTER TABLE t ALTER COLUMN c TYPE {}").format(sql.SQL(case.new))
    if case.using:
        alter = sql.SQL("{} USING {}").format(alter, sql.SQL(case.using))
    with psycopg.connect(database_url, autocommit=True) as conn:
        _column_holding(conn, case.old, case.value)
        conn.execute(alter)
        assert conn.execute("SELECT c::text FROM t").fetchone() == (case.after,)


def test_char_to_shorter_varchar_rejects_long_values(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        _column_holding(conn, "char(5)", "'abcde'")
        with pytest.raises(psycopg.Error) as failure:
            conn.execute("ALTER TABLE t ALTER COLUMN c TYPE varchar(3)")
    assert failure.value.sqlstate == "22001"
    assert str(failure.value) == "value too long for type character varying(3)"


# ---- built-in types sqlglot reads as user-defined ------------------------------------------------


@pytest.mark.parametrize(
    ("spelled", "base", "params", "dims"),
    [
        ("VARBIT(8)", "varbit", (8,), 0),
        ("varbit", "varbit", (), 0),
        ("VARBIT(8)[]", "varbit", (8,), 1),
        ("pg_catalog.varbit(4)", "varbit", (4,), 0),
        ("CIDR", "cidr", (), 0),
        ("macaddr8", "macaddr8", (), 0),
        ("TSVECTOR", "tsvector", (), 0),
    ],
)
def test_built_in_type_read_as_a_user_type_keeps_its_name_and_length(
    spelled: str, base: str, params: tuple[int, ...], dims: int
) -> None:
    spec = _alter(spelled).new_type
    assert (spec.base, spec.params, spec.array_dims, spec.user_defined) == (base, params, dims, False)
    assert spec.sql.lower() == spelled.lower().removeprefix("pg_catalog.")


def test_quoted_or_qualified_user_type_of_a_built_in_name_stays_a_user_type() -> None:
    assert _alter('"CIDR"').new_type.user_defined
    assert _alter("billing.varbit").new_type.user_defined


# ---- conversions PostgreSQL has no automatic cast for (item 2) ------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "target"),
    [
        ('"Status"', '"Status"[]', '"Status"[]'),
        ('"Status"[]', '"Status"', '"Status"'),
        ('"Status"', '"Status_new"', '"Status_new"'),
        ("MONEY", "DOUBLE PRECISION", "double precision"),
        ("MONEY", "INTEGER", "integer"),
        ("MONEY", "BOOLEAN", "boolean"),
        ("TIMESTAMP(3)", "TIMETZ(3)", "time with time zone"),
        ("TEXT", "INTEGER", "integer"),
        ("VARCHAR(20)", '"Status"', '"Status"'),
        ("TEXT", "JSONB", "jsonb"),
        ("INTEGER", "BOOLEAN", "boolean"),
        ("SMALLINT", "MONEY", "money"),
        ("INTEGER", "INTEGER[]", "integer[]"),
        ("INTEGER[]", "BOOLEAN[]", "boolean[]"),
        ("TEXT[]", "INTEGER[]", "integer[]"),
        ("UUID", "BYTEA", "bytea"),
        ("OID", "NUMERIC", "numeric"),
        ("VARCHAR(5)", "VARBIT(8)", "bit varying"),
    ],
)
def test_conversion_without_an_automatic_cast_always_fails(old: str, new: str, target: str) -> None:
    change = types.judge_type_change(_alter(old).new_type, _alter(new).new_type, ENUMS)
    assert (change.kind, change.rewrite) == (types.FAILS, False), change
    assert types.postgres_name(_alter(new).new_type) == target


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("MONEY", "NUMERIC"),
        ("INTEGER", "MONEY"),
        ("OID", "BIGINT"),
        ("CIDR", "INET"),
        ('"Status"', "TEXT"),
        ('"Status"[]', "TEXT"),
        ("INTEGER[]", "BIGINT[]"),
        ("BOOLEAN", "VARCHAR(5)"),
        ("JSON", "JSONB"),
        ("TIMESTAMPTZ(3)", "TIMETZ(3)"),
    ],
)
def test_conversion_with_an_automatic_cast_does_not_always_fail(old: str, new: str) -> None:
    assert types.judge_type_change(_alter(old).new_type, _alter(new).new_type, ENUMS).kind != types.FAILS


def test_a_cast_written_in_using_is_an_explicit_cast() -> None:
    steps = _steps("TEXT", "INTEGER", '"c"::integer')
    assert [step.change.kind for step in steps] == [types.CAST]
    steps = _steps("MONEY", "DOUBLE PRECISION", '"c"::double precision')
    assert [step.change.kind for step in steps] == [types.FAILS]
    steps = _steps("SMALLINT", "INTEGER", '"c"::text')
    assert [(step.written, step.change.kind) for step in steps] == [(True, types.WIDENING), (False, types.FAILS)]
    # A user type the history does not define: its casts are not known.
    steps = _steps('"Other"', "INTEGER")
    assert [step.change.kind for step in steps] == [types.CAST]


# ---- values changed or kept by automatic casts (items 3 and 4) ------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "kind", "rewrite", "reason"),
    [
        ("INET", "TEXT", types.NARROWING, True, "host addresses get their netmask appended"),
        ("INET", "CHAR(20)", types.NARROWING, True, "host addresses get their netmask appended"),
        ("CIDR", "TEXT", types.WIDENING, True, ""),
        ("INET", "CIDR", types.NARROWING, True, "host bits beyond the netmask are zeroed"),
        ("CIDR", "INET", types.WIDENING, False, ""),
        ("OID", "INTEGER", types.NARROWING, False, "values above 2147483647 wrap to negative numbers"),
        ("INTEGER", "OID", types.NARROWING, False, "negative values wrap to large oids"),
        ("SMALLINT", "OID", types.NARROWING, True, "negative values wrap to large oids"),
        ("BIGINT", "OID", types.NARROWING, True, "bigint values outside the oid range are rejected"),
        ("OID", "BIGINT", types.WIDENING, True, ""),
        ("MONEY", "DECIMAL(65,30)", types.WIDENING, True, ""),
        ("MONEY", "DECIMAL(19,2)", types.WIDENING, True, ""),
        ("MONEY", "DECIMAL(18,2)", types.NARROWING, True, "values with more than 16 integer digits are rejected"),
        ("MONEY", "DECIMAL(20,0)", types.NARROWING, True, "values are rounded to 0 decimals"),
        ("BIT(8)", "VARBIT(8)", types.WIDENING, True, ""),
        ("BIT(8)", "VARBIT", types.WIDENING, False, ""),
        ("BIT(8)", "VARBIT(4)", types.NARROWING, True, "bit strings longer than 4 bits are rejected"),
        ("VARBIT(8)", "VARBIT(16)", types.WIDENING, False, ""),
        ("VARBIT(8)", "BIT(8)", types.CAST, True, "bit strings whose length is not 8 are rejected"),
        ("XML", "TEXT", types.WIDENING, False, ""),
        ("XML", "VARCHAR", types.WIDENING, False, ""),
        ("XML", "VARCHAR(100)", types.NARROWING, True, "longer than 100 characters"),
        ("INTEGER[]", "INTEGER[][]", types.SAME, False, ""),
        ("NUMERIC(10,2)[]", "NUMERIC[]", types.WIDENING, False, ""),
        ("VARCHAR(5)[]", "TEXT[]", types.WIDENING, True, ""),
        ("VARCHAR(5)[]", "VARCHAR(10)[]", types.WIDENING, True, ""),
    ],
)
def test_automatic_cast_judgement(old: str, new: str, kind: str, rewrite: bool, reason: str) -> None:
    change = types.judge_type_change(_alter(old).new_type, _alter(new).new_type, ENUMS)
    assert (change.kind, change.rewrite) == (kind, rewrite), change
    assert reason in change.reason
