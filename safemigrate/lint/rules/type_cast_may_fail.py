"""Converting a column to a type of another family fails on the first value that does not convert.

``ALTER COLUMN ... TYPE`` converts every stored value; one that does not parse (``'n/a'`` to
integer, a malformed uuid, a string that is not a label of the enum) makes the statement fail and
the migration stop. It works on a developer's tidy data and fails on production's. Prisma does not
write such casts (it drops and re-adds the column instead); they come from hand-edited migrations
that keep the data with ``USING``. Each cast of a ``USING`` chain is judged: ``"code"::integer::text``
fails on ``'n/a'`` even though the column stays text. A ``USING`` expression that casts nothing read
from the column (``USING NULL``, ``USING "on" <> 0``) converts no stored value:
type-change-using-expression reports it.

Some conversions fail whatever the rows hold, even on an empty table: without USING PostgreSQL converts
only with an automatic (assignment) cast, and there is none from ``money`` to ``double precision``, from a
string to a number, from one enum to another, from a value to an array (Prisma's ``Color`` to ``Color[]``).
``column "m" cannot be cast automatically to type double precision`` stops the deploy, also on a table
the same deploy creates; a ``USING`` clause that says how to convert the values is the fix.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity, column_added_empty
from safemigrate.sql import model as m
from safemigrate.sql import types

_TEXT = frozenset({"text", "varchar", "char", "bpchar", "citext"})


def _help(ctx: Context, table: m.Name, action: m.AlterColumnType, old: m.TypeSpec | None, target: m.TypeSpec) -> str:
    """``target`` is the type the failing conversion reads the stored values into."""
    column = m.quote_ident(action.column)
    new_sql = action.new_type.sql or action.new_type.display()
    target_sql = target.sql or target.display()
    scalar = target.array_dims == 0 and (old is None or old.array_dims == 0)
    plain = action.using is None or types.using_casts_column(action.using, action.column)
    from_text = old is not None and old.base in _TEXT and scalar and plain
    if from_text and ctx.settings.pg_version >= 16:
        find = (
            f"SELECT {column} FROM {table.sql()} WHERE {column} IS NOT NULL "
            f"AND NOT pg_input_is_valid({column}, {m.quote_literal(target_sql)});"
        )
    else:
        conversion = action.using or f"{column}::{new_sql}"
        find = f"SELECT {conversion} FROM {table.sql()}; (it fails on the first value that does not convert)"
    return (
        f"Find the values that do not convert first: {find} Fix or clear them in an earlier migration; "
        f"or keep the old column: add a new one (ALTER TABLE {table.sql()} ADD COLUMN "
        f"{m.quote_ident(action.column + '_new')} {new_sql};), fill it from the values that convert, "
        "and switch the code to it."
    )


# Types a conversion without a cast of its own can go through (money::numeric::double precision).
_THROUGH = ("numeric", "timestamptz", "text")


def _converted(
    expression: str, source: m.TypeSpec, target: m.TypeSpec, enums: frozenset[str]
) -> tuple[str, str] | None:
    """``expression`` (of type ``source``) converted to ``target`` in a way PostgreSQL accepts, and what that
    does to the values ("" when nothing); None when no such conversion is known."""
    target_sql = target.sql or target.display()
    if bool(source.array_dims) == bool(target.array_dims):
        if types.convertible(source, target, enums, explicit=True):
            return f"{expression}::{target_sql}", ""
        for through in _THROUGH:
            step = m.TypeSpec(through, (), source.array_dims)
            if types.convertible(source, step, enums, explicit=True) and types.convertible(step, target, enums, True):
                return f"{expression}::{step.sql}::{target_sql}", ""
        return None
    if target.array_dims == 1:
        element = m.TypeSpec(target.base, target.params, 0, target.user_defined, target.sql.removesuffix("[]"))
        if (source.base, source.params, source.user_defined) != (element.base, element.params, element.user_defined):
            inner = _converted(expression, source, element, enums)
            if inner is None or inner[1]:
                return None
            expression = inner[0]
        return f"ARRAY[{expression}]", "a NULL becomes a list holding one NULL"
    if source.array_dims == 1 and not target.array_dims:
        first = m.TypeSpec(source.base, source.params, 0, source.user_defined)
        picked = f"{expression}[1]"
        same = (first.base, first.user_defined) == (target.base, target.user_defined)
        if not same and types.convertible(first, target, enums) is not True:
            converted = _converted(picked, first, target, enums)
            if converted is None:
                return None
            picked = converted[0]
        return picked, "each list keeps its first element only"
    return None


def _always_fails(
    ctx: Context,
    table: m.Name,
    action: m.AlterColumnType,
    old: m.TypeSpec,
    failing: types.ConversionStep,
    enums: frozenset[str],
) -> Hit:
    """The conversion ``failing`` has no cast PostgreSQL may apply: the statement fails before it reads a row."""
    new, column = action.new_type, action.column
    if failing.written:
        answer = f"cannot cast type {types.postgres_name(failing.source)} to {types.postgres_name(failing.target)}"
    elif action.using is not None:
        answer = (
            f'result of USING clause for column "{column}" cannot be cast automatically to type '
            f"{types.postgres_name(new)}"
        )
    else:
        answer = f'column "{column}" cannot be cast automatically to type {types.postgres_name(new)}'
    using = f" USING {action.using}" if action.using else ""
    alter = f"ALTER TABLE {table.sql()} ALTER COLUMN {m.quote_ident(column)} TYPE {new.sql or new.display()}"
    if action.using is not None and not failing.written:
        fix = _converted(f"({action.using})", failing.source, new, enums)
    else:
        fix = _converted(m.quote_ident(column), old, new, enums)
    if fix is None:
        help_text = f"Say how to convert each value with a USING clause: {alter} USING <expression of {column}>;"
    else:
        expression, effect = fix
        help_text = f"Say how to convert the values: {alter} USING {expression};" + (f" ({effect})" if effect else "")
    return Hit(
        message=(
            f"Changing {table.display()}.{column} from {old.display()} to {new.display()}{using} always fails: "
            f"PostgreSQL answers {answer}, even on an empty table, so the migration stops here."
        ),
        help=help_text,
        object=ctx.ref(table, column),
        table=None,  # fails whatever the table holds, even on a table created by this deploy
    )


def _reads_stored_values(steps: tuple[types.ConversionStep, ...], failing: types.ConversionStep) -> bool:
    """True when ``failing`` converts the stored values unchanged (every cast before it is lossless).

    pg_input_is_valid on the column then finds exactly the values that fail.
    """
    before = steps[: steps.index(failing)]
    return all(step.change.kind in (types.SAME, types.WIDENING) for step in before)


def _unknown_old_type(ctx: Context, table: m.Name, action: m.AlterColumnType, enums: frozenset[str]) -> Hit | None:
    """The history does not define the column; a USING clause still shows a conversion that is not automatic.

    Without USING, narrowing-type-change reports the unknown type; to an enum, it is Prisma's enum recreation.
    """
    if action.using is None or action.new_type.base in enums:
        return None
    new = action.new_type
    return Hit(
        message=(
            f"Changing {table.display()}.{action.column} to {new.display()} USING {action.using} fails if "
            "any row holds a value that does not convert (its current type is not known from the history)."
        ),
        help=_help(ctx, table, action, None, new),
        object=ctx.ref(table, action.column),
        table=table,
    )


def check(ctx: Context) -> Iterator[Hit]:
    alter = ctx.summary
    if not isinstance(alter, m.AlterTable):
        return
    table = alter.table
    enums = ctx.schema.enum_names()
    for i, action in enumerate(alter.actions):
        if not isinstance(action, m.AlterColumnType) or types.serial_type_in(action) is not None:
            continue  # a serial type: the statement fails before any value is cast (serial-type-change)
        if action.using is not None and not action.using_casts_column:
            continue  # the expression's result replaces the values: no stored value is cast
        state = ctx.schema.column(table, action.column)
        if state is None:
            hit = _unknown_old_type(ctx, table, action, enums)
            if hit is not None:
                yield hit
            continue
        old, new = state.type, action.new_type
        both_enums = old.base in enums and new.base in enums
        steps = types.conversion_steps(old, new, action.using, action.column, enums)
        refused = next((step for step in steps if step.change.kind == types.FAILS), None)
        if refused is not None:
            yield _always_fails(ctx, table, action, old, refused, enums)
            continue
        failing = next(
            (
                step
                for step in steps
                # enum to enum (Prisma's enum recreation, through text or not): enum-value-removed covers it
                if step.change.kind == types.CAST and not (both_enums and step.target.base == new.base)
            ),
            None,
        )
        if failing is None:
            continue
        if column_added_empty(ctx, table, action.column, alter.actions[:i]):
            continue  # added in this file: NULL everywhere, and NULL converts to anything
        using = f" USING {action.using}" if action.using else ""
        where = ""
        if len(steps) > 1:
            verb = "its cast" if failing.written else "the conversion"
            where = f"at {verb} from {failing.source.display()} to {failing.target.display()}, "
        yield Hit(
            message=(
                f"Changing {table.display()}.{action.column} from {old.display()} to {new.display()}{using} "
                f"fails if any row holds a value that does not convert: {where}{failing.change.reason}."
            ),
            help=_help(ctx, table, action, old if _reads_stored_values(steps, failing) else None, failing.target),
            object=ctx.ref(table, action.column),
            table=table,
        )


RULE = Rule(
    id="SM207",
    name="type-cast-may-fail",
    category=Category.MAY_FAIL,
    severity=Severity.ERROR,
    summary="A type change across families fails on the first stored value that does not convert.",
    alternative="Fix the values that do not convert first, or add a new column and copy what converts.",
    bad='ALTER TABLE "User" ALTER COLUMN "age" SET DATA TYPE INTEGER USING ("age"::integer);',
    good='ALTER TABLE "User" ADD COLUMN "ageYears" INTEGER;',
    why=__doc__ or "",
    check=check,
    on=(m.AlterTable,),
)
