"""A statement the linter could not analyse is reported, never passed as safe.

The linter only vouches for what it understood. Statements the parser cannot read (a syntax the
linter does not know, a typo, a file that ends inside a string) might do anything, so they are
listed for a human to review. Suppress one with a reason once it has been reviewed. A statement
PostgreSQL's own parser refuses is reported as a syntax error instead.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql import model as m
from safemigrate.sql.grammar import refused_on


def check(ctx: Context) -> Iterator[Hit]:
    summary = ctx.summary
    rejected = ctx.statement.rejected
    if isinstance(summary, m.Unparsed) and (rejected is None or not refused_on(rejected, ctx.settings.pg_version)):
        head = f" ({summary.head} ...)" if summary.head else ""
        yield Hit(
            message=f"This statement{head} was not analysed: {summary.reason}.",
            help=(
                "Check the SQL for typos; if it is valid, review it by hand and add "
                "-- safemigrate: ignore unparsed-statement reason: <what you checked>"
            ),
        )


RULE = Rule(
    id="SM501",
    name="unparsed-statement",
    category=Category.UNCHECKED,
    severity=Severity.WARNING,
    summary="A statement the linter could not analyse may do anything.",
    alternative="Review it by hand, then suppress with a reason.",
    bad='IMPORT FOREIGN SCHEMA "legacy" FROM SERVER "old_db" INTO "public";',
    good='ALTER TABLE "User" ADD COLUMN "bio" TEXT;',
    why=__doc__ or "",
    check=check,
    on=(m.Unparsed,),
)
