"""``CLUSTER`` rewrites the table in index order under an ACCESS EXCLUSIVE lock.

Every row is copied into a new file and every index rebuilt, and no query can read or write the
table until it ends; ``CLUSTER`` without a table name does this to every table clustered before.
pg_repack can reorder a table online.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, ObjectRef, Rule, Severity
from safemigrate.sql import model as m


def check(ctx: Context) -> Iterator[Hit]:
    cluster = ctx.summary
    if not isinstance(cluster, m.Cluster):
        return
    table = cluster.table
    if table is None:
        yield Hit(
            message=(
                "CLUSTER without a table rewrites every table of the database that was clustered before, "
                "each under an ACCESS EXCLUSIVE lock that blocks all its reads and writes."
            ),
            help="Remove it from the migration; reorder tables online with pg_repack --order-by, or by hand "
            "in a maintenance window.",
            object=ObjectRef(),
            table=None,
        )
        return
    yield Hit(
        message=(
            f"CLUSTER rewrites {table.display()} under an ACCESS EXCLUSIVE lock: every read and write of "
            f"{table.display()} waits until it finishes."
        ),
        help=(
            f"Remove it from the migration; reorder the table online with pg_repack "
            f"--table={m.quote_literal(table.sql())} --order-by=<columns>, or run it by hand in a "
            "maintenance window."
        ),
        object=ctx.ref(table),
        table=table,
    )


RULE = Rule(
    id="SM309",
    name="cluster",
    category=Category.LOCK,
    severity=Severity.WARNING,
    summary="CLUSTER rewrites the table, blocking reads and writes.",
    alternative="pg_repack --order-by, outside the migration.",
    bad='CLUSTER "Event" USING "Event_createdAt_idx";',
    good='CREATE INDEX CONCURRENTLY "Event_createdAt_idx" ON "Event"("createdAt");',
    why=__doc__ or "",
    check=check,
    on=(m.Cluster,),
    lock="ACCESS EXCLUSIVE",
    references=("https://www.postgresql.org/docs/current/sql-cluster.html",),
)
