"""A typo in a directive must not silently leave a finding unsuppressed (or worse, appear to
suppress one): it is reported.

Emitted by the engine for the whole file, not by a statement check.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity


def check(ctx: Context) -> Iterator[Hit]:
    return iter(())


RULE = Rule(
    id="SM507",
    name="invalid-suppression",
    category=Category.UNCHECKED,
    severity=Severity.ERROR,
    summary="A safemigrate directive that cannot be read or names an unknown rule.",
    alternative="Write `-- safemigrate: ignore <rule>[, <rule>] reason: <why>` with names from `safemigrate rules`.",
    bad='-- safemigrate: ignore drop-colum reason: typo in the rule name\nALTER TABLE "User" DROP COLUMN "nickname";',
    good='-- safemigrate: ignore drop-column reason: unused since v2\nALTER TABLE "User" DROP COLUMN "nickname";',
    why=__doc__ or "",
    check=check,
    scope="file",
)
