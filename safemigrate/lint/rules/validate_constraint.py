"""Validating a constraint fails when an existing row breaks it.

``VALIDATE CONSTRAINT`` checks every row against a foreign key or CHECK added ``NOT VALID`` and
stops the migration at the first row that breaks it (an orphan, a false condition, a NULL for a
``CHECK (col IS NOT NULL)``). It takes only SHARE UPDATE EXCLUSIVE, so reads and writes go on
during the scan; the risk is the failure. Rows written between the ``NOT VALID`` and the
``VALIDATE`` were checked, older rows were not: find and fix those first.

A ``VALIDATE`` in the same transaction as its ``ADD ... NOT VALID`` is a validated ``ADD`` in
disguise (the ADD's lock is held through the scan): add-foreign-key, add-check-constraint and
constraint-validation-lock report that on the ADD, and this rule stays quiet.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import chain

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql import model as m


def _ends_transaction(summary: m.Summary) -> bool:
    # Prisma runs a file as one implicit transaction; an explicit COMMIT/ROLLBACK ends it early.
    return isinstance(summary, m.TransactionControl) and summary.action in ("commit", "rollback")


def validated_in_same_transaction(
    ctx: Context, table: m.Name, constraint: m.ConstraintSpec, after: Sequence[m.AlterAction] = ()
) -> m.Statement | None:
    """The statement that validates ``constraint``, added NOT VALID by the current statement, before commit.

    ``after`` are the actions of the current ALTER TABLE that follow the ADD. An unnamed constraint
    matches any VALIDATE of the table (its generated name is not worth guessing: when unsure, report).
    Only the rest of the file is read, and only for NOT VALID adds.
    """
    if not constraint.not_valid or constraint.kind not in ("foreign key", "check"):
        return None
    key = ctx.schema.key(table)
    name = constraint.name
    steps: Iterable[tuple[m.Statement, m.Summary]] = chain(
        [(ctx.statement, m.AlterTable(table, tuple(after)))], ((s, s.summary) for s in ctx.later())
    )
    for statement, summary in steps:
        if _ends_transaction(summary):
            return None  # the ADD's lock is released: a later VALIDATE is this rule's case
        if not isinstance(summary, m.AlterTable) or ctx.schema.key(summary.table) != key:
            continue
        for action in summary.actions:
            if isinstance(action, m.ValidateConstraint) and (name is None or action.name == name):
                return statement
            if isinstance(action, m.RenameConstraint) and action.old == name:
                name = action.new
            elif isinstance(action, m.DropConstraint) and action.name == name:
                return None
    return None


def _added_in_same_transaction(ctx: Context, table: m.Name, name: str, before: Sequence[m.AlterAction]) -> bool:
    """True when this transaction added the constraint earlier (the ADD rules report the pair there)."""
    key = ctx.schema.key(table)
    summaries: Iterable[m.Summary] = chain(
        [m.AlterTable(table, tuple(before))], (s.summary for s in reversed(ctx.earlier()))
    )
    for summary in summaries:
        if _ends_transaction(summary):
            return False
        if not isinstance(summary, m.AlterTable) or ctx.schema.key(summary.table) != key:
            continue
        for action in reversed(summary.actions):
            if isinstance(action, m.AddConstraint) and action.constraint.name in (name, None):
                return True
            if isinstance(action, m.RenameConstraint) and action.new == name:
                name = action.old
            elif isinstance(action, m.DropConstraint) and action.name == name:
                return False
    return False


def check(ctx: Context) -> Iterator[Hit]:
    alter = ctx.summary
    if not isinstance(alter, m.AlterTable):
        return
    table = alter.table
    for i, action in enumerate(alter.actions):
        if not isinstance(action, m.ValidateConstraint):
            continue
        if _added_in_same_transaction(ctx, table, action.name, alter.actions[:i]):
            continue
        name = m.quote_ident(action.name)
        yield Hit(
            message=(
                f"Validating constraint {action.name} on {table.display()} fails if any existing row of "
                f"{table.display()} breaks it (a foreign key without its parent row, a false CHECK condition)."
            ),
            help=(
                "See what it checks: SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = "
                f"{m.quote_literal(table.sql())}::regclass AND conname = {m.quote_literal(action.name)}; "
                "find the rows that break it and fix them in an earlier migration (or before this deploy). "
                "The validation itself takes only SHARE UPDATE EXCLUSIVE: reads and writes go on, so it "
                f"belongs alone in its own migration: ALTER TABLE {table.sql()} VALIDATE CONSTRAINT {name};"
            ),
            object=ctx.ref(table),
            table=table,
        )


RULE = Rule(
    id="SM213",
    name="validate-constraint",
    category=Category.MAY_FAIL,
    severity=Severity.WARNING,
    summary="VALIDATE CONSTRAINT fails when an existing row breaks the constraint.",
    alternative="Find and fix the rows that break it first; validate in its own later migration.",
    bad='ALTER TABLE "Post" VALIDATE CONSTRAINT "Post_authorId_fkey";',
    good=(
        "-- safemigrate: allow validate-constraint reason: orphans deleted in the previous migration, "
        "none left\n"
        'ALTER TABLE "Post" VALIDATE CONSTRAINT "Post_authorId_fkey";'
    ),
    why=__doc__ or "",
    check=check,
    on=(m.AlterTable,),
    references=("https://www.postgresql.org/docs/current/sql-altertable.html#SQL-ALTERTABLE-DESC-VALIDATE-CONSTRAINT",),
)
