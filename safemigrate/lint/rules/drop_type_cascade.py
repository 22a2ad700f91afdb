"""Dropping a type or domain with CASCADE drops every column of that type, with its data.

``DROP TYPE "Role" CASCADE`` does not only remove the enum: PostgreSQL drops each table column
declared with it (and arrays of it), deleting those values in every row, without listing them.
Prisma itself writes ``DROP TYPE`` without CASCADE, which fails while a column still uses the type.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql import model as m


def _columns_of_type(ctx: Context, type_name: m.Name) -> list[tuple[m.Name, str]]:
    """Columns of tables holding rows whose type (or array element type) is ``type_name``."""
    found = []
    for (schema, table_name), table in sorted(ctx.schema.tables.items()):
        name = m.Name(table_name, None if schema == ctx.schema.default_schema else schema)
        if ctx.schema.is_fresh_table(name):
            continue
        for column in table.columns.values():
            if column.type.user_defined and column.type.base == type_name.name:
                found.append((name, column.name))
    return found


def check(ctx: Context) -> Iterator[Hit]:
    summary = ctx.summary
    if not isinstance(summary, m.DropObjects) or summary.kind not in ("type", "domain"):
        return
    if not summary.cascade:
        return
    for type_name in summary.names:
        if ctx.schema.is_fresh_enum(type_name):
            continue  # created by this deploy: no existing column can use it
        columns = _columns_of_type(ctx, type_name)
        listed = ", ".join(f"{t.display()}.{c}" for t, c in columns)
        known = f" ({listed})" if listed else ""
        first = f"ALTER TABLE {columns[0][0].sql()} DROP COLUMN {m.quote_ident(columns[0][1])}; " if columns else ""
        yield Hit(
            message=(
                f"Dropping {summary.kind} {type_name.display()} with CASCADE also drops every column of that "
                f"type{known}, with its data."
            ),
            help=(
                "Convert or drop the columns that use it explicitly first "
                f"({first}ALTER TABLE ... ALTER COLUMN ... TYPE text;), then "
                f"DROP {summary.kind.upper()} {type_name.sql()}; without CASCADE, which fails while a column "
                "still uses it."
            ),
            object=ctx.ref(type_name),
        )


RULE = Rule(
    id="SM112",
    name="drop-type-cascade",
    category=Category.DATA_LOSS,
    severity=Severity.ERROR,
    summary="Dropping a type with CASCADE drops every column of that type, with its data.",
    alternative="Convert or drop the columns that use the type first, then drop it without CASCADE.",
    bad='DROP TYPE "Role" CASCADE;',
    good='DROP TYPE "Role";',
    why=__doc__ or "",
    check=check,
    on=(m.DropObjects,),
    lock="ACCESS EXCLUSIVE",
)
