"""Dropping a sequence loses its current position: ids handed out before can be handed out again.

A sequence is a counter stored in the database. ``DROP SEQUENCE`` forgets how far it counted; a
sequence created again starts over, so new ids collide with the ids of existing rows, and column
defaults that call ``nextval`` on it stop working (with CASCADE they are silently removed).
Prisma's ``autoincrement()`` fields rely on exactly such sequences.

Removing ``autoincrement()`` from a field makes Prisma drop the column's default first, then the
sequence (``ALTER TABLE "User" ALTER COLUMN "id" DROP DEFAULT; DROP SEQUENCE "User_id_seq";``).
No default uses the sequence any more: what breaks is the inserts that left the column out, and
drop-default reports those. So a ``DROP SEQUENCE`` without CASCADE of the sequence a serial column
got (``<table>_<column>_seq``, a column the history knows), after an earlier statement of the same
file dropped that column's default (or set it to one that does not use the sequence), is not
reported: without CASCADE, PostgreSQL refuses the drop if any other default still uses the
sequence, so no default is removed silently. A later ``@default(autoincrement())`` on the column
gets a new sequence that starts at 1: sequence-behind-existing-ids reports that.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql import model as m


def _serial_column(ctx: Context, sequence: m.Name) -> tuple[tuple[str, str], str] | None:
    """The table (model key) and column whose serial sequence ``sequence`` is named as (``<table>_<column>_seq``)."""
    schema, name = ctx.schema.key(sequence)
    for (table_schema, table_name), table in ctx.schema.tables.items():
        if table_schema == schema and name.startswith(table_name + "_"):
            for column in table.columns:
                if name == f"{table_name}_{column}_seq":
                    return (table_schema, table_name), column
    return None


def _default_dropped_earlier(ctx: Context, sequence: m.Name) -> str:
    """The column (``Table.column``) whose serial sequence ``sequence`` is, when an earlier statement of the
    file dropped its default or replaced it by one that does not use the sequence; "" otherwise."""
    owner = _serial_column(ctx, sequence)
    if owner is None:
        return ""
    table, column = owner
    released = False
    for statement in ctx.earlier():
        alter = statement.summary
        if not isinstance(alter, m.AlterTable) or ctx.schema.key(alter.table) != table:
            continue
        for action in alter.actions:
            if isinstance(action, m.DropDefault) and action.column == column:
                released = True
            elif isinstance(action, m.SetDefault) and action.column == column:
                default = action.default
                uses = any(ctx.schema.key(s) == ctx.schema.key(sequence) for s in default.sequences)
                released = not uses and not default.unknown_calls
    return f"{table[1]}.{column}" if released else ""


def check(ctx: Context) -> Iterator[Hit]:
    summary = ctx.summary
    if not isinstance(summary, m.DropObjects) or summary.kind != "sequence":
        return
    for sequence in summary.names:
        if ctx.schema.is_fresh_object("sequence", sequence):
            continue  # created by this deploy: nothing stored yet
        released = "" if summary.cascade else _default_dropped_earlier(ctx, sequence)
        explained = (
            f"no default uses it any more: the file dropped the default of {released} first (drop-default "
            "reports the inserts that relied on it)"
            if released
            else ""
        )
        regclass = m.quote_literal(sequence.sql())
        yield Hit(
            message=(
                f"Dropping sequence {sequence.display()} loses its current value: ids can be reused "
                "and defaults that use it break."
            ),
            help=(
                f"Keep the sequence if any column still uses it. If it must be recreated, note its value "
                f"first (SELECT last_value FROM {sequence.sql()};) and restore it after "
                f"(SELECT setval({regclass}, <last_value>);)."
            ),
            object=ctx.ref(sequence),
            explained=explained,
        )


RULE = Rule(
    id="SM105",
    name="drop-sequence",
    category=Category.DATA_LOSS,
    severity=Severity.ERROR,
    summary="Dropping a sequence loses its position: ids may be reused or defaults break.",
    alternative="Keep the sequence; if it must be recreated, restore its value with setval().",
    bad='DROP SEQUENCE "Order_number_seq";',
    good='ALTER TABLE "Order" ALTER COLUMN "number" DROP DEFAULT;',
    why=__doc__ or "",
    check=check,
    on=(m.DropObjects,),
    lock="ACCESS EXCLUSIVE",
)
