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
later statements on its table (``DO INSTEAD NOTHING`` silently drops every insert). Review the code
by hand, then suppress the finding with a reason.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, ObjectRef, Rule, Severity
from safemigrate.sql import model as m

_HELP = (
    "Review what it does by hand, then add on the line above it: "
    "-- safemigrate: ignore procedural-code reason: <what you checked>"
)
_UNSEEN = "that the linter cannot see into: its effect on data and locks was not checked."


def check(ctx: Context) -> Iterator[Hit]:
    summary = ctx.summary
    called = [call for change in m.data_changes(summary) for call in change.calls]
    if isinstance(summary, (m.CreateTable, m.CreateObject)):
        called.extend(summary.calls)
    calls = sorted(set(called), key=str.lower)
    if calls:
        names = ", ".join(f"{c}()" for c in calls)
        yield Hit(message=f"This statement calls {names}, code {_UNSEEN}", help=_HELP)
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
    on=(m.Procedural, m.Delete, m.Update, m.Insert, m.CreateTable, m.CreateObject),
)
