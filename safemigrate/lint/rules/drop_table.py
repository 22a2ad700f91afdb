"""Dropping a table deletes every row it holds, and PostgreSQL keeps no copy.

Prisma writes ``DROP TABLE`` when a model is removed, and also when a model is renamed with
``@@map`` (it drops the old table and creates a new, empty one). Once the migration commits, the
rows are gone unless a backup was taken just before.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql import model as m


def check(ctx: Context) -> Iterator[Hit]:
    summary = ctx.summary
    if not isinstance(summary, m.DropObjects) or summary.kind not in ("table", "foreign table"):
        return
    for table in summary.names:
        if ctx.schema.is_fresh_table(table):
            continue  # created earlier in this deploy: it holds no rows yet
        yield Hit(
            message=f"Dropping table {table.display()} deletes all of its rows.",
            help=(
                "If the table was renamed, rename it instead of dropping it: "
                f'ALTER TABLE {table.sql()} RENAME TO "<new_name>"; otherwise keep a backup '
                f"(safemigrate backup --tables {table.name}) and drop it in a later release, "
                "once no code reads it."
            ),
            object=ctx.ref(table),
            table=table,
        )


RULE = Rule(
    id="SM101",
    name="drop-table",
    category=Category.DATA_LOSS,
    severity=Severity.ERROR,
    summary="Dropping a table deletes all of its rows.",
    alternative="Rename instead of drop+create; or back up and drop in a later release.",
    bad='DROP TABLE "Post";',
    good='ALTER TABLE "Post" RENAME TO "Article";',
    why=__doc__ or "",
    check=check,
    on=(m.DropObjects,),
    lock="ACCESS EXCLUSIVE",
)
