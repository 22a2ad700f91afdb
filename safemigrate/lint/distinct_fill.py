"""Columns whose ADD COLUMN gave every existing row a distinct, non-NULL value.

``ADD COLUMN ... SERIAL`` (and BIGSERIAL, SMALLSERIAL), ``GENERATED ... AS IDENTITY`` and a default
that is one call of ``nextval(...)``, ``gen_random_uuid()`` or ``uuid_generate_v4()`` compute a value
for each existing row when the column is added: the rows are numbered 1, 2, 3... or given random
UUIDs, none NULL and none repeated. Prisma writes these for ``@default(autoincrement())`` and
``@default(dbgenerated("gen_random_uuid()"))`` on a new field, and then a primary key or unique
index over it (add-primary-key and unique-on-existing-table read this module): such a key cannot
meet a NULL or a duplicate among the rows that existed. Until something changes the column again:
an UPDATE of it, an INSERT into the table (it may give the column a value of its own), dropping,
renaming or retyping it, or code the linter cannot see into. A default that computes something
from those values (``nextval('s') % 10``, ``left(gen_random_uuid()::text, 4)``) can repeat and does
not count. (An identity or sequence that cycles within the number of rows is not read: it is not
what Prisma writes.)
"""

from __future__ import annotations

from collections.abc import Sequence

from safemigrate.lint.rule import Context, added_column_holds
from safemigrate.sql import model as m

# Defaults that are one call of a function giving a new random UUID per call, as the summary layer
# spells them (sqlglot's rendering: known built-ins in upper case, schema-qualified calls as written).
_RANDOM_UUID = frozenset(
    {
        "GEN_RANDOM_UUID()",
        "pg_catalog.gen_random_uuid()",
        "UUID_GENERATE_V4()",
        "public.uuid_generate_v4()",
        "extensions.uuid_generate_v4()",  # Supabase installs uuid-ossp there
    }
)


def _spellings(part: str) -> tuple[str, ...]:
    """How a regclass literal may name one part of a sequence name: quoted, or bare when PostgreSQL
    folds the bare form to it."""
    quoted = m.quote_ident(part)
    simple = part == part.lower() and part.replace("_", "a").isalnum() and not part[:1].isdigit()
    return (quoted, part) if simple else (quoted,)


def _is_one_nextval(default: m.DefaultSpec) -> bool:
    """The default is exactly ``nextval('<its sequence>')`` (``::regclass`` or not), nothing computed from it."""
    if len(default.sequences) != 1:
        return False
    sequence = default.sequences[0]
    names = list(_spellings(sequence.name))
    if sequence.schema is not None:
        names = [f"{schema}.{name}" for schema in _spellings(sequence.schema) for name in names]
    for name in names:
        literal = m.quote_literal(name)
        if default.sql in (f"NEXTVAL({literal})", f"NEXTVAL(CAST({literal} AS REGCLASS))"):
            return True
    return False


def fills_distinct(column: m.ColumnSpec) -> bool:
    """True when adding ``column`` gives each existing row its own non-NULL value (serial types,
    identity, a default that is one call of nextval, gen_random_uuid or uuid_generate_v4)."""
    if column.generated:
        return False
    if column.identity:
        return True
    default = column.default
    return default is not None and (default.sql in _RANDOM_UUID or _is_one_nextval(default))


def _touches(action: m.AlterAction, column: str) -> bool:
    """The action drops, renames or retypes ``column``: its values may no longer be the distinct ones."""
    if isinstance(action, (m.DropColumn, m.AlterColumnType)):
        return action.column == column
    if isinstance(action, m.RenameColumn):
        return column in (action.old, action.new)
    return False


def filled_distinct(ctx: Context, table: m.Name, column: str, before: Sequence[m.AlterAction] = ()) -> bool:
    """True when ``column`` was added earlier in this file (or by ``before``, the actions of the current
    ALTER TABLE that run first) with a distinct value per row, and nothing since may have changed them."""
    return added_column_holds(ctx, table, column, before, fills_distinct, lambda action: _touches(action, column))


def distinct_key_column(
    ctx: Context, table: m.Name, columns: Sequence[str], before: Sequence[m.AlterAction] = ()
) -> str | None:
    """The first of ``columns`` that ``filled_distinct`` holds for: a key over it cannot repeat."""
    return next((c for c in columns if filled_distinct(ctx, table, c, before)), None)


def why_distinct(column: str) -> str:
    """The reason a finding on a key over ``column`` is left out (see ``Hit.explained``)."""
    return f"adding {column} gave every existing row its own non-NULL value, and no row changed since"
