"""Adding a NOT NULL column without a default fails as soon as the table holds a row.

PostgreSQL fills the new column with NULL in every existing row, which NOT NULL rejects, so the
statement errors and the migration stops. Prisma writes this when a required field is added with
no ``@default`` (or only a Prisma-level one such as ``cuid()``) and warns "Added the required
column ... without a default value. This is not possible if the table is not empty": it works on a
developer's empty database and fails in production.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql import model as m


def _has_value_default(column: m.ColumnSpec) -> bool:
    """True when existing rows get a value: a non-NULL default, an identity/serial or a generated column."""
    if column.identity or column.generated:
        return True
    return column.default is not None and column.default.sql.strip().upper() != "NULL"


def check(ctx: Context) -> Iterator[Hit]:
    alter = ctx.summary
    if not isinstance(alter, m.AlterTable):
        return
    table = alter.table
    for action in alter.actions:
        if not isinstance(action, m.AddColumn):
            continue
        column = action.column
        if not column.not_null or _has_value_default(column):
            continue
        if action.if_not_exists and ctx.schema.column(table, column.name) is not None:
            continue  # the column already exists: the statement does nothing
        name = m.quote_ident(column.name)
        type_sql = column.type.sql or column.type.display()
        yield Hit(
            message=(
                f"Adding required column {table.display()}.{column.name} ({column.type.display()}, NOT NULL, "
                f"no default) fails as soon as {table.display()} holds a row: existing rows would get NULL."
            ),
            help=(
                f"Add it nullable, backfill, then require it: ALTER TABLE {table.sql()} ADD COLUMN {name} "
                f"{type_sql}; UPDATE {table.sql()} SET {name} = <value> WHERE {name} IS NULL; "
                f"ALTER TABLE {table.sql()} ALTER COLUMN {name} SET NOT NULL; "
                "(in Prisma: make the field optional, deploy and backfill, then make it required). "
                f"Or give it a default: ALTER TABLE {table.sql()} ADD COLUMN {name} {type_sql} NOT NULL "
                "DEFAULT <value>; (@default(...) in schema.prisma)."
            ),
            object=ctx.ref(table, column.name),
            table=table,
        )


RULE = Rule(
    id="SM201",
    name="add-required-column",
    category=Category.MAY_FAIL,
    severity=Severity.ERROR,
    summary="A NOT NULL column without a default cannot be added to a table that holds rows.",
    alternative="Add the column nullable, backfill it, then SET NOT NULL; or add it with a DEFAULT.",
    bad='ALTER TABLE "Product" ADD COLUMN "sku" TEXT NOT NULL;',
    good='ALTER TABLE "Product" ADD COLUMN "sku" TEXT NOT NULL DEFAULT \'\';',
    why=__doc__ or "",
    check=check,
    on=(m.AlterTable,),
)
