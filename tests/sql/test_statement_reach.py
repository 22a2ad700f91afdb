"""Every row change, called function and name part of a statement reaches the summary."""

from __future__ import annotations

from safemigrate.sql import model as m
from safemigrate.sql.parse import summarize
from safemigrate.sql.schema import SchemaModel


def test_three_part_alter_table_names_the_schema_and_table() -> None:
    # sqlglot declines database.schema.table; the word reader must read all three parts.
    drop = summarize('ALTER TABLE mydb.public."Post" DROP COLUMN "content"')
    assert drop == m.AlterTable(m.Name("Post", "public"), (m.DropColumn("content"),))
    rename = summarize('ALTER TABLE mydb.public."Post" RENAME COLUMN "a" TO "b"')
    assert rename == m.AlterTable(m.Name("Post", "public"), (m.RenameColumn("a", "b"),))


def test_every_change_of_a_statement_is_listed_in_order() -> None:
    summary = summarize(
        'WITH u AS (UPDATE "Post" SET "title" = \'x\' RETURNING 1), d AS (DELETE FROM "comments" RETURNING 1) SELECT 1'
    )
    assert m.data_changes(summary) == (
        m.Update(m.Name("Post"), ("title",), False, fills=("title",)),
        m.Delete(m.Name("comments"), False),
    )
    insert = summarize('WITH x AS (DELETE FROM "comments" RETURNING *) INSERT INTO "archive" SELECT * FROM x')
    assert m.data_changes(insert) == (m.Insert(m.Name("archive")), m.Delete(m.Name("comments"), False))


def test_on_conflict_do_update_is_an_update_of_its_set_columns() -> None:
    summary = summarize('INSERT INTO "User" ("id") VALUES (1) ON CONFLICT ("id") DO UPDATE SET ("a", "b") = (1, 2)')
    assert m.data_changes(summary) == (
        m.Insert(m.Name("User"), given=("id",)),
        m.Update(m.Name("User"), ("a", "b"), False, on_conflict=True),
    )


def test_calls_of_unknown_functions_are_kept() -> None:
    assert summarize("SELECT purge()") == m.Procedural("function call", m.Name("purge"))
    assert summarize("SELECT app.purge(1)") == m.Procedural("function call", m.Name("purge", "app"))
    update = summarize('UPDATE "User" SET "slug" = slugify("name"), "at" = now()')
    assert isinstance(update, m.Update) and update.calls == ("slugify",)
    # sqlglot reads uuid() as gen_random_uuid(): the name as written decides.
    assert summarize("SELECT uuid()") == m.Procedural("function call", m.Name("uuid"))
    assert summarize("SELECT gen_random_uuid(), count(*), x::text FROM t") == m.Harmless("query")


def test_set_config_alone_is_a_setting() -> None:
    assert summarize("SELECT set_config('search_path', 'staging', true)") == m.SetSetting(
        "search_path", "staging", local=True
    )


def test_create_rule_names_its_table() -> None:
    summary = summarize('CREATE OR REPLACE RULE "r" AS ON DELETE TO app."Post" DO INSTEAD NOTHING')
    assert summary == m.Procedural("rule", m.Name("r"), m.Name("Post", "app"))


def _model(*statements: str, migration: str = "m1") -> SchemaModel:
    model = SchemaModel()
    model.fresh_migrations = frozenset({migration})
    for statement in statements:
        model.apply(summarize(statement), migration)
    return model


def test_add_column_if_not_exists_keeps_the_known_column() -> None:
    model = _model('CREATE TABLE "Post" ("title" VARCHAR(10) NOT NULL)', migration="old")
    model.fresh_migrations = frozenset({"new"})
    model.apply(summarize('ALTER TABLE "Post" ADD COLUMN IF NOT EXISTS "title" TEXT'), "new")
    column = model.column(m.Name("Post"), "title")
    assert column is not None and column.type.base == "varchar" and column.not_null and column.added_in is None
    model.apply(summarize('ALTER TABLE "Post" ADD COLUMN IF NOT EXISTS "body" TEXT'), "new")
    body = model.column(m.Name("Post"), "body")
    assert body is not None and body.added_in == "new"


def test_search_path_elsewhere_makes_unqualified_names_unsure() -> None:
    model = _model('CREATE TABLE "Tmp" ("id" INTEGER)', "SET search_path TO staging, public")
    assert model.search_path_moved()
    assert not model.is_fresh_table(m.Name("Tmp"))
    assert model.is_fresh_table(m.Name("Tmp", "public"))
    model.apply(summarize("RESET search_path"), "m1")
    assert model.is_fresh_table(m.Name("Tmp"))


def test_search_path_of_another_session_does_not_count() -> None:
    model = _model("SET search_path TO staging", migration="old")
    model.fresh_migrations = frozenset({"new"})
    assert not model.search_path_moved()


def test_an_update_says_which_columns_it_fills_and_whether_it_reaches_only_their_nulls() -> None:
    backfill = summarize(
        'UPDATE "User" SET "name" = COALESCE("name", \'x\')::text, "bio" = "other" WHERE ("name" IS NULL)'
    )
    assert isinstance(backfill, m.Update)
    assert backfill.fills == ("name",) and backfill.where_null_of == "name"
    partial = summarize('UPDATE "User" SET "name" = NULL, "age" = 0 WHERE "name" IS NULL AND "id" > 1')
    assert isinstance(partial, m.Update)
    assert partial.fills == ("age",) and partial.where_null_of is None


def test_the_tables_a_data_change_names_are_all_read_and_its_with_queries_left_out() -> None:
    from safemigrate.sql.preflight_sql import tables_named

    named = tables_named(
        'WITH moved AS (DELETE FROM "Old" RETURNING *) INSERT INTO "New" SELECT m.* FROM moved m '
        'JOIN billing."Account" a ON a.id = m.id WHERE EXISTS (SELECT 1 FROM "Tag") AND m.x IN (SELECT y FROM Lower)'
    )
    assert named is not None
    assert set(named) == {
        m.Name("New"),
        m.Name("Old"),
        m.Name("Account", "billing"),
        m.Name("Tag"),
        m.Name("lower"),
    }
    assert tables_named('UPDATE "Post" SET x = 1 FROM generate_series(1, 3) g') == (m.Name("Post"),)
    assert tables_named("this is not SQL (((") is None
