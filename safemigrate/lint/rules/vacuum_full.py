"""``VACUUM FULL`` rewrites each table it processes under an ACCESS EXCLUSIVE lock.

It copies the live rows into a new file and rebuilds every index, and no query can read or write
the table until it ends; without a table name it does this to every table of the database. A
plain ``VACUUM`` reclaims space for reuse without blocking reads or writes, and pg_repack compacts
a table online. Neither belongs in a migration (VACUUM cannot run inside a transaction).
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, ObjectRef, Rule, Severity
from safemigrate.sql import model as m


def check(ctx: Context) -> Iterator[Hit]:
    vacuum = ctx.summary
    if not isinstance(vacuum, m.Vacuum) or not vacuum.full:
        return
    if not vacuum.tables:
        yield Hit(
            message=(
                "VACUUM FULL without a table rewrites every table of the database, each under an ACCESS "
                "EXCLUSIVE lock that blocks all its reads and writes."
            ),
            help="Remove it from the migration; run plain VACUUM, or pg_repack on the tables to compact.",
            object=ObjectRef(),
            table=None,
        )
        return
    for table in vacuum.tables:
        yield Hit(
            message=(
                f"VACUUM FULL rewrites {table.display()} under an ACCESS EXCLUSIVE lock: every read and "
                f"write of {table.display()} waits until it finishes."
            ),
            help=(
                f"Remove it from the migration; run VACUUM {table.sql()}; (no blocking lock), or compact the "
                f"table online with pg_repack --table={m.quote_literal(table.sql())}."
            ),
            object=ctx.ref(table),
            table=table,
        )


RULE = Rule(
    id="SM308",
    name="vacuum-full",
    category=Category.LOCK,
    severity=Severity.WARNING,
    summary="VACUUM FULL rewrites the table, blocking reads and writes.",
    alternative="Plain VACUUM, or pg_repack, outside the migration.",
    bad='VACUUM FULL "Event";',
    good='VACUUM "Event";',
    why=__doc__ or "",
    check=check,
    on=(m.Vacuum,),
    lock="ACCESS EXCLUSIVE",
    references=("https://www.postgresql.org/docs/current/sql-vacuum.html",),
)
