"""Resetting a sequence makes it hand out ids that rows of its table already hold.

``ALTER SEQUENCE ... RESTART`` (or ``ALTER TABLE ... ALTER COLUMN ... RESTART`` on an identity
column) sends a sequence back to its start value; ``RESTART WITH n`` and ``SELECT setval(sequence,
n)`` move it to a fixed number. Nothing compares that number with the
table: when it is below the highest id stored, the next inserts take ids that exist already and
fail on the primary key (or, without a unique constraint, silently share an id with an old row)
until the sequence has counted past them. The migration itself succeeds; the application's inserts
fail after it. Moving the sequence to the table's highest id (``setval(..., (SELECT max(id) FROM
t))``) is the safe form and is not reported; nor is a sequence (or table) created by this deploy.

A column of an existing table that starts drawing from a new sequence (``SET DEFAULT
nextval('new_seq')``, ``ADD GENERATED ... AS IDENTITY``) is sequence-behind-existing-ids' (an error:
that sequence starts below the stored ids for certain).

Other options change where it goes next: a negative ``INCREMENT`` makes it count down through the
ids already handed out; ``CYCLE`` sends it back to its minimum once it reaches the maximum; a
``MINVALUE``, ``MAXVALUE`` or type (``AS``) of its own moves those bounds (below the stored ids, the
next ``nextval`` fails or, cycling, wraps onto them). Those are reported too. A positive step,
``START``, ``CACHE`` and ``OWNED BY`` are not.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql import model as m


def _owner(ctx: Context, reset: m.ResetSequence) -> tuple[m.Name, str] | None:
    """The table and column the sequence numbers: as setval named them, else by PostgreSQL's naming
    of serial and identity sequences (``<table>_<column>_seq``) among the tables the history created."""
    if reset.owner is not None and reset.owner_column is not None:
        return reset.owner, reset.owner_column
    if reset.sequence is None:
        return None
    schema, name = ctx.schema.key(reset.sequence)
    for (table_schema, table_name), table in ctx.schema.tables.items():
        if table_schema != schema or not name.startswith(table_name + "_"):
            continue
        for column in table.columns:
            if name == f"{table_name}_{column}_seq":
                return m.Name(table_name, reset.sequence.schema), column
    return None


def check(ctx: Context) -> Iterator[Hit]:
    reset = ctx.summary
    if not isinstance(reset, m.ResetSequence) or reset.from_rows:
        return
    if reset.sequence is not None and ctx.schema.is_fresh_object("sequence", reset.sequence):
        return  # created by this deploy: no row holds one of its numbers yet
    owner = _owner(ctx, reset)
    table, column = owner if owner is not None else (None, None)
    if reset.sequence is None and table is not None and ctx.schema.is_fresh_table(table):
        return  # an identity column of a table this deploy created: no row holds an id yet
    if reset.sequence is not None:
        regclass = m.quote_literal(reset.sequence.sql())
        shown = reset.sequence.display()
    elif table is not None and column is not None:
        regclass = f"pg_get_serial_sequence({m.quote_literal(table.sql())}, {m.quote_literal(column)})"
        shown = f"of {table.display()}.{column}"
    else:
        regclass, shown = "<the sequence>", "(named by an expression)"
    rows = f"rows of {table.display()}" if table is not None else "rows"
    if reset.form == "options":
        yield _options_hit(ctx, reset, shown, rows, table, column)
        return
    to = f"to {reset.value}" if reset.value is not None else "back to its start value"
    highest = (
        f"(SELECT max({m.quote_ident(column)}) FROM {table.sql()})"
        if table is not None and column is not None
        else "(SELECT max(<id column>) FROM <table>)"
    )
    start_at = ""
    if reset.value is not None:
        start_at = (
            f" To start at {reset.value} without going below the stored ids: "
            f"SELECT setval({regclass}, GREATEST({reset.value}, {highest}));"
        )
    yield Hit(
        message=(
            f"Resetting sequence {shown} {to} can hand out ids that {rows} already hold: the next inserts fail "
            "on the key (or reuse an id) until the sequence has counted past the highest stored id."
        ),
        help=f"Move the sequence to the highest stored id instead: SELECT setval({regclass}, {highest});{start_at}",
        object=ctx.ref(table, column) if table is not None else ctx.ref(reset.sequence or m.Name("?")),
        table=table,
    )


def _options_hit(
    ctx: Context, reset: m.ResetSequence, shown: str, rows: str, table: m.Name | None, column: str | None
) -> Hit:
    sequence = reset.sequence.sql() if reset.sequence is not None else "<the sequence>"
    highest = (
        f" Compare its bounds with the highest stored id first: SELECT max({m.quote_ident(column)}) FROM {table.sql()};"
        if table is not None and column is not None
        else ""
    )
    return Hit(
        message=(
            f"Changing sequence {shown} with {', '.join(reset.options)} can make it hand out ids that {rows} "
            "already hold (counting down, or wrapping around at a bound) or stop at a bound: the next inserts "
            "fail on the key, reuse an id, or fail in nextval."
        ),
        help=(
            "Keep the sequence counting up, without wrapping, with bounds above the stored ids: "
            f"ALTER SEQUENCE {sequence} INCREMENT BY 1 NO MINVALUE NO MAXVALUE NO CYCLE;{highest}"
        ),
        object=ctx.ref(table, column) if table is not None else ctx.ref(reset.sequence or m.Name("?")),
        table=table,
    )


RULE = Rule(
    id="SM211",
    name="sequence-reset",
    category=Category.MAY_FAIL,
    severity=Severity.WARNING,
    summary="Resetting a sequence below the stored ids makes the next inserts collide with existing rows.",
    alternative="Move the sequence to the table's highest id with setval(..., (SELECT max(id) FROM ...)).",
    bad='ALTER SEQUENCE "Order_id_seq" RESTART WITH 1;',
    good='SELECT setval(\'"Order_id_seq"\', (SELECT max("id") FROM "Order"));',
    why=__doc__ or "",
    check=check,
    on=(m.ResetSequence,),
    references=(
        "https://www.postgresql.org/docs/current/sql-altersequence.html",
        "https://www.postgresql.org/docs/current/functions-sequence.html",
    ),
)
