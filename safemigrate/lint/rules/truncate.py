"""TRUNCATE deletes every row of a table at once, and the deletion cannot be undone after commit.

It is faster than DELETE because it does not look at rows: no WHERE, no triggers per row, and it
takes an ACCESS EXCLUSIVE lock. In a migration it usually means a table is being "reset", which on
production deletes real data. Tables created earlier in this deploy are empty and not reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql import model as m


def check(ctx: Context) -> Iterator[Hit]:
    summary = ctx.summary
    if not isinstance(summary, m.Truncate):
        return
    for table in summary.tables:
        if ctx.schema.is_fresh_table(table):
            continue  # created by this deploy: no rows yet
        yield Hit(
            message=f"TRUNCATE deletes every row of table {table.display()}.",
            help=(
                f"Delete only the rows you mean (DELETE FROM {table.sql()} WHERE ...;), or back the table "
                f"up first (safemigrate backup --tables {table.display()}) and empty it outside the "
                "migration, where it is a deliberate one-off."
            ),
            object=ctx.ref(table),
            table=table,
        )


RULE = Rule(
    id="SM106",
    name="truncate",
    category=Category.DATA_LOSS,
    severity=Severity.ERROR,
    summary="TRUNCATE deletes every row of the table.",
    alternative="Delete only the rows you mean, or back up and empty the table outside the migration.",
    bad='TRUNCATE "Session";',
    good='DELETE FROM "Session" WHERE "expiresAt" < now();',
    why=__doc__ or "",
    check=check,
    on=(m.Truncate,),
    lock="ACCESS EXCLUSIVE",
)
