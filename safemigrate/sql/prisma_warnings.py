"""Read the ``Warnings:`` header that ``prisma migrate dev`` writes at the top of ``migration.sql``.

How Prisma renders the header
-----------------------------
``render_script`` in the schema engine (``apply_migration.rs``) writes, only when the destructive
change checker found something::

    /*
      Warnings:

      - <warning 1>
      - <unexecutable step 1>

    */

That is ``"/*\\n  Warnings:\\n\\n"``, then one ``"  - " + description + "\\n"`` per *warning*, then one
per *unexecutable step*, then ``"\\n*/\\n"``. There is no separate "Unexecutable steps:" heading: both
lists share the single ``Warnings:`` section, warnings first. Each description is one line (Prisma
never wraps); wrapped bullets only appear after a human or a formatter edited the file.

``prisma migrate dev`` (``create_migration.rs``) renders with ``pure_check()``, i.e. without looking at
the database, so the sentences in migration files are the "row count unknown" variants below. The
variants with counts (``which is not empty (3 rows)``) come from ``check()`` (``db push`` / CLI output);
they are recognised too because they share the leading words.

The sentences (``{x}`` is a raw name, inserted between backticks without escaping)
---------------------------------------------------------------------------------
Warnings (``warning_check.rs``, ``SqlMigrationWarningCheck::evaluate``):

- NonEmptyTableDrop: "You are about to drop the `{table}` table. If the table is not empty, all the
  data it contains will be lost." / "... table, which is not empty ({n} rows)."
  (oldest engines: "You are about to drop the table `{table}`, which is not empty ({n} rows).")
- NonEmptyColumnDrop: "You are about to drop the column `{column}` on the `{table}` table. All the
  data in the column will be lost." / "..., which still contains {n} non-null values."
- RiskyCast: "You are about to alter the column `{column}` on the `{table}` table. The data in that
  column could be lost. The data in that column will be cast from `{from}` to `{to}`."
- NotCastable: "You are about to alter the column `{column}` on the `{table}` table. The data in that
  column will be cast from `{from}` to `{to}`. This cast may fail. Please make sure the data in the
  column can be cast." (older: "This cast may fail and the migration will stop. ...")
- DropAndRecreateColumn: "The `{column}` column on the `{table}` table would be dropped and
  recreated. This will lead to data loss if there is data in the column."
- PrimaryKeyChange: "The primary key for the `{table}` table will be changed. If it partially
  fails, the table could be left without primary key constraint."
  (older: "The migration will change the primary key for the `{table}` table. ...")
- UniqueConstraintAddition: "A unique constraint covering the columns `[{c1},{c2}]` on the table
  `{table}` will be added. If there are existing duplicate values, this will fail."
  (older: "The migration will add a unique constraint covering the columns `[{c1},{c2}]` on the table
  `{table}`. If there are existing duplicate values, the migration will fail.")
- EnumValueRemoval: "The values [{v1},{v2}] on the enum `{enum}` will be removed. If these variants
  are still used in the database, this will fail."
  (older: "The migration will remove the values [{v1},{v2}] on the enum `{enum}`. If these variants are
  still used in the database, the migration will fail.")

Unexecutable steps (``unexecutable_step_check.rs``, ``UnexecutableStepCheck::evaluate``):

- AddedRequiredFieldToTable: "Added the required column `{column}` to the `{table}` table without a
  default value. This is not possible if the table is not empty."
  (with counts: "There are {n} rows in this table, it is not possible to execute this step." —
  older engines said "this migration.")
- AddedRequiredFieldToTableWithPrismaLevelDefault: "The required column `{column}` was added to the
  `{table}` table with a prisma-level default value. This is not possible if the table is not empty.
  Please add this column as optional, then populate it before making it required."
- MadeOptionalFieldRequired: "Made the column `{column}` on table `{table}` required. This step will
  fail if there are existing NULL values in that column." (older: "The migration will fail if ...";
  with counts: "..., but there are {n} existing NULL values.")
- MadeScalarFieldIntoArrayField: "Changed the column `{column}` on the `{table}` table from a scalar
  field to a list field. If there are non-null values in that column, this step will fail."
- DropAndRecreateRequiredColumn: "Changed the type of `{column}` on the `{table}` table. No cast
  exists, the column would be dropped and recreated, which cannot be done if there is data, since the
  column is required."

Lists are joined with ``","`` and no spaces; unique-constraint columns sit inside backticks
(`` `[a,b]` ``), enum values do not (``[A,B]``). With ``multiSchema`` the checks carry a namespace, but
no sentence prints it, so ``schema`` is None for every real Prisma warning; a hand-written
`` `schema`.`table` `` is still understood. Prisma has no warning for dropping an enum, a view or a
type: ``KIND_DROP_ENUM`` exists for callers but no known sentence produces it.

Sources read (github.com/prisma/prisma-engines):

- schema-engine/connectors/sql-schema-connector/src/sql_destructive_change_checker/warning_check.rs
- schema-engine/connectors/sql-schema-connector/src/sql_destructive_change_checker/unexecutable_step_check.rs
- schema-engine/connectors/sql-schema-connector/src/sql_destructive_change_checker/destructive_check_plan.rs
- schema-engine/connectors/sql-schema-connector/src/sql_destructive_change_checker.rs (which step gives
  which check; ``DropEnum``/``DropView`` give none)
- schema-engine/connectors/sql-schema-connector/src/flavour/postgres/destructive_change_checker.rs and
  .../sql_destructive_change_checker/destructive_change_checker_flavour/postgres.rs
- schema-engine/connectors/sql-schema-connector/src/apply_migration.rs (``render_script``)
- schema-engine/core/src/commands/create_migration.rs (``pure_check`` for ``migrate dev``)
- migration-engine/connectors/sql-migration-connector/src/sql_destructive_change_checker/warning_check.rs
  and unexecutable_step_check.rs, migration-engine/connectors/sql-migration-connector/src/apply_migration.rs
  (older wording, same header layout)

Parsing rules: only a block comment that starts the file (after whitespace and an optional BOM)
counts; it ends where PostgreSQL ends it (block comments nest). An unterminated comment yields ().
The comment must contain a ``Warnings:`` (or ``Unexecutable steps:``) heading; bullets (``-``, ``*``
or ``•``) after it are collected, continuation lines are joined with a space, and a blank line or a
heading ends a bullet. Line numbers count ``\\n`` only, like ``safemigrate.sql.splitter``; a lone
``\\r`` separates lines without counting as one. The function never raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "ALL_KINDS",
    "KIND_DROP_COLUMN",
    "KIND_DROP_ENUM",
    "KIND_DROP_TABLE",
    "KIND_ENUM_VALUES_REMOVED",
    "KIND_MADE_REQUIRED",
    "KIND_PRIMARY_KEY_CHANGED",
    "KIND_REQUIRED_COLUMN_ADDED",
    "KIND_SCALAR_TO_LIST",
    "KIND_TYPE_CHANGED",
    "KIND_UNIQUE_ADDED",
    "KIND_UNKNOWN",
    "PrismaWarning",
    "classify_warning",
    "parse_prisma_warnings",
]

KIND_DROP_TABLE = "drop_table"
KIND_DROP_COLUMN = "drop_column"
KIND_DROP_ENUM = "drop_enum"  # no Prisma sentence produces it (Prisma does not warn on DROP TYPE)
KIND_ENUM_VALUES_REMOVED = "enum_values_removed"
KIND_REQUIRED_COLUMN_ADDED = "required_column_added"  # incl. "with a prisma-level default value"
KIND_MADE_REQUIRED = "made_required"
KIND_UNIQUE_ADDED = "unique_added"
KIND_TYPE_CHANGED = "type_changed"  # risky / impossible cast, column dropped and recreated
KIND_PRIMARY_KEY_CHANGED = "primary_key_changed"
KIND_SCALAR_TO_LIST = "scalar_to_list"  # column changed from a scalar to a list (array) field
KIND_UNKNOWN = "unknown"

ALL_KINDS: tuple[str, ...] = (
    KIND_DROP_TABLE,
    KIND_DROP_COLUMN,
    KIND_DROP_ENUM,
    KIND_ENUM_VALUES_REMOVED,
    KIND_REQUIRED_COLUMN_ADDED,
    KIND_MADE_REQUIRED,
    KIND_UNIQUE_ADDED,
    KIND_TYPE_CHANGED,
    KIND_PRIMARY_KEY_CHANGED,
    KIND_SCALAR_TO_LIST,
    KIND_UNKNOWN,
)


@dataclass(frozen=True)
class PrismaWarning:
    kind: str  # one of the KIND_* constants
    table: str | None  # table name as written in the warning (without schema)
    schema: str | None  # when the warning names a schema
    columns: tuple[str, ...]  # column(s) named, () if none
    values: tuple[str, ...]  # enum values named, () if none
    enum: str | None  # enum name when relevant
    text: str  # the full bullet text, one line, whitespace-normalized
    line: int  # 1-based line in the file where the bullet starts


# --- sentence templates -------------------------------------------------------------------------
# Names are matched as "anything but a backtick" so that every pattern is linear in the text length.
_COL = r"`(?P<column>[^`]+)`"
_TABLE = r"`(?:(?P<schema>[^`]+)`\.`)?(?P<table>[^`]+)`"
_ENUM = r"`(?:(?P<schema>[^`]+)`\.`)?(?P<enum>[^`]+)`"
_COLUMN_LIST = r"`\[(?P<columns>[^\]`]*)\]`"
_VALUE_LIST = r"\[(?P<values>[^\]]*)\]"

_TEMPLATES: tuple[tuple[str, str], ...] = (
    # warning_check.rs: NonEmptyTableDrop (current, then the oldest engines)
    (KIND_DROP_TABLE, rf"You are about to drop the {_TABLE} table\b"),
    (KIND_DROP_TABLE, rf"You are about to drop the table {_TABLE}"),
    # NonEmptyColumnDrop
    (KIND_DROP_COLUMN, rf"You are about to drop the column {_COL} on the {_TABLE} table\b"),
    # RiskyCast / NotCastable (and the oldest AlterColumn)
    (KIND_TYPE_CHANGED, rf"You are about to alter the column {_COL} on the {_TABLE} table\b"),
    # DropAndRecreateColumn
    (KIND_TYPE_CHANGED, rf"The {_COL} column on the {_TABLE} table would be dropped and recreated\b"),
    # unexecutable_step_check.rs: DropAndRecreateRequiredColumn
    (KIND_TYPE_CHANGED, rf"Changed the type of {_COL} on the {_TABLE} table\b"),
    # MadeScalarFieldIntoArrayField
    (
        KIND_SCALAR_TO_LIST,
        rf"Changed the column {_COL} on the {_TABLE} table from a scalar field to a list field\b",
    ),
    # AddedRequiredFieldToTable / ...WithPrismaLevelDefault
    (KIND_REQUIRED_COLUMN_ADDED, rf"Added the required column {_COL} to the {_TABLE} table\b"),
    (KIND_REQUIRED_COLUMN_ADDED, rf"The required column {_COL} was added to the {_TABLE} table\b"),
    # MadeOptionalFieldRequired
    (KIND_MADE_REQUIRED, rf"Made the column {_COL} on table {_TABLE} required\b"),
    # UniqueConstraintAddition (current, then older)
    (
        KIND_UNIQUE_ADDED,
        rf"A unique constraint covering the columns {_COLUMN_LIST} on the table {_TABLE} will be added\b",
    ),
    (
        KIND_UNIQUE_ADDED,
        rf"The migration will add a unique constraint covering the columns {_COLUMN_LIST}"
        rf" on the table {_TABLE}",
    ),
    # PrimaryKeyChange (current, then older)
    (KIND_PRIMARY_KEY_CHANGED, rf"The primary key for the {_TABLE} table will be changed\b"),
    (KIND_PRIMARY_KEY_CHANGED, rf"The migration will change the primary key for the {_TABLE} table\b"),
    # EnumValueRemoval (current, then older)
    (KIND_ENUM_VALUES_REMOVED, rf"The values {_VALUE_LIST} on the enum {_ENUM} will be removed\b"),
    (KIND_ENUM_VALUES_REMOVED, rf"The migration will remove the values {_VALUE_LIST} on the enum {_ENUM}"),
)

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple((kind, re.compile(pattern)) for kind, pattern in _TEMPLATES)

_HEADING = re.compile(r"(?i)(?:warnings|unexecutable\s+steps?)\s*:")
_BULLET_MARKERS = "-*•"


def _split_list(raw: str | None) -> tuple[str, ...]:
    if not raw:
        return ()
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def classify_warning(text: str, line: int = 0) -> PrismaWarning:
    """Classify one bullet sentence (without its ``- ``); unknown sentences get ``KIND_UNKNOWN``."""
    normalized = " ".join(text.split())
    for kind, pattern in _PATTERNS:
        match = pattern.match(normalized)
        if match is None:
            continue
        groups = match.groupdict()
        column = groups.get("column")
        columns = (column,) if column is not None else _split_list(groups.get("columns"))
        return PrismaWarning(
            kind=kind,
            table=groups.get("table"),
            schema=groups.get("schema"),
            columns=columns,
            values=_split_list(groups.get("values")),
            enum=groups.get("enum"),
            text=normalized,
            line=line,
        )
    return PrismaWarning(
        kind=KIND_UNKNOWN,
        table=None,
        schema=None,
        columns=(),
        values=(),
        enum=None,
        text=normalized,
        line=line,
    )


# --- header extraction --------------------------------------------------------------------------


def _leading_comment(sql_text: str) -> tuple[str, int] | None:
    """The body of the block comment that opens the file and the line of its ``/*``; else None."""
    n = len(sql_text)
    i = 0
    if n and sql_text[0] == "\ufeff":
        i = 1
    while i < n and sql_text[i].isspace():
        i += 1
    if not sql_text.startswith("/*", i):
        return None
    depth = 1
    for mark in _COMMENT_MARK.finditer(sql_text, i + 2):  # nested comments, as PostgreSQL reads them
        depth += 1 if mark.group() == "/*" else -1
        if depth == 0:
            return sql_text[i + 2 : mark.start()], sql_text.count("\n", 0, i) + 1
    return None  # unterminated: PostgreSQL would read the whole file as a comment


_COMMENT_MARK = re.compile(r"/\*|\*/")


def _body_lines(body: str, first_line: int) -> list[tuple[int, str]]:
    """Split the comment body into (line number, text); a lone CR separates without counting."""
    out: list[tuple[int, str]] = []
    for offset, physical in enumerate(body.split("\n")):
        for piece in physical.rstrip("\r").split("\r"):
            out.append((first_line + offset, piece))
    # "/**\n * Warnings:\n *\n * - ...\n */" style: drop the gutter when every line has one.
    non_blank = [piece.lstrip() for _, piece in out if piece.strip()]
    if non_blank and all(piece.startswith("*") for piece in non_blank):
        stripped: list[tuple[int, str]] = []
        for number, piece in out:
            rest = piece.lstrip()
            stripped.append((number, rest[1:] if rest.startswith("*") else rest))
        return stripped
    return out


def _bullet_text(stripped: str) -> str | None:
    """The text after a bullet marker, or None when the line is not a bullet."""
    if stripped and stripped[0] in _BULLET_MARKERS and (len(stripped) == 1 or stripped[1].isspace()):
        return stripped[1:].strip()
    return None


def parse_prisma_warnings(sql_text: str) -> tuple[PrismaWarning, ...]:
    """Return the warnings of a leading Prisma header comment; () when there is none."""
    if not isinstance(sql_text, str):
        return ()
    header = _leading_comment(sql_text)
    if header is None:
        return ()
    body, first_line = header

    bullets: list[tuple[int, list[str]]] = []
    current: tuple[int, list[str]] | None = None
    seen_heading = False
    for number, content in _body_lines(body, first_line):
        stripped = content.strip()
        if not stripped:
            current = None
            continue
        if _HEADING.fullmatch(stripped):
            seen_heading = True
            current = None
            continue
        if not seen_heading:
            continue
        bullet = _bullet_text(stripped)
        if bullet is not None:
            current = (number, [bullet])
            bullets.append(current)
        elif current is not None:
            current[1].append(stripped)
        # Free text outside a bullet is not a warning: ignored.

    warnings: list[PrismaWarning] = []
    for number, parts in bullets:
        text = " ".join(" ".join(parts).split())
        if text:
            warnings.append(classify_warning(text, number))
    return tuple(warnings)
