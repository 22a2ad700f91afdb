"""UPDATE in a migration overwrites existing values, and the old values are not kept anywhere.

A backfill written against a developer's data runs once against every production row its WHERE
matches (all of them without WHERE); after commit the previous values exist only in a backup.
One UPDATE over a large table also holds row locks on every row it touches until the migration
ends. The same holds for an UPDATE inside a WITH query, and for INSERT ... ON CONFLICT DO UPDATE,
which overwrites the rows the new ones conflict with. Writing into a column added earlier in the
same migration overwrites nothing and is not reported (an ADD COLUMN IF NOT EXISTS of a column
that was already there adds nothing), nor are tables created earlier in this deploy.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql import model as m


def _alter_tables(statements: Sequence[m.Statement]) -> list[tuple[int, m.AlterTable]]:
    """The file's ALTER TABLE statements, by index: a backfill of 10,000 UPDATEs looks only at these."""
    return [(s.index, s.summary) for s in statements if isinstance(s.summary, m.AlterTable)]


def _columns_added_here(ctx: Context, table: m.Name) -> set[str]:
    """Columns of ``table`` added by earlier statements of this file (they hold no old values)."""
    key = ctx.schema.key(table)
    known = ctx.schema.table(table)
    added: set[str] = set()
    for index, summary in ctx.per_file(_alter_tables):
        if index >= ctx.statement.index:
            break
        if ctx.schema.key(summary.table) != key:
            continue
        for action in summary.actions:
            # ADD COLUMN IF NOT EXISTS adds nothing when the column is there; for a table the model does
            # not know, nobody can tell.
            if isinstance(action, m.AddColumn) and (known is not None or not action.if_not_exists):
                added.add(action.column.name)
            elif isinstance(action, m.DropColumn):
                added.discard(action.column)
            elif isinstance(action, m.RenameColumn) and action.old in added:
                added.discard(action.old)
                added.add(action.new)
    if known is None:
        return added
    # The model keeps a column that was already there (IF NOT EXISTS, or a search_path elsewhere).
    return {c for c in added if c in known.columns and known.columns[c].added_in == ctx.migration}


def check(ctx: Context) -> Iterator[Hit]:
    for change in m.data_changes(ctx.summary):
        if isinstance(change, m.Update) and not ctx.schema.is_fresh_table(change.table):
            yield from _hit(ctx, change)


def _hit(ctx: Context, update: m.Update) -> Iterator[Hit]:
    table = update.table
    added = _columns_added_here(ctx, table)
    columns = [c for c in update.columns if c not in added]
    if update.columns and not columns:
        return  # a backfill of columns this migration just added: nothing is overwritten
    if update.on_conflict:
        what, rows = "This INSERT ... ON CONFLICT DO UPDATE", "the existing rows the new ones conflict with"
    else:
        what, rows = "This UPDATE", "the rows matching its WHERE clause" if update.has_where else "every row"
    if columns:
        names = ", ".join(f"{table.display()}.{c}" for c in columns)
        message = f"{what} overwrites the existing values of {names} in {rows}."
    else:
        message = f"{what} overwrites existing values of table {table.display()} in {rows}."
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
    on=(m.Update, m.Delete, m.Insert),
    lock="ROW EXCLUSIVE",
)
