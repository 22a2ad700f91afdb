"""A type change whose USING clause computes new values replaces every stored value of the column.

``ALTER COLUMN ... TYPE ... USING <expression>`` writes the expression's result into every row:
``USING NULL`` empties the column, ``USING 'USER'::"Role"`` sets one value everywhere,
``USING left("title", 5)`` cuts every value. Whatever the old and new types, the old values are
gone after commit. A plain cast of the column itself (``USING "age"::integer``, Prisma's
``"role"::text::"Role_new"``) keeps each value and is judged by the type rules instead.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity, column_added_empty
from safemigrate.sql import model as m
from safemigrate.sql import types


def check(ctx: Context) -> Iterator[Hit]:
    alter = ctx.summary
    if not isinstance(alter, m.AlterTable) or ctx.schema.is_fresh_table(alter.table):
        return
    table = alter.table
    for i, action in enumerate(alter.actions):
        if not isinstance(action, m.AlterColumnType) or action.using is None:
            continue
        if types.serial_type_in(action) is not None:
            continue  # a serial type: the statement fails, no value is replaced (serial-type-change)
        if types.using_casts_column(action.using, action.column):
            continue
        if column_added_empty(ctx, table, action.column, alter.actions[:i]):
            continue  # added in this file without values: nothing stored to replace
        column = m.quote_ident(action.column)
        new_column = m.quote_ident(action.column + "_new")
        new_type = action.new_type.sql or action.new_type.display()
        yield Hit(
            message=(
                f"Changing {table.display()}.{action.column} to {action.new_type.display()} USING {action.using} "
                f"replaces every stored value of {action.column} with that expression's result: the old values "
                "are gone after commit."
            ),
            help=(
                f"Keep the old values: add a new column (ALTER TABLE {table.sql()} ADD COLUMN {new_column} "
                f"{new_type};), fill it in batches (UPDATE {table.sql()} SET {new_column} = {action.using} "
                f"WHERE {new_column} IS NULL AND <next batch>;), switch the code to it, and drop {column} in a "
                f"later release. If the values really must go, back them up first: safemigrate backup --tables "
                f"{table.display()}."
            ),
            object=ctx.ref(table, action.column),
            table=table,
        )


RULE = Rule(
    id="SM113",
    name="type-change-using-expression",
    category=Category.DATA_LOSS,
    severity=Severity.ERROR,
    summary="A type change USING an expression other than a cast of the column replaces every stored value.",
    alternative="Add a new column filled from the expression, keep the old one until the switch is done.",
    bad='ALTER TABLE "Post" ALTER COLUMN "title" TYPE VARCHAR(5) USING left("title", 5);',
    good='ALTER TABLE "User" ALTER COLUMN "age" TYPE INTEGER USING "age"::integer;',
    why=__doc__ or "",
    check=check,
    on=(m.AlterTable,),
    lock="ACCESS EXCLUSIVE",
)
