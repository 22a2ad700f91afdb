"""Dropping the default of a required column breaks the INSERTs of the app version still running.

The running code leaves the column out of its inserts when the database fills it: Prisma's
``create`` omits a field that has ``@default(...)`` in the schema it was generated from (an
``autoincrement()`` id, a ``now()`` timestamp, a status). Once the default is gone, PostgreSQL rejects
those inserts with a not-null violation, from the commit until code that writes the column is live.
Prisma writes ``ALTER COLUMN ... DROP DEFAULT`` when ``@default`` is removed (for an
``autoincrement()`` id it also drops the sequence: drop-sequence). The rest of the file counts: a new
default, or the column made optional, dropped or renamed with its default back. Columns that may be
NULL are not reported (inserts store NULL), nor tables created earlier in this deploy.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql import model as m


def _required_without_default_at_end(ctx: Context, table: m.Name, column: str) -> bool:
    """Whether the column is still NOT NULL without a default once the whole file has run (renames of
    the table and the column followed). A scan of the statements, not a fold of a copy of the schema
    model: copying the model of a long history for every DROP DEFAULT cost more than the whole lint."""
    key, name = ctx.schema.key(table), column
    not_null, has_default = True, True
    for statement in (ctx.statement, *ctx.later()):
        summary = statement.summary
        if (
            isinstance(summary, m.DropObjects)
            and summary.kind == "table"
            and any(ctx.schema.key(dropped) == key for dropped in summary.names)
        ):
            return False
        if not isinstance(summary, m.AlterTable) or ctx.schema.key(summary.table) != key:
            continue
        for action in summary.actions:
            if isinstance(action, m.RenameTable):
                key = (key[0], action.new)
            elif isinstance(action, m.RenameColumn) and action.old == name:
                name = action.new
            elif isinstance(action, m.DropColumn) and action.column == name:
                return False
            elif isinstance(action, (m.DropDefault, m.SetDefault)) and action.column == name:
                has_default = _gives_a_default(action)
            elif isinstance(action, (m.DropNotNull, m.SetNotNull)) and action.column == name:
                not_null = isinstance(action, m.SetNotNull)
        if statement is not ctx.statement and (has_default or not not_null):
            return False  # a later statement settles it (and keeps long files linear)
    return not_null and not has_default


def _gives_a_default(action: m.DropDefault | m.SetDefault) -> bool:
    """SET DEFAULT NULL is no default either: an insert that leaves the column out stores NULL."""
    return isinstance(action, m.SetDefault) and action.default.sql.strip("() ").upper() != "NULL"


def check(ctx: Context) -> Iterator[Hit]:
    summary = ctx.summary
    if not isinstance(summary, m.AlterTable) or ctx.schema.is_created_by_deploy(summary.table):
        return
    table = summary.table
    for action in summary.actions:
        if not isinstance(action, (m.DropDefault, m.SetDefault)) or _gives_a_default(action):
            continue
        before = ctx.schema.column(table, action.column)
        if before is not None and (not before.not_null or not before.has_default):
            continue  # optional (inserts store NULL), or it had no default to lose
        known = before is not None
        if known and not _required_without_default_at_end(ctx, table, action.column):
            continue  # dropped, made optional or given a default again later in the file
        required = "required column" if known else "column (if it is NOT NULL: the migration history does not say)"
        yield Hit(
            message=(
                f"{'Dropping' if isinstance(action, m.DropDefault) else 'Setting to NULL'} the default of {required} "
                f"{table.display()}.{action.column}: inserts from the running app "
                "version, which leaves the column out for the database to fill, fail with a not-null violation until "
                "code that writes it is deployed."
            ),
            help=(
                "Deploy code that always writes the column first (remove @default only after it is live), or make the "
                f"column optional in the same migration: ALTER TABLE {table.sql()} ALTER COLUMN "
                f"{m.quote_ident(action.column)} DROP NOT NULL;"
            ),
            object=ctx.ref(table, action.column),
            table=table,
        )


RULE = Rule(
    id="SM410",
    name="drop-default",
    category=Category.BREAKING,
    severity=Severity.WARNING,
    summary="Dropping the default of a required column breaks inserts of the running app version.",
    alternative="Remove the default only after code that always writes the column is deployed.",
    bad='ALTER TABLE "Order" ALTER COLUMN "status" DROP DEFAULT;',
    good='ALTER TABLE "Order" ALTER COLUMN "status" SET DEFAULT \'NEW\';',
    why=__doc__ or "",
    check=check,
    on=(m.AlterTable,),
    lock="ACCESS EXCLUSIVE",
)
