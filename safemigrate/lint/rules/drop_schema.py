"""Dropping a schema with CASCADE deletes every table in it, with all of their rows.

``DROP SCHEMA ... CASCADE`` removes everything the schema holds (tables, views, sequences, types,
functions) in one statement, without listing what it removes, and PostgreSQL keeps no copy. With
Prisma's ``multiSchema`` one schema can hold many models. Without CASCADE the statement fails
unless the schema is already empty, so it cannot lose data.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, ObjectRef, Rule, Severity
from safemigrate.sql import model as m


def check(ctx: Context) -> Iterator[Hit]:
    summary = ctx.summary
    if not isinstance(summary, m.DropObjects) or summary.kind != "schema" or not summary.cascade:
        return
    for name in summary.names:
        if ctx.schema.is_fresh_object("schema", name):
            continue  # created by this deploy: its tables are new and empty
        schema = name.name
        tables = [
            m.Name(table, schema)
            for (owner, table) in sorted(ctx.schema.tables)
            if owner == schema and not ctx.schema.is_fresh_table(m.Name(table, schema))
        ]
        known = f" (known: {', '.join(t.name for t in tables)})" if tables else ""
        drops = " ".join(f"DROP TABLE {t.sql()};" for t in tables) or "DROP TABLE ...;"
        backup = ",".join(t.display() for t in tables) or f"{schema}.<table>"
        yield Hit(
            message=(f"Dropping schema {schema} with CASCADE deletes every table in it{known} with all of their rows."),
            help=(
                f"Back up its tables (safemigrate backup --tables {backup}), drop them explicitly "
                f"({drops}), then run DROP SCHEMA {m.quote_ident(schema)}; without CASCADE, which "
                "fails instead of deleting anything that is left."
            ),
            object=ObjectRef(schema=schema),
        )


RULE = Rule(
    id="SM103",
    name="drop-schema",
    category=Category.DATA_LOSS,
    severity=Severity.ERROR,
    summary="Dropping a schema with CASCADE deletes every table in it, with their rows.",
    alternative="Drop the tables explicitly (after a backup), then drop the empty schema without CASCADE.",
    bad='DROP SCHEMA "billing" CASCADE;',
    good='DROP TABLE "billing"."Invoice";\nDROP SCHEMA "billing";',
    why=__doc__ or "",
    check=check,
    on=(m.DropObjects,),
    lock="ACCESS EXCLUSIVE",
)
