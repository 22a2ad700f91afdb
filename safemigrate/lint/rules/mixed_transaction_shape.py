"""A file with BEGIN..COMMIT blocks and statements outside them commits in separate pieces.

Prisma sends a migration file as one query: without BEGIN/COMMIT it is one transaction, all or
nothing. An explicit COMMIT ends that transaction early, so the statements on either side of it
commit separately: when a later one fails, ``prisma migrate deploy`` records the migration as
failed with the earlier pieces already applied. Prisma itself writes such files when an enum value
is removed next to other changes (the enum block is wrapped in BEGIN/COMMIT). A BEGIN without
COMMIT is worse: the changes are rolled back when Prisma disconnects, yet it reports success.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from safemigrate.lint import shape
from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql import model as m


def _action(statement: m.Statement) -> str | None:
    summary = statement.summary
    return summary.action if isinstance(summary, m.TransactionControl) else None


def _unterminated_begin(statements: Sequence[m.Statement]) -> m.Statement | None:
    """The BEGIN of a block the file never closes with COMMIT or ROLLBACK."""
    open_block: m.Statement | None = None
    for statement in statements:
        action = _action(statement)
        if action == "begin" and open_block is None:
            open_block = statement
        elif action in ("commit", "rollback"):
            open_block = None
    return open_block


@dataclass(frozen=True)
class _Shape:
    """What this rule reports in a file with BEGIN blocks, found once per file."""

    outside: int  # statements outside the blocks
    first_outside: int | None  # index of the first of them
    unterminated: int | None  # index of a BEGIN the file never closes


def _shape_of(statements: Sequence[m.Statement]) -> _Shape | None:
    if not any(_action(s) == "begin" for s in statements):
        return None
    outside = shape.statements_outside_blocks(statements)
    unterminated = _unterminated_begin(statements)
    return _Shape(
        len(outside),
        outside[0].index if outside else None,
        unterminated.index if unterminated is not None else None,
    )


def check(ctx: Context) -> Iterator[Hit]:
    found = ctx.per_file(_shape_of)
    if found is None:
        return
    if found.first_outside == ctx.statement.index:
        yield Hit(
            message=(
                f"This file has explicit BEGIN..COMMIT blocks and {found.outside} statement(s) outside them, "
                "starting here: PostgreSQL commits the pieces separately, so prisma migrate deploy can leave "
                "the migration half-applied when a later piece fails. (safemigrate migrate runs the whole "
                "file in one transaction; prisma migrate deploy does not.)"
            ),
            help=(
                "Make the file one transaction: remove the BEGIN; and COMMIT; lines (PostgreSQL then runs "
                "the whole file atomically), or move the statements outside the block into their own "
                "migration file."
            ),
        )
    if found.unterminated == ctx.statement.index:
        yield Hit(
            message=(
                "This BEGIN is never closed by COMMIT: the transaction is still open when the file ends, so "
                "prisma migrate deploy reports success while the changes are rolled back on disconnect and "
                "the migration stays recorded as unfinished."
            ),
            help="Add COMMIT; at the end of the file, or remove this BEGIN; so the file is one transaction.",
        )


RULE = Rule(
    id="SM209",
    name="mixed-transaction-shape",
    category=Category.MAY_FAIL,
    severity=Severity.WARNING,
    summary="BEGIN..COMMIT blocks next to statements outside them let a migration be half-applied.",
    alternative="Remove the BEGIN/COMMIT lines so the file runs as one transaction, or split the file.",
    bad=('BEGIN;\nCREATE TYPE "Role_new" AS ENUM (\'USER\');\nCOMMIT;\nALTER TABLE "User" ADD COLUMN "bio" TEXT;'),
    good=('CREATE TYPE "Role_new" AS ENUM (\'USER\');\nALTER TABLE "User" ADD COLUMN "bio" TEXT;'),
    why=__doc__ or "",
    check=check,
)
