"""``SET NOT NULL`` scans the whole table under an ACCESS EXCLUSIVE lock.

PostgreSQL checks every row for nulls before it records the constraint, and no query can read or
write the table meanwhile. Prisma writes it when an optional field becomes required. Since
PostgreSQL 12 the scan is skipped when a validated ``CHECK (col IS NOT NULL)`` already proves it,
and such a check can be added ``NOT VALID`` and validated without blocking.
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
        if not isinstance(action, m.SetNotNull):
            continue
        if ctx.settings.pg_version >= 12 and ctx.schema.has_validated_not_null_check(table, action.column):
            continue  # the validated check proves it: PostgreSQL skips the scan
        column = m.quote_ident(action.column)
        check_name = m.quote_ident(f"{table.name}_{action.column}_not_null")
        if ctx.settings.pg_version >= 12:
            help_text = (
                "Prove it first with a check constraint, one migration file per step: "
                f"ALTER TABLE {table.sql()} ADD CONSTRAINT {check_name} CHECK ({column} IS NOT NULL) "
                f"NOT VALID; then ALTER TABLE {table.sql()} VALIDATE CONSTRAINT {check_name}; "
                "(no blocking lock) then "
                f"ALTER TABLE {table.sql()} ALTER COLUMN {column} SET NOT NULL; (no scan) and "
                f"ALTER TABLE {table.sql()} DROP CONSTRAINT {check_name};"
            )
        else:
            help_text = (
                "Before PostgreSQL 12 SET NOT NULL always scans; keep a check constraint instead: "
                f"ALTER TABLE {table.sql()} ADD CONSTRAINT {check_name} CHECK ({column} IS NOT NULL) "
                "NOT VALID; then, in a later migration file, "
                f"ALTER TABLE {table.sql()} VALIDATE CONSTRAINT {check_name};"
            )
        yield Hit(
            message=(
                f"Making {table.display()}.{action.column} NOT NULL scans every row under an ACCESS "
                f"EXCLUSIVE lock: every read and write of {table.display()} waits until the scan ends."
            ),
            help=help_text,
            object=ctx.ref(table, action.column),
            table=table,
        )


RULE = Rule(
    id="SM311",
    name="set-not-null-scan",
    category=Category.LOCK,
    severity=Severity.WARNING,
    summary="SET NOT NULL scans the table while blocking reads and writes.",
    alternative="CHECK (col IS NOT NULL) NOT VALID, VALIDATE it, then SET NOT NULL (PostgreSQL 12+).",
    bad='ALTER TABLE "User" ALTER COLUMN "name" SET NOT NULL;',
    good='ALTER TABLE "User" ADD CONSTRAINT "User_name_not_null" CHECK ("name" IS NOT NULL) NOT VALID;',
    why=__doc__ or "",
    check=check,
    on=(m.AlterTable,),
    lock="ACCESS EXCLUSIVE",
    references=("https://www.postgresql.org/docs/current/sql-altertable.html#SQL-ALTERTABLE-DESC-SET-DROP-NOT-NULL",),
)
