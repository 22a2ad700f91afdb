"""Dropping an index without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on its table.

While ``DROP INDEX`` waits for that lock and holds it, every read and write of the table waits
too, including the queries queued behind it. Prisma writes a plain ``DROP INDEX`` when an
``@@index`` or ``@unique`` is removed. ``DROP INDEX CONCURRENTLY`` waits for running queries
without blocking new ones, but cannot run inside a transaction: it must be alone in its file.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, ObjectRef, Rule, Severity
from safemigrate.sql import model as m


def check(ctx: Context) -> Iterator[Hit]:
    drop = ctx.summary
    if not isinstance(drop, m.DropIndex) or drop.concurrently:
        return
    for index in drop.names:
        if ctx.schema.is_fresh_index(index):
            continue  # created by this deploy: its table holds no rows yet
        known = ctx.schema.index_table(index)
        table = m.Name(known[1], known[0]) if known else None
        on = f"table {table.display()}" if table else "its table"
        if_exists = "IF EXISTS " if drop.if_exists else ""
        cascade = " (CONCURRENTLY refuses CASCADE: drop dependent objects first)" if drop.cascade else ""
        yield Hit(
            message=(
                f"Dropping index {index.display()} without CONCURRENTLY locks {on} with ACCESS EXCLUSIVE: "
                "every read and write of it waits, including those queued behind the drop."
            ),
            help=(
                "Drop it concurrently, as the only statement of its own migration file, so that Prisma runs "
                f"it outside a transaction: DROP INDEX CONCURRENTLY {if_exists}{index.sql()};{cascade}"
            ),
            object=ctx.ref(table) if table else ObjectRef(),
            table=table,
        )


RULE = Rule(
    id="SM302",
    name="drop-index-non-concurrent",
    category=Category.LOCK,
    severity=Severity.WARNING,
    summary="A non-concurrent DROP INDEX blocks reads and writes of the table while it waits and runs.",
    alternative="DROP INDEX CONCURRENTLY, alone in its own migration file.",
    bad='DROP INDEX "User_email_key";',
    good='DROP INDEX CONCURRENTLY "User_email_key";',
    why=__doc__ or "",
    check=check,
    on=(m.DropIndex,),
    lock="ACCESS EXCLUSIVE",
    references=("https://www.postgresql.org/docs/current/sql-dropindex.html",),
)
