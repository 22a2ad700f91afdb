"""Dropping a column deletes its value in every row.

Prisma writes ``DROP COLUMN`` when a field is removed or renamed (a renamed field becomes a drop
and an add, losing the data), and when a type change has no cast ("dropped and recreated").
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql import model as m


def check(ctx: Context) -> Iterator[Hit]:
    summary = ctx.summary
    if not isinstance(summary, m.AlterTable) or ctx.schema.is_fresh_table(summary.table):
        return
    table = summary.table
    for action in summary.actions:
        if isinstance(action, m.DropColumn):
            yield Hit(
                message=f"Dropping column {table.display()}.{action.column} deletes its value in every row.",
                help=(
                    "If the field was renamed, rename the column instead: "
                    f'ALTER TABLE {table.sql()} RENAME COLUMN {m.quote_ident(action.column)} TO "<new_name>"; '
                    "otherwise stop reading it in the code first and drop it in a later release, after a backup."
                ),
                object=ctx.ref(table, action.column),
                table=table,
            )


RULE = Rule(
    id="SM102",
    name="drop-column",
    category=Category.DATA_LOSS,
    severity=Severity.ERROR,
    summary="Dropping a column deletes its value in every row.",
    alternative="Rename the column if it was renamed; otherwise drop it in a later release, after a backup.",
    bad='ALTER TABLE "User" DROP COLUMN "nickname";',
    good='ALTER TABLE "User" RENAME COLUMN "nickname" TO "displayName";',
    why=__doc__ or "",
    check=check,
    on=(m.AlterTable,),
    lock="ACCESS EXCLUSIVE",
)
