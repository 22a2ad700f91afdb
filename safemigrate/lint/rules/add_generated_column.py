"""Adding a stored generated column to a table that holds rows rewrites the whole table.

``ADD COLUMN ... GENERATED ALWAYS AS (expression) STORED`` computes the expression for every
existing row and writes it into the row, so PostgreSQL rewrites the table and its indexes under
ACCESS EXCLUSIVE: no query can read or write the table until the rewrite ends. A virtual generated
column (PostgreSQL 18: ``VIRTUAL``, or no ``STORED``) is computed when read: adding it stores and
rewrites nothing, and is not reported. Prisma has no attribute for generated columns: they come from
hand-edited migrations.
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
        if not isinstance(action, m.AddColumn) or not action.column.generated or action.column.virtual:
            continue
        column = action.column
        name = m.quote_ident(column.name)
        type_sql = column.type.sql or column.type.display()
        # The parser does not keep the expression: the suggestion names it as a placeholder.
        expression = "<the generated expression>"
        new_expression = "<the generated expression, its columns read from NEW>"
        function = m.quote_ident(f"{table.name}_{column.name}_fill")
        virtual = ""
        if ctx.settings.pg_version >= 18:
            virtual = (
                f" If the column needs no index, PostgreSQL 18 adds a virtual one (computed when read) without "
                f"a rewrite: ALTER TABLE {table.sql()} ADD COLUMN {name} {type_sql} GENERATED ALWAYS AS "
                f"({expression}) VIRTUAL;"
            )
        yield Hit(
            message=(
                f"Adding generated column {table.display()}.{column.name} computes it for every existing row, "
                f"rewriting {table.display()} under an ACCESS EXCLUSIVE lock: every read and write of it waits "
                "until the rewrite ends."
            ),
            help=(
                f"On a large table, add a plain column and fill it without the long lock: ALTER TABLE "
                f"{table.sql()} ADD COLUMN {name} {type_sql}; keep it up to date with a trigger (CREATE FUNCTION "
                f"{function}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.{name} := {new_expression}; "
                f"RETURN NEW; END $$; CREATE TRIGGER {function} BEFORE INSERT OR UPDATE ON {table.sql()} FOR "
                f"EACH ROW EXECUTE FUNCTION {function}();), then backfill old rows in batches: UPDATE "
                f"{table.sql()} SET {name} = {expression} WHERE {name} IS NULL AND <next batch>; "
                "On a small table, set lock_timeout and accept the short rewrite." + virtual
            ),
            object=ctx.ref(table, column.name),
            table=table,
        )


RULE = Rule(
    id="SM314",
    name="add-generated-column",
    category=Category.LOCK,
    severity=Severity.WARNING,
    summary="A new stored generated column is computed for every row, rewriting the table.",
    alternative="Add a plain column kept up to date by a trigger, and backfill old rows in batches.",
    bad='ALTER TABLE "User" ADD COLUMN "emailLower" TEXT GENERATED ALWAYS AS (lower("email")) STORED;',
    good='ALTER TABLE "User" ADD COLUMN "emailLower" TEXT;',
    why=__doc__ or "",
    check=check,
    on=(m.AlterTable,),
    lock="ACCESS EXCLUSIVE",
    references=("https://www.postgresql.org/docs/current/ddl-generated-columns.html",),
)
