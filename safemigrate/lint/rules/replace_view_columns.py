"""``CREATE OR REPLACE VIEW`` fails when the new query does not keep the view's columns first, as they were.

PostgreSQL replaces a view's query only when the new one returns the view's existing columns first,
with the same names, in the same order; new columns may only be added after them. Leaving a column out
fails ("cannot drop columns from view"), and so does renaming or reordering them ("cannot change name of
view column"), whatever the data. A view's columns are known when the history created it and every
column of its query has a name the linter can tell (a column, an alias, a cast of a column, a ``*`` over
a table the model knows, spelled out as it was then). The columns' types are not checked: a new query
that changes one ("cannot change data type of view column") is not reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql import model as m


def _first_difference(old: tuple[str, ...], new: tuple[str, ...]) -> int:
    return next(i for i, (was, now) in enumerate(zip(old, new, strict=False)) if was != now)


def check(ctx: Context) -> Iterator[Hit]:
    summary = ctx.summary
    if not isinstance(summary, m.CreateObject) or summary.kind != "view" or not summary.or_replace:
        return
    old_view = ctx.schema.view(summary.name)
    old = old_view.columns if old_view is not None else None
    new = ctx.schema.view_columns(summary.columns)
    if old is None or new is None or new[: len(old)] == old:
        return
    view = summary.name
    if new == old[: len(new)]:
        left_out = ", ".join(old[len(new) :])
        change = f"leaves out its column{'s' if len(old) - len(new) > 1 else ''} {left_out}"
        refusal = "cannot drop columns from view"
    else:
        at = _first_difference(old, new)
        change = f"puts {new[at]} where its column {old[at]} was (column {at + 1})"
        refusal = "cannot change name of view column"
    statement = ctx.statement.text.rstrip()
    yield Hit(
        message=(
            f"Replacing view {view.display()} {change}: PostgreSQL refuses it whatever the data "
            f'("{refusal}"); a replaced view keeps its columns {", ".join(old)} first, in that order.'
        ),
        help=(
            f"Keep {', '.join(old)} as the first columns of the new query, in that order, and add new ones "
            f"after them; or drop the view first, in the same migration (views that use it must be dropped "
            f"and created again too): DROP VIEW {view.sql()}; {statement};"
        ),
        object=ctx.ref(view),
        table=None,  # fails whatever the tables hold
    )


RULE = Rule(
    id="SM217",
    name="replace-view-columns",
    category=Category.MAY_FAIL,
    severity=Severity.ERROR,
    summary="CREATE OR REPLACE VIEW that drops, renames or reorders the view's columns fails, whatever the data.",
    alternative="Keep the existing columns first, in order, and add new ones after; or drop the view and create it.",
    bad=(
        'CREATE TABLE "User" ("id" SERIAL PRIMARY KEY, "email" TEXT NOT NULL, "age" INTEGER NOT NULL);\n'
        'CREATE VIEW "UserInfo" AS SELECT "id", "email", "age" FROM "User";\n'
        'CREATE OR REPLACE VIEW "UserInfo" AS SELECT "id", "email" FROM "User";'
    ),
    good=(
        'CREATE TABLE "User" ("id" SERIAL PRIMARY KEY, "email" TEXT NOT NULL, "age" INTEGER NOT NULL);\n'
        'CREATE VIEW "UserInfo" AS SELECT "id", "email", "age" FROM "User";\n'
        'DROP VIEW "UserInfo";\n'
        'CREATE VIEW "UserInfo" AS SELECT "id", "email" FROM "User";'
    ),
    why=__doc__ or "",
    check=check,
    on=(m.CreateObject,),
    references=("https://www.postgresql.org/docs/current/sql-createview.html",),
)
