"""Tests for the Prisma ``Warnings:`` header parser, using the sentences the schema engine writes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from safemigrate.sql.prisma_warnings import (
    ALL_KINDS,
    KIND_DROP_COLUMN,
    KIND_DROP_TABLE,
    KIND_ENUM_VALUES_REMOVED,
    KIND_MADE_REQUIRED,
    KIND_PRIMARY_KEY_CHANGED,
    KIND_REQUIRED_COLUMN_ADDED,
    KIND_SCALAR_TO_LIST,
    KIND_TYPE_CHANGED,
    KIND_UNIQUE_ADDED,
    KIND_UNKNOWN,
    PrismaWarning,
    classify_warning,
    parse_prisma_warnings,
)


def header(*bullets: str) -> str:
    """Render a header byte for byte like prisma-engines' ``render_script``."""
    text = "/*\n  Warnings:\n\n"
    for bullet in bullets:
        text += "  - " + bullet + "\n"
    return text + '\n*/\n-- AlterTable\nALTER TABLE "User" DROP COLUMN "nickname";\n'


def only(sql: str) -> PrismaWarning:
    warnings = parse_prisma_warnings(sql)
    assert len(warnings) == 1, warnings
    return warnings[0]


Case = tuple[str, str, str | None, tuple[str, ...], tuple[str, ...], str | None]


def case(
    sentence: str,
    kind: str,
    table: str | None,
    columns: tuple[str, ...] = (),
    values: tuple[str, ...] = (),
    enum: str | None = None,
) -> Case:
    return (sentence, kind, table, columns, values, enum)


# (sentence, kind, table, columns, values, enum) -- exact wording from prisma-engines.
CASES: list[Case] = [
    # warning_check.rs
    case(
        "You are about to drop the `Post` table. If the table is not empty, all the data it contains will be lost.",
        KIND_DROP_TABLE,
        "Post",
    ),
    case("You are about to drop the `Post` table, which is not empty (3 rows).", KIND_DROP_TABLE, "Post"),
    case(
        "You are about to drop the table `Test`, which is not empty (1 rows).",  # oldest engines
        KIND_DROP_TABLE,
        "Test",
    ),
    case(
        "You are about to drop the column `nickname` on the `User` table. All the data in the column will be lost.",
        KIND_DROP_COLUMN,
        "User",
        ("nickname",),
    ),
    case(
        "You are about to drop the column `nickname` on the `User` table, which still contains 4 non-null values.",
        KIND_DROP_COLUMN,
        "User",
        ("nickname",),
    ),
    case(
        "You are about to alter the column `winPercentage` on the `Team` table. The data in that column "
        "could be lost. The data in that column will be cast from `Decimal(65,30)` to `DoublePrecision`.",
        KIND_TYPE_CHANGED,
        "Team",
        ("winPercentage",),
    ),
    case(
        "You are about to alter the column `id` on the `User` table. The data in that column will be cast "
        "from `BigInt` to `Int`. This cast may fail. Please make sure the data in the column can be cast.",
        KIND_TYPE_CHANGED,
        "User",
        ("id",),
    ),
    case(
        "The `status` column on the `Issue` table would be dropped and recreated. This will lead to data "
        "loss if there is data in the column.",
        KIND_TYPE_CHANGED,
        "Issue",
        ("status",),
    ),
    case(
        "The primary key for the `Driver` table will be changed. If it partially fails, the table could be "
        "left without primary key constraint.",
        KIND_PRIMARY_KEY_CHANGED,
        "Driver",
    ),
    case(
        "The migration will change the primary key for the `User` table. If it partially fails, the table "
        "could be left without primary key constraint.",
        KIND_PRIMARY_KEY_CHANGED,
        "User",
    ),
    case(
        "A unique constraint covering the columns `[bookId,genreId]` on the table `book_genre` will be "
        "added. If there are existing duplicate values, this will fail.",
        KIND_UNIQUE_ADDED,
        "book_genre",
        ("bookId", "genreId"),
    ),
    case(
        "The migration will add a unique constraint covering the columns `[email]` on the table `User`. If "
        "there are existing duplicate values, the migration will fail.",
        KIND_UNIQUE_ADDED,
        "User",
        ("email",),
    ),
    case(
        "The values [PENDING,SEND,DELIVERED,FAILED] on the enum `DeliveryStatus` will be removed. If these "
        "variants are still used in the database, this will fail.",
        KIND_ENUM_VALUES_REMOVED,
        None,
        (),
        ("PENDING", "SEND", "DELIVERED", "FAILED"),
        "DeliveryStatus",
    ),
    case(
        "The migration will remove the values [RETURNED] on the enum `OrderStatus`. If these variants are "
        "still used in the database, the migration will fail.",
        KIND_ENUM_VALUES_REMOVED,
        None,
        (),
        ("RETURNED",),
        "OrderStatus",
    ),
    # unexecutable_step_check.rs
    case(
        "Added the required column `age` to the `User` table without a default value. This is not possible "
        "if the table is not empty.",
        KIND_REQUIRED_COLUMN_ADDED,
        "User",
        ("age",),
    ),
    case(
        "Added the required column `age` to the `User` table without a default value. There are 2 rows in "
        "this table, it is not possible to execute this step.",
        KIND_REQUIRED_COLUMN_ADDED,
        "User",
        ("age",),
    ),
    case(
        "The required column `public_id` was added to the `characters` table with a prisma-level default "
        "value. This is not possible if the table is not empty. Please add this column as optional, then "
        "populate it before making it required.",
        KIND_REQUIRED_COLUMN_ADDED,
        "characters",
        ("public_id",),
    ),
    case(
        "Made the column `user_id` on table `notifications` required. This step will fail if there are "
        "existing NULL values in that column.",
        KIND_MADE_REQUIRED,
        "notifications",
        ("user_id",),
    ),
    case(
        "Made the column `role` on table `User` required. The migration will fail if there are existing "
        "NULL values in that column.",
        KIND_MADE_REQUIRED,
        "User",
        ("role",),
    ),
    case(
        "Made the column `content` on table `Post` required, but there are 1 existing NULL values.",
        KIND_MADE_REQUIRED,
        "Post",
        ("content",),
    ),
    case(
        "Changed the column `amenities` on the `property` table from a scalar field to a list field. If "
        "there are non-null values in that column, this step will fail.",
        KIND_SCALAR_TO_LIST,
        "property",
        ("amenities",),
    ),
    case(
        "Changed the type of `price` on the `Offers` table. No cast exists, the column would be dropped and "
        "recreated, which cannot be done if there is data, since the column is required.",
        KIND_TYPE_CHANGED,
        "Offers",
        ("price",),
    ),
]


@pytest.mark.parametrize(("sentence", "kind", "table", "columns", "values", "enum"), CASES)
def test_each_real_sentence(
    sentence: str,
    kind: str,
    table: str | None,
    columns: tuple[str, ...],
    values: tuple[str, ...],
    enum: str | None,
) -> None:
    warning = only(header(sentence))
    assert warning == PrismaWarning(
        kind=kind,
        table=table,
        schema=None,
        columns=columns,
        values=values,
        enum=enum,
        text=sentence,
        line=4,
    )


def test_every_kind_constant_is_distinct() -> None:
    assert len(set(ALL_KINDS)) == len(ALL_KINDS)
    assert {case[1] for case in CASES} <= set(ALL_KINDS)


def test_issue_example_and_order_and_lines() -> None:
    sql = (
        "/*\n"
        "  Warnings:\n"
        "\n"
        "  - You are about to drop the column `nickname` on the `User` table. All the data in the column "
        "will be lost.\n"
        "  - Added the required column `age` to the `User` table without a default value. This is not "
        "possible if the table is not empty.\n"
        "\n"
        "*/\n"
        "-- AlterTable\n"
        'ALTER TABLE "User" DROP COLUMN "nickname",\n'
        'ADD COLUMN     "age" INTEGER NOT NULL;\n'
    )
    warnings = parse_prisma_warnings(sql)
    assert [(w.kind, w.table, w.columns, w.line) for w in warnings] == [
        (KIND_DROP_COLUMN, "User", ("nickname",), 4),
        (KIND_REQUIRED_COLUMN_ADDED, "User", ("age",), 5),
    ]


def test_unknown_bullet_is_kept() -> None:
    warning = only(header("Something   new that Prisma   might say one day."))
    assert warning == PrismaWarning(
        kind=KIND_UNKNOWN,
        table=None,
        schema=None,
        columns=(),
        values=(),
        enum=None,
        text="Something new that Prisma might say one day.",
        line=4,
    )


def test_multi_line_bullet_is_joined() -> None:
    sql = (
        "/*\n"
        "  Warnings:\n"
        "\n"
        "  - You are about to alter the column `winPercentage` on the `Team` table.\n"
        "    The data in that column could be lost. The data in that column will be\n"
        "    cast from `Decimal(65,30)` to `DoublePrecision`.\n"
        "  - The primary key for the `Driver` table will be changed. If it partially fails,\n"
        "    the table could be left without primary key constraint.\n"
        "\n"
        "*/\n"
    )
    first, second = parse_prisma_warnings(sql)
    assert first.kind == KIND_TYPE_CHANGED
    assert first.columns == ("winPercentage",)
    assert first.line == 4
    assert first.text == (
        "You are about to alter the column `winPercentage` on the `Team` table. The data in that column "
        "could be lost. The data in that column will be cast from `Decimal(65,30)` to `DoublePrecision`."
    )
    assert second.kind == KIND_PRIMARY_KEY_CHANGED
    assert second.line == 7
    assert second.text.endswith("the table could be left without primary key constraint.")


def test_wrapped_identifier_line_break_inside_backticks_still_parses_table() -> None:
    sql = "/*\n  Warnings:\n\n  - Made the column `a` on table\n    `b` required.\n*/\n"
    warning = only(sql)
    assert (warning.kind, warning.table, warning.columns) == (KIND_MADE_REQUIRED, "b", ("a",))


def test_crlf() -> None:
    sql = header(
        "You are about to drop the column `nickname` on the `User` table. All the data in the column will be lost.",
        "The values [A,B] on the enum `Role` will be removed. If these variants are still used in the "
        "database, this will fail.",
    ).replace("\n", "\r\n")
    drop, enum = parse_prisma_warnings(sql)
    assert (drop.kind, drop.table, drop.columns, drop.line) == (KIND_DROP_COLUMN, "User", ("nickname",), 4)
    assert not drop.text.endswith("\r")
    assert (enum.kind, enum.enum, enum.values, enum.line) == (KIND_ENUM_VALUES_REMOVED, "Role", ("A", "B"), 5)


def test_lone_cr_separates_bullets_without_counting_lines() -> None:
    sql = "/*\r  Warnings:\r\r  - Made the column `a` on table `T` required.\r  - Something else.\r*/\r"
    first, second = parse_prisma_warnings(sql)
    assert (first.kind, second.kind) == (KIND_MADE_REQUIRED, KIND_UNKNOWN)
    assert first.line == second.line == 1


def test_no_header() -> None:
    assert parse_prisma_warnings('-- CreateTable\nCREATE TABLE "User" ("id" SERIAL NOT NULL);\n') == ()
    assert parse_prisma_warnings("") == ()
    assert parse_prisma_warnings("-- This is an empty migration.") == ()


def test_leading_comment_without_warnings_heading() -> None:
    sql = "/*\n  Hand-written notes:\n  - You are about to drop the `Post` table.\n*/\nSELECT 1;\n"
    assert parse_prisma_warnings(sql) == ()


def test_header_not_at_top_is_ignored() -> None:
    sql = "SELECT 1;\n\n" + header(
        "You are about to drop the `Post` table. If the table is not empty, all the data it contains will be lost."
    )
    assert parse_prisma_warnings(sql) == ()
    after_line_comment = "-- note\n" + header("Made the column `a` on table `T` required.")
    assert parse_prisma_warnings(after_line_comment) == ()


def test_second_warnings_block_is_ignored() -> None:
    sql = header("Made the column `a` on table `T` required.") + header(
        "You are about to drop the `Post` table. If the table is not empty, all the data it contains will be lost."
    )
    assert [w.kind for w in parse_prisma_warnings(sql)] == [KIND_MADE_REQUIRED]


def test_leading_whitespace_and_bom_are_allowed_and_lines_count() -> None:
    sql = "\ufeff\n\n  " + header("Made the column `a` on table `T` required.")
    warning = only(sql)
    assert warning.line == 6


def test_unterminated_comment() -> None:
    sql = '/*\n  Warnings:\n\n  - You are about to drop the `Post` table.\n\nDROP TABLE "Post";\n'
    assert parse_prisma_warnings(sql) == ()


def test_nested_comment_ends_where_postgres_ends_it() -> None:
    sql = (
        "/*\n  Warnings:\n\n  - Made the column `a` on table `T` required. /* inner */ still inside.\n*/\n"
        "-- - You are about to drop the `Post` table.\n"
    )
    warning = only(sql)
    assert warning.text == "Made the column `a` on table `T` required. /* inner */ still inside."
    unterminated = "/* Warnings: /* - x */\n - Made the column `a` on table `T` required."
    assert parse_prisma_warnings(unterminated) == ()


def test_javadoc_gutter_and_same_line_heading() -> None:
    sql = (
        "/**\n"
        " * Warnings:\n"
        " *\n"
        " * - You are about to drop the column `c` on the `T` table. All the data in the column will be\n"
        " *   lost.\n"
        " */\n"
    )
    warning = only(sql)
    assert (warning.kind, warning.table, warning.columns, warning.line) == (KIND_DROP_COLUMN, "T", ("c",), 4)
    assert warning.text.endswith("will be lost.")
    same_line = "/* Warnings:\n - Made the column `a` on table `T` required. */"
    assert only(same_line).kind == KIND_MADE_REQUIRED


def test_unexecutable_steps_heading_is_tolerated() -> None:
    sql = (
        "/*\n  Warnings:\n\n  - The primary key for the `A` table will be changed.\n\n"
        "  Unexecutable steps:\n\n  - Added the required column `x` to the `B` table without a default "
        "value.\n*/\n"
    )
    assert [(w.kind, w.table) for w in parse_prisma_warnings(sql)] == [
        (KIND_PRIMARY_KEY_CHANGED, "A"),
        (KIND_REQUIRED_COLUMN_ADDED, "B"),
    ]


def test_schema_qualified_names_when_written() -> None:
    # Prisma itself never prints the schema (multiSchema included); a hand-written one is understood.
    warning = classify_warning("You are about to drop the column `c` on the `auth`.`users` table.")
    assert (warning.schema, warning.table, warning.columns) == ("auth", "users", ("c",))
    enum = classify_warning("The values [a, b] on the enum `billing`.`Plan` will be removed.")
    assert (enum.schema, enum.enum, enum.values) == ("billing", "Plan", ("a", "b"))


def test_empty_bullets_and_free_text_are_skipped() -> None:
    sql = "/*\n  Warnings:\n  free text\n  -\n  - \n  - Made the column `a` on table `T` required.\n*/"
    warning = only(sql)
    assert warning.line == 6


def test_non_string_input() -> None:
    assert parse_prisma_warnings(None) == ()  # type: ignore[arg-type]
    assert parse_prisma_warnings(b"/* Warnings: - x */") == ()  # type: ignore[arg-type]


_FRAGMENTS = st.sampled_from(
    ["/*", "*/", "\n", "\r\n", "\r", " ", "-", "- ", "* ", "Warnings:", "`", "`.`", "[", "]", ",", "\ufeff"]
    + [case[0] for case in CASES]
)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_never_raises_on_arbitrary_text(text: str) -> None:
    result = parse_prisma_warnings(text)
    assert isinstance(result, tuple)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_FRAGMENTS, st.text(max_size=5)), max_size=40))
def test_never_raises_on_header_like_text(parts: list[str]) -> None:
    text = "".join(parts)
    for warning in parse_prisma_warnings(text):
        assert warning.kind in ALL_KINDS
        assert warning.text and warning.text == " ".join(warning.text.split())
        assert 1 <= warning.line <= text.count("\n") + 1
        if warning.kind == KIND_UNKNOWN:
            assert (warning.table, warning.columns, warning.values, warning.enum) == (None, (), (), None)
