"""``timestamp without time zone`` stores a wall-clock time with no offset.

The same value means different instants to servers and clients in different time zones, and
daylight-saving changes make some local times ambiguous. ``timestamptz`` stores an instant and
takes no more space. Prisma's default for ``DateTime`` is ``TIMESTAMP(3)``; ``@db.Timestamptz(3)``
selects ``timestamptz``. A matter of taste, so off by default.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql import model as m


def _columns(summary: m.Summary) -> Iterator[tuple[m.Name, str, m.TypeSpec]]:
    if isinstance(summary, m.CreateTable):
        for column in summary.columns:
            yield summary.table, column.name, column.type
    elif isinstance(summary, m.AlterTable):
        for action in summary.actions:
            if isinstance(action, m.AddColumn):
                yield summary.table, action.column.name, action.column.type
            elif isinstance(action, m.AlterColumnType):
                yield summary.table, action.column, action.new_type


def check(ctx: Context) -> Iterator[Hit]:
    for table, column, type_ in _columns(ctx.summary):
        if type_.base != "timestamp":
            continue
        precision = f"({type_.params[0]})" if type_.params else ""
        better = "TIMESTAMPTZ" + precision + "[]" * type_.array_dims
        yield Hit(
            message=(
                f"{table.display()}.{column} is timestamp without time zone: its values carry no offset, so "
                "clients in different time zones read different instants."
            ),
            help=(
                f"Use {better}: in schema.prisma add @db.Timestamptz{precision or '(6)'} to the field, "
                f"or write {m.quote_ident(column)} {better} in SQL."
            ),
            object=ctx.ref(table, column),
            table=table,
        )


RULE = Rule(
    id="SM601",
    name="prefer-timestamptz",
    category=Category.STYLE,
    severity=Severity.OFF,
    summary="timestamp without time zone values are read differently in different time zones.",
    alternative="timestamptz (Prisma: @db.Timestamptz(3)).",
    bad='ALTER TABLE "User" ADD COLUMN "lastSeenAt" TIMESTAMP(3);',
    good='ALTER TABLE "User" ADD COLUMN "lastSeenAt" TIMESTAMPTZ(3);',
    why=__doc__ or "",
    check=check,
)
