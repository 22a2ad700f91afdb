"""UPDATE in a migration overwrites existing values, and the old values are not kept anywhere.

A backfill written against a developer's data runs once against every production row its WHERE
matches (all of them without WHERE); after commit the previous values exist only in a backup.
One UPDATE over a large table also holds row locks on every row it touches until the migration
ends. Writing into a column added earlier in the same migration overwrites nothing and is not
reported, nor are tables created earlier in this deploy.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql import model as m


def _columns_added_here(ctx: Context, table: m.Name) -> set[str]:
    """Columns of ``table`` added by earlier statements of this file (they hold no old values)."""
    key = ctx.schema.key(table)
    added: set[str] = set()
    for statement in ctx.earlier():
        summary = statement.summary
        if not isinstance(summary, m.AlterTable) or ctx.schema.key(summary.table) != key:
            continue
        for action in summary.actions:
            if isinstance(action, m.AddColumn):
                added.add(action.column.name)
            elif isinstance(action, m.DropColumn):
                added.discard(action.column)
            elif isinstance(action, m.RenameColumn) and action.old in added:
                added.discard(action.old)
                added.add(action.new)
    return added


def check(ctx: Context) -> Iterator[Hit]:
    summary = ctx.summary
    if not isinstance(summary, m.Update) or ctx.schema.is_fresh_table(summary.table):
        return
    table = summary.table
    added = _columns_added_here(ctx, table)
    columns = [c for c in summary.columns if c not in added]
    if summary.columns and not columns:
        return  # a backfill of columns this migration just added: nothing is overwritten
    rows = "the rows matching its WHERE clause" if summary.has_where else "every row"
    if columns:
        names = ", ".join(f"{table.display()}.{c}" for c in columns)
        message = f"This UPDATE overwrites the existing values of {names} in {rows}."
    else:
        message = f"This UPDATE overwrites existing values of table {table.display()} in {rows}."
    backup = m.Name(table.name + "_backup", table.schema)
    yield Hit(
        message=message,
        help=(
            f"Keep the old values so they can be restored: CREATE TABLE {backup.sql()} AS SELECT * FROM "
            f"{table.sql()}; (or safemigrate backup --tables {table.display()}). On a large table, "
            "update in batches (WHERE id BETWEEN ...) from a script rather than in one migration."
        ),
        object=ctx.ref(table, columns[0] if len(columns) == 1 else None),
        table=table,
    )


RULE = Rule(
    id="SM108",
    name="update",
    category=Category.DATA_LOSS,
    severity=Severity.WARNING,
    summary="UPDATE overwrites existing values; the old ones are not kept.",
    alternative="Back up the columns first; write into a new column instead; batch large updates.",
    bad='UPDATE "User" SET "name" = trim("name");',
    good='ALTER TABLE "User" ADD COLUMN "displayName" TEXT;\nUPDATE "User" SET "displayName" = trim("name");',
    why=__doc__ or "",
    check=check,
    on=(m.Update,),
    lock="ROW EXCLUSIVE",
)
