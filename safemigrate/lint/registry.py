"""The rule catalog, listed explicitly in id order. Nothing registers itself at import time."""

from __future__ import annotations

from safemigrate.lint.rule import Rule
from safemigrate.lint.rules import (
    drop_column,
    drop_table,
    empty_migration,
    invalid_suppression,
    prisma_warning_unmatched,
    suppression_missing_reason,
    unparsed_statement,
    unreadable_file,
    unused_suppression,
)

RULES: tuple[Rule, ...] = (
    drop_table.RULE,
    drop_column.RULE,
    unparsed_statement.RULE,
    unreadable_file.RULE,
    empty_migration.RULE,
    prisma_warning_unmatched.RULE,
    suppression_missing_reason.RULE,
    unused_suppression.RULE,
    invalid_suppression.RULE,
)

_BY_NAME = {r.name: r for r in RULES} | {r.id: r for r in RULES}


def rule_by_name(name: str) -> Rule:
    """Look a rule up by name or id; KeyError when unknown."""
    return _BY_NAME[name]
