"""``SET LOGGED`` and ``SET UNLOGGED`` rewrite the whole table under ACCESS EXCLUSIVE.

Switching a table between logged and unlogged copies every row into a new file (and, for
``SET LOGGED``, through the write-ahead log), rebuilding its indexes; no query can read or write
the table meanwhile. An unlogged table is also emptied after a crash and not replicated to
standbys.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql import model as m


def check(ctx: Context) -> Iterator[Hit]:
    alter = ctx.summary
    if not isinstance(alter, m.AlterTable):
        return
    table = alter.table
    for action in alter.actions:
        if not isinstance(action, m.SetLogged):
            continue
        mode = "LOGGED" if action.logged else "UNLOGGED"
        extra = "" if action.logged else " Then it is emptied after a crash and not replicated to standbys."
        yield Hit(
            message=(
                f"ALTER TABLE {table.display()} SET {mode} rewrites the whole table under an ACCESS "
                f"EXCLUSIVE lock: every read and write of {table.display()} waits until it finishes.{extra}"
            ),
            help=(
                "There is no online form: run it only on a small table, or by hand in a maintenance window, "
                f"with a lock timeout first: SET lock_timeout = '5s'; ALTER TABLE {table.sql()} SET {mode};"
            ),
            object=ctx.ref(table),
            table=table,
        )


RULE = Rule(
    id="SM307",
    name="set-logged-unlogged",
    category=Category.LOCK,
    severity=Severity.WARNING,
    summary="SET LOGGED / SET UNLOGGED rewrites the table, blocking reads and writes.",
    alternative="Run it in a maintenance window, or only on small tables.",
    bad='ALTER TABLE "Event" SET LOGGED;',
    good='ALTER TABLE "Event" ADD COLUMN "note" TEXT;',
    why=__doc__ or "",
    check=check,
    on=(m.AlterTable,),
    lock="ACCESS EXCLUSIVE",
)
