"""Removing values from an enum fails on rows that hold them, and the values are gone for good.

PostgreSQL cannot drop a value from an enum, so Prisma recreates the type: it creates ``E_new``
without the value, converts each column with ``ALTER COLUMN ... TYPE "E_new" USING (c::text::"E_new")``,
then renames and drops the old type. The conversion fails if any row still holds a removed value,
and once it succeeds nothing can store that value any more: rows must be moved to another value
first. The whole pattern is one change and is reported once per converted column.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql import model as m
from safemigrate.sql import types


def swapped_enum(ctx: Context, new_type: m.TypeSpec) -> str | None:
    """The enum that ``new_type`` replaces in Prisma's pattern, read from the file's later renames.

    ``ALTER TYPE "E" RENAME TO "E_old"; ALTER TYPE "E_new" RENAME TO "E";`` after the conversion
    means the column held ``E``; None when the file does not swap ``new_type`` in that way.
    """
    if not new_type.user_defined:
        return None
    renames = [s.summary for s in ctx.later() if isinstance(s.summary, m.RenameType)]
    for rename in renames:
        if rename.name.name == new_type.base:
            target = rename.new
            if any(r.name.name == target and r.new != new_type.base for r in renames):
                return target
    return None


def _migrate_rows(table: m.Name, column: str, removed: Sequence[str], kept: Sequence[str], array: bool) -> str:
    """Paste-ready SQL that moves rows off the removed values (or off every value not kept)."""
    col = m.quote_ident(column)
    if array:
        if removed:
            expression = col
            for value in removed:
                expression = f"array_remove({expression}, {m.quote_literal(value)})"
        else:
            allowed = ", ".join(m.quote_literal(v) for v in kept)
            expression = f"ARRAY(SELECT v FROM unnest({col}) AS v WHERE v::text IN ({allowed}))"
        return f"UPDATE {table.sql()} SET {col} = {expression};"
    target = m.quote_literal(kept[0]) if kept else "NULL"
    if len(removed) == 1:
        condition = f"{col} = {m.quote_literal(removed[0])}"
    elif removed:
        condition = f"{col} IN ({', '.join(m.quote_literal(v) for v in removed)})"
    else:
        condition = f"{col}::text NOT IN ({', '.join(m.quote_literal(v) for v in kept)})"
    return f"UPDATE {table.sql()} SET {col} = {target} WHERE {condition};"


def _check_action(ctx: Context, table: m.Name, action: m.AlterColumnType) -> Hit | None:
    new_type = action.new_type
    # Looked up in the schema the migration names (Prisma's multiSchema: "billing"."Plan_new").
    new_name = types.type_name(new_type)
    new_enum = ctx.schema.enum(new_name) if new_type.user_defined else None
    if new_enum is None:
        return None
    state = ctx.schema.column(table, action.column)
    if state is not None:
        if not state.type.user_defined or state.type.array_dims != new_type.array_dims:
            return None
        old_name: m.Name | None = types.type_name(state.type)
    else:
        swapped = swapped_enum(ctx, new_type)  # the history does not know the column: read the pattern
        old_name = m.Name(swapped, new_name.schema) if swapped is not None else None
    if old_name is None or ctx.schema.key(old_name) == ctx.schema.key(new_name):
        return None
    old_enum = ctx.schema.enum(old_name)
    if old_enum is None and swapped_enum(ctx, new_type) != old_name.name:
        return None  # the column's type is no enum the history knows, and the file does not swap it
    kept = list(new_enum.values)
    column = f"{table.display()}.{action.column}"
    if old_enum is not None:
        removed = [v for v in old_enum.values if v not in new_enum.values]
        if not removed:
            return None
        message = (
            f"Enum {old_name.display()} loses value(s) {', '.join(removed)} for column {column}: rows holding "
            "them make this statement fail, and the values are gone from the type afterwards."
        )
    else:
        removed = []
        message = (
            f"Enum {old_name.display()} is recreated as {new_type.base} without some of its values (it keeps only "
            f"{', '.join(kept) or 'none'}; the old ones are not known from the migration history): rows of "
            f"{column} holding a removed value make this statement fail."
        )
    update = _migrate_rows(table, action.column, removed, kept, new_type.array_dims > 0)
    return Hit(
        message=message,
        help=(
            "Move the rows off the removed value(s) first, in this migration before the type change or in "
            f"an earlier one: {update} (pick the value that fits)."
        ),
        object=ctx.ref(table, action.column),
        table=table,
    )


def check(ctx: Context) -> Iterator[Hit]:
    summary = ctx.summary
    if not isinstance(summary, m.AlterTable) or ctx.schema.is_fresh_table(summary.table):
        return
    for action in summary.actions:
        if isinstance(action, m.AlterColumnType):
            hit = _check_action(ctx, summary.table, action)
            if hit is not None:
                yield hit


RULE = Rule(
    id="SM111",
    name="enum-value-removed",
    category=Category.DATA_LOSS,
    severity=Severity.ERROR,
    summary="Removing an enum value fails on rows holding it, and the value is gone from the type.",
    alternative="Move rows off the removed values first (UPDATE ... SET col = <other value>).",
    bad=(
        "BEGIN;\n"
        "CREATE TYPE \"Role_new\" AS ENUM ('USER');\n"
        'ALTER TABLE "User" ALTER COLUMN "role" DROP DEFAULT;\n'
        'ALTER TABLE "User" ALTER COLUMN "role" TYPE "Role_new" USING ("role"::text::"Role_new");\n'
        'ALTER TYPE "Role" RENAME TO "Role_old";\n'
        'ALTER TYPE "Role_new" RENAME TO "Role";\n'
        'DROP TYPE "Role_old";\n'
        'ALTER TABLE "User" ALTER COLUMN "role" SET DEFAULT \'USER\';\n'
        "COMMIT;"
    ),
    good='UPDATE "User" SET "role" = \'USER\' WHERE "role" = \'ADMIN\';',
    why=__doc__ or "",
    check=check,
    on=(m.AlterTable,),
    lock="ACCESS EXCLUSIVE",
)
