"""Building an index without CONCURRENTLY blocks writes to the table (or reads too) until the build ends.

``CREATE INDEX`` takes a SHARE lock: reads go on, but every INSERT, UPDATE and DELETE waits for the
whole build. Prisma writes a plain one for every ``@@index``, ``@unique`` and ``@@unique``.
``CREATE INDEX CONCURRENTLY`` does not block writes, but cannot run in a transaction: it must be the
only statement of its migration file (Prisma then runs it outside a transaction).

``ALTER TABLE ... ADD PRIMARY KEY (...)`` and ``ADD UNIQUE (...)`` (a column added with ``PRIMARY
KEY`` or ``UNIQUE`` too) build their index the same way while holding ACCESS EXCLUSIVE: reads wait
as well. Prisma writes one when a model's ``@id`` changes, and Prisma 6 for every implicit
many-to-many table it upgrades (``"_AB_pkey" PRIMARY KEY ("A", "B")``). Build the unique index
concurrently first, then attach it: ``ADD CONSTRAINT ... PRIMARY KEY USING INDEX`` (or ``UNIQUE USING
INDEX``) only renames it. A unique index already over exactly the key's columns can be attached at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.lint.rules.add_check_constraint import column_definition
from safemigrate.sql import model as m


def _create_index(ctx: Context, index: m.CreateIndex) -> Hit:
    table = index.table
    what = ("unique index" if index.unique else "index") + (f" {index.name.display()}" if index.name else "")
    return Hit(
        message=(
            f"Building {what} on {table.display()} without CONCURRENTLY blocks every insert, update and "
            f"delete on {table.display()} until the build finishes."
        ),
        help=(
            f"Build it concurrently, as the only statement of its own migration file (create one with "
            f"`prisma migrate dev --create-only`), so that Prisma runs it outside a transaction: "
            f"{index.concurrently_sql(ctx.statement.text)};"
        ),
        object=ctx.ref(table),
        table=table,
    )


def _keys(columns: Sequence[str]) -> str:
    return ", ".join(m.quote_ident(c) for c in columns)


def _existing_index(
    ctx: Context, table: m.Name, constraint: m.ConstraintSpec, before: Sequence[m.AlterAction]
) -> str | None:
    """A unique index already on the table over exactly the key's columns, in order, covering every row,
    and no constraint's: the key can take it (for a primary key, only over NOT NULL columns, else
    PostgreSQL scans for NULLs while holding the lock)."""
    state = ctx.schema.table(table)
    if state is None or any(isinstance(a, (m.AlterColumnType, m.DropColumn, m.RenameColumn)) for a in before):
        return None
    if constraint.kind == "primary key" and not all(
        (column := state.columns.get(c)) is not None and column.not_null for c in constraint.columns
    ):
        return None
    for index in ctx.schema.unique_indexes(table):
        if index.columns == constraint.columns and not (index.partial or index.constraint):
            return index.key[1]
    return None


def _constraint(
    ctx: Context, alter: m.AlterTable, constraint: m.ConstraintSpec, before: Sequence[m.AlterAction]
) -> Hit:
    table = alter.table
    primary = constraint.kind == "primary key"
    kind = "PRIMARY KEY" if primary else "UNIQUE"
    default = "pkey" if primary else "_".join(constraint.columns) + "_key"
    name = constraint.name or f"{table.name}_{default}"
    drops = "".join(
        f"DROP CONSTRAINT {m.quote_ident(a.name)}, " for a in alter.actions if isinstance(a, m.DropConstraint)
    )
    what = f"{'primary key' if primary else 'unique constraint'} {name}"
    existing = _existing_index(ctx, table, constraint, before)
    if existing is not None:
        help_text = (
            f"Attach the unique index {existing}, which already covers ({', '.join(constraint.columns)}): no "
            f"build, and it is renamed to {name}, so drop no index of that name afterwards (remove a later "
            f"DROP INDEX of it): ALTER TABLE {table.sql()} {drops}ADD CONSTRAINT {m.quote_ident(name)} {kind} "
            f"USING INDEX {m.quote_ident(existing)}; (PostgreSQL takes only an index in the default sort order "
            "and operator classes: with DESC or an operator class of its own, build a new one CONCURRENTLY.)"
        )
    else:
        # The index cannot take the constraint's name while an index of that name exists (the old key's).
        schema = ctx.schema.key(table)[0]
        taken = any(isinstance(a, m.DropConstraint) and a.name == name for a in alter.actions)
        taken = taken or (schema, name) in ctx.schema.indexes
        index = m.quote_ident(f"{name}_new" if taken else name)
        nulls = " NULLS NOT DISTINCT" if constraint.nulls_not_distinct else ""
        help_text = (
            "Build the index first without blocking, as the only statement of its own migration file (Prisma "
            f"then runs it outside a transaction): CREATE UNIQUE INDEX CONCURRENTLY {index} ON {table.sql()} "
            f"({_keys(constraint.columns)}){nulls}; then, in the next one: ALTER TABLE {table.sql()} {drops}"
            f"ADD CONSTRAINT {m.quote_ident(name)} {kind} USING INDEX {index};"
        )
    return Hit(
        message=(
            f"Adding {what} on {table.display()} builds its unique index over every existing row while holding "
            f"ACCESS EXCLUSIVE on {table.display()}: reads and writes wait until the build finishes."
        ),
        help=help_text,
        object=ctx.ref(table),
        table=table,
    )


def _added_column(ctx: Context, table: m.Name, column: m.ColumnSpec, constraint: m.ConstraintSpec) -> Hit:
    primary = constraint.kind == "primary key"
    kind = "PRIMARY KEY" if primary else "UNIQUE"
    name = m.quote_ident(constraint.name or f"{table.name}_{'pkey' if primary else column.name + '_key'}")
    plain = not (column.identity or column.generated)
    add = f"ALTER TABLE {table.sql()} ADD COLUMN {column_definition(column)}; then " if plain else ""
    return Hit(
        message=(
            f"Adding {table.display()}.{column.name} with {kind} builds its unique index over every existing row "
            f"while holding ACCESS EXCLUSIVE on {table.display()}: reads and writes wait until the build finishes."
        ),
        help=(
            f"Add the column without {kind}: {add}build the index without blocking, as the only statement of "
            f"its own migration file: CREATE UNIQUE INDEX CONCURRENTLY {name} ON {table.sql()} "
            f"({m.quote_ident(column.name)}); and attach it in the next one: ALTER TABLE {table.sql()} "
            f"ADD CONSTRAINT {name} {kind} USING INDEX {name};"
        ),
        object=ctx.ref(table, column.name),
        table=table,
    )


def check(ctx: Context) -> Iterator[Hit]:
    summary = ctx.summary
    if isinstance(summary, m.CreateIndex):
        if not summary.concurrently:
            yield _create_index(ctx, summary)
        return
    if not isinstance(summary, m.AlterTable):
        return
    for i, action in enumerate(summary.actions):
        if isinstance(action, m.AddConstraint):
            constraint = action.constraint
            if constraint.kind in ("primary key", "unique") and constraint.using_index is None:
                yield _constraint(ctx, summary, constraint, summary.actions[:i])
        elif isinstance(action, m.AddColumn):
            for constraint in action.column.constraints:
                if constraint.kind in ("primary key", "unique"):
                    yield _added_column(ctx, summary.table, action.column, constraint)


RULE = Rule(
    id="SM301",
    name="create-index-non-concurrent",
    category=Category.LOCK,
    severity=Severity.WARNING,
    summary=(
        "A non-concurrent index build blocks writes to the table for the whole build (reads too, for "
        "ADD PRIMARY KEY or UNIQUE)."
    ),
    alternative=(
        "CREATE INDEX CONCURRENTLY, alone in its own migration file; for a key, attach that index with "
        "ADD CONSTRAINT ... USING INDEX."
    ),
    bad='CREATE UNIQUE INDEX "User_email_key" ON "User"("email");',
    good='CREATE UNIQUE INDEX CONCURRENTLY "User_email_key" ON "User"("email");',
    why=__doc__ or "",
    check=check,
    on=(m.CreateIndex, m.AlterTable),
    lock="SHARE (CREATE INDEX), ACCESS EXCLUSIVE (ADD PRIMARY KEY / UNIQUE)",
    references=(
        "https://www.postgresql.org/docs/current/sql-createindex.html#SQL-CREATEINDEX-CONCURRENTLY",
        "https://www.postgresql.org/docs/current/sql-altertable.html#SQL-ALTERTABLE-DESC-ADD-TABLE-CONSTRAINT-USING-INDEX",
    ),
)
