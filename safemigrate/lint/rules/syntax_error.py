"""A statement PostgreSQL's parser refuses fails the deploy.

The file is read with PostgreSQL's own parser (libpg_query: the grammar of PostgreSQL 18, no server
needed). What it refuses, PostgreSQL refuses too: ``prisma migrate deploy`` stops with an error and
records the migration as failed, and later deploys stop until it is resolved (``prisma migrate
resolve``); ``safemigrate migrate`` refuses it in its rehearsal, before touching the database. What
was applied depends on how the file is run: sent as one script (Prisma's native schema engine, psql),
PostgreSQL parses the whole file before running any of it, so nothing is applied; run statement by
statement (Prisma's WebAssembly engine with a driver adapter, measured with Prisma 6.19.3), the
statements before the refused one stay applied unless they are inside ``BEGIN`` ... ``COMMIT``.

A NUL byte anywhere in the file, comments included, makes the server refuse the whole file ("invalid
message format", seen with the real Prisma CLI): it is reported on the statement it is in or follows.
Only syntax is judged here: names that do not exist, wrong types and the like show on a server
(``safemigrate dry-run``). PostgreSQL 18 reads some words as keywords that older servers read as names
(``system_user``, ``json_value``...): a statement that parses once they are quoted is reported only when
``pg_version`` is 18 or later. Syntax newer than the server (``1_000``, ``0x1F``, ``IS JSON`` before 16)
is not caught here.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql.grammar import refused_on


def check(ctx: Context) -> Iterator[Hit]:
    rejected = ctx.statement.rejected
    if rejected is None or not refused_on(rejected, ctx.settings.pg_version):
        return
    words = ", ".join(rejected.newer_keywords)
    keywords = (
        f" ({words}: a keyword in newer PostgreSQL versions; quote it as a name: \"{rejected.newer_keywords[0]}\")"
        if words
        else ""
    )
    yield Hit(
        message=(
            f"PostgreSQL rejects this statement: {rejected.message} (line {rejected.line}, column "
            f"{rejected.column}){keywords}. prisma migrate deploy fails on this migration and records it as failed, "
            "and later deploys stop until it is resolved."
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
    summary="A statement with a syntax error fails the deploy: the migration is recorded as failed.",
    alternative="Correct the SQL; safemigrate dry-run proves the migration on a throwaway copy.",
    bad='ALTER TABLE "Order" ADD COLUMN "note" TEXT NOT NUL;',
    good='ALTER TABLE "Order" ADD COLUMN "note" TEXT;',
    why=__doc__ or "",
    check=check,
)
