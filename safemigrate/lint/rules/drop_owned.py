"""DROP OWNED BY drops every object the role owns in the database, with the rows of its tables.

``DROP OWNED BY app`` removes every table, view, sequence, type and function that ``app`` owns in the
current database (and revokes its privileges): with Prisma, the role that ran the migrations usually
owns every table of the app, so one statement deletes all of the app's data, without naming a table.
It is meant for removing a role *after* ``REASSIGN OWNED BY app TO <another role>``, which moves the
objects away first: in that order (in the same file) only the privileges go, and only that is said.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, ObjectRef, Rule, Severity
from safemigrate.sql import model as m


def _reassigned_earlier(ctx: Context, role: str) -> bool:
    return any(
        isinstance(s.summary, m.Harmless)
        and s.summary.kind == "reassign owned"
        and role in s.summary.roles
        and s.summary.name != role  # reassigned to itself: it still owns them
        for s in ctx.earlier()
    )


def check(ctx: Context) -> Iterator[Hit]:
    summary = ctx.summary
    if not isinstance(summary, m.DropObjects) or summary.kind != "owned by":
        return
    roles = [name.name for name in summary.names]
    dropping = [role for role in roles if not _reassigned_earlier(ctx, role)]
    if not dropping:
        return  # what they owned was reassigned first: only privileges go (revoke-privileges' concern)
    listed = ", ".join(dropping)
    yield Hit(
        message=(
            f"DROP OWNED BY {listed} drops every table, view, sequence, type and function {listed} owns in this "
            "database, with all the rows of those tables (the role that runs Prisma's migrations usually owns every "
            "table of the app), and revokes its privileges."
        ),
        help=(
            f"Move what the role owns first, in the same migration: REASSIGN OWNED BY {listed} TO <the new owner>; "
            f"then DROP OWNED BY {listed}; (which then only revokes privileges). Back up first: safemigrate backup."
        ),
        object=ObjectRef(schema=ctx.schema.default_schema),  # the backup scope takes every table of the schema
    )


RULE = Rule(
    id="SM115",
    name="drop-owned",
    category=Category.DATA_LOSS,
    severity=Severity.ERROR,
    summary="DROP OWNED BY drops every object the role owns, with the rows of its tables.",
    alternative="REASSIGN OWNED BY the role to another one first; then DROP OWNED BY only revokes its privileges.",
    bad="DROP OWNED BY app_user;",
    good="REASSIGN OWNED BY app_user TO app_owner;\nDROP OWNED BY app_user;",
    why=__doc__ or "",
    check=check,
    on=(m.DropObjects,),
    lock="ACCESS EXCLUSIVE",
)
