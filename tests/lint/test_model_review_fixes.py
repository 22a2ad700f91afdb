"""Linter false negatives found in review: what the schema model and the parser must not take for harmless.

Each test lints a small history with every rule and asserts the findings by rule and table.
"""

from __future__ import annotations

from safemigrate.lint.engine import LintOptions, SourceFile, lint_sources
from safemigrate.lint.findings import Finding
from safemigrate.lint.registry import RULES
from safemigrate.lint.rule import Category
from safemigrate.sql import model as m
from safemigrate.sql.parse import summarize
from safemigrate.sql.schema import SchemaModel

HISTORY = (
    'CREATE TABLE "User" ("id" INTEGER NOT NULL, "email" TEXT, "name" TEXT, "age" INTEGER, "tags" TEXT[], '
    '"addr" TEXT, CONSTRAINT "User_pkey" PRIMARY KEY ("id"));\n'
    'CREATE TABLE "Post" ("id" INTEGER NOT NULL, "title" TEXT, "userId" INTEGER, '
    'CONSTRAINT "Post_pkey" PRIMARY KEY ("id"));\n'
    "CREATE SCHEMA billing;\n"
    'CREATE TABLE billing."Invoice" ("id" INTEGER NOT NULL, "amount" INTEGER, "note" TEXT);\n'
)


def lint(sql: str, history: str = HISTORY) -> list[Finding]:
    sources = [
        SourceFile("h.sql", "20240101000000_init", history.encode()),
        SourceFile("m.sql", "20240202000000_change", sql.encode()),
    ]
    findings = lint_sources(sources, LintOptions(report=frozenset({"m.sql"}))).findings
    return [f for f in findings if f.active and f.rule != "missing-lock-timeout"]


def hits(findings: list[Finding]) -> set[tuple[str, str | None]]:
    """(rule, schema.table) of each finding."""
    return {(f.rule, f"{f.object.schema}.{f.object.table}" if f.object.table else None) for f in findings}


# ---- 1: IF NOT EXISTS never makes an existing object count as created here ------------------------


def test_create_schema_if_not_exists_does_not_hide_dropping_the_existing_schema() -> None:
    findings = lint('CREATE SCHEMA IF NOT EXISTS "public";\nDROP SCHEMA "public" CASCADE;')
    assert [f.rule for f in findings] == ["drop-schema"]
    assert "User" in findings[0].message and "Post" in findings[0].message


def test_if_not_exists_sequence_and_materialized_view_may_be_existing_ones() -> None:
    findings = lint(
        'CREATE SEQUENCE IF NOT EXISTS "order_seq";\nDROP SEQUENCE "order_seq";\n'
        'CREATE MATERIALIZED VIEW IF NOT EXISTS "stats" AS SELECT 1;\nDROP MATERIALIZED VIEW "stats";'
    )
    assert hits(findings) == {("drop-sequence", "public.order_seq"), ("drop-materialized-view", "public.stats")}


def test_create_without_if_not_exists_is_still_new() -> None:
    assert lint('CREATE SEQUENCE "order_seq";\nDROP SEQUENCE "order_seq";') == []


def test_create_table_if_not_exists_of_an_unknown_table_may_hold_rows() -> None:
    findings = lint(
        'CREATE TABLE IF NOT EXISTS "Legacy" ("id" INTEGER, "v" TEXT);\n'
        'ALTER TABLE "Legacy" ALTER COLUMN "v" SET NOT NULL;\n'
        'CREATE UNIQUE INDEX "Legacy_v_key" ON "Legacy"("v");\n'
        'ALTER TABLE "Legacy" ALTER COLUMN "v" TYPE VARCHAR(2);'
    )
    assert {"set-not-null", "unique-on-existing-table", "narrowing-type-change"} <= {r for r, _ in hits(findings)}


def test_create_table_if_not_exists_of_a_table_created_here_stays_new() -> None:
    findings = lint(
        'CREATE TABLE "New" ("id" INTEGER, "v" TEXT);\nCREATE TABLE IF NOT EXISTS "New" ("id" INTEGER);\n'
        'ALTER TABLE "New" ALTER COLUMN "v" SET NOT NULL;'
    )
    assert findings == []


# ---- 2: a table created in this deploy but filled in it holds rows -------------------------------

_CHECKS_ON_U2 = (
    'CREATE UNIQUE INDEX "U2_email_key" ON "U2"("email");\n'
    'ALTER TABLE "U2" ALTER COLUMN "email" SET NOT NULL;\n'
    'ALTER TABLE "U2" ADD CONSTRAINT "U2_fk" FOREIGN KEY ("id") REFERENCES "Post"("id");\n'
    'ALTER TABLE "U2" ALTER COLUMN "email" TYPE VARCHAR(5);\n'
)
_FILLED_FINDINGS = {
    ("unique-on-existing-table", "public.U2"),
    ("set-not-null", "public.U2"),
    ("add-foreign-key", "public.U2"),
    ("narrowing-type-change", "public.U2"),
}


def test_a_table_created_and_filled_in_this_deploy_is_checked_like_an_existing_one() -> None:
    create = 'CREATE TABLE "U2" ("id" INTEGER, "email" TEXT);\n'
    for fill in (
        'INSERT INTO "U2" SELECT "id", "email" FROM "User";\n',
        "INSERT INTO \"U2\" VALUES (1, 'a'), (2, 'a');\n",
        'COPY "U2" FROM STDIN;\n',
    ):
        found = hits(lint(create + fill + _CHECKS_ON_U2))
        assert found.issuperset(_FILLED_FINDINGS), fill


def test_create_table_as_and_select_into_fill_the_table() -> None:
    for create in ('CREATE TABLE "U2" AS SELECT "id", "email" FROM "User";\n', 'SELECT * INTO "U2" FROM "User";\n'):
        findings = hits(lint(create + _CHECKS_ON_U2))
        assert _FILLED_FINDINGS - {("narrowing-type-change", "public.U2")} <= findings, create
        assert ("add-primary-key", "public.U2") in hits(
            lint(create + 'ALTER TABLE "U2" ADD CONSTRAINT "U2_pkey" PRIMARY KEY ("id");')
        )


def test_unseen_code_may_fill_any_table_created_before_it() -> None:
    findings = hits(
        lint('CREATE TABLE "U2" ("id" INTEGER, "email" TEXT);\nDO $$ BEGIN PERFORM 1; END $$;\n' + _CHECKS_ON_U2)
    )
    assert findings.issuperset(_FILLED_FINDINGS)


def test_a_table_created_here_and_never_filled_stays_quiet() -> None:
    sql = 'CREATE TABLE "U2" ("id" INTEGER, "email" TEXT);\n' + _CHECKS_ON_U2
    assert lint(sql) == []
    # ... and so does one created after the unseen code ran.
    assert [f.rule for f in lint("DO $$ BEGIN PERFORM 1; END $$;\n" + sql)] == ["procedural-code"]
    # WITH NO DATA copies no row.
    assert lint('CREATE TABLE "U2" AS SELECT "id", "email" FROM "User" WITH NO DATA;\n' + _CHECKS_ON_U2) == []


def test_created_by_deploy_and_holds_no_rows_are_apart() -> None:
    model = SchemaModel()
    model.fresh_migrations = frozenset({"x"})
    model.apply(summarize('CREATE TABLE "U2" AS SELECT * FROM "User"'), "x")
    model.apply(summarize('CREATE TABLE "U3" ("id" INTEGER)'), "x")
    u2, u3 = m.Name("U2"), m.Name("U3")
    assert model.is_created_by_deploy(u2) and not model.is_fresh_table(u2)
    assert model.is_created_by_deploy(u3) and model.is_fresh_table(u3)
    lock = next(r for r in RULES if r.category is Category.LOCK and r.needs_existing_rows)
    may_fail = next(r for r in RULES if r.category is Category.MAY_FAIL)
    assert lock.quiet_on(model, u2) and not may_fail.quiet_on(model, u2)
    assert lock.quiet_on(model, u3) and may_fail.quiet_on(model, u3)


# ---- 3: a temporary table never hides the real one -----------------------------------------------


def test_temporary_table_does_not_shadow_the_qualified_real_table() -> None:
    findings = lint(
        'CREATE TEMP TABLE "Post" ("id" INTEGER, "title" TEXT);\nDELETE FROM public."Post";\n'
        'ALTER TABLE public."Post" ALTER COLUMN "title" SET NOT NULL;\nDROP TABLE public."Post";'
    )
    assert {("delete", "public.Post"), ("set-not-null", "public.Post"), ("drop-table", "public.Post")} <= hits(findings)


def test_unqualified_names_mean_the_temporary_table() -> None:
    findings = lint(
        'CREATE TEMPORARY TABLE "Post" ("id" INTEGER, "title" TEXT);\nDELETE FROM "Post";\n'
        'DROP TABLE "Post";\nDELETE FROM "Post";'
    )
    # The first DELETE and the DROP are the temporary table's; once it is dropped, "Post" is the real one.
    assert [(f.rule, f.line, f.object.schema) for f in findings] == [("delete", 4, "public")]


# ---- 4: NOT VALID belongs to its own ADD CONSTRAINT ----------------------------------------------


def test_not_valid_applies_to_its_own_action_only() -> None:
    findings = lint(
        'ALTER TABLE "Post" ADD CONSTRAINT "Post_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id"), '
        'ADD CONSTRAINT "c1" CHECK ("title" <> \'\') NOT VALID;'
    )
    assert ("add-foreign-key", "public.Post") in hits(findings)
    summary = summarize(
        'ALTER TABLE "Post" ADD CONSTRAINT "fk" FOREIGN KEY ("userId") REFERENCES "User"("id"), '
        'ADD CONSTRAINT "c1" CHECK ("id" > 0) NOT VALID'
    )
    assert isinstance(summary, m.AlterTable)
    assert [a.constraint.not_valid for a in summary.actions if isinstance(a, m.AddConstraint)] == [False, True]


# ---- 7: a column added here is empty only until something may have filled it ---------------------


def test_do_block_or_function_call_may_fill_a_new_column() -> None:
    findings = lint(
        'ALTER TABLE "User" ADD COLUMN "slug" TEXT;\nDO $$ BEGIN UPDATE "User" SET "slug" = "name"; END $$;\n'
        'CREATE UNIQUE INDEX "User_slug_key" ON "User"("slug");\n'
        'ALTER TABLE "User" ADD COLUMN "s2" TEXT;\nSELECT fill_s2();\n'
        'ALTER TABLE "User" ADD CONSTRAINT "u_s2" UNIQUE ("s2");\n'
        'ALTER TABLE "User" ADD COLUMN "s3" TEXT;\nMERGE INTO "User" u USING "Post" p ON u.id = p.id '
        'WHEN MATCHED THEN UPDATE SET "s3" = p."title";\n'
        'CREATE UNIQUE INDEX "User_s3_key" ON "User"("s3");'
    )
    unique_lines = [f.line for f in findings if f.rule == "unique-on-existing-table"]
    assert unique_lines == [3, 6, 9]


def test_a_new_column_nothing_filled_stays_empty() -> None:
    findings = lint(
        'ALTER TABLE "User" ADD COLUMN "slug" TEXT;\nCREATE UNIQUE INDEX "User_slug_key" ON "User"("slug");'
    )
    assert "unique-on-existing-table" not in {f.rule for f in findings}


# ---- 8: an element or field assignment overwrites its base column --------------------------------


def test_element_and_field_assignments_write_the_base_column() -> None:
    summary = summarize(
        'UPDATE "User" SET "n" = 1, "tags"[1] = \'x\', "payload"[\'k\'] = \'1\', "addr".zip = 1, ("a", "b") = (1, 2)'
    )
    assert isinstance(summary, m.Update)
    assert summary.columns == ("n", "tags", "payload", "addr", "a", "b")
    findings = lint('ALTER TABLE "User" ADD COLUMN "n" INTEGER;\nUPDATE "User" SET "n" = 1, "tags"[1] = \'x\';')
    assert [(f.rule, f.object.column) for f in findings] == [("update", "tags")]
    findings = lint('UPDATE "User" SET "addr".zip = 1;')
    assert [(f.rule, f.object.column) for f in findings] == [("update", "addr")]


# ---- 9: unknown functions in defaults and in the queries of CREATE ... AS -------------------------


def test_default_calling_a_project_function_counts_as_volatile() -> None:
    findings = lint('ALTER TABLE "User" ADD COLUMN "x" INTEGER DEFAULT my_counter();')
    # and the function runs once per existing row, code the linter cannot see into
    assert sorted((f.rule, f.object.column or "") for f in findings) == [
        ("procedural-code", ""),
        ("volatile-default", "x"),
    ]
    assert all("my_counter()" in f.message for f in findings)
    # Built-ins written in their usual spellings stay constant.
    for default in ("now()", "CURRENT_TIMESTAMP", "to_char(now(), 'YYYY')", "date_trunc('day', now())", "'{}'::jsonb"):
        summary = summarize(f'ALTER TABLE "User" ADD COLUMN "x" TEXT DEFAULT {default}')
        assert isinstance(summary, m.AlterTable)
        action = summary.actions[0]
        assert isinstance(action, m.AddColumn) and action.column.default is not None
        assert not action.column.default.volatile, default


def test_calls_in_create_as_queries_are_unseen_code() -> None:
    findings = lint(
        'CREATE TABLE "X" AS SELECT cleanup_users();\nCREATE MATERIALIZED VIEW "MV" AS SELECT cleanup_users();\n'
        'SELECT purge() INTO "Y";'
    )
    assert [(f.rule, f.line) for f in findings] == [
        ("procedural-code", 1),
        ("procedural-code", 2),
        ("procedural-code", 3),
    ]


# ---- 10c/d: names after the search_path moved -----------------------------------------------------


def test_unqualified_names_after_set_search_path_name_that_schema() -> None:
    findings = lint(
        'SET search_path TO billing;\nALTER TABLE "Invoice" ALTER COLUMN "amount" TYPE SMALLINT;\n'
        'ALTER TABLE "Invoice" ALTER COLUMN "note" SET NOT NULL;'
    )
    assert {("narrowing-type-change", "billing.Invoice"), ("set-not-null", "billing.Invoice")} <= hits(findings)
    assert all(f.object.schema != "public" for f in findings)


def test_search_path_lookup_follows_the_listed_schemas() -> None:
    findings = lint('SET search_path TO billing, public;\nDELETE FROM "User";\nDELETE FROM "Invoice";')
    assert hits(findings) == {("delete", "public.User"), ("delete", "billing.Invoice")}
    findings = lint('SET search_path TO "Billing";\nDELETE FROM "Invoice";')
    assert hits(findings) == {("delete", "Billing.Invoice")}


def test_qualified_set_config_moves_the_search_path() -> None:
    findings = lint(
        "SELECT pg_catalog.set_config('search_path', 'billing', false);\n"
        'ALTER TABLE "Invoice" ALTER COLUMN "note" SET NOT NULL;'
    )
    assert ("set-not-null", "billing.Invoice") in hits(findings)


def test_a_table_created_and_filled_here_breaks_no_running_app_but_its_rows_can_be_lost() -> None:
    # The running app version does not know the table: renames and drops there break nothing. Its rows
    # may be the only copy of rows moved in from elsewhere: dropping a column of it still loses data.
    findings = lint(
        'CREATE TABLE "Archive" AS SELECT "id", "email", "name" FROM "User";\n'
        'ALTER TABLE "Archive" RENAME COLUMN "name" TO "fullName";\n'
        'ALTER TABLE "Archive" DROP COLUMN "email";'
    )
    rules = {f.rule for f in findings if f.object.table == "Archive"}
    assert "drop-column" in rules
    assert not {f.rule for f in findings if f.category is Category.BREAKING and f.object.table == "Archive"}, rules


def test_a_quoted_schema_name_with_a_comma_in_search_path_stays_one_schema() -> None:
    findings = lint('SET search_path TO "bill,ing", public;\nDROP TABLE "Nowhere";')
    assert ("drop-table", "bill,ing.Nowhere") in hits(findings)
    only_user = lint('SET search_path TO "$user";\nDROP TABLE "Post";')
    assert ("drop-table", "public.Post") in hits(only_user)
