"""Adding a serial or identity column to a table that holds rows rewrites the whole table.

Every existing row must get its own number from the sequence, so PostgreSQL rewrites the table
and its indexes under ACCESS EXCLUSIVE: no query can read or write it until the rewrite ends.
Prisma writes ``SERIAL`` for a new ``Int @default(autoincrement())`` field.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql import model as m


def check(ctx: Context) -> Iterator[Hit]:
    alter = ctx.summary
    if not isinstance(alter, m.AlterTable):
        return
    table = alter.table
    for action in alter.actions:
        if not isinstance(action, m.AddColumn) or not action.column.identity:
            continue
        column = action.column
        name = m.quote_ident(column.name)
        sequence = m.Name(f"{table.name}_{column.name}_seq", table.schema).sql()
        nextval = f"nextval({m.quote_literal(sequence)})"
        yield Hit(
            message=(
                f"Adding {table.display()}.{column.name} as {column.type.sql or column.type.display()} "
                f"numbers every existing row, rewriting {table.display()} under an ACCESS EXCLUSIVE lock: "
                "every read and write of it waits until the rewrite ends."
            ),
            help=(
                f"Add a plain column fed by a sequence, and number old rows in batches: CREATE SEQUENCE "
                f"{sequence}; ALTER TABLE {table.sql()} ADD COLUMN {name} {column.type.display()}; "
                f"ALTER TABLE {table.sql()} ALTER COLUMN {name} SET DEFAULT {nextval}; ALTER SEQUENCE "
                f"{sequence} OWNED BY {table.sql()}.{name}; then, in later transactions: "
                f"UPDATE {table.sql()} SET {name} = {nextval} WHERE {name} IS NULL AND <next batch>;"
            ),
            object=ctx.ref(table, column.name),
            table=table,
        )


RULE = Rule(
    id="SM306",
    name="add-serial-identity",
    category=Category.LOCK,
    severity=Severity.WARNING,
    summary="A new serial or identity column numbers every row, rewriting the table.",
    alternative="Add a plain column with a sequence default, then number old rows in batches.",
    bad='ALTER TABLE "User" ADD COLUMN "number" SERIAL NOT NULL;',
    good='ALTER TABLE "User" ADD COLUMN "number" INTEGER;',
    why=__doc__ or "",
    check=check,
    on=(m.AlterTable,),
    lock="ACCESS EXCLUSIVE",
)
