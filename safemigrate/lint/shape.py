"""How a migration file runs with respect to transactions.

Prisma sends a migration file to PostgreSQL as one multi-statement query: without BEGIN/COMMIT it
runs as one implicit transaction (all or nothing); BEGIN/COMMIT inside it split it into pieces that
commit separately; statements that cannot run in a transaction (CREATE INDEX CONCURRENTLY) only
work alone in their file.
"""

from __future__ import annotations

from collections.abc import Sequence

from safemigrate.sql import model as m

EMPTY = "empty"
IMPLICIT = "single implicit transaction"
NON_TRANSACTIONAL = "single non-transactional statement"
EXPLICIT = "explicit BEGIN..COMMIT blocks"
MIXED = "mixed (unsafe)"


def is_non_transactional(summary: m.Summary) -> bool:
    """Statements PostgreSQL refuses inside a transaction block."""
    if isinstance(summary, (m.CreateIndex, m.DropIndex, m.Reindex)):
        return summary.concurrently
    return isinstance(summary, m.Vacuum)


def statements_outside_blocks(statements: Sequence[m.Statement]) -> list[m.Statement]:
    """Statements not enclosed by an explicit BEGIN..COMMIT (SET and transaction control excluded)."""
    outside = []
    depth = 0
    for statement in statements:
        summary = statement.summary
        if isinstance(summary, m.TransactionControl):
            if summary.action == "begin":
                depth = 1
            elif summary.action in ("commit", "rollback"):
                depth = 0
            continue
        if depth == 0 and not isinstance(summary, m.SetSetting):
            outside.append(statement)
    return outside


def transaction_shape(statements: Sequence[m.Statement]) -> str:
    if not statements:
        return EMPTY
    has_blocks = any(isinstance(s.summary, m.TransactionControl) and s.summary.action == "begin" for s in statements)
    non_transactional = [s for s in statements if is_non_transactional(s.summary)]
    if non_transactional:
        return NON_TRANSACTIONAL if len(statements) == 1 else MIXED
    if has_blocks:
        return MIXED if statements_outside_blocks(statements) else EXPLICIT
    return IMPLICIT
