"""A DO block, a procedure or function call, or a rule runs code the linter cannot see into.

Whatever it does (delete rows, rewrite a table, take locks) happens when the migration runs, and
no rule can judge it. Defining a function or procedure changes no data and is not reported; calling
one is: with CALL, or from a query (``SELECT purge_old_rows();``, ``UPDATE ... SET x = f(y)``),
including the query of ``CREATE TABLE ... AS``, ``SELECT ... INTO`` and ``CREATE MATERIALIZED VIEW``,
which runs when the statement does.
Only PostgreSQL's side-effect-free built-ins (``now()``, ``lower()``, ``count(*)``...) pass;
``set_config``, ``pg_terminate_backend``, ``dblink_exec`` and any function of the project are
reported, and so is ``setval`` inside another statement. A lone ``SELECT setval(...)`` is no unseen
code (it moves one sequence): sequence-reset judges it. ``CREATE RULE`` is reported too: it rewrites
later statements on its table (``DO INSTEAD NOTHING`` silently drops every insert).

Code a table keeps runs too. ``ALTER TABLE`` runs a project function for each existing row when it
is the default of a new column (Prisma writes ``DEFAULT nanoid()`` for
``@default(dbgenerated("nanoid()"))``), in a CHECK added without ``NOT VALID`` (or validated later),
or in a type change's ``USING``. On a table this deploy created and nothing filled it runs for no
row and is not reported. Triggers, and defaults and CHECKs calling project functions, run again for
the rows later statements change: an ``INSERT``, ``UPDATE``, ``DELETE``, ``TRUNCATE`` or ``COPY`` on
a table with a trigger for that event (created earlier in the file or in the history) is reported
with the trigger and its function; so is an INSERT that fills such a default (a column it does not
list, or sets to ``DEFAULT``), and a write of rows such a CHECK tests. ``CREATE TRIGGER`` changes no
data by itself and is not reported, as a function definition is not; neither is a project function
in the ``DEFAULT`` of a new table or in ``SET DEFAULT``: it runs for no existing row. Review the code
by hand, then suppress the finding with a reason.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, ObjectRef, Rule, Severity
from safemigrate.sql import model as m
from safemigrate.sql.schema import RowCode

_HELP = (
    "Review what it does by hand, then add on the line above it: "
    "-- safemigrate: ignore procedural-code reason: <what you checked>"
)
_UNSEEN = "that the linter cannot see into: its effect on data and locks was not checked."


_CHANGED = {m.Insert: "inserted", m.Update: "updated", m.Delete: "deleted"}


def _names(calls: tuple[str, ...] | list[str]) -> str:
    return ", ".join(f"{c}()" for c in calls)


def _table_code(ctx: Context, summary: m.Summary) -> tuple[list[str], m.Name | None]:
    """What the code the statement's tables keep for row changes runs, in words, and the first such table."""
    changes: tuple[m.DataChange | m.Truncate, ...] = (
        (summary,) if isinstance(summary, m.Truncate) else m.data_changes(summary)
    )
    parts: list[str] = []
    first: m.Name | None = None
    for change in changes:
        changed = _CHANGED.get(type(change), "")
        for table, code in ctx.schema.code_run_by(change):
            first = first or table
            part = _describe(code, table, changed)
            if part not in parts:
                parts.append(part)
    return parts, first


def _describe(code: RowCode, table: m.Name, changed: str) -> str:
    """``changed``: "inserted" | "updated" | "deleted", "" for a TRUNCATE."""
    where = table.display()
    if code.kind == "trigger":
        if code.for_each_row and changed:
            when = f"on each {changed} row of {where}"
        else:
            when = f"once for the statement on {where}, even when it changes no row"
        return f"fires trigger {code.name} (function {_names(code.calls)}) {when}"
    if code.kind == "default":
        return f"runs {_names(code.calls)} (the default of {where}.{code.name}) for each row it fills"
    return f"runs {_names(code.calls)} (CHECK constraint {code.name} of {where}) on each row it writes"


def _alter_table(ctx: Context, alter: m.AlterTable) -> Iterator[Hit]:
    """An ALTER TABLE that runs project functions for each existing row."""
    table = alter.table.display()
    parts: list[str] = []
    for action, calls in m.alter_table_calls(alter):
        if isinstance(action, m.AddColumn):
            default = action.column.default
            by_default = default.unknown_calls if default is not None else ()
            if by_default:
                parts.append(f"adding {table}.{action.column.name} runs {_names(by_default)} (its default)")
            by_check = tuple(c for c in calls if c not in by_default)
            if by_check:
                parts.append(f"adding {table}.{action.column.name} runs {_names(by_check)} (its CHECK)")
        elif isinstance(action, m.AddConstraint):
            name = f" {action.constraint.name}" if action.constraint.name else ""
            parts.append(f"adding CHECK constraint{name} runs {_names(calls)}")
        elif isinstance(action, m.AlterColumnType):
            parts.append(f"changing the type of {table}.{action.column} runs {_names(calls)} (its USING)")
    for action in alter.actions:
        if isinstance(action, m.ValidateConstraint):
            calls = ctx.schema.check_calls(alter.table, action.name)
            if calls:
                parts.append(f"validating CHECK constraint {action.name} runs {_names(calls)}")
    if parts and not ctx.schema.is_fresh_table(alter.table):  # a table holding no rows runs them for none
        yield Hit(
            message=f"In this ALTER TABLE, {'; '.join(parts)}, for each existing row of {table}: code {_UNSEEN}",
            help=_HELP,
            object=ctx.ref(alter.table),
        )


def check(ctx: Context) -> Iterator[Hit]:
    summary = ctx.summary
    if isinstance(summary, m.AlterTable):
        yield from _alter_table(ctx, summary)
        return
    called = [call for change in m.data_changes(summary) for call in change.calls]
    if isinstance(summary, (m.CreateTable, m.CreateObject)):
        called.extend(summary.calls)
    calls = sorted(set(called), key=str.lower)
    parts = [f"calls {_names(calls)}"] if calls else []
    table_code, table = _table_code(ctx, summary)
    parts.extend(table_code)
    if parts:
        yield Hit(
            message=f"This statement {'; '.join(parts)}: code {_UNSEEN}",
            help=_HELP,
            object=ctx.ref(table) if table is not None else ObjectRef(),
        )
        return
    if not isinstance(summary, m.Procedural):
        return
    target = f" {summary.name.display()}" if summary.name else ""
    if summary.kind == "do block":
        what = "This DO block runs procedural code"
    elif summary.kind == "procedure call":
        what = f"This CALL runs procedure{target}, code"
    elif summary.kind == "function call":
        what = f"This query calls function{target}(), code"
    elif summary.kind == "rule":
        table = summary.table or m.Name("?")
        yield Hit(
            message=(
                f"This CREATE RULE{target} rewrites later statements on table {table.display()} "
                "(DO INSTEAD can make them change other rows, or nothing): the linter does not follow it."
            ),
            help=_HELP,
            object=ctx.ref(table) if summary.table else ObjectRef(),
        )
        return
    else:
        return
    yield Hit(message=f"{what} {_UNSEEN}", help=_HELP)


RULE = Rule(
    id="SM508",
    name="procedural-code",
    category=Category.UNCHECKED,
    severity=Severity.WARNING,
    summary="Procedural code runs during the migration without being analysed.",
    alternative="Review it by hand and suppress with a reason.",
    bad="DO $$ BEGIN PERFORM 1; END $$;",
    good="CREATE FUNCTION one() RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$;",
    why=__doc__ or "",
    check=check,
    on=(m.Procedural, m.Delete, m.Update, m.Insert, m.Truncate, m.CreateTable, m.CreateObject, m.AlterTable),
)
