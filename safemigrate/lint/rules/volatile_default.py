"""Adding a column whose default differs per row rewrites the whole table.

Since PostgreSQL 11 a constant default is stored once and the column is added instantly; a volatile
one (``gen_random_uuid()``, ``random()``, ``clock_timestamp()``, ``nextval()``) is computed for each
row, so the table and its indexes are rewritten under ACCESS EXCLUSIVE, blocking reads and writes.
Prisma writes one for ``@default(dbgenerated("gen_random_uuid()"))``. Before 11 any default rewrites.
A default calling a function that is not a known built-in (one of the project's) is counted as
volatile: a plpgsql or sql function is volatile unless declared otherwise, and the linter cannot see
how it was declared.
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
    version = ctx.settings.pg_version
    for action in alter.actions:
        if not isinstance(action, m.AddColumn):
            continue
        column = action.column
        default = column.default
        if column.identity or default is None:
            continue  # serial and identity columns: add-serial-identity
        if default.unknown_calls:
            names = ", ".join(f"{c}()" for c in default.unknown_calls)
            why = (
                f"with the default {default.sql}, which calls {names} (not a known built-in, so counted as "
                "volatile), computes a value for each existing row"
            )
        elif default.volatile:
            why = f"with the volatile default {default.sql} computes a value for each existing row"
        elif version < 11 and default.sql.upper() != "NULL":
            why = f"with a default on PostgreSQL {version} (before 11) writes it into each existing row"
        else:
            continue
        name = m.quote_ident(column.name)
        not_null = " Then make it NOT NULL without a long scan (see set-not-null-scan)." if column.not_null else ""
        yield Hit(
            message=(
                f"Adding {table.display()}.{column.name} {why}, rewriting {table.display()} under an "
                "ACCESS EXCLUSIVE lock: every read and write of it waits until the rewrite ends."
            ),
            help=(
                f"Add the column without a default, then set the default (only new rows use it), then "
                f"backfill old rows in batches, in later transactions: ALTER TABLE {table.sql()} ADD COLUMN "
                f"{name} {column.type.sql or column.type.display()}; ALTER TABLE {table.sql()} ALTER COLUMN "
                f"{name} SET DEFAULT {default.sql}; UPDATE {table.sql()} SET {name} = {default.sql} "
                f"WHERE {name} IS NULL AND <next batch>;{not_null}"
            ),
            object=ctx.ref(table, column.name),
            table=table,
        )


RULE = Rule(
    id="SM305",
    name="volatile-default",
    category=Category.LOCK,
    severity=Severity.WARNING,
    summary="A new column with a volatile default rewrites the table, blocking reads and writes.",
    alternative="Add the column without default, set the default, backfill in batches.",
    bad='ALTER TABLE "User" ADD COLUMN "publicId" UUID NOT NULL DEFAULT gen_random_uuid();',
    good=(
        'ALTER TABLE "User" ADD COLUMN "publicId" UUID;\n'
        'ALTER TABLE "User" ALTER COLUMN "publicId" SET DEFAULT gen_random_uuid();'
    ),
    why=__doc__ or "",
    check=check,
    on=(m.AlterTable,),
    lock="ACCESS EXCLUSIVE",
    references=("https://www.postgresql.org/docs/current/ddl-alter.html#DDL-ALTER-ADDING-A-COLUMN",),
)
