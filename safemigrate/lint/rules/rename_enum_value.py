"""Renaming an enum value breaks the app version that is still running during the deploy.

``ALTER TYPE ... RENAME VALUE`` changes the label of every row at once. The previous app version
still writes the old label, and PostgreSQL rejects it ("invalid input value for enum"); it also
reads back a label its Prisma Client does not know, and fails on it. A code rollback fails the same
way. Enums created earlier in this deploy are not in use yet and are not reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql import model as m


def _columns_of(ctx: Context, enum: str) -> list[tuple[m.Name, str]]:
    """(table, column) pairs whose type is the enum (or a list of it), as far as the history knows."""
    found = []
    for (schema, table), state in sorted(ctx.schema.tables.items()):
        for column in state.columns.values():
            if column.type.user_defined and column.type.base == enum:
                qualifier = None if schema == ctx.schema.default_schema else schema
                found.append((m.Name(table, qualifier), column.name))
    return found


def check(ctx: Context) -> Iterator[Hit]:
    rename = ctx.summary
    if not isinstance(rename, m.AlterEnumRenameValue):
        return
    state = ctx.schema.enum(rename.name)
    if state is not None and state.created_in in ctx.schema.fresh_migrations:
        return  # created by this deploy: no running code uses it yet
    enum = rename.name
    old, new = m.quote_literal(rename.old), m.quote_literal(rename.new)
    moves = (
        " ".join(
            f"UPDATE {table.sql()} SET {m.quote_ident(column)} = {new} WHERE {m.quote_ident(column)} = {old};"
            for table, column in _columns_of(ctx, enum.name)
        )
        or f"UPDATE <table> SET <column> = {new} WHERE <column> = {old};"
    )
    yield Hit(
        message=(
            f"Renaming value {rename.old} of enum {enum.display()} to {rename.new} makes the running app's writes "
            f"of {rename.old} fail, and its reads of {rename.new} fail, until the new code is deployed."
        ),
        help=(
            f"Keep the label in the database and rename only the Prisma value, with @map: "
            f'{rename.new} @map("{rename.old}"). Or expand and contract: ALTER TYPE {enum.sql()} ADD VALUE '
            f"{new}; deploy code that accepts both labels, then move the rows in a later migration: {moves} "
            "and stop using the old label."
        ),
        object=ctx.ref(enum),
    )


RULE = Rule(
    id="SM406",
    name="rename-enum-value",
    category=Category.BREAKING,
    severity=Severity.WARNING,
    summary="Renaming an enum value breaks the running app version's writes and reads of that enum.",
    alternative='Keep the database label (@map("OLD") on the Prisma value), or add the new value and move rows.',
    bad="ALTER TYPE \"Role\" RENAME VALUE 'ADMIN' TO 'SUPERUSER';",
    good="ALTER TYPE \"Role\" ADD VALUE 'SUPERUSER';",
    why=__doc__ or "",
    check=check,
    on=(m.AlterEnumRenameValue,),
)
