"""Unique keys in the schema model: the indexes of PRIMARY KEY and UNIQUE constraints, and the keys a
statement drops, which still hold for the rows until something may change them (``held_keys``)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from safemigrate.sql import model as m
from safemigrate.sql.parse import summarize
from safemigrate.sql.schema import SchemaModel, retype_keeps_values

OLD, NEW = "20240101000000_v1", "20240102000000_v2"


def fold(model: SchemaModel, migration: str, *statements: str) -> SchemaModel:
    for statement in statements:
        model.apply(summarize(statement), migration)
    return model


def names(model: SchemaModel, table: str) -> list[tuple[str, tuple[str, ...]]]:
    return sorted((i.key[1], i.columns) for i in model.unique_indexes(m.Name(table)))


def test_create_table_keys_are_indexes_under_their_names_or_postgresql_s() -> None:
    model = fold(
        SchemaModel(),
        OLD,
        'CREATE TABLE "Seat" ("roomId" INTEGER NOT NULL, "num" INTEGER NOT NULL, '
        'CONSTRAINT "Seat_pkey" PRIMARY KEY ("roomId","num"))',
        'CREATE TABLE "User" ("id" INTEGER PRIMARY KEY, "email" TEXT UNIQUE)',
    )
    assert names(model, "Seat") == [("Seat_pkey", ("roomId", "num"))]
    assert names(model, "User") == [("User_email_key", ("email",)), ("User_pkey", ("id",))]
    fold(model, NEW, 'ALTER TABLE "Seat" DROP CONSTRAINT "Seat_pkey"', 'ALTER TABLE "User" DROP CONSTRAINT "User_pkey"')
    assert names(model, "Seat") == [] and names(model, "User") == [("User_email_key", ("email",))]


def test_a_default_name_postgresql_would_shorten_or_number_is_not_guessed() -> None:
    long = "c" * 60
    model = fold(
        SchemaModel(),
        OLD,
        f'CREATE TABLE "T" ("a" INTEGER, "{long}" INTEGER)',
        'CREATE UNIQUE INDEX "T_a_key" ON "T"("a")',
        'ALTER TABLE "T" ADD UNIQUE ("a")',  # PostgreSQL names it T_a_key1
        f'ALTER TABLE "T" ADD UNIQUE ("{long}")',
    )
    assert names(model, "T") == [("T_a_key", ("a",))]
    assert not model.indexes[("public", "T_a_key")].constraint


def test_using_index_makes_the_index_the_constraint_s() -> None:
    model = fold(
        SchemaModel(),
        OLD,
        'CREATE TABLE "T" ("a" INTEGER, "b" INTEGER)',
        'CREATE UNIQUE INDEX "T_a_b_idx" ON "T"("a", "b")',
        'ALTER TABLE "T" ADD CONSTRAINT "T_pkey" PRIMARY KEY USING INDEX "T_a_b_idx"',
    )
    assert names(model, "T") == [("T_pkey", ("a", "b"))]
    assert model.indexes[("public", "T_pkey")].constraint
    assert all(c.not_null for c in model.tables[("public", "T")].columns.values())


def test_a_dropped_key_holds_in_its_file_until_rows_may_change() -> None:
    history = (
        'CREATE TABLE "T" ("a" INTEGER NOT NULL, "b" INTEGER NOT NULL)',
        'CREATE UNIQUE INDEX "T_a_key" ON "T"("a")',
    )
    table = m.Name("T")
    model = fold(SchemaModel(), OLD, *history, 'DROP INDEX "T_a_key"', 'CREATE INDEX "T_b_idx" ON "T"("b")')
    assert model.unique_keys(table, OLD) == (("a",),)
    assert model.unique_keys(table, NEW) == ()  # the next file: the application wrote in between
    for change in (
        'INSERT INTO "Other" VALUES (1)',  # a trigger or a rule may write into T
        "SELECT my_function()",
        "COMMIT",
        'ALTER TABLE "T" ALTER COLUMN "a" TYPE REAL',  # rounds: distinct values may become equal
        'ALTER TABLE "T" ALTER COLUMN "a" TYPE BIGINT USING "a" / 2',
        'ALTER TABLE "T" RENAME COLUMN "a" TO "c"',
        'DROP TABLE "T"',
    ):
        model = fold(SchemaModel(), OLD, *history, 'DROP INDEX "T_a_key"', change)
        assert model.unique_keys(table, OLD) == (), change
    model = fold(SchemaModel(), OLD, *history, 'DROP INDEX CONCURRENTLY "T_a_key"')
    assert model.unique_keys(table, OLD) == ()


def test_a_key_dropped_by_the_statement_being_checked_holds_for_its_later_actions() -> None:
    model = fold(SchemaModel(), OLD, 'CREATE TABLE "T" ("a" INTEGER NOT NULL, CONSTRAINT "T_pkey" PRIMARY KEY ("a"))')
    table = m.Name("T")
    assert model.unique_keys(table, NEW, (m.DropConstraint("T_pkey"),)) == (("a",),)
    changed = (m.DropConstraint("T_pkey"), m.AlterColumnType("a", m.TypeSpec("real")))
    assert model.unique_keys(table, NEW, changed) == ()
    widened = (m.DropConstraint("T_pkey"), m.AlterColumnType("a", m.TypeSpec("bigint")))
    assert model.unique_keys(table, NEW, widened) == (("a",),)
    # Judged from the type the earlier actions left: integer -> real -> double precision is no widening.
    twice = (*changed, m.AlterColumnType("a", m.TypeSpec("double precision")))
    assert model.unique_keys(table, NEW, twice) == ()
    # Folded, a statement that drops the key and changes its column leaves no held key behind.
    fold(model, NEW, 'ALTER TABLE "T" DROP CONSTRAINT "T_pkey", ALTER COLUMN "a" TYPE REAL')
    assert model.held_keys == ()


def test_a_dropped_key_holds_through_a_widening_of_its_columns() -> None:
    """Prisma drops a referenced key and adds it again around a type change of its column: one that
    keeps every value, equal ones equal and distinct ones distinct, leaves the key holding."""
    model = fold(
        SchemaModel(),
        OLD,
        'CREATE TABLE "P" ("code" VARCHAR(10) NOT NULL, "n" INTEGER NOT NULL, '
        'CONSTRAINT "P_pkey" PRIMARY KEY ("code"))',
        'CREATE UNIQUE INDEX "P_n_key" ON "P"("n")',
    )
    fold(
        model,
        NEW,
        'ALTER TABLE "P" DROP CONSTRAINT "P_pkey", ALTER COLUMN "code" SET DATA TYPE VARCHAR(20)',
        'DROP INDEX "P_n_key"',
        'ALTER TABLE "P" ALTER COLUMN "n" SET DATA TYPE BIGINT',
    )
    assert sorted(model.unique_keys(m.Name("P"), NEW)) == [("code",), ("n",)]
    fold(model, NEW, 'ALTER TABLE "P" ALTER COLUMN "code" SET DATA TYPE CHAR(20)')
    assert model.unique_keys(m.Name("P"), NEW) == (("n",),)


def _keeps(old: str, new: str, using: str | None = None) -> bool:
    before = summarize(f'ALTER TABLE "T" ALTER COLUMN "c" TYPE {old}')
    after = summarize(f'ALTER TABLE "T" ALTER COLUMN "c" TYPE {new}')
    assert isinstance(before, m.AlterTable) and isinstance(after, m.AlterTable)
    old_type = before.actions[0]
    change = after.actions[0]
    assert isinstance(old_type, m.AlterColumnType) and isinstance(change, m.AlterColumnType)
    return retype_keeps_values(old_type.new_type, replace(change, using=using))


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("SMALLINT", "INTEGER"),
        ("INTEGER", "BIGINT"),
        ("SMALLINT", "BIGINT"),
        ("INTEGER", "INT4"),
        ("VARCHAR(10)", "VARCHAR(20)"),
        ("VARCHAR(10)", "VARCHAR"),
        ("VARCHAR(10)", "TEXT"),
        ("TEXT", "VARCHAR"),
        ("CHAR(3)", "CHAR(5)"),
        ("CHAR", "BPCHAR"),
        ("DECIMAL(10,2)", "DECIMAL(12,2)"),
        ("DECIMAL(10,2)", "DECIMAL(12,4)"),
        ("DECIMAL(10,2)", "NUMERIC"),
        ("INTEGER[]", "BIGINT[]"),
    ],
)
def test_type_changes_that_keep_every_value_and_their_equality(old: str, new: str) -> None:
    assert _keeps(old, new)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("BIGINT", "INTEGER"),  # fails or keeps: not judged, counted as a change
        ("INTEGER", "REAL"),  # rounds large values
        ("INTEGER", "NUMERIC"),  # conservative: another type family
        ("VARCHAR(20)", "VARCHAR(10)"),  # cuts trailing spaces beyond 10: 'a  ' and 'a ' may collide
        ("TEXT", "VARCHAR(10)"),
        ("VARCHAR(10)", "CHAR(10)"),  # char compares without trailing spaces
        ("CHAR(10)", "VARCHAR(10)"),  # char loses its trailing spaces
        ("CHAR(5)", "CHAR(3)"),
        ("TEXT", "CITEXT"),  # compares without case
        ("DECIMAL(10,4)", "DECIMAL(10,2)"),  # rounds
        ("DECIMAL(10,2)", "DECIMAL(10,4)"),  # fewer integer digits
        ("NUMERIC", "DECIMAL(65,30)"),
        ("TIMESTAMP(3)", "TIMESTAMPTZ(3)"),
        ("INTEGER", "BIGINT[]"),
        ('"Role"', '"Role_new"'),
    ],
)
def test_type_changes_that_may_change_values_or_equality(old: str, new: str) -> None:
    assert not _keeps(old, new)


def test_a_using_expression_or_an_unknown_old_type_counts_as_a_change() -> None:
    assert not _keeps("INTEGER", "BIGINT", using='"c" + 1')
    assert not retype_keeps_values(None, m.AlterColumnType("c", m.TypeSpec("bigint")))
