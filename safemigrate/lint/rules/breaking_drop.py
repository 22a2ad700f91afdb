"""Dropping a table or column breaks the app version that is still running during the deploy.

The migration runs before (or while) the new code rolls out, so the previous version is still
serving requests. Prisma Client selects every scalar column of a model by name, so a dropped column
makes every query on that model fail, not only those using the field; a dropped table fails every
query on its model. Remove the usage from the code first, deploy, and drop in a later release.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql import model as m

_HELP = (
    "Remove it from the Prisma schema and the code in one release (keep the {what} in the database), "
    "deploy that, and drop the {what} in a later migration: {sql}"
)


def check(ctx: Context) -> Iterator[Hit]:
    summary = ctx.summary
    if isinstance(summary, m.DropObjects) and summary.kind == "table":
        for table in summary.names:
            if ctx.schema.is_created_by_deploy(table):
                continue
            yield Hit(
                message=(
                    f"Dropping table {table.display()} makes the running app's queries on it fail until the "
                    "new code is deployed."
                ),
                help=_HELP.format(what="table", sql=f"DROP TABLE {table.sql()};"),
                object=ctx.ref(table),
                table=table,
            )
    elif isinstance(summary, m.AlterTable) and not ctx.schema.is_created_by_deploy(summary.table):
        table = summary.table
        for action in summary.actions:
            if isinstance(action, m.DropColumn):
                column = m.quote_ident(action.column)
                yield Hit(
                    message=(
                        f"Dropping column {table.display()}.{action.column} makes the running app's "
                        f"queries on {table.display()} fail until the new code is deployed."
                    ),
                    help=_HELP.format(what="column", sql=f"ALTER TABLE {table.sql()} DROP COLUMN {column};"),
                    object=ctx.ref(table, action.column),
                    table=table,
                )


RULE = Rule(
    id="SM403",
    name="breaking-drop",
    category=Category.BREAKING,
    severity=Severity.WARNING,
    summary="Dropping a table or column breaks the running app version's queries.",
    alternative="Remove the usage from the code and deploy that first; drop in a later release.",
    bad='ALTER TABLE "User" DROP COLUMN "nickname";',
    good='ALTER TABLE "User" ALTER COLUMN "nickname" DROP NOT NULL;',
    why=__doc__ or "",
    check=check,
    lock="ACCESS EXCLUSIVE",
)
