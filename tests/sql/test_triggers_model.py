"""Code a table keeps for its row changes (triggers, project functions in defaults and CHECKs), and LOCK
TABLE: how the parser summarises them and how the schema model folds them."""

from __future__ import annotations

from safemigrate.sql import model as m
from safemigrate.sql.parse import summarize
from safemigrate.sql.schema import SchemaModel


def test_create_trigger_keeps_its_events_function_and_level() -> None:
    summary = summarize(
        'CREATE OR REPLACE CONSTRAINT TRIGGER t2 AFTER UPDATE OF a, "B" OR INSERT ON app."Audit" '
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.a > 1) EXECUTE FUNCTION app.p2(1, 'x')"
    )
    trigger = m.Trigger("t2", m.Name("p2", "app"), ("update", "insert"), True, ("a", "B"))
    assert summary == m.Harmless("create trigger", m.Name("Audit", "app"), "t2", trigger)


def test_trigger_without_for_each_row_runs_per_statement() -> None:
    summary = summarize('CREATE TRIGGER t3 BEFORE TRUNCATE ON "Audit" EXECUTE PROCEDURE p3()')
    assert isinstance(summary, m.Harmless) and summary.trigger is not None
    assert summary.trigger.events == ("truncate",) and not summary.trigger.for_each_row


def test_unreadable_create_trigger_is_unparsed_not_harmless() -> None:
    assert isinstance(summarize('CREATE TRIGGER t2 SOMETIME INSERT ON "Audit" EXECUTE FUNCTION p2()'), m.Unparsed)


def test_drop_trigger_names_the_trigger() -> None:
    assert summarize('DROP TRIGGER IF EXISTS t2 ON "Audit"') == m.Harmless("drop trigger", m.Name("Audit"), "t2")


def test_lock_table_names_the_tables_it_waits_for() -> None:
    user, post = m.Name("User"), m.Name("Post", "app")
    assert summarize('LOCK TABLE "User" IN ACCESS EXCLUSIVE MODE').locks == (user,)  # type: ignore[union-attr]
    assert summarize('LOCK ONLY "User", app."Post" * IN SHARE MODE').locks == (user, post)  # type: ignore[union-attr]
    for harmless in ('LOCK "User" IN ROW EXCLUSIVE MODE', 'LOCK TABLE "User" NOWAIT'):
        assert summarize(harmless) == m.Harmless("lock", user)


def test_calls_in_checks_using_and_defaults_are_kept() -> None:
    add = summarize('ALTER TABLE "Post" ADD CONSTRAINT "c" CHECK (ok("views") AND "views" > 0) NOT VALID')
    assert isinstance(add, m.AlterTable) and isinstance(add.actions[0], m.AddConstraint)
    assert add.actions[0].constraint.calls == ("ok",) and m.alter_table_calls(add) == ()  # NOT VALID: no row runs it
    using = summarize('ALTER TABLE "Post" ALTER COLUMN "views" TYPE BIGINT USING to_big("views")::bigint')
    assert isinstance(using, m.AlterTable) and isinstance(using.actions[0], m.AlterColumnType)
    assert using.actions[0].using_calls == ("to_big",)
    create = summarize('CREATE TABLE "T"("id" INT DEFAULT now_id() CHECK (ok("id")), "n" INT CHECK ("n" > 0))')
    assert isinstance(create, m.CreateTable)
    assert [c.calls for column in create.columns for c in column.constraints] == [("ok",), ()]


def test_insert_columns_and_update_to_default() -> None:
    assert summarize('INSERT INTO "T"("a", "B") VALUES (1, 2)') == m.Insert(m.Name("T"), given=("a", "B"))
    for any_default in (
        'INSERT INTO "T" VALUES (1, 2)',
        'INSERT INTO "T" DEFAULT VALUES',
        'INSERT INTO "T"("a", "b") VALUES (1, 2), (DEFAULT, 3)',
    ):
        summary = summarize(any_default)
        assert isinstance(summary, m.Insert) and summary.given is None, any_default
    update = summarize('UPDATE "T" SET "a" = DEFAULT, "b" = "default"')
    assert isinstance(update, m.Update) and update.to_default == ("a",)


def fold(*statements: str, migration: str = "m1") -> SchemaModel:
    model = SchemaModel()
    model.fresh_migrations = frozenset({migration})
    for text in statements:
        model.apply(summarize(text), migration)
    return model


def test_row_change_firing_a_trigger_may_fill_any_table() -> None:
    trigger = 'CREATE TRIGGER t2 AFTER INSERT ON "Audit" FOR EACH ROW EXECUTE FUNCTION p2()'
    new = m.Name("New")
    assert fold('CREATE TABLE "New" ("id" INT)', trigger, 'INSERT INTO "Audit" VALUES (1)').is_fresh_table(new) is False
    # No trigger of that event: the DELETE runs no code, the new table is still empty.
    assert fold('CREATE TABLE "New" ("id" INT)', trigger, 'DELETE FROM "Audit"').is_fresh_table(new) is True


def test_alter_table_running_project_code_on_existing_rows_may_fill_any_table() -> None:
    model = fold('CREATE TABLE "New" ("id" INT)', 'ALTER TABLE "Post" ADD COLUMN "p" TEXT DEFAULT nanoid()')
    assert model.is_fresh_table(m.Name("New")) is False
    # On a table holding no rows the default runs for none.
    model = fold('CREATE TABLE "New" ("id" INT)', 'ALTER TABLE "New" ADD COLUMN "p" TEXT DEFAULT nanoid()')
    assert model.is_fresh_table(m.Name("New")) is True


def test_row_code_follows_columns_constraints_and_tables() -> None:
    model = fold(
        'CREATE TABLE "T" ("id" INT DEFAULT f(), "v" INT CHECK (ok("v")))',
        'ALTER TABLE "T" RENAME COLUMN "id" TO "key"',
        'ALTER TABLE "T" RENAME CONSTRAINT "T_v_check" TO "v_ok"',
    )
    assert set(model.row_code[("public", "T")]) == {("default", "key"), ("check", "v_ok")}
    assert model.check_calls(m.Name("T"), "v_ok") == ("ok",)
    model.apply(summarize('ALTER TABLE "T" DROP COLUMN "v"'), "m1")  # takes its CHECK with it
    model.apply(summarize('ALTER TABLE "T" RENAME TO "U"'), "m1")
    assert set(model.row_code) == {("public", "U")}
    model.apply(summarize('DROP TABLE "U"'), "m1")
    assert model.row_code == {}
