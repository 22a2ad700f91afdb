"""Unique keys in the schema model: the indexes of PRIMARY KEY and UNIQUE constraints, and the keys a
statement drops, which still hold for the rows until something may change them (``held_keys``)."""

from __future__ import annotations

from safemigrate.sql import model as m
from safemigrate.sql.parse import summarize
from safemigrate.sql.schema import SchemaModel

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
        'ALTER TABLE "T" ALTER COLUMN "a" TYPE BIGINT',
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
    changed = (m.DropConstraint("T_pkey"), m.AlterColumnType("a", m.TypeSpec("bigint")))
    assert model.unique_keys(table, NEW, changed) == ()
    # Folded, a statement that drops the key and changes its column leaves no held key behind.
    fold(model, NEW, 'ALTER TABLE "T" DROP CONSTRAINT "T_pkey", ALTER COLUMN "a" TYPE BIGINT')
    assert model.held_keys == ()
