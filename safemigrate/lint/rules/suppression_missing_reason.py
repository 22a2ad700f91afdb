"""Accepting a risk is a decision reviewers should see the reason for. A directive without
`reason:` suppresses nothing and is reported itself.

Emitted by the engine for the whole file, not by a statement check.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity


def check(ctx: Context) -> Iterator[Hit]:
    return iter(())


RULE = Rule(
    id="SM505",
    name="suppression-missing-reason",
    category=Category.UNCHECKED,
    severity=Severity.ERROR,
    summary="A suppression without a reason is not applied.",
    alternative="Add `reason: ...` to the directive.",
    bad='-- safemigrate: ignore drop-column\nALTER TABLE "User" DROP COLUMN "nickname";',
    good=(
        "-- safemigrate: ignore drop-column reason: column unused since v2, backed up\n"
        'ALTER TABLE "User" DROP COLUMN "nickname";'
    ),
    why=__doc__ or "",
    check=check,
    scope="file",
)
