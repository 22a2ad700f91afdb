"""Preflight checks for what the plan used to pass without looking: numeric precision narrowing (and
the rounding it does), array columns whose elements narrow, CHECKs and inline constraints over
columns the deploy adds, unnamed CHECKs and exclusion constraints (reported as not checked)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from safemigrate.plan import model as pm
from safemigrate.plan.build import plan_migrations
from safemigrate.report.plan_markdown import render_plan_markdown
from safemigrate.report.plan_text import render_plan_text
from tests.plan.conftest import apply_first, make_project, run_sql

INIT = """
CREATE TABLE "Owner" (
    "id" SERIAL NOT NULL,
    CONSTRAINT "Owner_pkey" PRIMARY KEY ("id")
);
CREATE TABLE "Invoice" (
    "id" SERIAL NOT NULL,
    "amount" DECIMAL(14,2),
    "raw" DECIMAL,
    "qty" INTEGER,
    "tags" TEXT[],
    "prices" DECIMAL(10,2)[],
    CONSTRAINT "Invoice_pkey" PRIMARY KEY ("id")
);
"""

ROWS = """
INSERT INTO "Owner" ("id") VALUES (2);
INSERT INTO "Invoice" ("id", "amount", "raw", "qty", "tags", "prices") VALUES
  (1, 10.50, 12.345, 5, '{a,bb}', '{1.00}'),
  (2, 1234567.89, 999999.996, 100000, '{abcdefghijkl}', '{123456.78, 1.00}'),
  (3, NULL, 'NaN', NULL, NULL, NULL),
  (4, 99.99, 1.5, 7, '{"ab ","x     "}', '{}');
"""


def _planned(tmp_path: Path, database_url: str, pending: str, init: str = INIT, rows: str = ROWS) -> pm.Plan:
    """The plan of ``pending`` over ``init`` applied and ``rows`` inserted."""
    project = make_project(tmp_path, init, pending)
    apply_first(project, database_url)
    run_sql(database_url, rows)
    return plan_migrations(project, database_url=database_url)


def _plan(tmp_path: Path, database_url: str, pending: str) -> pm.Plan:
    return _planned(tmp_path, database_url, pending)


def _checks(plan: pm.Plan, kind: str) -> list[pm.CheckResult]:
    return [c for c in plan.checks if c.kind == kind]


def _fails_for_real(database_url: str, statement: str) -> str:
    """What PostgreSQL says when the statement runs (rolled back)."""
    with psycopg.connect(database_url) as conn:
        with pytest.raises(psycopg.errors.DataError) as raised:
            conn.execute(statement.encode())
        conn.rollback()
    return str(raised.value)


def test_numeric_precision_narrowing_counts_overflows_and_reports_rounding(tmp_path: Path, database_url: str) -> None:
    pending = (
        'ALTER TABLE "Invoice" ALTER COLUMN "amount" SET DATA TYPE DECIMAL(8,2);\n'
        'ALTER TABLE "Invoice" ALTER COLUMN "raw" SET DATA TYPE DECIMAL(8,2);\n'
        'ALTER TABLE "Invoice" ALTER COLUMN "qty" SET DATA TYPE DECIMAL(4,0);\n'
        'ALTER TABLE "Invoice" ALTER COLUMN "id" SET DATA TYPE DECIMAL(12,0);\n'
    )
    plan = _plan(tmp_path, database_url, pending)
    amount, raw, qty = _checks(plan, pm.OUT_OF_RANGE)  # integer -> numeric(12,0) widens: no check
    assert (amount.line, amount.outcome, amount.count, amount.samples) == (1, pm.FAILED, 1, ("1234567.89",))
    assert "more than 6 digits before the point" in amount.description
    # 999999.996 rounds up to 1000000.00; NaN fits any numeric.
    assert (raw.line, raw.outcome, raw.count, raw.samples) == (2, pm.FAILED, 1, ("999999.996",))
    assert (qty.line, qty.outcome, qty.count, qty.samples) == (3, pm.FAILED, 1, ("100000",))
    # The scale shrinks only for "raw" (unconstrained): its extra decimals are rounded, the data changes.
    (rounded,) = _checks(plan, pm.ROUNDED)
    assert (rounded.line, rounded.outcome, rounded.count) == (2, pm.PASSED, 2)
    assert set(rounded.samples) == {"12.345", "999999.996"} and "rounds them" in rounded.detail
    assert plan.predicts_failure
    # The text and markdown reports say how many rows change (a passed check shows nothing else).
    changed = "2 (the conversion rounds them: the data changes, the migration does not fail); value: "
    assert changed in render_plan_text(plan) and changed in render_plan_markdown(plan, "0")
    for statement in pending.splitlines()[:3]:
        assert "numeric field overflow" in _fails_for_real(database_url, statement)


def test_array_elements_that_narrow_are_checked(tmp_path: Path, database_url: str) -> None:
    pending = (
        'ALTER TABLE "Invoice" ALTER COLUMN "tags" SET DATA TYPE VARCHAR(10)[];\n'
        'ALTER TABLE "Invoice" ALTER COLUMN "prices" SET DATA TYPE DECIMAL(6,2)[];\n'
    )
    plan = _plan(tmp_path, database_url, pending)
    (tags,) = _checks(plan, pm.TOO_LONG)
    # Row 4's excess characters are trailing spaces: the conversion cuts them.
    assert (tags.outcome, tags.count, tags.samples, tags.sample_label) == (pm.FAILED, 1, ("2",), "id")
    assert "elements of Invoice.tags" in tags.description
    (prices,) = _checks(plan, pm.OUT_OF_RANGE)
    assert (prices.outcome, prices.count, prices.samples) == (pm.FAILED, 1, ("{123456.78,1.00}",))
    assert _checks(plan, pm.ROUNDED) == []  # same scale: nothing is rounded
    assert "too long" in _fails_for_real(database_url, pending.splitlines()[0])
    assert "numeric field overflow" in _fails_for_real(database_url, pending.splitlines()[1])


def test_a_check_on_a_column_the_deploy_adds_runs_with_its_value(tmp_path: Path, database_url: str) -> None:
    pending = (
        'ALTER TABLE "Invoice" ADD COLUMN "score" INTEGER DEFAULT 0, ADD COLUMN "rank" INTEGER DEFAULT 5;\n'
        'ALTER TABLE "Invoice" ADD CONSTRAINT "score_pos" CHECK ("score" > 0);\n'
        'ALTER TABLE "Invoice" ADD CONSTRAINT "rank_pos" CHECK ("rank" > 0 AND "qty" < 100) NOT VALID;\n'
        'ALTER TABLE "Invoice" VALIDATE CONSTRAINT "rank_pos";\n'
    )
    plan = _plan(tmp_path, database_url, pending)
    score, rank = _checks(plan, pm.CHECK_VIOLATIONS)
    assert (score.line, score.outcome, score.count, score.samples) == (2, pm.FAILED, 4, ("1", "2", "3", "4"))
    assert "score is added by" in score.detail and "existing rows hold 0" in score.detail
    # The added column passes; the existing one holds 100000 in row 2 (NULL passes, as in PostgreSQL).
    assert (rank.line, rank.outcome, rank.count, rank.samples) == (4, pm.FAILED, 1, ("2",))


def test_inline_constraints_of_an_added_column_meet_its_value(tmp_path: Path, database_url: str) -> None:
    pending = (
        'ALTER TABLE "Invoice" ADD COLUMN "code" TEXT DEFAULT \'x\' UNIQUE, '
        'ADD COLUMN "ownerId" INTEGER DEFAULT 1 REFERENCES "Owner"("id"), '
        'ADD COLUMN "level" INTEGER DEFAULT 3 CHECK ("level" > 5);\n'
    )
    plan = _plan(tmp_path, database_url, pending)
    (duplicates,) = _checks(plan, pm.DUPLICATES)
    assert (duplicates.outcome, duplicates.count, duplicates.samples) == (pm.FAILED, 1, ("x (×4)",))
    (orphans,) = _checks(plan, pm.ORPHANS)
    assert (orphans.outcome, orphans.count, orphans.samples) == (pm.FAILED, 4, ("1 (×4)",))
    (check,) = _checks(plan, pm.CHECK_VIOLATIONS)
    assert check.outcome == pm.SKIPPED and "is not read from the migration" in check.detail


def test_unnamed_checks_and_exclusion_constraints_are_reported_not_checked(tmp_path: Path, database_url: str) -> None:
    pending = (
        'ALTER TABLE "Invoice" ADD CHECK ("qty" < 10);\n'
        'ALTER TABLE "Invoice" ADD CONSTRAINT "one_per_qty" EXCLUDE ("qty" WITH =);\n'
    )
    plan = _plan(tmp_path, database_url, pending)
    (check,) = _checks(plan, pm.CHECK_VIOLATIONS)
    assert (check.line, check.outcome) == (1, pm.SKIPPED) and "is not read from the migration" in check.detail
    (exclusion,) = _checks(plan, pm.EXCLUSION)
    assert (exclusion.line, exclusion.outcome) == (2, pm.SKIPPED)
    assert "one_per_qty" in exclusion.description and "exclusion constraint" in exclusion.detail


def test_text_array_elements_converted_to_an_enum_or_integers(tmp_path: Path, database_url: str) -> None:
    pending = (
        "CREATE TYPE \"Tag\" AS ENUM ('a', 'bb');\n"
        'ALTER TABLE "Invoice" ALTER COLUMN "tags" SET DATA TYPE "Tag"[] USING ("tags"::text[]::"Tag"[]);\n'
    )
    plan = _plan(tmp_path, database_url, pending)
    (enum,) = _checks(plan, pm.ENUM_VALUES)
    assert (enum.outcome, enum.count) == (pm.FAILED, 2)
    assert set(enum.samples) == {"{abcdefghijkl}", '{"ab ","x     "}'}
    integers = 'ALTER TABLE "Invoice" ALTER COLUMN "tags" SET DATA TYPE INTEGER[] USING ("tags"::integer[]);\n'
    run_sql(database_url, 'UPDATE "Invoice" SET "tags" = \'{1, 2}\' WHERE "id" IN (1, 4);')
    project = tmp_path / "app"
    (project / "prisma" / "migrations" / "20240201000000_change_1" / "migration.sql").write_text(integers)
    plan = plan_migrations(project, database_url=database_url)
    (converted,) = _checks(plan, pm.BAD_FORMAT)
    # Each element is tested (pg_input_is_valid on 16+, the integer pattern and range before).
    assert (converted.outcome, converted.count, converted.samples) == (pm.FAILED, 1, ("{abcdefghijkl}",))
    assert "elements of Invoice.tags" in converted.description


def test_nulls_not_distinct_keys_count_null_as_one_value(tmp_path: Path, database_url: str) -> None:
    """Rows 3 and another NULL "qty" collide under NULLS NOT DISTINCT (PostgreSQL 15+); plain UNIQUE passes."""
    pending = (
        'CREATE UNIQUE INDEX "Invoice_qty_key" ON "Invoice"("qty") NULLS NOT DISTINCT;\n'
        'ALTER TABLE "Invoice" ADD CONSTRAINT "Invoice_amount_key" UNIQUE NULLS NOT DISTINCT ("amount");\n'
        'CREATE UNIQUE INDEX "Invoice_raw_key" ON "Invoice"("raw") NULLS DISTINCT;\n'
    )
    project = make_project(tmp_path, INIT, pending)
    apply_first(project, database_url)
    run_sql(database_url, ROWS + 'INSERT INTO "Invoice" ("id", "amount", "qty", "raw") VALUES (5, NULL, NULL, 2);')
    plan = plan_migrations(project, database_url=database_url)
    qty, amount, raw = _checks(plan, pm.DUPLICATES)
    assert (qty.line, qty.outcome, qty.count) == (1, pm.FAILED, 1) and "NULLS NOT DISTINCT" in qty.description
    assert (amount.line, amount.outcome, amount.count) == (2, pm.FAILED, 1)
    assert (raw.line, raw.outcome) == (3, pm.PASSED)
    for statement in pending.splitlines()[:2]:
        with psycopg.connect(database_url) as conn:
            with pytest.raises(psycopg.errors.UniqueViolation):
                conn.execute(statement.encode())
            conn.rollback()


CHECKS_INIT = """
CREATE TABLE "T" ("id" SERIAL PRIMARY KEY, "old" INTEGER, "arr" INTEGER[], "s" TEXT, "r" DECIMAL(12,1));
CREATE TABLE "NoPk" ("a" INTEGER);
"""
CHECKS_ROWS = """
INSERT INTO "T" ("old", "arr", "s", "r") VALUES (1, '{1,70000}', NULL, 2147483647.4), (2, '{2}', NULL, 1);
INSERT INTO "NoPk" VALUES (1), (2);
"""


def _plan_of(tmp_path: Path, database_url: str, pending: str) -> pm.Plan:
    return _planned(tmp_path, database_url, pending, CHECKS_INIT, CHECKS_ROWS)


def _really(database_url: str, pending: str) -> str:
    """What PostgreSQL says when the pending statements run (rolled back): '' when they all work."""
    with psycopg.connect(database_url) as conn:
        try:
            conn.execute(pending.encode())
        except psycopg.Error as err:
            return str(err)
        finally:
            conn.rollback()
    return ""


@pytest.mark.parametrize(
    ("pending", "outcome"),
    [
        pytest.param(  # the DEFAULT is stored as the column's type: 0.005 becomes 0.01, which passes
            'ALTER TABLE "T" ADD COLUMN "p" DECIMAL(10,2) NOT NULL DEFAULT 0.005;\n'
            'ALTER TABLE "T" ADD CONSTRAINT "p_min" CHECK ("p" >= 0.01);',
            pm.PASSED,
            id="default-converted-to-the-column-type",
        ),
        pytest.param(  # 'f' is a boolean, not text: the condition is false on every row
            'ALTER TABLE "T" ADD COLUMN "b" BOOLEAN NOT NULL DEFAULT \'f\';\n'
            'ALTER TABLE "T" ADD CONSTRAINT "b_true" CHECK ("b" = true);',
            pm.FAILED,
            id="quoted-default-of-another-type",
        ),
        pytest.param(  # sampled by ctid
            'ALTER TABLE "NoPk" ADD COLUMN "c" INTEGER NOT NULL DEFAULT 0;\n'
            'ALTER TABLE "NoPk" ADD CONSTRAINT "c_pos" CHECK ("c" > 0);',
            pm.FAILED,
            id="table-without-a-primary-key",
        ),
        pytest.param(  # today's "old" is gone: the new one holds 0
            'ALTER TABLE "T" DROP COLUMN "old";\nALTER TABLE "T" ADD COLUMN "old" INTEGER NOT NULL DEFAULT 0;\n'
            'ALTER TABLE "T" ADD CONSTRAINT "o_pos" CHECK ("old" > 0);',
            pm.FAILED,
            id="column-dropped-then-added-again",
        ),
    ],
)
def test_a_check_over_an_added_column_reads_what_postgresql_stores(
    tmp_path: Path, database_url: str, pending: str, outcome: str
) -> None:
    plan = _plan_of(tmp_path, database_url, pending)
    (check,) = _checks(plan, pm.CHECK_VIOLATIONS)
    assert check.outcome == outcome, check
    assert (_really(database_url, pending) == "") == (outcome == pm.PASSED)


def test_array_to_scalar_is_said_not_checked_and_rounding_fits_integers(tmp_path: Path, database_url: str) -> None:
    pending = (
        'ALTER TABLE "T" ALTER COLUMN "arr" SET DATA TYPE VARCHAR(3);\n'
        'ALTER TABLE "T" ALTER COLUMN "r" SET DATA TYPE INTEGER;\n'
        'CREATE UNIQUE INDEX "T_s_key" ON "T"("s") NULLS NOT DISTINCT;\n'
    )
    plan = _plan_of(tmp_path, database_url, pending)
    (array,) = _checks(plan, pm.BAD_FORMAT)
    assert (array.line, array.outcome) == (1, pm.SKIPPED) and "array and a single value" in array.detail
    (rounded,) = _checks(plan, pm.OUT_OF_RANGE)
    assert (rounded.outcome, rounded.count) == (pm.PASSED, 0)  # 2147483647.4 rounds to 2147483647, which fits
    assert _really(database_url, 'ALTER TABLE "T" ALTER COLUMN "r" SET DATA TYPE INTEGER;') == ""
    (nulls,) = _checks(plan, pm.DUPLICATES)
    assert nulls.samples == ("NULL (×2)",)


DIFF_INIT = """
CREATE TABLE "P" ("id" INTEGER PRIMARY KEY);
CREATE TABLE "C" ("id" SERIAL PRIMARY KEY, "pid" INTEGER, "code" TEXT, "d" DECIMAL(65,30), "f" DOUBLE PRECISION,
                  "u" TEXT, "n" TEXT);
"""
DIFF_ROWS = """
INSERT INTO "P" VALUES (1), (2);
INSERT INTO "C" ("pid", "code", "d", "f", "u", "n") VALUES
  (1, 'a', 1.001, 9223372036854775807, 'a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11', 'NaN'),
  (2, 'b', 1.002, 1, ' a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '-Infinity');
"""


def _diff_plan(tmp_path: Path, database_url: str, pending: str) -> pm.Plan:
    return _planned(tmp_path, database_url, pending, DIFF_INIT, DIFF_ROWS)


@pytest.mark.parametrize(
    ("pending", "kind"),
    [
        pytest.param(  # a new row collides with an old one
            'INSERT INTO "C" ("code") VALUES (\'a\');\nCREATE UNIQUE INDEX "C_code_key" ON "C"("code");',
            pm.DUPLICATES,
            id="insert-then-unique",
        ),
        pytest.param(  # the parent row a child references is gone first
            'DELETE FROM "P" WHERE "id" = 2;\n'
            'ALTER TABLE "C" ADD CONSTRAINT "C_pid_fkey" FOREIGN KEY ("pid") REFERENCES "P"("id");',
            pm.ORPHANS,
            id="delete-parent-then-foreign-key",
        ),
        pytest.param(  # 1.001 and 1.002 both become 1.00 first
            'ALTER TABLE "C" ALTER COLUMN "d" SET DATA TYPE DECIMAL(10,2);\nCREATE UNIQUE INDEX "C_d_key" ON "C"("d");',
            pm.DUPLICATES,
            id="round-then-unique",
        ),
    ],
)
def test_a_check_after_an_earlier_change_of_its_rows_is_skipped_not_passed(
    tmp_path: Path, database_url: str, pending: str, kind: str
) -> None:
    plan = _diff_plan(tmp_path, database_url, pending)
    (check,) = _checks(plan, kind)
    assert check.outcome == pm.SKIPPED and "(dry-run can)" in check.detail, check
    assert _really(database_url, pending) != ""  # PostgreSQL refuses it: "passed" would have been wrong


def test_type_changes_the_differential_test_caught(tmp_path: Path, database_url: str) -> None:
    """Each checked against PostgreSQL running the statement."""
    pending = (
        'ALTER TABLE "C" ALTER COLUMN "f" SET DATA TYPE BIGINT;\n'  # 9223372036854775807 as a double is 2^63
        'ALTER TABLE "C" ALTER COLUMN "code" SET DATA TYPE INTEGER;\n'  # text to integer needs a USING
        'ALTER TABLE "C" ALTER COLUMN "u" SET DATA TYPE UUID USING "u"::uuid;\n'  # a space: refused
        'ALTER TABLE "C" ALTER COLUMN "n" SET DATA TYPE DECIMAL USING "n"::numeric;\n'  # NaN, -Infinity: accepted
    )
    plan = _diff_plan(tmp_path, database_url, pending)
    outcomes = {c.line: (c.kind, c.outcome) for c in plan.checks}
    assert outcomes[1] == (pm.OUT_OF_RANGE, pm.FAILED)
    assert outcomes[2] == (pm.BAD_FORMAT, pm.FAILED)
    assert outcomes[3][1] == pm.FAILED
    assert outcomes[4] == (pm.BAD_FORMAT, pm.PASSED)
    lines = pending.splitlines()
    assert "out of range" in _really(database_url, lines[0])
    assert "cannot be cast automatically" in _really(database_url, lines[1])
    assert "invalid input syntax for type uuid" in _really(database_url, lines[2])
    assert _really(database_url, lines[3]) == ""


def test_an_added_enum_columns_default_compares_in_enum_order(tmp_path: Path, database_url: str) -> None:
    """'Ok' > 'sad' in the enum's order (as declared), not as text: the CHECK holds for every row."""
    init = "CREATE TYPE \"Mood\" AS ENUM ('sad', 'Ok', 'happy');\nCREATE TABLE \"T\" (\"id\" SERIAL PRIMARY KEY);\n"
    pending = (
        'ALTER TABLE "T" ADD COLUMN "z" "Mood" NOT NULL DEFAULT \'Ok\';\n'
        'ALTER TABLE "T" ADD CONSTRAINT "T_z_check" CHECK ("z" > \'sad\');\n'
    )
    project = make_project(tmp_path, init, pending)
    apply_first(project, database_url)
    run_sql(database_url, 'INSERT INTO "T" DEFAULT VALUES;')
    plan = plan_migrations(project, database_url=database_url)
    (check,) = _checks(plan, pm.CHECK_VIOLATIONS)
    assert check.outcome == pm.PASSED, check
    assert _really(database_url, pending) == ""
