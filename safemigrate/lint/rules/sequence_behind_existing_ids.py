"""A column of a table that holds rows starts drawing ids from a sequence that starts below them.

Prisma writes this when ``@default(autoincrement())`` is added to an existing ``Int @id``:
``CREATE SEQUENCE "user_id_seq"; ALTER TABLE "User" ALTER COLUMN "id" SET DEFAULT
nextval('"user_id_seq"')``. The new sequence starts at 1, and nothing moves it past the ids the rows
already hold: the migration applies, then the application's inserts take ids 1, 2, 3... that exist
and fail on the primary key ("duplicate key value violates unique constraint") until the sequence
has counted past the largest stored id (without a unique key, they silently share an id with an old
row). Turning a column into an identity (``ALTER COLUMN "id" ADD GENERATED ... AS IDENTITY`` without
``START WITH``) makes such a sequence too.

Not reported when the file itself moves that sequence to the stored rows, before or after (``SELECT
setval(..., COALESCE(MAX("id"), 0) + 1, false) FROM "User"``, or any setval computed from a
``max(...)``: ``RESTART`` and ``START WITH`` take only constants), when the default draws from a
sequence that existed before this deploy (where it stands is not known here), on a column this
file added without a value (NULL in every row, to be numbered from the same sequence: what
add-serial-identity suggests), or on a table this deploy created that holds no rows yet.
Resetting a sequence that is already in use is sequence-reset's.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity, column_added_empty
from safemigrate.sql import model as m


def _moved_past_rows(ctx: Context, table: m.Name, column: str, sequence: m.Name | None) -> bool:
    """True when the migration also moves that sequence to the stored rows (``setval(..., <an expression
    over max(...)>)``, before or after): the column's sequence (by ``pg_get_serial_sequence`` or by its
    ``<table>_<column>_seq`` name), or ``sequence``."""
    table_key = ctx.schema.key(table)
    names = {(table_key[0], f"{table_key[1]}_{column}_seq")}
    if sequence is not None:
        names.add(ctx.schema.key(sequence))
    for statement in ctx.statements:
        reset = statement.summary
        if not isinstance(reset, m.ResetSequence) or not reset.from_rows:
            continue
        if reset.sequence is not None and ctx.schema.key(reset.sequence) in names:
            return True
        if reset.owner is not None and ctx.schema.key(reset.owner) == table_key and reset.owner_column == column:
            return True
    return False


def _default_dropped_before(ctx: Context, alter: m.AlterTable, index: int, column: str) -> bool:
    """An earlier statement of the file, or an earlier action of this one, dropped the column's default:
    the way a SERIAL column is turned into an identity (PostgreSQL refuses an identity on a column that
    has a default)."""
    key = ctx.schema.key(alter.table)
    earlier = [s.summary for s in ctx.earlier() if isinstance(s.summary, m.AlterTable)]
    actions = [a for s in earlier if ctx.schema.key(s.table) == key for a in s.actions] + list(alter.actions[:index])
    return any(isinstance(a, m.DropDefault) and a.column == column for a in actions)


def check(ctx: Context) -> Iterator[Hit]:
    alter = ctx.summary
    if not isinstance(alter, m.AlterTable) or ctx.schema.is_fresh_table(alter.table):
        return
    table = alter.table
    for i, action in enumerate(alter.actions):
        first = ""
        if isinstance(action, (m.AddIdentity, m.SetDefault)) and column_added_empty(
            ctx, table, action.column, alter.actions[:i]
        ):
            continue  # added by this file without a value: no row holds an id yet (add-serial-identity's way)
        if isinstance(action, m.AddIdentity) and not action.start:
            if _moved_past_rows(ctx, table, action.column, None):
                continue
            what = f"Adding an identity to {table.display()}.{action.column} makes a new sequence that starts at 1"
            regclass = f"pg_get_serial_sequence({m.quote_literal(table.sql())}, {m.quote_literal(action.column)})"
            if _default_dropped_before(ctx, alter, i, action.column):
                old = m.Name(f"{table.name}_{action.column}_seq", table.schema).sql()
                first = (
                    " The column still owns the sequence of its SERIAL, and pg_get_serial_sequence returns that "
                    f"one: drop it after the DROP DEFAULT, before this statement: DROP SEQUENCE IF EXISTS {old};"
                )
        elif isinstance(action, m.SetDefault) and action.default.sequences:
            sequence = action.default.sequences[0]
            if not ctx.schema.is_fresh_object("sequence", sequence):
                continue  # an existing sequence: where it stands is not known here
            if _moved_past_rows(ctx, table, action.column, sequence):
                continue
            what = (
                f"{table.display()}.{action.column} now takes its ids from sequence {sequence.display()}, "
                "created by this deploy, which starts at its start value"
            )
            regclass = m.quote_literal(sequence.sql())
        else:
            continue
        column = m.quote_ident(action.column)
        yield Hit(
            message=(
                f"{what}, below the ids rows of {table.display()} already hold: the migration applies, then "
                "the application's inserts take ids that exist and fail on the key (or reuse an id) until the "
                "sequence has counted past the highest stored id."
            ),
            help=(
                "Move the sequence past the stored ids in the same migration, after this statement: "
                f"SELECT setval({regclass}, COALESCE(MAX({column}), 0) + 1, false) FROM {table.sql()};{first}"
            ),
            object=ctx.ref(table, action.column),
            table=table,
        )


RULE = Rule(
    id="SM218",
    name="sequence-behind-existing-ids",
    category=Category.MAY_FAIL,
    severity=Severity.ERROR,
    summary="A new sequence behind a table's stored ids makes the application's inserts fail on the key.",
    alternative="Move the new sequence past the stored ids with setval(..., COALESCE(MAX(id), 0) + 1, false).",
    bad=(
        'CREATE SEQUENCE "user_id_seq";\n'
        'ALTER TABLE "User" ALTER COLUMN "id" SET DEFAULT nextval(\'"user_id_seq"\');\n'
        'ALTER SEQUENCE "user_id_seq" OWNED BY "User"."id";'
    ),
    good=(
        'CREATE SEQUENCE "user_id_seq";\n'
        'ALTER TABLE "User" ALTER COLUMN "id" SET DEFAULT nextval(\'"user_id_seq"\');\n'
        'ALTER SEQUENCE "user_id_seq" OWNED BY "User"."id";\n'
        'SELECT setval(\'"user_id_seq"\', COALESCE(MAX("id"), 0) + 1, false) FROM "User";'
    ),
    why=__doc__ or "",
    check=check,
    on=(m.AlterTable,),
    references=(
        "https://www.postgresql.org/docs/current/functions-sequence.html",
        "https://www.prisma.io/docs/orm/reference/prisma-schema-reference#autoincrement",
    ),
)
