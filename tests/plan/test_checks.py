"""Preflight data checks of `safemigrate plan` against real PostgreSQL data."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from safemigrate.plan import model as pm
from safemigrate.plan.build import plan_migrations
from safemigrate.plan.settings import PlanSettings
from tests.plan.conftest import apply_first, make_project, run_sql

INIT = """
CREATE TABLE "Account" (
    "id" SERIAL NOT NULL,
    "email" TEXT,
    "tenant" INTEGER NOT NULL,
    "handle" TEXT NOT NULL,
    "deletedAt" TIMESTAMP(3),
    "age" TEXT,
    "ref" TEXT,
    "day" TEXT,
    CONSTRAINT "Account_pkey" PRIMARY KEY ("id")
);
CREATE TABLE "Order" (
    "id" SERIAL NOT NULL,
    "accountId" INTEGER,
    CONSTRAINT "Order_pkey" PRIMARY KEY ("id")
);
"""

ROWS = """
INSERT INTO "Account" ("id", "email", "tenant", "handle", "deletedAt", "age", "ref", "day") VALUES
  (1, 'a@x.io', 1, 'ann', NULL, '31', 'b3f1c2d4-0000-4000-8000-000000000001', '2024-01-31'),
  (2, NULL, 1, 'ann', NULL, 'n/a', 'nope', 'someday'),
  (3, NULL, 2, 'ann', NULL, ' 42 ', NULL, NULL),
  (4, 'd@x.io', 1, 'bob', now(), '99999999999', NULL, NULL),
  (5, 'e@x.io', 1, 'bob', now(), NULL, NULL, NULL),
  (6, 'f@x.io', 1, 'cid', NULL, NULL, NULL, NULL);
INSERT INTO "Order" ("id", "accountId") VALUES (1, 1), (2, 7), (3, 8), (4, 8), (5, NULL);
"""


def _plan(tmp_path: Path, database_url: str, *pending: str, settings: PlanSettings | None = None) -> pm.Plan:
    project = make_project(tmp_path, INIT, *pending)
    apply_first(project, database_url)
    run_sql(database_url, ROWS)
    return plan_migrations(project, database_url=database_url, settings=settings)


def _only(plan: pm.Plan, kind: str) -> pm.CheckResult:
    found = [c for c in plan.checks if c.kind == kind]
    assert len(found) == 1, plan.checks
    return found[0]


def test_nulls_meet_set_not_null(tmp_path: Path, database_url: str) -> None:
    plan = _plan(tmp_path, database_url, '-- AlterTable\nALTER TABLE "Account" ALTER COLUMN "email" SET NOT NULL;\n')
    check = _only(plan, pm.NULLS)
    assert (check.outcome, check.count, check.samples, check.sample_label) == (pm.FAILED, 2, ("2", "3"), "id")
    assert check.file.endswith("20240201000000_change_1/migration.sql") and check.line == 2
    assert plan.predicts_failure


def test_duplicates_multi_column_and_partial_unique_indexes(tmp_path: Path, database_url: str) -> None:
    plan = _plan(
        tmp_path,
        database_url,
        'CREATE UNIQUE INDEX "Account_tenant_handle_key" ON "Account"("tenant", "handle");\n'
        'CREATE UNIQUE INDEX "Account_live_handle_key" ON "Account"("handle") WHERE "deletedAt" IS NULL;\n'
        'CREATE UNIQUE INDEX "Account_lower_email_key" ON "Account"(lower("email"));\n',
    )
    multi, partial, expression = (c for c in plan.checks if c.kind == pm.DUPLICATES)
    assert (multi.outcome, multi.count, multi.samples) == (pm.FAILED, 2, ("(1,ann) (×2)", "(1,bob) (×2)"))
    assert multi.columns == ("tenant", "handle") and multi.line == 1
    # Without the WHERE clause "bob" would be duplicated too; the predicate leaves only "ann".
    assert (partial.outcome, partial.count, partial.samples) == (pm.FAILED, 1, ("ann (×3)",))
    assert partial.line == 2 and '"deletedAt" IS NULL' in partial.description
    assert (expression.outcome, expression.count) == (pm.PASSED, 0)


def test_unreadable_index_predicate_is_not_run(tmp_path: Path, database_url: str) -> None:
    plan = _plan(
        tmp_path,
        database_url,
        'CREATE UNIQUE INDEX "Account_x_key" ON "Account"("handle") WHERE "id" IN (SELECT "accountId" FROM "Order");\n',
    )
    check = _only(plan, pm.DUPLICATES)
    assert check.outcome == pm.SKIPPED and "could not be read safely" in check.detail


def test_orphans_meet_new_foreign_key(tmp_path: Path, database_url: str) -> None:
    plan = _plan(
        tmp_path,
        database_url,
        'ALTER TABLE "Order" ADD CONSTRAINT "Order_accountId_fkey" FOREIGN KEY ("accountId") '
        'REFERENCES "Account"("id") ON DELETE RESTRICT ON UPDATE CASCADE;\n',
    )
    check = _only(plan, pm.ORPHANS)
    assert (check.outcome, check.count, check.samples) == (pm.FAILED, 3, ("8 (×2)", "7"))
    assert check.sample_label == "accountId"


def test_text_to_integer_uuid_and_date_values_that_do_not_convert(tmp_path: Path, database_url: str) -> None:
    plan = _plan(
        tmp_path,
        database_url,
        'ALTER TABLE "Account" ALTER COLUMN "age" SET DATA TYPE INTEGER USING ("age"::integer);\n'
        'ALTER TABLE "Account" ALTER COLUMN "ref" SET DATA TYPE UUID USING ("ref"::uuid);\n'
        'ALTER TABLE "Account" ALTER COLUMN "day" SET DATA TYPE DATE USING ("day"::date);\n',
    )
    age, ref, day = (c for c in plan.checks if c.kind == pm.BAD_FORMAT)
    # ' 42 ' converts (PostgreSQL trims it); 'n/a' does not parse, 99999999999 is beyond integer.
    assert (age.outcome, age.count, set(age.samples)) == (pm.FAILED, 2, {"n/a", "99999999999"})
    assert (ref.outcome, ref.count, ref.samples) == (pm.FAILED, 1, ("nope",))
    assert day.outcome == pm.FAILED and "someday" in (day.detail + " ".join(day.samples))
    assert [c.line for c in (age, ref, day)] == [1, 2, 3]


def test_integer_narrowing_range(tmp_path: Path, database_url: str) -> None:
    plan = _plan(
        tmp_path,
        database_url,
        'ALTER TABLE "Order" ALTER COLUMN "id" SET DATA TYPE SMALLINT;\n'
        'ALTER TABLE "Account" ALTER COLUMN "tenant" SET DATA TYPE BIGINT;\n',
    )
    check = _only(plan, pm.OUT_OF_RANGE)  # INTEGER -> BIGINT widens: no check
    assert check.outcome == pm.PASSED and check.table == "Order"


def test_earlier_pending_statements_are_accounted_for(tmp_path: Path, database_url: str) -> None:
    plan = _plan(
        tmp_path,
        database_url,
        'ALTER TABLE "Account" ADD COLUMN "nick" TEXT;\n'
        'ALTER TABLE "Account" ALTER COLUMN "nick" SET NOT NULL;\n'
        'CREATE TABLE "Tag" ("id" SERIAL NOT NULL, "name" TEXT);\n'
        'ALTER TABLE "Tag" ALTER COLUMN "name" SET NOT NULL;\n',
        'UPDATE "Account" SET "email" = \'x\' || "id" WHERE "email" IS NULL;\n'
        'ALTER TABLE "Account" ALTER COLUMN "email" SET NOT NULL;\n'
        'ALTER TABLE "Account" RENAME TO "Member";\n'
        'ALTER TABLE "Member" RENAME COLUMN "handle" TO "login";\n'
        'CREATE UNIQUE INDEX "Member_login_key" ON "Member"("login");\n',
    )
    nick, tag, email = (c for c in plan.checks if c.kind == pm.NULLS)
    # The added column is NULL in every existing row (it has no default): SET NOT NULL fails on all 6.
    assert (nick.outcome, nick.count) == (pm.FAILED, 6)
    assert "nick is added by 20240201000000_change_1: existing rows hold NULL" in nick.detail
    assert tag.outcome == pm.SKIPPED and "created by this deploy" in tag.detail
    assert email.outcome == pm.SKIPPED and "changed first by" in email.detail
    # The renamed table and column are looked up under today's names.
    renamed = _only(plan, pm.DUPLICATES)
    assert (renamed.outcome, renamed.count, renamed.table) == (pm.FAILED, 2, "Member")
    assert renamed.samples == ("ann (×3)", "bob (×2)") and renamed.columns == ("handle",)


def test_enum_value_in_use_removed(tmp_path: Path, database_url: str) -> None:
    project = make_project(
        tmp_path,
        """CREATE TYPE "Plan" AS ENUM ('FREE', 'PRO', 'LEGACY');
           CREATE TABLE "Team" ("id" SERIAL PRIMARY KEY, "plan" "Plan" NOT NULL DEFAULT 'FREE');""",
        """-- AlterEnum
BEGIN;
CREATE TYPE "Plan_new" AS ENUM ('FREE', 'PRO');
ALTER TABLE "Team" ALTER COLUMN "plan" DROP DEFAULT;
ALTER TABLE "Team" ALTER COLUMN "plan" TYPE "Plan_new" USING ("plan"::text::"Plan_new");
ALTER TYPE "Plan" RENAME TO "Plan_old";
ALTER TYPE "Plan_new" RENAME TO "Plan";
DROP TYPE "Plan_old";
ALTER TABLE "Team" ALTER COLUMN "plan" SET DEFAULT 'FREE';
COMMIT;
""",
    )
    apply_first(project, database_url)
    run_sql(database_url, """INSERT INTO "Team" ("plan") VALUES ('FREE'), ('LEGACY'), ('LEGACY'), ('PRO');""")
    plan = plan_migrations(project, database_url=database_url)
    check = _only(plan, pm.ENUM_VALUES)
    assert (check.outcome, check.count, check.samples, check.line) == (pm.FAILED, 2, ("LEGACY (×2)",), 5)


def test_enum_value_in_use_removed_from_an_enum_of_another_schema(tmp_path: Path, database_url: str) -> None:
    """Prisma's multiSchema: the table in public, its enum in "billing"; the type is looked up there."""
    project = make_project(
        tmp_path,
        """CREATE SCHEMA "billing";
           CREATE TYPE "billing"."Plan" AS ENUM ('FREE', 'PRO', 'LEGACY');
           CREATE TABLE "Team" ("id" SERIAL PRIMARY KEY, "plan" "billing"."Plan" NOT NULL DEFAULT 'FREE');""",
        """-- AlterEnum
BEGIN;
CREATE TYPE "billing"."Plan_new" AS ENUM ('FREE', 'PRO');
ALTER TABLE "Team" ALTER COLUMN "plan" DROP DEFAULT;
ALTER TABLE "Team" ALTER COLUMN "plan" TYPE "billing"."Plan_new" USING ("plan"::text::"billing"."Plan_new");
ALTER TYPE "billing"."Plan" RENAME TO "Plan_old";
ALTER TYPE "billing"."Plan_new" RENAME TO "Plan";
DROP TYPE "billing"."Plan_old";
ALTER TABLE "Team" ALTER COLUMN "plan" SET DEFAULT 'FREE';
COMMIT;
""",
    )
    apply_first(project, database_url)
    run_sql(database_url, """INSERT INTO "Team" ("plan") VALUES ('FREE'), ('LEGACY'), ('PRO');""")
    plan = plan_migrations(project, database_url=database_url)
    check = _only(plan, pm.ENUM_VALUES)
    assert (check.outcome, check.count, check.samples, check.line) == (pm.FAILED, 1, ("LEGACY",), 5)


def test_size_decides_lock_severity(tmp_path: Path, database_url: str) -> None:
    project = make_project(
        tmp_path,
        'CREATE TABLE "Small" ("id" SERIAL PRIMARY KEY, "v" INTEGER);'
        'CREATE TABLE "Large" ("id" SERIAL PRIMARY KEY, "v" INTEGER);',
        'CREATE INDEX "Small_v_idx" ON "Small"("v");\nCREATE INDEX "Large_v_idx" ON "Large"("v");\n',
    )
    apply_first(project, database_url)
    run_sql(
        database_url,
        'INSERT INTO "Small" ("v") SELECT g FROM generate_series(1, 20) AS g;'
        'INSERT INTO "Large" ("v") SELECT g FROM generate_series(1, 5000) AS g;'
        'ANALYZE "Small"; ANALYZE "Large";',
    )
    settings = PlanSettings(large_table_rows=1000, small_table_rows=100)
    plan = plan_migrations(project, database_url=database_url, settings=settings)
    index = {f.finding.object.table: f for f in plan.findings if f.finding.rule == "create-index-non-concurrent"}
    assert index["Small"].finding.severity.value == "info" and index["Small"].lint_severity.value == "warning"
    assert "below [plan] small_table_rows" in index["Small"].reason
    assert index["Large"].finding.severity.value == "error" and index["Large"].table is not None
    assert index["Large"].table.rows_estimate == 5000 and "large_table_rows" in index["Large"].reason
    # Between the thresholds the severity lint gave is kept.
    middle = plan_migrations(
        project, database_url=database_url, settings=PlanSettings(large_table_rows=10_000, small_table_rows=100)
    )
    kept = {f.finding.object.table: f for f in middle.findings if f.finding.rule == "create-index-non-concurrent"}
    assert kept["Large"].finding.severity.value == "warning" and not kept["Large"].adjusted


def test_session_holding_a_lock_is_listed(tmp_path: Path, database_url: str) -> None:
    project = make_project(tmp_path, INIT, 'ALTER TABLE "Account" ALTER COLUMN "handle" DROP NOT NULL;\n')
    apply_first(project, database_url)
    with psycopg.connect(database_url, application_name="report-worker") as holder:
        holder.execute('SELECT count(*) FROM "Account"')  # the transaction stays open: AccessShareLock held
        plan = plan_migrations(project, database_url=database_url)
        pid = holder.info.backend_pid
    blockers = {b.pid: b for b in plan.blockers}
    assert pid in blockers
    blocker = blockers[pid]
    assert blocker.application_name == "report-worker" and blocker.tables == ("Account",)
    assert blocker.modes == ("AccessShareLock",) and blocker.state == "idle in transaction"
    assert blocker.transaction_age is not None and blocker.transaction_age >= 0


def test_tiny_budget_reports_unfinished_checks(tmp_path: Path, database_url: str) -> None:
    project = make_project(
        tmp_path,
        'CREATE TABLE "Event" ("id" SERIAL PRIMARY KEY, "key" TEXT, "note" TEXT);',
        'CREATE UNIQUE INDEX "Event_key_key" ON "Event"("key");\n'
        'ALTER TABLE "Event" ALTER COLUMN "note" SET NOT NULL;\n',
    )
    apply_first(project, database_url)
    run_sql(database_url, 'INSERT INTO "Event" ("key") SELECT md5(g::text) FROM generate_series(1, 300000) AS g;')
    plan = plan_migrations(project, database_url=database_url, settings=PlanSettings(check_budget=0.001))
    assert [c.outcome for c in plan.checks] == [pm.UNFINISHED, pm.UNFINISHED]
    assert "did not finish" in plan.checks[0].detail or "budget" in plan.checks[0].detail
    assert "budget" in plan.checks[1].detail
    assert not plan.predicts_failure


@pytest.mark.parametrize("clone", ["database", "embedded"])
def test_clone_setting_is_reported(tmp_path: Path, database_url: str, clone: str) -> None:
    project = make_project(tmp_path, INIT)
    apply_first(project, database_url)
    plan = plan_migrations(project, database_url=database_url, settings=PlanSettings(clone=clone))
    assert plan.clone == clone and plan.migrations == () and not plan.predicts_failure


def test_index_predicate_runs_read_only(tmp_path: Path, database_url: str) -> None:
    project = make_project(tmp_path, INIT, 'CREATE UNIQUE INDEX "Account_h_key" ON "Account"("handle") WHERE bump();\n')
    apply_first(project, database_url)
    run_sql(
        database_url,
        ROWS + 'CREATE TABLE "Trace" ("n" INTEGER);'
        "CREATE FUNCTION bump() RETURNS boolean LANGUAGE sql VOLATILE AS "
        '$$ INSERT INTO "Trace" VALUES (1) RETURNING true $$;',
    )
    plan = plan_migrations(project, database_url=database_url)
    check = _only(plan, pm.DUPLICATES)
    assert check.outcome == pm.SKIPPED and "read-only transaction" in check.detail
    with psycopg.connect(database_url) as conn:
        assert conn.execute('SELECT count(*) FROM "Trace"').fetchone() == (0,)
