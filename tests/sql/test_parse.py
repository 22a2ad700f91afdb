"""The summaries rules match on, for the forms Prisma writes and the ones sqlglot falls back on."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from safemigrate.sql import model as m
from safemigrate.sql.parse import summarize


def test_prisma_create_table() -> None:
    summary = summarize(
        'CREATE TABLE "User" ("id" SERIAL NOT NULL, "email" TEXT NOT NULL, "name" VARCHAR(50), '
        '"role" "Role" NOT NULL DEFAULT \'USER\', "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, '
        'CONSTRAINT "User_pkey" PRIMARY KEY ("id"))'
    )
    assert isinstance(summary, m.CreateTable)
    assert summary.table == m.Name("User")
    columns = {c.name: c for c in summary.columns}
    assert columns["id"].identity and columns["id"].type.base == "integer"
    assert columns["name"].type == m.TypeSpec("varchar", (50,))
    assert columns["role"].type.user_defined and columns["role"].type.base == "Role"
    assert columns["createdAt"].default is not None and not columns["createdAt"].default.volatile
    assert summary.constraints[0].kind == "primary key"


def test_unquoted_names_fold_to_lower_case() -> None:
    summary = summarize("ALTER TABLE Billing.Invoice DROP COLUMN Amount")
    assert summary == m.AlterTable(m.Name("invoice", "billing"), (m.DropColumn("amount"),))


def test_rename_without_column_keyword_is_a_column_rename() -> None:
    # sqlglot reads this as a table rename; the words decide.
    assert summarize("ALTER TABLE t RENAME a TO b") == m.AlterTable(m.Name("t"), (m.RenameColumn("a", "b"),))


def test_command_fallback_forms() -> None:
    assert summarize("ALTER TYPE \"Role\" ADD VALUE IF NOT EXISTS 'OWNER' AFTER 'USER'") == m.AlterEnumAddValue(
        m.Name("Role"), "OWNER", True
    )
    assert summarize('ALTER TABLE "a" RENAME CONSTRAINT "x" TO "y"') == m.AlterTable(
        m.Name("a"), (m.RenameConstraint("x", "y"),)
    )
    assert summarize('ALTER TABLE "a" VALIDATE CONSTRAINT "fk"') == m.AlterTable(
        m.Name("a"), (m.ValidateConstraint("fk"),)
    )
    assert summarize('DROP INDEX CONCURRENTLY IF EXISTS "i"') == m.DropIndex((m.Name("i"),), True, False, True)
    assert summarize('REINDEX TABLE CONCURRENTLY "User"') == m.Reindex("table", m.Name("User"), True)
    assert summarize('VACUUM (FULL, ANALYZE) "User"') == m.Vacuum(True, (m.Name("User"),))
    assert summarize("START TRANSACTION") == m.TransactionControl("begin")
    assert summarize("SET lock_timeout TO '5s'") == m.SetSetting("lock_timeout", "5s")


def test_volatile_defaults() -> None:
    for default, volatile in (("gen_random_uuid()", True), ("now()", False), ("0", False), ("random()", True)):
        summary = summarize(f'ALTER TABLE "t" ADD COLUMN "c" TEXT DEFAULT {default}')
        assert isinstance(summary, m.AlterTable)
        action = summary.actions[0]
        assert isinstance(action, m.AddColumn) and action.column.default is not None
        assert action.column.default.volatile is volatile, default


def test_data_modifying_cte_is_judged_by_what_it_modifies() -> None:
    assert summarize('WITH gone AS (DELETE FROM "Log" RETURNING *) SELECT count(*) FROM gone') == m.Delete(
        m.Name("Log"), False
    )


def test_unknown_statements_are_unparsed_with_their_head() -> None:
    summary = summarize("FROBNICATE the database")
    assert isinstance(summary, m.Unparsed) and summary.head.startswith("FROBNICATE")
    assert isinstance(summarize("ALTER TABLE t ALTER COLUMN c SET SOMETHING"), m.Unparsed)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_summarize_never_raises(text: str) -> None:
    summarize(text)


SQL_WORDS = [
    "ALTER",
    "TABLE",
    "DROP",
    "COLUMN",
    "ADD",
    "TYPE",
    "CREATE",
    "INDEX",
    '"t"',
    "c",
    "(",
    ")",
    ",",
    "NOT",
    "NULL",
    "DEFAULT",
    "'x'",
    "CONCURRENTLY",
    "RENAME",
    "TO",
    "ON",
    "CASCADE",
    "USING",
    "SET",
    ".",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(SQL_WORDS), max_size=14))
def test_summarize_never_raises_on_sql_like_words(words: list[str]) -> None:
    summarize(" ".join(words))


def test_extension_type_modifiers_and_string_typed_columns_are_read() -> None:
    # Prisma writes Unsupported("geometry(Point, 4326)") and @db.Oid as is: they were unchecked
    # statements ("type parameter", an internal AttributeError), and the table went unknown.
    from safemigrate.sql import model as m
    from safemigrate.sql.parse import summarize

    created = summarize('CREATE TABLE "Place" ("loc" geometry(Point, 4326), "o" OID NOT NULL, "r" regclass)')
    assert isinstance(created, m.CreateTable)
    loc, oid, reg = created.columns
    assert (loc.type.base, loc.type.user_defined) == ("geometry(POINT, 4326)", True)
    assert (oid.type.base, oid.not_null, reg.type.base) == ("oid", True, "regclass")
    changed = summarize('ALTER TABLE "Place" ALTER COLUMN "loc" SET DATA TYPE geometry(Polygon, 4326)')
    assert isinstance(changed, m.AlterTable)
    (action,) = changed.actions
    assert isinstance(action, m.AlterColumnType) and action.new_type.base == "geometry(POLYGON, 4326)"
