"""A new NOT NULL column without a default breaks the INSERTs of the app version still running.

The previous version of the code does not know the column, so its inserts (Prisma's ``create``)
leave it out, and PostgreSQL rejects them with a not-null violation until the new code is live.
Identity, serial and generated columns fill themselves and are fine; so are tables created earlier
in this deploy. (On a table with rows the statement itself also fails: add-required-column.)
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql import model as m


def check(ctx: Context) -> Iterator[Hit]:
    summary = ctx.summary
    if not isinstance(summary, m.AlterTable) or ctx.schema.is_created_by_deploy(summary.table):
        return
    table = summary.table
    for action in summary.actions:
        if not isinstance(action, m.AddColumn):
            continue
        column = action.column
        if not column.not_null or column.default is not None or column.identity or column.generated:
            continue
        name = m.quote_ident(column.name)
        type_sql = column.type.sql or column.type.display()
        yield Hit(
            message=(
                f"New required column {table.display()}.{column.name} has no default: inserts from the "
                "running app version, which does not know it, fail until the new code is deployed."
            ),
            help=(
                f"Give it a default (ALTER TABLE {table.sql()} ADD COLUMN {name} {type_sql} NOT NULL DEFAULT "
                "<value>;, @default(...) in Prisma), or add it as optional first "
                f"(ALTER TABLE {table.sql()} ADD COLUMN {name} {type_sql};), deploy code that writes it, "
                "backfill, and make it required in a later release."
            ),
            object=ctx.ref(table, column.name),
            table=table,
        )


RULE = Rule(
    id="SM404",
    name="new-required-column",
    category=Category.BREAKING,
    severity=Severity.WARNING,
    summary="A new required column without a default breaks inserts of the running app version.",
    alternative="Add it with a default, or optional first and required in a later release.",
    bad='ALTER TABLE "Product" ADD COLUMN "sku" TEXT NOT NULL;',
    good='ALTER TABLE "Product" ADD COLUMN "sku" TEXT;',
    why=__doc__ or "",
    check=check,
    on=(m.AlterTable,),
    lock="ACCESS EXCLUSIVE",
)
