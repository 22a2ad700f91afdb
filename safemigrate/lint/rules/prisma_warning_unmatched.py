"""`prisma migrate dev` writes a `Warnings:` header into migration.sql for destructive changes.
Every such warning must be matched by a safemigrate finding on the same object; a warning that
nothing matches means the linter missed something Prisma saw (or the SQL was edited so that it no
longer does what the header says), and is reported so a human looks.

Emitted by the engine for the whole file, not by a statement check.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity


def check(ctx: Context) -> Iterator[Hit]:
    return iter(())


_HEADER = (
    "/*\n  Warnings:\n\n  - You are about to drop the column `nickname` on the `User` table. "
    "All the data in the column will be lost.\n\n*/\n"
)

RULE = Rule(
    id="SM504",
    name="prisma-warning-unmatched",
    category=Category.UNCHECKED,
    severity=Severity.WARNING,
    summary="Prisma warned about a change that no safemigrate rule recognised.",
    alternative="Review the statement by hand.",
    bad=_HEADER + 'ALTER TABLE "User" ADD COLUMN "bio" TEXT;',
    good=_HEADER + 'ALTER TABLE "User" DROP COLUMN "nickname";',
    why=__doc__ or "",
    check=check,
    scope="file",
)
