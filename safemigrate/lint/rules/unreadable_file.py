"""A file the linter cannot decode cannot be checked, so it is reported instead of passed.

PostgreSQL and Prisma read migration files as UTF-8; a file in another encoding is usually a
mistake of an editor and may apply differently from what its author sees.

Emitted by the engine for the whole file, not by a statement check.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity


def check(ctx: Context) -> Iterator[Hit]:
    return iter(())


RULE = Rule(
    id="SM502",
    name="unreadable-file",
    category=Category.UNCHECKED,
    severity=Severity.ERROR,
    summary="A migration file that is not UTF-8 text is not analysed.",
    alternative="Save the file as UTF-8.",
    bad="(a file containing the byte 0xFF)",
    good='ALTER TABLE "User" ADD COLUMN "bio" TEXT;',
    why=__doc__ or "",
    check=check,
    scope="file",
)
