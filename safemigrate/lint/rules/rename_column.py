"""Renaming a column breaks the app version that is still running during the deploy.

Prisma Client lists every scalar column by name in its queries, so after the rename every query
the previous version sends on that model fails ("column does not exist"), not only those using the
renamed field, until the new code is live; a code rollback fails the same way. Tables created
earlier in this deploy are not in use yet and are not reported.
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
        if isinstance(action, m.RenameColumn):
            yield Hit(
                message=(
                    f"Renaming column {table.display()}.{action.old} to {action.new} makes the running app's "
                    f"queries on {table.display()} fail until the new code is deployed."
                ),
                help=(
                    f'Keep the column and rename only the Prisma field, with @map("{action.old}") on it; or '
                    f"expand and contract: ALTER TABLE {table.sql()} ADD COLUMN {m.quote_ident(action.new)} "
                    "...; write both columns and backfill, switch reads to the new one, and drop the old "
                    "column in a later release."
                ),
                object=ctx.ref(table, action.old),
                table=table,
            )


RULE = Rule(
    id="SM402",
    name="rename-column",
    category=Category.BREAKING,
    severity=Severity.WARNING,
    summary="Renaming a column breaks the running app version's queries on the table.",
    alternative="Keep the column name (@map in Prisma), or expand/contract over two releases.",
    bad='ALTER TABLE "User" RENAME COLUMN "name" TO "fullName";',
    good='ALTER TABLE "User" ADD COLUMN "fullName" TEXT;',
    why=__doc__ or "",
    check=check,
    on=(m.AlterTable,),
    lock="ACCESS EXCLUSIVE",
)
