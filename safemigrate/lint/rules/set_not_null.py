"""Making a column NOT NULL fails when any existing row holds NULL in it.

``ALTER COLUMN ... SET NOT NULL`` checks every row and stops the migration at the first NULL.
Prisma writes it when a field goes from optional to required (``String?`` to ``String``) and warns
"Made the column ... required. This step will fail if there are existing NULL values": nothing in
the migration fills the rows that were left empty while the field was optional.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql import model as m


def _filled_earlier(ctx: Context, table: m.Name, column: str) -> bool:
    """True when an earlier statement of the file gave the column a value in existing rows."""
    key = ctx.schema.key(table)
    for statement in ctx.earlier():
        summary = statement.summary
        for change in m.data_changes(summary):  # a WITH query can hold the backfill
            if (
                isinstance(change, m.Update)
                and not change.on_conflict  # only touches the rows an insert conflicts with
                and ctx.schema.key(change.table) == key
                and column in change.columns
            ):
                return True  # a backfill, as the help suggests
        if isinstance(summary, m.AlterTable) and ctx.schema.key(summary.table) == key:
            for action in summary.actions:
                if (
                    isinstance(action, m.AddColumn)
                    and action.column.name == column
                    and action.column.default is not None
                    and action.column.default.sql.strip().upper() != "NULL"
                ):
                    return True  # added in this file with a default: every row holds it
    return False


def check(ctx: Context) -> Iterator[Hit]:
    alter = ctx.summary
    if not isinstance(alter, m.AlterTable):
        return
    table = alter.table
    for action in alter.actions:
        if not isinstance(action, m.SetNotNull):
            continue
        state = ctx.schema.column(table, action.column)
        if state is not None and state.not_null:
            continue  # already NOT NULL: nothing to check
        if _filled_earlier(ctx, table, action.column):
            continue
        column = m.quote_ident(action.column)
        yield Hit(
            message=(
                f"Making {table.display()}.{action.column} NOT NULL fails if any row of {table.display()} "
                "still holds NULL in it."
            ),
            help=(
                f"Backfill first, in this migration before this statement or in an earlier one: "
                f"UPDATE {table.sql()} SET {column} = <value> WHERE {column} IS NULL; then "
                f"ALTER TABLE {table.sql()} ALTER COLUMN {column} SET NOT NULL; "
                f"(count the rows to fill with SELECT count(*) FROM {table.sql()} WHERE {column} IS NULL;)."
            ),
            object=ctx.ref(table, action.column),
            table=table,
        )


RULE = Rule(
    id="SM202",
    name="set-not-null",
    category=Category.MAY_FAIL,
    severity=Severity.ERROR,
    summary="SET NOT NULL fails when any existing row holds NULL in the column.",
    alternative="Backfill the NULLs with an UPDATE first, then SET NOT NULL.",
    bad='ALTER TABLE "User" ALTER COLUMN "name" SET NOT NULL;',
    good=(
        'UPDATE "User" SET "name" = \'\' WHERE "name" IS NULL;\nALTER TABLE "User" ALTER COLUMN "name" SET NOT NULL;'
    ),
    why=__doc__ or "",
    check=check,
    on=(m.AlterTable,),
)
