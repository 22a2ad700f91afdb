"""A type change that narrows a column rejects or silently rounds existing values.

PostgreSQL converts every stored value on ``ALTER COLUMN ... TYPE``: values that do not fit the new
type make the statement fail (text longer than ``varchar(n)``, a bigint beyond integer), and some
conversions change values without an error (numeric scale, timestamp precision, float to integer).
Prisma writes ``SET DATA TYPE`` when a field's ``@db`` type is tightened; the rounded values are
not recoverable after commit. A ``USING`` that casts the column on the way is judged cast by cast:
``USING "createdAt"::date`` back to ``timestamp(3)`` drops every time of day, ``"score"::integer::text``
rounds 1.5 to ``'2'``, and an explicit ``::varchar(2)`` cuts what is longer. When the history does not
define the column, its current type is unknown and the change is reported too.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.lint.rules.enum_value_removed import swapped_enum
from safemigrate.sql import model as m
from safemigrate.sql import types


def _type_sql(spec: m.TypeSpec) -> str:
    return spec.sql or spec.display()


def _step_phrase(step: types.ConversionStep) -> str:
    """Where a value is lost: the cast written in USING, or the conversion to the column's type after it."""
    verb = "its cast" if step.written else "the conversion"
    return f"at {verb} from {step.source.display()} to {step.target.display()}, {step.change.reason}"


def _as_text_help(table: m.Name, column: str, old: m.TypeSpec, new: m.TypeSpec, backup: str) -> str:
    """A bytea or an array converted to text: store the text it stands for, not its spelling."""
    col = m.quote_ident(column)
    alter = f"ALTER TABLE {table.sql()} ALTER COLUMN {col} TYPE {_type_sql(new)} USING"
    if old.array_dims:
        convert = f"join the elements yourself: {alter} array_to_string({col}, ','); (NULL elements are left out)"
    else:
        convert = (
            f"if the bytes are UTF-8 text, store that text: {alter} convert_from({col}, 'UTF8'); (fails on others)"
        )
    return f"Keep {old.display()}, or {convert}; back up first ({backup})."


def check(ctx: Context) -> Iterator[Hit]:
    summary = ctx.summary
    if not isinstance(summary, m.AlterTable) or ctx.schema.is_fresh_table(summary.table):
        return
    table = summary.table
    enums = ctx.schema.enum_names()
    for action in summary.actions:
        if not isinstance(action, m.AlterColumnType) or types.serial_type_in(action) is not None:
            continue  # a serial type: the statement fails, no value changes (serial-type-change)
        state = ctx.schema.column(table, action.column)
        old = state.type if state is not None else None
        new = action.new_type
        if old is None and swapped_enum(ctx, new) is not None:
            continue  # Prisma's enum swap on a column the history does not know: enum-value-removed
        column = f"{table.display()}.{action.column}"
        backup = f"safemigrate backup --tables {table.display()}"
        if old is None:
            change = types.judge_type_change(old, new, enums)
            message = (
                f"Changing {column} to {new.display()} may lose data: {change.reason}, "
                "so safemigrate cannot tell whether its values fit."
            )
            help_text = (
                f"Check the current type (\\d {table.sql()} in psql); if the new type is narrower, back up "
                f"first ({backup}) and check which values do not fit before changing it."
            )
            yield Hit(message=message, help=help_text, object=ctx.ref(table, action.column), table=table)
            continue
        # Enum to enum never narrows (enum-value-removed judges dropped values); a cast on the way can.
        steps = types.conversion_steps(old, new, action.using, action.column, enums)
        lossy = next((step for step in steps if step.change.kind == types.NARROWING), None)
        if lossy is None or any(step.change.kind == types.FAILS for step in steps):
            continue  # no value is lost, or the statement fails before it converts one (type-cast-may-fail)
        if len(steps) == 1 and not lossy.written:
            message = f"Changing {column} from {old.display()} to {new.display()}: {lossy.change.reason}."
        else:
            message = (
                f"Changing {column} from {old.display()} to {new.display()} USING {action.using}: "
                f"{_step_phrase(lossy)}."
            )
        direct = types.judge_type_change(old, new, enums)
        if lossy.written and direct.kind == types.SAME:
            help_text = (
                f"{column} already is {new.display()}: leave this change out, which keeps its values; if the "
                f"values are meant to change, back them up first ({backup}) and say so with an UPDATE."
            )
        elif lossy.written and direct.kind != types.NARROWING:
            cast = f"{m.quote_ident(action.column)}::{_type_sql(new)}"
            help_text = (
                f"Cast the column straight to the new type, which keeps its values: ALTER TABLE {table.sql()} "
                f"ALTER COLUMN {m.quote_ident(action.column)} TYPE {_type_sql(new)} USING {cast}; "
                f"if the values are meant to change, back them up first ({backup})."
            )
        elif not lossy.written and (old.array_dims or old.base == "bytea"):
            help_text = _as_text_help(table, action.column, old, new, backup)
        else:
            help_text = (
                f"Keep the wider type, or back up first ({backup}) and fix the values that do not fit; "
                f"to keep both, add a new column (ALTER TABLE {table.sql()} ADD COLUMN "
                f"{m.quote_ident(action.column + '_new')} {_type_sql(new)};) and copy what fits."
            )
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
