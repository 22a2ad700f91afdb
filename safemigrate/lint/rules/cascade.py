"""CASCADE silently removes whatever depends on the dropped object, in other tables too.

``DROP ... CASCADE`` drops views, foreign keys, defaults, triggers (and, for extensions, whole
columns of their types) that depend on the object, without listing them; ``TRUNCATE ... CASCADE``
empties every table with a foreign key to the truncated one, rows and all. The migration says one
thing and does more. Without CASCADE PostgreSQL refuses and names the dependents instead. Types
and domains (drop-type-cascade) and schemas (drop-schema) have their own rules.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql import model as m

_OWN_RULES = frozenset({"type", "domain", "schema"})  # drop-type-cascade, drop-schema

_DEPENDENTS = {
    "table": "views on it and foreign keys of other tables that reference it",
    "foreign table": "views on it and foreign keys that reference it",
    "view": "views built on it",
    "materialized view": "views built on it",
    "sequence": "column defaults that use it",
    "function": "triggers, defaults, constraints and indexes that call it",
    "procedure": "objects that depend on it",
    "extension": "columns of the types it defines (with their data) and everything using its functions",
}

_HELP_TAIL = "without CASCADE: PostgreSQL then refuses and names anything still depending on it."


def _fk_to(constraint: m.ConstraintSpec, key: tuple[str, str], ctx: Context) -> bool:
    return (
        constraint.kind == "foreign key"
        and constraint.references is not None
        and ctx.schema.key(constraint.references) == key
    )


def _referenced_by_existing_table(ctx: Context, table: m.Name) -> bool:
    """True when an earlier statement of this file added a foreign key to ``table`` on a table with rows."""
    key = ctx.schema.key(table)
    for statement in ctx.earlier():
        summary = statement.summary
        if not isinstance(summary, m.AlterTable) or ctx.schema.is_fresh_table(summary.table):
            continue
        for action in summary.actions:
            if isinstance(action, m.AddConstraint) and _fk_to(action.constraint, key, ctx):
                return True
            if isinstance(action, m.AddColumn) and any(_fk_to(c, key, ctx) for c in action.column.constraints):
                return True
    return False


def _drop_objects(ctx: Context, summary: m.DropObjects) -> Iterator[Hit]:
    if summary.kind in _OWN_RULES:
        return
    is_table = summary.kind in ("table", "foreign table")
    for name in summary.names:
        if is_table and ctx.schema.is_fresh_table(name):
            continue  # created by this deploy: what depends on it is new too
        dependents = _DEPENDENTS.get(summary.kind, "everything that depends on it")
        yield Hit(
            message=(
                f"DROP {summary.kind.upper()} {name.display()} CASCADE also drops {dependents}, without listing them."
            ),
            help=(
                "Drop the dependent objects explicitly first, then "
                f"DROP {summary.kind.upper()} {name.sql()}; " + _HELP_TAIL
            ),
            object=ctx.ref(name),
            table=name if is_table else None,
        )


def _alter_table(ctx: Context, summary: m.AlterTable) -> Iterator[Hit]:
    table = summary.table
    if ctx.schema.is_fresh_table(table):
        return
    for action in summary.actions:
        if isinstance(action, m.DropColumn) and action.cascade:
            column = m.quote_ident(action.column)
            yield Hit(
                message=(
                    f"Dropping column {table.display()}.{action.column} with CASCADE also drops the views, "
                    "indexes and constraints (foreign keys of other tables too) that use it."
                ),
                help=(
                    "Drop the dependent objects explicitly first, then "
                    f"ALTER TABLE {table.sql()} DROP COLUMN {column}; " + _HELP_TAIL
                ),
                object=ctx.ref(table, action.column),
                table=table,
            )
        elif isinstance(action, m.DropConstraint) and action.cascade:
            constraint = m.quote_ident(action.name)
            yield Hit(
                message=(
                    f"Dropping constraint {action.name} of {table.display()} with CASCADE also drops the "
                    "foreign keys of other tables that depend on it."
                ),
                help=(
                    "Drop those foreign keys explicitly first (ALTER TABLE ... DROP CONSTRAINT ...;), then "
                    f"ALTER TABLE {table.sql()} DROP CONSTRAINT {constraint}; " + _HELP_TAIL
                ),
                object=ctx.ref(table),
                table=table,
            )


def _drop_index(ctx: Context, summary: m.DropIndex) -> Iterator[Hit]:
    if not summary.cascade:
        return
    for index in summary.names:
        table_key = ctx.schema.index_table(index)
        table = m.Name(table_key[1], table_key[0]) if table_key else None
        if ctx.schema.is_fresh_index(index) or (table is not None and ctx.schema.is_fresh_table(table)):
            continue
        yield Hit(
            message=(
                f"Dropping index {index.display()} with CASCADE also drops the constraints that depend on it "
                "(foreign keys of other tables that reference its columns)."
            ),
            help=f"Drop those constraints explicitly first, then DROP INDEX {index.sql()}; " + _HELP_TAIL,
            object=ctx.ref(table) if table is not None else ctx.ref(index),
            table=table,
        )


def _truncate(ctx: Context, summary: m.Truncate) -> Iterator[Hit]:
    if not summary.cascade:
        return
    for table in summary.tables:
        if ctx.schema.is_fresh_table(table) and not _referenced_by_existing_table(ctx, table):
            continue  # new and empty, and only new tables can reference it
        yield Hit(
            message=(
                f"TRUNCATE {table.display()} CASCADE also deletes every row of every table with a "
                f"foreign key to {table.display()}."
            ),
            help=(
                "After a backup, list every table to empty in the TRUNCATE itself and leave out CASCADE "
                f"(TRUNCATE {table.sql()}, <referencing tables>;): it then fails instead of emptying a "
                "table you did not name."
            ),
            object=ctx.ref(table),
            table=table,
        )


def check(ctx: Context) -> Iterator[Hit]:
    summary = ctx.summary
    if isinstance(summary, m.DropObjects) and summary.cascade:
        yield from _drop_objects(ctx, summary)
    elif isinstance(summary, m.AlterTable):
        yield from _alter_table(ctx, summary)
    elif isinstance(summary, m.DropIndex):
        yield from _drop_index(ctx, summary)
    elif isinstance(summary, m.Truncate):
        yield from _truncate(ctx, summary)


RULE = Rule(
    id="SM109",
    name="cascade",
    category=Category.DATA_LOSS,
    severity=Severity.ERROR,
    summary="CASCADE also removes dependent objects, and with TRUNCATE the rows of other tables.",
    alternative="Drop the dependent objects explicitly first, then drop without CASCADE.",
    bad='DROP TABLE "Post" CASCADE;',
    good='ALTER TABLE "Comment" DROP CONSTRAINT "Comment_postId_fkey";\nDROP TABLE "Post";',
    why=__doc__ or "",
    check=check,
    lock="ACCESS EXCLUSIVE",
)
