"""A CONCURRENTLY index operation fails inside a transaction block.

``CREATE INDEX``, ``DROP INDEX`` and ``REINDEX`` ``CONCURRENTLY`` refuse to run in a transaction.
Prisma sends a migration file as one multi-statement query, which PostgreSQL runs as one
transaction, so such a statement only works alone in its file (a ``SET`` beside it is enough to
break it): otherwise the migration fails with "cannot run inside a transaction block".
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, ObjectRef, Rule, Severity
from safemigrate.sql import model as m


def _index_table(ctx: Context, index: m.Name) -> m.Name | None:
    known = ctx.schema.index_table(index)
    return m.Name(known[1], known[0]) if known else None


def _describe(ctx: Context) -> tuple[str, m.Name | None] | None:
    """The statement's name and the table it concerns (None when not known), for CONCURRENTLY forms."""
    summary = ctx.summary
    if isinstance(summary, m.CreateIndex) and summary.concurrently:
        return "CREATE INDEX CONCURRENTLY", summary.table
    if isinstance(summary, m.DropIndex) and summary.concurrently:
        return "DROP INDEX CONCURRENTLY", _index_table(ctx, summary.names[0])
    if isinstance(summary, m.Reindex) and summary.concurrently:
        if summary.target == "table":
            return "REINDEX CONCURRENTLY", summary.name
        if summary.target == "index":
            return "REINDEX CONCURRENTLY", _index_table(ctx, summary.name)
        return "REINDEX CONCURRENTLY", None
    return None


def check(ctx: Context) -> Iterator[Hit]:
    found = _describe(ctx)
    if found is None:
        return
    statement, table = found
    if ctx.session.explicit_transaction:
        where = "it runs between BEGIN and COMMIT"
    elif len(ctx.statements) > 1:
        where = (
            f"this file has {len(ctx.statements)} statements and Prisma runs a file as one multi-statement "
            "query, that is, as one transaction"
        )
    else:
        return
    yield Hit(
        message=(
            f"{statement} cannot run inside a transaction block, but {where}: PostgreSQL rejects it and the "
            "migration fails."
        ),
        help=(
            "Move this statement alone into its own migration file (no BEGIN, no SET beside it); create one "
            "with `prisma migrate dev --create-only`."
        ),
        object=ctx.ref(table) if table else ObjectRef(),
        table=None,  # fails whatever the table holds: never filtered as "created by this deploy"
    )


RULE = Rule(
    id="SM313",
    name="concurrently-in-transaction",
    category=Category.LOCK,
    severity=Severity.ERROR,
    summary="A CONCURRENTLY index operation fails unless it is alone in its migration file.",
    alternative="Move it alone into its own migration file.",
    bad='SET lock_timeout = \'5s\';\nCREATE INDEX CONCURRENTLY "User_email_idx" ON "User"("email");',
    good='CREATE INDEX CONCURRENTLY "User_email_idx" ON "User"("email");',
    why=__doc__ or "",
    check=check,
)
