"""DELETE in a migration removes rows from production data, with no copy kept.

A migration runs once per environment against whatever rows are there: a DELETE written against a
developer's data can match far more rows in production, and without WHERE it deletes them all.
Once the migration commits, only a backup brings them back. A DELETE inside a WITH query
(``WITH gone AS (DELETE ...) INSERT ...``) is reported the same way. Tables created earlier in this
deploy are empty and not reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql import model as m


def check(ctx: Context) -> Iterator[Hit]:
    for change in m.data_changes(ctx.summary):
        if isinstance(change, m.Delete) and not ctx.schema.is_fresh_table(change.table):
            yield _hit(ctx, change)


def _hit(ctx: Context, delete: m.Delete) -> Hit:
    table = delete.table
    if delete.has_where:
        message = f"This DELETE deletes the rows of table {table.display()} matching its WHERE clause."
    else:
        message = f"This DELETE has no WHERE clause: it deletes every row of table {table.display()}."
    return Hit(
        message=message,
        help=(
            f"Count the rows it matches on production first (SELECT count(*) FROM {table.sql()} WHERE ...;) "
            f"and back them up (safemigrate backup --tables {table.display()}); prefer a soft delete "
            "(a deletedAt column) when the rows may be needed again."
        ),
        object=ctx.ref(table),
        table=table,
    )


RULE = Rule(
    id="SM107",
    name="delete",
    category=Category.DATA_LOSS,
    severity=Severity.ERROR,
    summary="DELETE removes rows from production data.",
    alternative="Check how many rows match on production and back them up; prefer a soft delete.",
    bad='DELETE FROM "User" WHERE "lastLoginAt" < \'2020-01-01\';',
    good='ALTER TABLE "User" ADD COLUMN "deletedAt" TIMESTAMP(3);',
    why=__doc__ or "",
    check=check,
    on=(m.Delete, m.Update, m.Insert),
    lock="ROW EXCLUSIVE",
)
