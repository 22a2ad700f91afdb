"""REINDEX without CONCURRENTLY blocks writes to the table, and reads that use the index.

A plain ``REINDEX`` holds a SHARE lock on the table (inserts, updates and deletes wait) and an
ACCESS EXCLUSIVE lock on each index it rebuilds (queries planned to use it wait), for as long as
the rebuild takes. PostgreSQL 12 added ``REINDEX ... CONCURRENTLY``, which builds a new copy of
the index beside the old one; like any concurrent build it must run outside a transaction.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, ObjectRef, Rule, Severity
from safemigrate.sql import model as m


def _table(ctx: Context, reindex: m.Reindex) -> m.Name | None:
    if reindex.target == "table":
        return reindex.name
    if reindex.target == "index":
        known = ctx.schema.index_table(reindex.name)
        return m.Name(known[1], known[0]) if known else None
    return None  # schema, database, system: many tables


def check(ctx: Context) -> Iterator[Hit]:
    reindex = ctx.summary
    if not isinstance(reindex, m.Reindex) or reindex.concurrently:
        return
    table = _table(ctx, reindex)
    target = f"{reindex.target.upper()} {reindex.name.sql()}"
    if reindex.target == "table":
        scope = f"blocks writes to {reindex.name.display()}, and reads that use its indexes,"
    elif reindex.target == "index":
        where = table.display() if table else "its table"
        scope = f"blocks writes to {where}, and reads that use index {reindex.name.display()},"
    else:
        scope = f"blocks writes to each table of {reindex.target} {reindex.name.display()} in turn,"
    if reindex.target == "system":
        help_text = (
            "System catalogs cannot be reindexed concurrently: do not run this in a migration; run it by "
            "hand in a maintenance window."
        )
    elif ctx.settings.pg_version >= 12:
        help_text = (
            "Rebuild concurrently, as the only statement of its own migration file, so that Prisma runs it "
            f"outside a transaction: REINDEX {reindex.target.upper()} CONCURRENTLY {reindex.name.sql()};"
        )
    else:
        help_text = (
            "REINDEX CONCURRENTLY needs PostgreSQL 12+; before that, build a replacement with CREATE INDEX "
            "CONCURRENTLY, drop the old index with DROP INDEX CONCURRENTLY and rename the new one, each in "
            "its own migration file."
        )
    yield Hit(
        message=f"REINDEX {target} without CONCURRENTLY {scope} until the rebuild finishes.",
        help=help_text,
        object=ctx.ref(table) if table else ObjectRef(),
        table=table,
    )


RULE = Rule(
    id="SM303",
    name="reindex-non-concurrent",
    category=Category.LOCK,
    severity=Severity.WARNING,
    summary="A non-concurrent REINDEX blocks writes to the table, and reads that use the index.",
    alternative="REINDEX ... CONCURRENTLY (PostgreSQL 12+), alone in its own migration file.",
    bad='REINDEX INDEX "User_email_key";',
    good='REINDEX INDEX CONCURRENTLY "User_email_key";',
    why=__doc__ or "",
    check=check,
    on=(m.Reindex,),
    lock="SHARE (table), ACCESS EXCLUSIVE (index)",
    references=("https://www.postgresql.org/docs/current/sql-reindex.html#SQL-REINDEX-CONCURRENTLY",),
)
