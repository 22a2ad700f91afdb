"""Changing a column's type usually rewrites the whole table under an ACCESS EXCLUSIVE lock.

Unless the types are binary compatible (``varchar(50)`` to ``varchar(100)`` or ``text``),
PostgreSQL copies every row and rebuilds every index while no query can read or write the table;
even widening ``integer`` to ``bigint`` rewrites. Prisma writes ``ALTER COLUMN ... SET DATA TYPE``
when a field's type or its ``@db.`` attribute changes. A ``USING`` expression that is more than a
cast of the column (``USING NULL``, ``USING left("title", 5)``) always rewrites, and so does a cast
through another type even back to the same one (``USING "createdAt"::date`` on a timestamp column).
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql import model as m
from safemigrate.sql.types import (
    FAILS,
    ConversionStep,
    conversion_steps,
    serial_type_in,
    type_name,
    using_casts_column,
)


def _is_enum(type_: m.TypeSpec, enums: frozenset[str]) -> bool:
    return type_.user_defined and type_.base in enums


def _drops_enum_values(ctx: Context, old: m.TypeSpec, new: m.TypeSpec) -> bool:
    """True when the new enum lacks a value of the old one: enum-value-removed reports the change."""
    old_enum, new_enum = ctx.schema.enum(type_name(old)), ctx.schema.enum(type_name(new))
    return old_enum is not None and new_enum is not None and not set(old_enum.values) <= set(new_enum.values)


def _rewrites(steps: tuple[ConversionStep, ...]) -> bool:
    """True when a conversion rewrites the table; not when one has no cast: the statement fails first."""
    return any(step.change.rewrite for step in steps) and not any(step.change.kind == FAILS for step in steps)


def check(ctx: Context) -> Iterator[Hit]:
    alter = ctx.summary
    if not isinstance(alter, m.AlterTable):
        return
    table = alter.table
    enums = ctx.schema.enum_names()
    for action in alter.actions:
        if not isinstance(action, m.AlterColumnType) or serial_type_in(action) is not None:
            continue  # a serial type: the statement fails before any row is read (serial-type-change)
        column = ctx.schema.column(table, action.column)
        old = column.type if column else None
        new = action.new_type
        where = f"{table.display()}.{action.column}"
        fill = m.quote_ident(action.column)
        if action.using is not None and not using_casts_column(action.using, action.column):
            # A computed value is written into every row, whatever the types.
            fill = action.using
            change = (
                f"Changing {where} to {new.display()} USING {action.using} rewrites {table.display()} "
                "and all its indexes"
            )
        elif old is not None and _is_enum(old, enums) and _is_enum(new, enums) and _drops_enum_values(ctx, old, new):
            # Prisma's enum recreation dropping values: enum-value-removed reports it. Recreated only to
            # add or reorder values, no rule but this one sees the rewrite.
            continue
        elif old is None:
            change = (
                f"Changing {where} to {new.display()} may rewrite {table.display()} and all its indexes (its "
                "current type is not known from the migration history)"
            )
        elif not _rewrites(conversion_steps(old, new, action.using, action.column, enums)):
            continue  # binary compatible at every cast (varchar(50) to text), or it fails (type-cast-may-fail)
        else:
            change = (
                f"Changing {where} from {old.display()} to {new.display()} rewrites {table.display()} "
                "and all its indexes"
            )
        new_column = m.quote_ident(action.column + "_new")
        yield Hit(
            message=(
                f"{change}, under an ACCESS EXCLUSIVE lock: every read and write of {table.display()} waits "
                "until it finishes."
            ),
            help=(
                f"On a large table, move to a new column instead: ALTER TABLE {table.sql()} ADD COLUMN "
                f"{new_column} {new.sql or new.display()}; fill it for new rows (application or trigger), "
                f"backfill old rows in batches (UPDATE {table.sql()} SET {new_column} = "
                f"{fill} WHERE {new_column} IS NULL AND <next batch>;), then switch "
                "the code to it and swap the columns in a later migration. On a small table, set "
                "lock_timeout and accept the short rewrite."
            ),
            object=ctx.ref(table, action.column),
            table=table,
        )


RULE = Rule(
    id="SM304",
    name="type-change-rewrite",
    category=Category.LOCK,
    severity=Severity.WARNING,
    summary="A column type change that is not binary compatible rewrites the table, blocking all queries.",
    alternative="Add a column of the new type, backfill it in batches, then switch to it.",
    bad='ALTER TABLE "User" ALTER COLUMN "id" SET DATA TYPE BIGINT;',
    good='ALTER TABLE "User" ADD COLUMN "id_new" BIGINT;',
    why=__doc__ or "",
    check=check,
    on=(m.AlterTable,),
    lock="ACCESS EXCLUSIVE",
    references=("https://www.postgresql.org/docs/current/sql-altertable.html#SQL-ALTERTABLE-NOTES",),
)
