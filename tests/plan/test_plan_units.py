"""The pure parts of `safemigrate plan`: the size rule table, the pending-statement fold, the SQL reader."""

from __future__ import annotations

from pathlib import Path

from safemigrate.lint.registry import RULES
from safemigrate.lint.rule import Category, Severity
from safemigrate.migrations import Migration
from safemigrate.plan import model as pm
from safemigrate.plan.settings import PlanSettings
from safemigrate.plan.severity import SIZE_SENSITIVE, weigh
from safemigrate.plan.targets import TYPE_CHANGE, find_targets
from safemigrate.sql.preflight_sql import is_plain_cast, read_index_definition


def test_every_lock_rule_is_in_the_size_table() -> None:
    lock_rules = {r.name for r in RULES if r.category is Category.LOCK}
    assert lock_rules == set(SIZE_SENSITIVE)


def test_weigh_by_rows_and_bytes() -> None:
    settings = PlanSettings(large_table_rows=1000, small_table_rows=10, large_table_bytes=10**9)
    assert weigh(pm.TableFacts("public", "t", 5, 8192), settings) is Severity.INFO
    assert weigh(pm.TableFacts("public", "t", 500, 8192), settings) is None
    assert weigh(pm.TableFacts("public", "t", 1000, 8192), settings) is Severity.ERROR
    assert weigh(pm.TableFacts("public", "t", None, 8192), settings) is None  # never analysed: keep lint's
    assert weigh(pm.TableFacts("public", "t", None, 10**9), settings) is Severity.ERROR


def _migration(name: str, text: str) -> Migration:
    return Migration(name, Path(name), Path(name) / "migration.sql", text.encode())


def test_index_definition_is_read_through_sqlglot() -> None:
    definition = read_index_definition(
        'CREATE UNIQUE INDEX "k" ON "T"("a", lower("b")) WHERE "deletedAt" IS NULL AND "kind" = \'x\''
    )
    assert definition is not None
    assert [k.column for k in definition.keys] == ["a", None]
    assert definition.keys[1].expression == 'LOWER("b")'
    assert definition.predicate == '"deletedAt" IS NULL AND "kind" = \'x\''
    assert read_index_definition('CREATE UNIQUE INDEX "k" ON "T"("a") WHERE "a" IN (SELECT 1)') is None
    assert read_index_definition('CREATE UNIQUE INDEX "k" ON "T"("a") WHERE; DROP TABLE "T"') is None


def test_plain_casts_are_told_from_own_conversions() -> None:
    assert is_plain_cast('("age"::integer)', "age")
    assert is_plain_cast('(CAST("age" AS INT))', "age")
    assert is_plain_cast('("role"::text::"Role_new")', "role")
    assert not is_plain_cast('(CASE WHEN "age" = \'\' THEN NULL ELSE "age"::integer END)', "age")
    assert not is_plain_cast('("other"::integer)', "age")


def test_targets_follow_renames_and_skip_fresh_objects() -> None:
    first = _migration(
        "m1",
        'ALTER TABLE "A" RENAME TO "B";\n'
        'ALTER TABLE "B" ALTER COLUMN "x" SET NOT NULL;\n'
        'CREATE TABLE "C" ("id" INT, "v" TEXT);\n'
        'ALTER TABLE "C" ALTER COLUMN "v" SET NOT NULL;\n',
    )
    second = _migration("m2", 'ALTER TABLE "B" ALTER COLUMN "x" TYPE VARCHAR(3);\n')
    targets = find_targets([first, second], {"m1": "m1.sql", "m2": "m2.sql"}, "public")
    renamed, fresh, typed = targets
    assert (renamed.kind, renamed.live_table, renamed.skip, renamed.where) == (
        pm.NULLS,
        ("public", "A"),
        "",
        "m1.sql:2",
    )
    assert fresh.skip.startswith("the table is created by this deploy")
    assert typed.kind == TYPE_CHANGE and typed.live_table == ("public", "A") and typed.where == "m2.sql:1"
