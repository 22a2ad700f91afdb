"""A migration that waits for a lock blocks every query queued behind it.

A statement that needs a lock on a busy table waits for the queries running on it, and meanwhile
every new query on the table queues behind it: one long report can stall the application.
``SET lock_timeout`` makes the migration give up and roll back instead. ``safemigrate migrate`` sets
a lock timeout itself, which is why this is only a reminder (info) for files applied other ways.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from safemigrate.lint.rule import Category, Context, Hit, ObjectRef, Rule, Severity
from safemigrate.sql import model as m

# Tables not known by name (a database, a schema, an unknown index's table): assumed to hold rows.
_UNKNOWN = m.Name("*")


def _index_table(ctx: Context, index: m.Name) -> m.Name | None:
    if ctx.schema.is_fresh_index(index):
        return None
    known = ctx.schema.index_table(index)
    return m.Name(known[1], known[0]) if known else _UNKNOWN


def _candidates(ctx: Context, summary: m.Summary) -> Sequence[m.Name]:
    """The tables the statement takes a blocking lock on (``_UNKNOWN`` when not known by name)."""
    if isinstance(summary, m.AlterTable):
        return (summary.table,)
    if isinstance(summary, m.CreateIndex) and not summary.concurrently:
        return (summary.table,)
    if isinstance(summary, m.DropIndex) and not summary.concurrently:
        found = (_index_table(ctx, name) for name in summary.names)
        return tuple(t for t in found if t is not None)
    if isinstance(summary, m.DropObjects) and summary.kind == "table":
        return summary.names
    if isinstance(summary, m.Truncate):
        return summary.tables
    if isinstance(summary, m.Reindex) and not summary.concurrently:
        if summary.target == "table":
            return (summary.name,)
        if summary.target == "index":
            table = _index_table(ctx, summary.name)
            return (table,) if table is not None else ()
        return (_UNKNOWN,)
    if isinstance(summary, m.Vacuum) and summary.full:
        return summary.tables or (_UNKNOWN,)
    if isinstance(summary, m.Cluster):
        return (summary.table or _UNKNOWN,)
    if isinstance(summary, m.Harmless):
        return summary.locks  # LOCK TABLE in a mode that blocks reads or writes, without NOWAIT
    return ()


def _blocked_table(ctx: Context, summary: m.Summary) -> m.Name | None:
    """The first table holding rows that the statement locks; None when it locks none."""
    for table in _candidates(ctx, summary):
        if table is _UNKNOWN or ctx.is_existing_table(table):
            return table
    return None


def _timeout_set_before(statements: Sequence[m.Statement]) -> list[bool]:
    """For each statement of the file, whether lock_timeout was set before it (as the engine folds it)."""
    states = []
    is_set = False
    for statement in statements:
        states.append(is_set)
        summary = statement.summary
        if isinstance(summary, m.SetSetting) and summary.name == "lock_timeout":
            is_set = summary.value.strip("'\" ").lower() not in ("0", "default")
    return states


def check(ctx: Context) -> Iterator[Hit]:
    if ctx.session.lock_timeout_set:
        return
    table = _blocked_table(ctx, ctx.summary)
    if table is None:
        return
    # strict=False: the file's list goes on past this statement, where earlier() stops.
    for statement, timeout_set in zip(ctx.earlier(), ctx.per_file(_timeout_set_before), strict=False):
        if not timeout_set and _blocked_table(ctx, statement.summary) is not None:
            return  # reported once per file, on the first such statement
    known = table is not _UNKNOWN
    target = table.display() if known else "the tables it touches"
    yield Hit(
        message=(
            f"This statement waits for a lock on {target} with no lock_timeout set: while it waits, "
            "every query on that table queues behind it."
        ),
        help=(
            "Put SET lock_timeout = '5s'; at the top of the file, so the migration fails and rolls back "
            "instead of stalling the application (safemigrate migrate sets one itself)."
        ),
        object=ctx.ref(table) if known else ObjectRef(),
        table=table if known else None,
    )


RULE = Rule(
    id="SM312",
    name="missing-lock-timeout",
    category=Category.LOCK,
    severity=Severity.INFO,
    summary="A migration waiting for a lock blocks every query queued behind it.",
    alternative="SET lock_timeout = '5s'; at the top of the migration file.",
    bad='ALTER TABLE "User" ADD COLUMN "bio" TEXT;',
    good='SET lock_timeout = \'5s\';\nALTER TABLE "User" ADD COLUMN "bio" TEXT;',
    why=__doc__ or "",
    check=check,
    references=("https://www.postgresql.org/docs/current/runtime-config-client.html#GUC-LOCK-TIMEOUT",),
)
