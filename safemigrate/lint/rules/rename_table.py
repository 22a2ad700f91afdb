"""Renaming a table breaks the app version that is still running during the deploy.

Prisma Client names the table in every query it sends. While the migration is applied and the new
code rolls out, the previous version keeps querying the old name and fails with "relation does not
exist" until it is replaced; a rollback of the code fails the same way. Tables created earlier in
this deploy are not in use yet and are not reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql import model as m


def _compatibility_view_follows(ctx: Context, table: m.Name) -> bool:
    old_key = ctx.schema.key(table)
    return any(
        isinstance(later.summary, m.CreateObject)
        and later.summary.kind == "view"
        and ctx.schema.key(later.summary.name) == old_key
        for later in ctx.later()
    )


def check(ctx: Context) -> Iterator[Hit]:
    summary = ctx.summary
    if not isinstance(summary, m.AlterTable) or ctx.schema.is_created_by_deploy(summary.table):
        return
    table = summary.table
    for action in summary.actions:
        if isinstance(action, m.RenameTable):
            new = m.Name(action.new, table.schema)
            if _compatibility_view_follows(ctx, table):
                continue  # expand/contract: a view keeps the old name working for the running code
            yield Hit(
                message=(
                    f"Renaming table {table.display()} to {action.new} makes the running app's queries on "
                    f"{table.display()} fail until the new code is deployed."
                ),
                help=(
                    f'Keep the table name and rename only the Prisma model, with @@map("{table.name}") '
                    "on it; or keep the old name working during the deploy with a view, in the same "
                    f"migration: CREATE VIEW {table.sql()} AS SELECT * FROM {new.sql()}; and drop the view "
                    "in a later release."
                ),
                object=ctx.ref(table),
                table=table,
            )


RULE = Rule(
    id="SM401",
    name="rename-table",
    category=Category.BREAKING,
    severity=Severity.WARNING,
    summary="Renaming a table breaks the running app version's queries on the old name.",
    alternative="Keep the table name (@@map in Prisma), or expand/contract with a view of the old name.",
    bad='ALTER TABLE "User" RENAME TO "Account";',
    good='CREATE VIEW "Account" AS SELECT * FROM "User";',
    why=__doc__ or "",
    check=check,
    on=(m.AlterTable,),
    lock="ACCESS EXCLUSIVE",
)
