"""Dropping a materialized view deletes the rows it stored; getting them back means recomputing them.

A materialized view keeps the result of its query on disk. ``DROP MATERIALIZED VIEW`` deletes
that result: queries reading it fail until it is created again, and creating it again runs the
whole query, which can take long on large tables (and gives today's answer, not the stored one).
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql import model as m


def check(ctx: Context) -> Iterator[Hit]:
    summary = ctx.summary
    if not isinstance(summary, m.DropObjects) or summary.kind != "materialized view":
        return
    for view in summary.names:
        if ctx.schema.is_fresh_object("materialized view", view):
            continue  # created by this deploy: nothing stored yet
        new = m.Name(view.name + "_new", view.schema)
        yield Hit(
            message=(
                f"Dropping materialized view {view.display()} deletes the rows it stored; "
                "rebuilding them reruns its query, which can be slow."
            ),
            help=(
                "To change its definition, build the new one next to it first "
                f"(CREATE MATERIALIZED VIEW {new.sql()} AS ...;), switch the code to it, and drop "
                f"{view.sql()} in a later release."
            ),
            object=ctx.ref(view),
        )


RULE = Rule(
    id="SM104",
    name="drop-materialized-view",
    category=Category.DATA_LOSS,
    severity=Severity.WARNING,
    summary="Dropping a materialized view deletes its stored rows; rebuilding them may be slow.",
    alternative="Build the replacement next to it, switch the code, drop the old one later.",
    bad='DROP MATERIALIZED VIEW "PostStats";',
    good=(
        'CREATE MATERIALIZED VIEW "PostStats_new" AS '
        'SELECT "authorId", count(*) AS "posts" FROM "Post" GROUP BY "authorId";'
    ),
    why=__doc__ or "",
    check=check,
    on=(m.DropObjects,),
    lock="ACCESS EXCLUSIVE",
)
