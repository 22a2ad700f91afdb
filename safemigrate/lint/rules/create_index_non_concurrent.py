"""Building an index without CONCURRENTLY blocks every write to the table until the build ends.

``CREATE INDEX`` takes a SHARE lock: reads go on, but every INSERT, UPDATE and DELETE waits for the
whole build. Prisma writes a plain one for every ``@@index``, ``@unique`` and ``@@unique``.
``CREATE INDEX CONCURRENTLY`` does not block writes, but cannot run in a transaction: it must be the
only statement of its migration file (Prisma then runs it outside a transaction).
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql import model as m


def check(ctx: Context) -> Iterator[Hit]:
    index = ctx.summary
    if not isinstance(index, m.CreateIndex) or index.concurrently:
        return
    table = index.table
    what = ("unique index" if index.unique else "index") + (f" {index.name.display()}" if index.name else "")
    yield Hit(
        message=(
            f"Building {what} on {table.display()} without CONCURRENTLY blocks every insert, update and "
            f"delete on {table.display()} until the build finishes."
        ),
        help=(
            f"Build it concurrently, as the only statement of its own migration file (create one with "
            f"`prisma migrate dev --create-only`), so that Prisma runs it outside a transaction: "
            f"{index.concurrently_sql(ctx.statement.text)};"
        ),
        object=ctx.ref(table),
        table=table,
    )


RULE = Rule(
    id="SM301",
    name="create-index-non-concurrent",
    category=Category.LOCK,
    severity=Severity.WARNING,
    summary="A non-concurrent index build blocks writes to the table for the whole build.",
    alternative="CREATE INDEX CONCURRENTLY, alone in its own migration file.",
    bad='CREATE UNIQUE INDEX "User_email_key" ON "User"("email");',
    good='CREATE UNIQUE INDEX CONCURRENTLY "User_email_key" ON "User"("email");',
    why=__doc__ or "",
    check=check,
    on=(m.CreateIndex,),
    lock="SHARE",
    references=("https://www.postgresql.org/docs/current/sql-createindex.html#SQL-CREATEINDEX-CONCURRENTLY",),
)
