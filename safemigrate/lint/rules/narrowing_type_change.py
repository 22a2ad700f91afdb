"""A type change that narrows a column rejects or silently rounds existing values.

PostgreSQL converts every stored value on ``ALTER COLUMN ... TYPE``: values that do not fit the new
type make the statement fail (text longer than ``varchar(n)``, a bigint beyond integer), and some
conversions change values without an error (numeric scale, timestamp precision, float to integer).
Prisma writes ``SET DATA TYPE`` when a field's ``@db`` type is tightened; the rounded values are
not recoverable after commit. When the history does not define the column, its current type is
unknown and the change is reported too.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.lint.rules.enum_value_removed import swapped_enum
from safemigrate.sql import model as m
from safemigrate.sql import types


def _type_sql(spec: m.TypeSpec) -> str:
    return spec.sql or spec.display()


def _is_enum(spec: m.TypeSpec, enums: frozenset[str]) -> bool:
    return spec.user_defined and spec.base in enums


def check(ctx: Context) -> Iterator[Hit]:
    summary = ctx.summary
    if not isinstance(summary, m.AlterTable) or ctx.schema.is_fresh_table(summary.table):
        return
    table = summary.table
    enums = ctx.schema.enum_names()
    for action in summary.actions:
        if not isinstance(action, m.AlterColumnType):
            continue
        state = ctx.schema.column(table, action.column)
        old = state.type if state is not None else None
        new = action.new_type
        if old is not None and _is_enum(old, enums) and _is_enum(new, enums):
            continue  # enum to enum: enum-value-removed
        if old is None and swapped_enum(ctx, new) is not None:
            continue  # Prisma's enum swap on a column the history does not know: enum-value-removed
        change = types.judge_type_change(old, new, enums)
        column = f"{table.display()}.{action.column}"
        backup = f"safemigrate backup --tables {table.display()}"
        if change.kind == types.UNKNOWN or old is None:
            message = (
                f"Changing {column} to {new.display()} may lose data: {change.reason}, "
                "so safemigrate cannot tell whether its values fit."
            )
            help_text = (
                f"Check the current type (\\d {table.sql()} in psql); if the new type is narrower, back up "
                f"first ({backup}) and check which values do not fit before changing it."
            )
        elif change.kind == types.NARROWING:
            message = f"Changing {column} from {old.display()} to {new.display()}: {change.reason}."
            help_text = (
                f"Keep the wider type, or back up first ({backup}) and fix the values that do not fit; "
                f"to keep both, add a new column (ALTER TABLE {table.sql()} ADD COLUMN "
                f"{m.quote_ident(action.column + '_new')} {_type_sql(new)};) and copy what fits."
            )
        else:
            continue
        yield Hit(message=message, help=help_text, object=ctx.ref(table, action.column), table=table)


RULE = Rule(
    id="SM110",
    name="narrowing-type-change",
    category=Category.DATA_LOSS,
    severity=Severity.ERROR,
    summary="A narrowing type change rejects or silently rounds existing values.",
    alternative="Keep the wider type, or back up and fix the values that do not fit first.",
    bad='ALTER TABLE "Post" ALTER COLUMN "title" SET DATA TYPE VARCHAR(50);',
    good='ALTER TABLE "Post" ADD COLUMN "shortTitle" VARCHAR(50);',
    why=__doc__ or "",
    check=check,
    on=(m.AlterTable,),
    lock="ACCESS EXCLUSIVE",
)
