"""A statement PostgreSQL's parser refuses fails the deploy.

The statement is read with PostgreSQL's own parser (libpg_query: the grammar of PostgreSQL 18, no
server needed). What it refuses, PostgreSQL refuses too: ``prisma migrate deploy`` stops at that
statement with an error and records the migration as failed, and later deploys stop until it is
resolved (``prisma migrate resolve``). Prisma runs a migration file statement by statement: the
statements before the failing one stay applied unless they are inside ``BEGIN`` ... ``COMMIT``
(measured with Prisma 6.19.3), so a syntax error half-applies the migration. ``safemigrate migrate``
refuses it in its rehearsal, before touching the database; this finding says so before the merge.

Only syntax is judged here: names that do not exist, wrong types and the like show on a server
(``safemigrate dry-run``). Syntax that only older servers accepted (postfix operators, removed in
PostgreSQL 14) is reported too.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity


def check(ctx: Context) -> Iterator[Hit]:
    rejected = ctx.statement.rejected
    if rejected is None:
        return
    yield Hit(
        message=(
            f"PostgreSQL rejects this statement: {rejected.message} (line {rejected.line}, column "
            f"{rejected.column}). prisma migrate deploy fails here and records the migration as failed; the "
            "statements before it that are not inside BEGIN ... COMMIT stay applied."
        ),
        help=(
            "Correct the SQL, then lint again; safemigrate dry-run runs the migration on a throwaway copy of the "
            "database to prove it."
        ),
    )


RULE = Rule(
    id="SM214",
    name="syntax-error",
    category=Category.MAY_FAIL,
    severity=Severity.ERROR,
    summary="A statement with a syntax error fails the deploy, after the statements before it were applied.",
    alternative="Correct the SQL; safemigrate dry-run proves the migration on a throwaway copy.",
    bad='ALTER TABLE "Order" ADD COLUMN "note" TEXT NOT NUL;',
    good='ALTER TABLE "Order" ADD COLUMN "note" TEXT;',
    why=__doc__ or "",
    check=check,
)
