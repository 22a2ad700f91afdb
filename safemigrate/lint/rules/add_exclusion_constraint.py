"""An exclusion constraint on a table that holds rows fails on conflicting rows and blocks the table.

``ADD CONSTRAINT ... EXCLUDE`` builds its index over every existing row under an ACCESS EXCLUSIVE
lock: no query can read or write the table until the build ends, and the first two rows that
conflict (overlapping ranges, equal keys) stop the migration. Unlike a unique constraint it cannot
be built ``CONCURRENTLY`` and attached ``USING INDEX``, and it has no ``NOT VALID`` form: the only
way to shorten the risk is to remove conflicts first and keep the lock wait bounded.
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
        if not isinstance(action, m.AddConstraint) or action.constraint.kind != "exclude":
            continue
        label = f" {action.constraint.name}" if action.constraint.name else ""
        yield Hit(
            message=(
                f"Adding exclusion constraint{label} on {table.display()} fails if existing rows conflict, and "
                f"builds its index under an ACCESS EXCLUSIVE lock: every read and write of {table.display()} "
                "waits until the build ends."
            ),
            help=(
                f"Find the conflicting rows first: SELECT a.ctid, b.ctid FROM {table.sql()} a JOIN "
                f"{table.sql()} b ON a.ctid < b.ctid AND <a.column OPERATOR b.column for each element of the "
                "EXCLUDE list>; and fix them in an earlier migration. It cannot be built CONCURRENTLY: run it "
                "alone in its own migration file, after SET lock_timeout = '5s'; so that it gives up instead "
                "of queueing every query behind it, and retry when the table is quiet."
            ),
            object=ctx.ref(table),
            table=table,
        )


RULE = Rule(
    id="SM210",
    name="add-exclusion-constraint",
    category=Category.MAY_FAIL,
    severity=Severity.ERROR,
    summary="An exclusion constraint fails on conflicting rows and blocks the table while its index builds.",
    alternative="Remove conflicting rows first; add it alone in its own migration with a short lock_timeout.",
    bad='ALTER TABLE "Booking" ADD CONSTRAINT "Booking_no_overlap" EXCLUDE USING gist ("during" WITH &&);',
    good=(
        "-- a table created in the same migration holds no rows\n"
        'CREATE TABLE "Booking" ("id" INTEGER NOT NULL, "during" TSRANGE NOT NULL);\n'
        'ALTER TABLE "Booking" ADD CONSTRAINT "Booking_no_overlap" EXCLUDE USING gist ("during" WITH &&);'
    ),
    why=__doc__ or "",
    check=check,
    on=(m.AlterTable,),
    lock="ACCESS EXCLUSIVE",
    references=(
        "https://www.postgresql.org/docs/current/sql-altertable.html#SQL-ALTERTABLE-DESC-ADD-TABLE-CONSTRAINT",
    ),
)
