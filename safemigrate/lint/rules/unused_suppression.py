"""A suppression that matches nothing is usually misplaced: it may have been meant for another
statement, which then goes unreviewed.

Emitted by the engine for the whole file, not by a statement check.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity


def check(ctx: Context) -> Iterator[Hit]:
    return iter(())


RULE = Rule(
    id="SM506",
    name="unused-suppression",
    category=Category.UNCHECKED,
    severity=Severity.WARNING,
    summary="A suppression that matches no finding hides nothing, or sits on the wrong statement.",
    alternative="Remove it, or move it above the statement it is meant for.",
    bad='-- safemigrate: ignore drop-table reason: old\nALTER TABLE "User" ADD COLUMN "bio" TEXT;',
    good='-- safemigrate: ignore drop-table reason: replaced by Article, backed up\nDROP TABLE "Post";',
    why=__doc__ or "",
    check=check,
    scope="file",
)
