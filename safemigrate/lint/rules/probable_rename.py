"""Prisma writes a renamed field or model as a drop and a create, which loses the data.

``prisma migrate dev`` cannot tell a rename from a removal plus an addition: renaming a field gives
``DROP COLUMN "old", ADD COLUMN "new"`` of the same type, and renaming a model's table with
``@@map`` gives ``DROP TABLE "Old"`` plus ``CREATE TABLE "new"`` with the same columns. Applied as
written, the new column or table starts empty and the old values are deleted. A ``RENAME`` keeps
them. A column dropped and added again under its own name is no rename: Prisma changes a type it
cannot cast that way (drop-column reports the values lost); neither is the column it re-adds a
rename's target.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql import model as m


def _same_type(a: m.TypeSpec, b: m.TypeSpec) -> bool:
    return (a.base, a.params, a.array_dims) == (b.base, b.params, b.array_dims)


def _added_columns(ctx: Context, table: m.Name) -> list[m.ColumnSpec]:
    """Columns added to ``table`` anywhere in this file, in file order."""
    key = ctx.schema.key(table)
    added: list[m.ColumnSpec] = []
    for statement in ctx.statements:
        summary = statement.summary
        if isinstance(summary, m.AlterTable) and ctx.schema.key(summary.table) == key:
            added.extend(a.column for a in summary.actions if isinstance(a, m.AddColumn))
    return added


def _dropped_columns(ctx: Context, table: m.Name) -> set[str]:
    """Columns of ``table`` dropped anywhere in this file."""
    key = ctx.schema.key(table)
    return {
        a.column
        for statement in ctx.statements
        if isinstance(statement.summary, m.AlterTable) and ctx.schema.key(statement.summary.table) == key
        for a in statement.summary.actions
        if isinstance(a, m.DropColumn)
    }


def _column_renames(ctx: Context, summary: m.AlterTable) -> Iterator[Hit]:
    table = summary.table
    if not any(isinstance(a, m.DropColumn) for a in summary.actions):
        return
    added = _added_columns(ctx, table)
    recreated = _dropped_columns(ctx, table) & {c.name for c in added}  # dropped and added again by name
    for action in summary.actions:
        if not isinstance(action, m.DropColumn) or action.column in recreated:
            continue
        state = ctx.schema.column(table, action.column)
        candidates = [c for c in added if c.name not in recreated and (state is None or _same_type(state.type, c.type))]
        if not candidates:
            continue
        new = candidates[0].name
        names = " or ".join(f"{table.display()}.{c.name}" for c in candidates)
        if state is None:
            how = "(the type of the dropped column is not known from the history, so it was not compared)"
        else:
            how = f"with the same type ({state.type.display()})"
        yield Hit(
            message=(
                f"Column {table.display()}.{action.column} is dropped and {names} is added {how} in this "
                f"migration: if the field was renamed, every value of {action.column} is lost."
            ),
            help=(
                "If it is a rename, replace the DROP COLUMN and ADD COLUMN with "
                f"ALTER TABLE {table.sql()} RENAME COLUMN {m.quote_ident(action.column)} "
                f"TO {m.quote_ident(new)}; "
                f'(edit the migration before applying it), or keep the column with @map("{action.column}") '
                "on the renamed Prisma field."
            ),
            object=ctx.ref(table, action.column),
            table=table,
        )


def _table_renames(ctx: Context, summary: m.DropObjects) -> Iterator[Hit]:
    for table in summary.names:
        state = ctx.schema.table(table)
        if state is None or not state.columns or ctx.schema.is_created_by_deploy(table):
            continue
        columns = set(state.columns)
        key = ctx.schema.key(table)
        created = [
            s.summary.table
            for s in ctx.statements
            if isinstance(s.summary, m.CreateTable)
            and not s.summary.as_query
            and ctx.schema.key(s.summary.table) != key
            and {c.name for c in s.summary.columns} == columns
        ]
        if not created:
            continue
        new = created[0]
        yield Hit(
            message=(
                f"Table {table.display()} is dropped and {new.display()} is created with the same columns in "
                f"this migration: if the model was renamed (@@map), every row of {table.display()} is lost."
            ),
            help=(
                "If it is a rename, replace the DROP TABLE and CREATE TABLE with "
                f"ALTER TABLE {table.sql()} RENAME TO {m.quote_ident(new.name)}; (and rename its constraints "
                "and indexes to the names Prisma expects), editing the migration before applying it."
            ),
            object=ctx.ref(table),
            table=table,
        )


def check(ctx: Context) -> Iterator[Hit]:
    summary = ctx.summary
    if isinstance(summary, m.AlterTable) and not ctx.schema.is_created_by_deploy(summary.table):
        yield from _column_renames(ctx, summary)
    elif isinstance(summary, m.DropObjects) and summary.kind == "table":
        yield from _table_renames(ctx, summary)


RULE = Rule(
    id="SM405",
    name="probable-rename",
    category=Category.BREAKING,
    severity=Severity.WARNING,
    summary="A drop and an add of the same shape is probably a rename, and loses the data.",
    alternative="Use ALTER TABLE ... RENAME COLUMN / RENAME TO instead of drop and add.",
    bad='ALTER TABLE "User" DROP COLUMN "name",\nADD COLUMN "fullName" TEXT;',
    good='ALTER TABLE "User" RENAME COLUMN "name" TO "fullName";',
    why=__doc__ or "",
    check=check,
    lock="ACCESS EXCLUSIVE",
)
