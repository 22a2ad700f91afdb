"""Making a column NOT NULL fails when any existing row holds NULL in it.

``ALTER COLUMN ... SET NOT NULL`` checks every row and stops the migration at the first NULL.
Prisma writes it when a field goes from optional to required (``String?`` to ``String``) and warns
"Made the column ... required. This step will fail if there are existing NULL values": nothing in
the migration fills the rows that were left empty while the field was optional. A backfill
written before it in the same file is taken as proof when the linter can read it: an UPDATE
setting the column to a constant (or ``COALESCE(column, constant)``), to ``||`` of operands that are
each non-NULL (NOT NULL columns, constants, ``COALESCE`` with such a last argument), or to
``concat(...)`` / ``concat_ws(<non-NULL separator>, ...)`` (which skip NULLs), with no WHERE, or with exactly
``WHERE column IS NULL``, not followed by an INSERT into the table, another UPDATE of the column
or code it cannot see into. Any other backfill: check the count, then mark the statement as allowed.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql import model as m


def _filled_from_required(ctx: Context, table: m.Name, column: str, update: m.Update) -> bool:
    """The UPDATE sets ``column`` to a value that is not NULL while other columns of the row are not
    (``"first" || ' ' || COALESCE("last", '')``), and those are NOT NULL columns: it cannot write NULL.
    The columns must be NOT NULL in the model before the SET NOT NULL being checked; if that came after
    the UPDATE, its own check (or this rule, for a column of the same statement) covers their rows."""
    needs = dict(update.fills_from).get(column)
    if needs is None or column in needs:
        return False
    return all((state := ctx.schema.column(table, c)) is not None and state.not_null for c in needs)


def _filled_earlier(ctx: Context, table: m.Name, column: str) -> bool:
    """True when the earlier statements of the file leave a value in the column of every row.

    Proofs: ``ADD COLUMN ... DEFAULT <non-NULL>``, or a backfill: an UPDATE setting the column to a
    constant (or ``COALESCE(..., constant)``), to ``||`` of NOT NULL columns and such values, or to
    concat() / concat_ws() (with a non-NULL separator) with no WHERE or with exactly ``WHERE <column> IS
    NULL``. Anything after the proof that may write NULLs again undoes it: another UPDATE of the
    column, an INSERT into the table, code the linter cannot see into. When unsure, report.
    """
    key = ctx.schema.key(table)
    filled = False
    for statement in ctx.earlier():
        summary = statement.summary
        if m.runs_unseen_code(summary):
            filled = False
        if isinstance(summary, m.AlterTable) and ctx.schema.key(summary.table) == key:
            for action in summary.actions:
                if isinstance(action, m.AddColumn) and action.column.name == column:
                    default = action.column.default
                    filled = default is not None and default.sql.strip().upper() != "NULL"
        for change in m.data_changes(summary):
            if ctx.schema.key(change.table) != key:
                continue
            if isinstance(change, m.Insert):
                filled = False  # the new rows may hold NULL
            elif isinstance(change, m.Update) and column in change.columns:
                filled = (
                    not change.on_conflict
                    and (column in change.fills or _filled_from_required(ctx, table, column, change))
                    and (not change.has_where or change.where_null_of == column)
                )
    return filled


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
        explained = ""
        if _filled_earlier(ctx, table, action.column):
            explained = "an earlier statement of this file leaves a value in every row"
        elif ctx.schema.has_validated_not_null_check(table, action.column):
            explained = f'a validated CHECK ("{action.column}" IS NOT NULL) already holds'
        column = m.quote_ident(action.column)
        # An explained hit is not reported, yet answers Prisma's "made required" warning.
        yield Hit(
            message=(
                f"Making {table.display()}.{action.column} NOT NULL fails if any row of {table.display()} "
                "still holds NULL in it."
            ),
            help=(
                f"Count the rows to fill: SELECT count(*) FROM {table.sql()} WHERE {column} IS NULL; "
                "backfill them before this statement (here or in an earlier migration): "
                f"UPDATE {table.sql()} SET {column} = <value> WHERE {column} IS NULL; "
                "A backfill the linter can read (a constant, no WHERE or exactly that WHERE) silences this; "
                f"otherwise mark this statement: -- safemigrate: allow set-not-null reason: <how {action.column} was "
                "filled>"
            ),
            object=ctx.ref(table, action.column),
            table=table,
            explained=explained,
        )


RULE = Rule(
    id="SM202",
    name="set-not-null",
    category=Category.MAY_FAIL,
    severity=Severity.ERROR,
    summary="SET NOT NULL fails when any existing row holds NULL in the column.",
    alternative="Backfill the NULLs with an UPDATE first (WHERE the column IS NULL), then SET NOT NULL.",
    bad='ALTER TABLE "User" ALTER COLUMN "name" SET NOT NULL;',
    good=(
        'UPDATE "User" SET "name" = \'\' WHERE "name" IS NULL;\nALTER TABLE "User" ALTER COLUMN "name" SET NOT NULL;'
    ),
    why=__doc__ or "",
    check=check,
    on=(m.AlterTable,),
)
