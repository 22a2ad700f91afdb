"""A migration that may already be applied was edited or deleted.

Prisma applies each migration once and records its checksum. Databases that already applied the
old text never see the edit, so environments silently drift apart, and Prisma reports the
checksum mismatch. Emitted by ``lint --since REF`` for migration.sql files that existed at REF and
differ now.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity


def check(ctx: Context) -> Iterator[Hit]:
    return iter(())


RULE = Rule(
    id="SM509",
    name="edited-migration",
    category=Category.UNCHECKED,
    severity=Severity.ERROR,
    summary="Editing a migration that may already be applied makes environments drift apart.",
    alternative="Revert the edit and put the change in a new migration.",
    bad="(a change to an existing prisma/migrations/*/migration.sql)",
    good="(a new migration folder holding the change)",
    why=__doc__ or "",
    check=check,
    scope="file",
)
