"""Engine behaviour across rules: suppressions, Prisma warnings, freshness, shapes, bad input."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from safemigrate.lint import shape
from safemigrate.lint.engine import LintOptions, SourceFile, lint_sources
from safemigrate.lint.findings import Finding

HISTORY = SourceFile(
    "h.sql",
    "20240101000000_init",
    b'CREATE TABLE "User" ("id" INTEGER NOT NULL, "nickname" TEXT, "email" TEXT);\n'
    b'CREATE TABLE "Post" ("id" INTEGER NOT NULL);\n',
)


def lint(sql: str, *, history: bool = True) -> list[Finding]:
    sources = [HISTORY] if history else []
    sources.append(SourceFile("m.sql", "20240201000000_change", sql.encode()))
    return list(lint_sources(sources, LintOptions(report=frozenset({"m.sql"}))).findings)


def rules(findings: list[Finding], *, active: bool = True) -> list[str]:
    return [f.rule for f in findings if f.active == active]


def test_suppression_with_reason_marks_the_finding() -> None:
    findings = lint(
        '-- safemigrate: ignore drop-column reason: unused since v2\nALTER TABLE "User" DROP COLUMN "nickname";'
    )
    (suppressed,) = [f for f in findings if f.rule == "drop-column"]
    assert suppressed.suppressed and suppressed.suppression_reason == "unused since v2"
    assert "unused-suppression" not in rules(findings)


def test_suppression_by_id_and_after_the_semicolon() -> None:
    findings = lint('ALTER TABLE "User" DROP COLUMN "nickname"; -- safemigrate: ignore SM102 reason: ok\nSELECT 1;')
    assert [f.rule for f in findings if f.suppressed] == ["drop-column"]


def test_suppression_without_reason_is_not_applied_and_reported() -> None:
    findings = lint('-- safemigrate: ignore drop-column\nALTER TABLE "User" DROP COLUMN "nickname";')
    assert "drop-column" in rules(findings)
    assert "suppression-missing-reason" in rules(findings)


def test_unused_and_invalid_suppressions_are_findings() -> None:
    findings = lint(
        "-- safemigrate: ignore drop-table reason: misplaced\nSELECT 1;\n"
        "-- safemigrate: ignore no-such-rule reason: typo\nSELECT 2;\n"
        "-- safemigrate: please ignore\nSELECT 3;\n"
    )
    assert rules(findings).count("unused-suppression") == 1
    assert rules(findings).count("invalid-suppression") == 2


def test_directive_applies_only_to_its_statement() -> None:
    findings = lint(
        '-- safemigrate: ignore drop-column reason: fine\nALTER TABLE "User" DROP COLUMN "nickname";\n'
        'ALTER TABLE "User" DROP COLUMN "email";'
    )
    drops = [f for f in findings if f.rule == "drop-column"]
    assert [(f.object.column, f.suppressed) for f in drops] == [("nickname", True), ("email", False)]


PRISMA_HEADER = """/*
  Warnings:

  - You are about to drop the column `nickname` on the `User` table. All the data in the column will be lost.
  - You are about to drop the `Post` table. If the table is not empty, all the data it contains will be lost.

*/
"""


def test_every_prisma_warning_is_matched_by_a_finding() -> None:
    findings = lint(PRISMA_HEADER + 'ALTER TABLE "User" DROP COLUMN "nickname";\nDROP TABLE "Post";\n')
    assert "prisma-warning-unmatched" not in rules(findings)


def test_unmatched_prisma_warning_is_reported_at_its_line() -> None:
    findings = lint(PRISMA_HEADER + 'ALTER TABLE "User" DROP COLUMN "nickname";\n')
    (unmatched,) = [f for f in findings if f.rule == "prisma-warning-unmatched"]
    assert unmatched.line == 5 and "`Post`" in unmatched.message


UNIQUE_HEADER = (
    "/*\n  Warnings:\n\n  - A unique constraint covering the columns `[prefix]` on the table `User` will be added. "
    "If there are existing duplicate values, this will fail.\n\n*/\n"
)


def test_a_unique_warning_on_a_column_the_file_adds_without_default_is_explained() -> None:
    # Every existing row holds NULL in the new column, and NULLs never collide: nothing to report.
    added = lint(
        UNIQUE_HEADER + 'ALTER TABLE "User" ADD COLUMN "prefix" TEXT;\n'
        'CREATE UNIQUE INDEX "User_prefix_key" ON "User"("prefix");\n'
    )
    assert "prisma-warning-unmatched" not in rules(added)
    # With a constant default every row holds the same value: the index fails, and is reported.
    defaulted = lint(
        UNIQUE_HEADER + 'ALTER TABLE "User" ADD COLUMN "prefix" TEXT NOT NULL DEFAULT \'x\';\n'
        'CREATE UNIQUE INDEX "User_prefix_key" ON "User"("prefix");\n'
    )
    assert "unique-on-existing-table" in rules(defaulted) and "prisma-warning-unmatched" not in rules(defaulted)
    # A domain's own default fills the column like a DEFAULT: the warning needs its finding.
    domain = lint(
        UNIQUE_HEADER + 'CREATE DOMAIN "code" AS TEXT DEFAULT \'x\';\nALTER TABLE "User" ADD COLUMN "prefix" "code";\n'
        'CREATE UNIQUE INDEX "User_prefix_key" ON "User"("prefix");\n'
    )
    assert "prisma-warning-unmatched" in rules(domain)
    # On an existing column the warning still needs its finding.
    existing = lint(UNIQUE_HEADER.replace("prefix", "email") + 'ALTER TABLE "User" ADD COLUMN "bio" TEXT;\n')
    assert "prisma-warning-unmatched" in rules(existing)


def test_not_utf8_and_empty_files_are_findings_not_errors() -> None:
    findings = lint_sources([SourceFile("bad.sql", "bad", b"DROP TABLE \xff\xfe;")]).findings
    assert [f.rule for f in findings] == ["unreadable-file"]
    assert [f.rule for f in lint("-- nothing here\n", history=False)] == ["empty-migration"]


def test_transaction_shapes() -> None:
    def shape_of(sql: str) -> str:
        return lint_sources([SourceFile("m.sql", "m", sql.encode())]).files[0].transaction

    assert shape_of("SELECT 1; SELECT 2;") == shape.IMPLICIT
    assert shape_of("CREATE INDEX CONCURRENTLY i ON t (a);") == shape.NON_TRANSACTIONAL
    assert shape_of("BEGIN; SELECT 1; COMMIT;") == shape.EXPLICIT
    assert shape_of("SELECT 0; BEGIN; SELECT 1; COMMIT;") == shape.MIXED
    assert shape_of("SET lock_timeout = '1s'; CREATE INDEX CONCURRENTLY i ON t (a);") == shape.MIXED
    assert shape_of("") == shape.EMPTY


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_linter_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    lint_sources([SourceFile("x.sql", "x", data)])


SQLISH = st.lists(
    st.sampled_from(
        [
            "ALTER TABLE",
            '"User"',
            "DROP",
            "COLUMN",
            "ADD",
            "TYPE",
            "INTEGER",
            "NOT NULL",
            "DEFAULT",
            "'x'",
            "CREATE",
            "UNIQUE INDEX",
            "ON",
            "(",
            ")",
            ";",
            "BEGIN;",
            "COMMIT;",
            "$$",
            "--",
            "/*",
            "*/",
            "\n",
            "CONCURRENTLY",
            "SET",
            "lock_timeout",
            "=",
            "UPDATE",
            "DELETE FROM",
            "WHERE",
            "TRUNCATE",
            "CASCADE",
            "RENAME",
            "TO",
            "-- safemigrate: ignore drop-column reason: x\n",
            "VALIDATE CONSTRAINT",
            "c",
        ]
    ),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(SQLISH)
def test_linter_never_raises_on_sql_like_text(words: list[str]) -> None:
    sql = " ".join(words)
    lint_sources([HISTORY, SourceFile("m.sql", "m", sql.encode())])


def test_a_finding_a_rule_explains_is_dropped_but_answers_prismas_warning() -> None:
    history = (
        'CREATE TABLE "Profile" ("id" SERIAL NOT NULL, "userId" INTEGER NOT NULL, '
        'CONSTRAINT "Profile_pkey" PRIMARY KEY ("id"));\n'
        'CREATE UNIQUE INDEX "Profile_userId_key" ON "Profile"("userId");\n'
    )
    header = (
        "/*\n  Warnings:\n\n  - The primary key for the `Profile` table will be changed. If it partially fails, "
        "the table could be left without primary key constraint.\n\n*/\n"
    )
    sources = [
        SourceFile("h.sql", "20240101000000_init", history.encode()),
        SourceFile(
            "m.sql",
            "20240201000000_change",
            (
                header + 'ALTER TABLE "Profile" DROP CONSTRAINT "Profile_pkey", '
                'ADD CONSTRAINT "Profile_pkey" PRIMARY KEY ("userId");\n'
            ).encode(),
        ),
    ]
    findings = lint_sources(sources, LintOptions(report=frozenset({"m.sql"}))).findings
    rules_found = [f.rule for f in findings]
    assert "add-primary-key" not in rules_found  # explained: it cannot fail here
    assert "prisma-warning-unmatched" not in rules_found  # yet it answers Prisma's warning
    # The header is read: without the primary-key change, the same warning is unmatched.
    sources[1] = SourceFile("m.sql", "20240201000000_change", (header + "SELECT 1;\n").encode())
    unrelated = lint_sources(sources, LintOptions(report=frozenset({"m.sql"}))).findings
    assert "prisma-warning-unmatched" in [f.rule for f in unrelated]


def test_prismas_made_required_warning_is_answered_by_a_backfill_it_can_read() -> None:
    header = (
        "/*\n  Warnings:\n\n  - Made the column `name` on table `User` required, but there are 3 existing NULL values."
        "\n\n*/\n"
    )
    findings = lint(
        header + 'UPDATE "User" SET "name" = \'\' WHERE "name" IS NULL;\n'
        'ALTER TABLE "User" ALTER COLUMN "name" SET NOT NULL;\n'
    )
    assert "set-not-null" not in rules(findings) and "prisma-warning-unmatched" not in rules(findings)
    assert "prisma-warning-unmatched" in rules(lint(header + 'ALTER TABLE "User" ADD COLUMN "x" INT;\n'))


def test_an_enum_value_removed_from_an_enum_no_column_uses_is_explained() -> None:
    header = (
        "/*\n  Warnings:\n\n  - The values [GONE] on the enum `Unused` will be removed. If these variants are still "
        "used in the database, this will fail.\n\n*/\n"
    )
    block = (
        "BEGIN;\nCREATE TYPE \"Unused_new\" AS ENUM ('KEPT');\n{alter}"
        'ALTER TYPE "Unused" RENAME TO "Unused_old";\nALTER TYPE "Unused_new" RENAME TO "Unused";\n'
        'DROP TYPE "Unused_old";\nCOMMIT;\n'
    )
    unused = lint(header + block.format(alter=""))
    assert "prisma-warning-unmatched" not in rules(unused)
    assert "prisma-warning-unmatched" in rules(lint(header + 'ALTER TABLE "User" ADD COLUMN "x" INT;\n'))
    # A column converted to it: the warning needs (and gets) enum-value-removed's finding.
    converted = block.format(
        alter='ALTER TABLE "User" ALTER COLUMN "u" TYPE "Unused_new" USING ("u"::text::"Unused_new");\n'
    )
    used = lint(header + converted)
    assert "prisma-warning-unmatched" not in rules(used)
    assert [f for f in used if f.rule == "enum-value-removed"], [f.rule for f in used]


def test_per_file_facts_are_computed_once_per_file_and_not_shared_between_files() -> None:
    """Rules that look at the whole file for every statement ask ``ctx.per_file``: a seed migration of
    10,000 INSERTs must not make them scan the file 10,000 times."""
    import dataclasses

    from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity

    computed: list[int] = []

    def statement_count(statements: object) -> int:
        assert isinstance(statements, tuple)
        computed.append(len(statements))
        return len(statements)

    def check(ctx: Context) -> list[Hit]:
        return [Hit(f"{ctx.per_file(statement_count)} statements", "")]

    probe = Rule("SM999", "probe", Category.STYLE, Severity.INFO, "", "", "", "", "", check)
    sources = [
        SourceFile("a.sql", "20240101000000_a", b"SELECT 1; SELECT 2; SELECT 3;"),
        SourceFile("b.sql", "20240102000000_b", b"SELECT 1; SELECT 2;"),
    ]
    options = dataclasses.replace(LintOptions(), rules=(probe,))
    messages = [f.message for f in lint_sources(sources, options).findings]
    assert computed == [3, 2]
    assert messages == ["3 statements"] * 3 + ["2 statements"] * 2


def test_whole_file_rules_still_report_on_a_long_file() -> None:
    """The per-file facts keep the findings where they were: the first statement outside the blocks, the
    unclosed BEGIN, and an UPDATE of a column added earlier in the file is a backfill."""
    inserts = "".join(f'INSERT INTO "Post" ("id") VALUES ({i});\n' for i in range(200))
    findings = lint(
        'ALTER TABLE "User" ADD COLUMN "bio" TEXT;\n'
        + inserts
        + 'UPDATE "User" SET "bio" = \'x\';\nUPDATE "User" SET "email" = \'x\';\nBEGIN;\nSELECT 1;\n'
    )
    mixed = [f for f in findings if f.rule == "mixed-transaction-shape"]
    assert [(f.line, "outside" in f.message) for f in mixed] == [(1, True), (204, False)]
    assert "203 statement(s) outside" in mixed[0].message
    assert [(f.line, f.object.column) for f in findings if f.rule == "update"] == [(203, "email")]
