"""An empty migration is harmless, but it is often a sign of a migration generated against the wrong
schema or an edit that was lost.

Emitted by the engine for the whole file, not by a statement check.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity


def check(ctx: Context) -> Iterator[Hit]:
    return iter(())


RULE = Rule(
    id="SM503",
    name="empty-migration",
    category=Category.UNCHECKED,
    severity=Severity.INFO,
    summary="A migration file without statements changes nothing.",
    alternative="Delete the folder if it was created by mistake.",
    bad="-- This is an empty migration.",
    good='ALTER TABLE "User" ADD COLUMN "bio" TEXT;',
    why=__doc__ or "",
    check=check,
    scope="file",
)
