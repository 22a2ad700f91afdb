"""Preflight checks a review found missing or wrong: columns added and constrained in one deploy,
VALIDATE CONSTRAINT, conversions to a domain, and trailing spaces cut by a cast to varchar(n)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from safemigrate.migrations import Migration
from safemigrate.plan import model as pm
from safemigrate.plan.build import plan_migrations
from safemigrate.plan.targets import find_targets
from tests.plan.conftest import apply_first, make_project, run_sql

INIT = """
CREATE TABLE "Post" (
    "id" SERIAL NOT NULL,
    CONSTRAINT "Post_pkey" PRIMARY KEY ("id")
);
CREATE TABLE "User" (
    "id" SERIAL NOT NULL,
    "name" TEXT,
    "bestPostId" INTEGER,
    CONSTRAINT "User_pkey" PRIMARY KEY ("id")
);
"""

USERS = """INSERT INTO "User" ("id", "name", "bestPostId") VALUES (1, 'ann', NULL), (2, NULL, 99);"""


def _plan(tmp_path: Path, database_url: str, pending: str, rows: str = USERS) -> pm.Plan:
    project = make_project(tmp_path, INIT, pending)
    apply_first(project, database_url)
    run_sql(database_url, rows)
    return plan_migrations(project, database_url=database_url)


def _only(plan: pm.Plan, kind: str) -> pm.CheckResult:
    found = [c for c in plan.checks if c.kind == kind]
    assert len(found) == 1, plan.checks
    return found[0]


# Columns added by the deploy hold their DEFAULT (or NULL) in every existing row.


def test_prismas_unique_column_with_a_default_fails_on_two_rows(tmp_path: Path, database_url: str) -> None:
    # What `prisma migrate dev` writes for `code String @unique @default("x")`.
    pending = (
        '-- AlterTable\nALTER TABLE "User" ADD COLUMN "code" TEXT NOT NULL DEFAULT \'x\';\n\n'
        '-- CreateIndex\nCREATE UNIQUE INDEX "User_code_key" ON "User"("code");\n'
    )
    plan = _plan(tmp_path, database_url, pending)
    check = _only(plan, pm.DUPLICATES)
    assert (check.outcome, check.count, check.samples) == (pm.FAILED, 1, ("x (×2)",))
    assert "existing rows hold 'x'" in check.detail and plan.predicts_failure


def test_an_added_column_with_a_default_passes_a_unique_index_on_one_row(tmp_path: Path, database_url: str) -> None:
    pending = (
        'ALTER TABLE "User" ADD COLUMN "code" TEXT NOT NULL DEFAULT \'x\';\nCREATE UNIQUE INDEX "c" ON "User"("code");'
    )
    plan = _plan(tmp_path, database_url, pending, rows="""INSERT INTO "User" ("id") VALUES (1);""")
    assert _only(plan, pm.DUPLICATES).outcome == pm.PASSED and not plan.predicts_failure


def test_an_added_column_without_a_default_is_null_in_every_row(tmp_path: Path, database_url: str) -> None:
    pending = (
        'ALTER TABLE "User" ADD COLUMN "nick" TEXT;\n'
        'ALTER TABLE "User" ALTER COLUMN "nick" SET NOT NULL;\n'
        'CREATE UNIQUE INDEX "User_nick_key" ON "User"("nick");\n'
    )
    plan = _plan(tmp_path, database_url, pending)
    nulls = _only(plan, pm.NULLS)
    assert (nulls.outcome, nulls.count, nulls.samples, nulls.line) == (pm.FAILED, 2, ("1", "2"), 2)
    assert _only(plan, pm.DUPLICATES).outcome == pm.PASSED  # NULL keys never collide


@pytest.mark.parametrize(
    ("posts", "outcome", "count"),
    [("", pm.FAILED, 2), ('INSERT INTO "Post" ("id") VALUES (1);', pm.PASSED, 0)],
)
def test_an_added_column_with_a_default_meets_its_foreign_key(
    tmp_path: Path, database_url: str, posts: str, outcome: str, count: int
) -> None:
    pending = (
        'ALTER TABLE "User" ADD COLUMN "pinnedPostId" INTEGER NOT NULL DEFAULT 1;\n'
        'ALTER TABLE "User" ADD CONSTRAINT "User_pinned_fkey" FOREIGN KEY ("pinnedPostId") REFERENCES "Post"("id");\n'
    )
    check = _only(_plan(tmp_path, database_url, pending, USERS + posts), pm.ORPHANS)
    assert (check.outcome, check.count) == (outcome, count)
    assert check.samples == (("1 (×2)",) if count else ())


@pytest.mark.parametrize(
    ("added", "reason"),
    [
        ('ADD COLUMN "code" UUID NOT NULL DEFAULT gen_random_uuid()', "is evaluated for each row"),
        ('ADD COLUMN "code" SERIAL', "numbers every row"),
    ],
)
def test_an_added_column_whose_default_is_per_row_is_not_predicted(
    tmp_path: Path, database_url: str, added: str, reason: str
) -> None:
    pending = f'ALTER TABLE "User" {added};\nCREATE UNIQUE INDEX "User_code_key" ON "User"("code");\n'
    check = _only(_plan(tmp_path, database_url, pending), pm.DUPLICATES)
    assert check.outcome == pm.SKIPPED and reason in check.detail and "cannot be predicted" in check.detail


def test_a_backfill_of_the_added_column_makes_its_check_skip(tmp_path: Path, database_url: str) -> None:
    pending = (
        'ALTER TABLE "User" ADD COLUMN "nick" TEXT;\n'
        'UPDATE "User" SET "nick" = "name";\n'
        'ALTER TABLE "User" ALTER COLUMN "nick" SET NOT NULL;\n'
    )
    check = _only(_plan(tmp_path, database_url, pending), pm.NULLS)
    assert check.outcome == pm.SKIPPED and check.detail.startswith("rows of this table are changed first by")


# VALIDATE CONSTRAINT checks what the constraint checks.


def test_a_foreign_key_added_not_valid_then_validated_meets_orphans(tmp_path: Path, database_url: str) -> None:
    pending = (
        'ALTER TABLE "User" ADD CONSTRAINT "User_best_fkey" FOREIGN KEY ("bestPostId") REFERENCES "Post"("id") '
        "NOT VALID;\n"
        'ALTER TABLE "User" VALIDATE CONSTRAINT "User_best_fkey";\n'
    )
    plan = _plan(tmp_path, database_url, pending)
    check = _only(plan, pm.ORPHANS)
    assert (check.outcome, check.count, check.samples, check.line) == (pm.FAILED, 1, ("99",), 2)


def test_an_existing_not_valid_foreign_key_is_checked_when_validated(tmp_path: Path, database_url: str) -> None:
    rows = (
        USERS + 'ALTER TABLE "User" ADD CONSTRAINT "User_best_fkey" FOREIGN KEY ("bestPostId") '
        'REFERENCES "Post"("id") NOT VALID;'
    )
    plan = _plan(tmp_path, database_url, 'ALTER TABLE "User" VALIDATE CONSTRAINT "User_best_fkey";\n', rows)
    check = _only(plan, pm.ORPHANS)
    assert (check.outcome, check.count, check.samples, check.columns) == (pm.FAILED, 1, ("99",), ("bestPostId",))


def test_an_existing_not_valid_check_is_checked_when_validated(tmp_path: Path, database_url: str) -> None:
    rows = USERS + """INSERT INTO "User" ("id", "name") VALUES (3, 'x'), (4, 'y');"""
    rows += 'ALTER TABLE "User" ADD CONSTRAINT "name_chk" CHECK (length("name") > 1) NOT VALID;'
    plan = _plan(tmp_path, database_url, 'ALTER TABLE "User" VALIDATE CONSTRAINT "name_chk";\n', rows)
    check = _only(plan, pm.CHECK_VIOLATIONS)
    # The NULL name of row 2 passes a CHECK; rows 3 and 4 break it.
    assert (check.outcome, check.count, check.samples, check.sample_label) == (pm.FAILED, 2, ("3", "4"), "id")
    assert "length(name) > 1" in check.description


def test_validating_a_valid_constraint_needs_no_check(tmp_path: Path, database_url: str) -> None:
    rows = USERS + 'ALTER TABLE "User" ADD CONSTRAINT "name_chk" CHECK (length("name") > 1);'
    plan = _plan(tmp_path, database_url, 'ALTER TABLE "User" VALIDATE CONSTRAINT "name_chk";\n', rows)
    assert plan.checks == ()


def test_a_check_added_not_valid_by_the_migration_is_checked_or_skipped(tmp_path: Path, database_url: str) -> None:
    pending = (
        'ALTER TABLE "User" ADD CONSTRAINT "name_nn" CHECK ("name" IS NOT NULL) NOT VALID;\n'
        'ALTER TABLE "User" VALIDATE CONSTRAINT "name_nn";\n'
        'ALTER TABLE "User" ADD CONSTRAINT "name_len" CHECK (length("name") > 1) NOT VALID;\n'
        'ALTER TABLE "User" VALIDATE CONSTRAINT "name_len";\n'
    )
    plan = _plan(tmp_path, database_url, pending)
    nulls = _only(plan, pm.NULLS)
    assert (nulls.outcome, nulls.count, nulls.samples, nulls.line) == (pm.FAILED, 1, ("2",), 2)
    expression = _only(plan, pm.CHECK_VIOLATIONS)
    assert expression.outcome == pm.PASSED  # 'ann' is long enough, and a NULL passes a CHECK


def test_a_check_the_migration_adds_runs_its_condition_read_only(tmp_path: Path, database_url: str) -> None:
    # Validated at once, or NOT VALID and validated later in the deploy: the condition, as sqlglot reads
    # it from the migration, counts today's rows that break it ('ann' is not longer than 3).
    for pending, line in (
        ('ALTER TABLE "User" ADD CONSTRAINT "name_len" CHECK (length("name") > 3);\n', 1),
        (
            'ALTER TABLE "User" ADD CONSTRAINT "name_len" CHECK (length("name") > 3) NOT VALID;\n'
            'ALTER TABLE "User" VALIDATE CONSTRAINT "name_len";\n',
            2,
        ),
    ):
        run_sql(database_url, "DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        plan = _plan(tmp_path / str(line), database_url, pending)
        check = _only(plan, pm.CHECK_VIOLATIONS)
        assert (check.outcome, check.count, check.samples, check.line) == (pm.FAILED, 1, ("1",), line)
        assert 'LENGTH("name") > 3' in check.description


def test_a_check_on_a_column_this_deploy_renamed_is_not_guessed(tmp_path: Path, database_url: str) -> None:
    # A CHECK on a column the deploy adds runs with its value: tests/plan/test_plan_gaps.py.
    pending = (
        'ALTER TABLE "User" RENAME COLUMN "name" TO "fullName";\n'
        'ALTER TABLE "User" ADD CONSTRAINT "name_len" CHECK (length("fullName") > 3);\n'
    )
    plan = _plan(tmp_path, database_url, pending)
    check = _only(plan, pm.CHECK_VIOLATIONS)
    assert check.outcome == pm.SKIPPED and "renamed earlier in this deploy" in check.detail


def test_a_validated_check_runs_read_only(tmp_path: Path, database_url: str) -> None:
    rows = (
        USERS + 'CREATE TABLE "Trace" ("n" INTEGER);'
        "CREATE FUNCTION bump() RETURNS boolean LANGUAGE sql VOLATILE AS "
        '$$ INSERT INTO "Trace" VALUES (1) RETURNING true $$;'
        'ALTER TABLE "User" ADD CONSTRAINT "bumped" CHECK (bump()) NOT VALID;'
    )
    plan = _plan(tmp_path, database_url, 'ALTER TABLE "User" VALIDATE CONSTRAINT "bumped";\n', rows)
    check = _only(plan, pm.CHECK_VIOLATIONS)
    assert check.outcome == pm.SKIPPED and "read-only transaction" in check.detail
    with psycopg.connect(database_url) as conn:
        assert conn.execute('SELECT count(*) FROM "Trace"').fetchone() == (0,)
        assert conn.execute("SELECT convalidated FROM pg_constraint WHERE conname = 'bumped'").fetchone() == (False,)


# Type changes.


def test_a_conversion_to_a_domain_is_reported_not_checked(tmp_path: Path, database_url: str) -> None:
    rows = USERS + "CREATE DOMAIN shortname AS text CHECK (length(VALUE) < 3);"
    plan = _plan(tmp_path, database_url, 'ALTER TABLE "User" ALTER COLUMN "name" TYPE shortname;\n', rows)
    check = _only(plan, pm.BAD_FORMAT)
    assert check.outcome == pm.SKIPPED and "domain" in check.detail


@pytest.mark.parametrize("new_type", ["VARCHAR(5)", "CHAR(5)"])
def test_excess_trailing_spaces_are_cut_not_refused(tmp_path: Path, database_url: str, new_type: str) -> None:
    rows = 'INSERT INTO "User" ("id", "name") VALUES '
    rows += "(1, 'ab          '), (2, 'abcde  '), (3, 'abcdef '), (4, 'a  b  x');"
    pending = f'ALTER TABLE "User" ALTER COLUMN "name" TYPE {new_type};\n'
    check = _only(_plan(tmp_path, database_url, pending, rows), pm.TOO_LONG)
    # PostgreSQL's assignment cast cuts excess spaces; 3 and 4 have other characters past the fifth.
    assert (check.outcome, check.count, check.samples) == (pm.FAILED, 2, ("3", "4"))
    with psycopg.connect(database_url) as conn:
        conn.execute('DELETE FROM "User" WHERE "id" IN (3, 4)')
        conn.execute(pending)  # the rest converts, as the check predicts
        conn.rollback()


def test_an_added_column_keeps_its_value_through_a_rename_and_not_if_it_may_exist() -> None:
    text = (
        'ALTER TABLE "User" ADD COLUMN "nick" TEXT DEFAULT \'n\';\n'
        'ALTER TABLE "User" RENAME COLUMN "nick" TO "handle";\n'
        'ALTER TABLE "User" ALTER COLUMN "handle" SET NOT NULL;\n'
        'ALTER TABLE "User" ADD COLUMN IF NOT EXISTS "name" TEXT;\n'
        'ALTER TABLE "User" ALTER COLUMN "name" SET NOT NULL;\n'
    )
    migration = Migration("m1", Path("m1"), Path("m1") / "migration.sql", text.encode())
    renamed, maybe = find_targets([migration], {"m1": "m1.sql"}, "public")
    assert (renamed.columns, renamed.skip, renamed.assumption) == (
        ("handle",),
        "",
        "handle is added by m1: existing rows hold 'n'",
    )
    assert "IF NOT EXISTS" in maybe.skip and "cannot be predicted" in maybe.skip


def test_a_percent_sign_in_sql_from_the_migration_reaches_the_check_as_written(
    tmp_path: Path, database_url: str
) -> None:
    # psycopg reads % as a placeholder: LIKE 'a%' made every such check "skipped: the check query failed".
    pending = (
        'ALTER TABLE "User" ADD CONSTRAINT "name_a" CHECK ("name" LIKE \'a%\');\n'
        'CREATE UNIQUE INDEX "User_name_b" ON "User"("bestPostId") WHERE "name" LIKE \'%n%\';\n'
    )
    plan = _plan(tmp_path, database_url, pending, USERS + """UPDATE "User" SET "name" = 'bob' WHERE "id" = 2;""")
    check = _only(plan, pm.CHECK_VIOLATIONS)
    assert (check.outcome, check.count, check.samples) == (pm.FAILED, 1, ("2",)), check.detail
    unique = _only(plan, pm.DUPLICATES)
    assert unique.outcome == pm.PASSED, unique.detail


def test_a_check_on_a_column_whose_type_the_deploy_changes_is_not_guessed(tmp_path: Path, database_url: str) -> None:
    # As text, '10' < '2': today's integers cannot tell what the condition will say.
    pending = (
        'ALTER TABLE "User" ALTER COLUMN "bestPostId" TYPE TEXT;\n'
        'ALTER TABLE "User" ADD CONSTRAINT "best" CHECK ("bestPostId" >= \'2\');\n'
    )
    check = _only(_plan(tmp_path, database_url, pending), pm.CHECK_VIOLATIONS)
    assert check.outcome == pm.SKIPPED and "whose type this deploy changes" in check.detail


# `plan` refuses the histories `migrate` refuses (review: it used to approve them, exit 0).

ADD_COLUMN = 'ALTER TABLE "User" ADD COLUMN "age" INTEGER;\n'


def test_an_applied_migration_edited_since_is_refused_as_migrate_refuses_it(tmp_path: Path, database_url: str) -> None:
    from safemigrate.errors import EXIT_CHECK_FAILED, MigrationHistoryError
    from tests.cli_run import run_cli

    project = make_project(tmp_path, INIT, ADD_COLUMN)
    apply_first(project, database_url)
    applied = project / "prisma" / "migrations" / "20240101000000_init" / "migration.sql"
    applied.write_text(INIT + "-- edited after it was applied\n")
    with pytest.raises(MigrationHistoryError) as raised:
        plan_migrations(project, database_url=database_url)
    assert raised.value.message == (
        "Migration 20240101000000_init was edited after it was applied (its checksum differs)."
    )
    completed = run_cli(project, "plan", "--database-url", database_url)
    assert completed.returncode == EXIT_CHECK_FAILED, completed.stdout + completed.stderr
    assert "20240101000000_init was edited after it was applied" in completed.stderr
    assert "No preflight check predicts a failure" not in completed.stdout


def test_tables_without_prisma_migrations_are_refused_as_migrate_refuses_them(
    tmp_path: Path, database_url: str
) -> None:
    from safemigrate.errors import MigrationHistoryError

    project = make_project(tmp_path, INIT, ADD_COLUMN)
    run_sql(database_url, INIT)  # the schema exists, its history does not: Prisma's P3005
    with pytest.raises(MigrationHistoryError, match=r"no _prisma_migrations table: Prisma would refuse .*\(P3005\)"):
        plan_migrations(project, database_url=database_url)


def test_a_failed_migration_still_gives_a_plan_that_predicts_the_failure(tmp_path: Path, database_url: str) -> None:
    from safemigrate.db import prisma_migrations as pmig

    project = make_project(tmp_path, INIT, ADD_COLUMN)
    apply_first(project, database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        pmig.record_migration_failed(conn, "public", "20240201000000_change_1", ADD_COLUMN.encode(), "boom")
    plan = plan_migrations(project, database_url=database_url)
    assert plan.failed_migrations == ("20240201000000_change_1",) and plan.predicts_failure
