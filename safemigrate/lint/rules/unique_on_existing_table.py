"""A unique index or constraint on a table that holds rows fails if the rows already repeat a value.

PostgreSQL builds the index over every existing row and stops at the first duplicate ("could not
create unique index ... Key (email)=(...) is duplicated"). Prisma writes ``CREATE UNIQUE INDEX``
for ``@unique`` / ``@@unique`` and warns "If there are existing duplicate values, this will fail":
the application never prevented duplicates before, so production data often has some.
A failed ``CONCURRENTLY`` build also leaves an INVALID index behind that must be dropped.

A key over all the columns of a unique key the rows already satisfy, and more, cannot fail: rows
unique on some columns are unique on any superset of them (NULLs never collide in a unique index;
with NULLS NOT DISTINCT the old key's columns must be NOT NULL). That key may be one a statement
dropped earlier in the same file, as long as nothing since could have changed the rows (Prisma
drops ``@@unique([a, b])`` before it creates ``@@unique([a, b, c])``): see ``SchemaModel.unique_keys``.

Nor can a key over a column added (in the same statement or earlier in the file) as SERIAL,
BIGSERIAL, SMALLSERIAL, an identity, or with a default that is one call of ``nextval(...)``,
``gen_random_uuid()`` or ``uuid_generate_v4()``: PostgreSQL gives each existing row its own value,
as long as no UPDATE of the column, INSERT into the table or unseen code came in between (see
``lint/distinct_fill.py``). Prisma writes this for a new ``Int @unique @default(autoincrement())``
(``ADD COLUMN "seq" SERIAL NOT NULL``, then ``CREATE UNIQUE INDEX "<T>_seq_key"``) or a
``@unique @default(dbgenerated("gen_random_uuid()"))`` uuid: not reported.

Changing a column's type to one whose equality is coarser rebuilds its unique indexes (and the
primary key) by the new equality, under ACCESS EXCLUSIVE: citext ignores case (Prisma's
``@db.Citext``), char(n) trailing spaces (``@db.Char(n)``). Values distinct before may be equal now:
'Ann@x.com' and 'ann@x.com' stop the migration ("could not create unique index"). (A change to a
nondeterministic collation does the same; the linter does not read collations.)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

from safemigrate.lint.distinct_fill import distinct_key_column, why_distinct
from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity, column_added_empty, column_gets_values
from safemigrate.sql import model as m


def _key_sql(columns: Sequence[str]) -> str:
    """The indexed keys as SQL: plain columns quoted, expressions (``LOWER("email")``) as written."""
    return ", ".join(c if "(" in c else m.quote_ident(c) for c in columns)


def _duplicates_query(table: m.Name, columns: Sequence[str]) -> str:
    keys = _key_sql(columns)
    return f"SELECT {keys}, count(*) FROM {table.sql()} GROUP BY {keys} HAVING count(*) > 1;"


def _column(columns: Sequence[str]) -> str | None:
    return columns[0] if len(columns) == 1 and "(" not in columns[0] else None


def _index(ctx: Context, index: m.CreateIndex) -> Iterator[Hit]:
    table = index.table
    keys = ", ".join(index.columns) or "its key"
    label = f" {index.name.display()}" if index.name else ""
    where = " among the rows its WHERE clause covers" if index.partial else ""
    find = f"Find the duplicates{where} first: {_duplicates_query(table, index.columns)}"
    if index.concurrently:
        name = index.name.sql() if index.name else '"<index name>"'
        message = (
            f"Building unique index{label} on {table.display()} ({keys}) fails if existing rows repeat a "
            "value, and leaves an INVALID index behind."
        )
        help_text = (
            f"{find} Remove or merge them in an earlier migration. If the build fails, drop the invalid "
            f"index (DROP INDEX CONCURRENTLY IF EXISTS {name};) before retrying."
        )
    else:
        default_name = m.quote_ident(f"{table.name}_{'_'.join(index.columns)}_key")
        name = index.name.sql() if index.name else default_name
        message = f"Creating unique index{label} on {table.display()} ({keys}) fails if existing rows repeat a value."
        partial = " WHERE <same condition>" if index.partial else ""
        help_text = (
            f"{find} Remove or merge them in an earlier migration, then build the index in its own "
            f"migration file without blocking writes: CREATE UNIQUE INDEX CONCURRENTLY {name} ON "
            f"{table.sql()} ({_key_sql(index.columns)}){partial};"
        )
    yield Hit(message=message, help=help_text, object=ctx.ref(table, _column(index.columns)), table=table)


def _constraint(ctx: Context, table: m.Name, constraint: m.ConstraintSpec) -> Hit:
    cols = constraint.columns
    keys = ", ".join(cols)
    label = f" {constraint.name}" if constraint.name else ""
    name = constraint.name or f"{table.name}_{'_'.join(cols)}_key"
    return Hit(
        message=(
            f"Adding unique constraint{label} on {table.display()} ({keys}) fails if existing rows repeat a value."
        ),
        help=(
            f"Find the duplicates first: {_duplicates_query(table, cols)} Remove or merge them, then build "
            f"the index in its own migration file: CREATE UNIQUE INDEX CONCURRENTLY {m.quote_ident(name)} ON "
            f"{table.sql()} ({_key_sql(cols)}); and attach it in the next one: ALTER TABLE {table.sql()} "
            f"ADD CONSTRAINT {m.quote_ident(name)} UNIQUE USING INDEX {m.quote_ident(name)};"
        ),
        object=ctx.ref(table, _column(cols)),
        table=table,
    )


def _added_column(ctx: Context, table: m.Name, column: m.ColumnSpec) -> Hit:
    name = m.quote_ident(column.name)
    if column.generated:
        message = (
            f"Adding unique generated column {table.display()}.{column.name} computes a value for every "
            f"existing row: it fails if two rows of {table.display()} get the same one."
        )
        first = (
            f"Add the column without UNIQUE, find the duplicates ({_duplicates_query(table, [column.name])}), "
            "then add the constraint in its own migration file: "
        )
    elif not column_gets_values(column):  # NULLS NOT DISTINCT: the NULL every row gets is one value
        message = (
            f"Adding unique column {table.display()}.{column.name} (NULLS NOT DISTINCT) without a value gives every "
            f"existing row NULL, which NULLS NOT DISTINCT counts as equal: it fails as soon as {table.display()} "
            "holds two rows."
        )
        first = "Add the column without UNIQUE, fill it with distinct values, then add the constraint in its own "
        first += "migration file: "
    else:
        default = column.default.sql if column.default else ""
        message = (
            f"Adding unique column {table.display()}.{column.name} with the default {default} gives every "
            f"existing row the same value: it fails as soon as {table.display()} holds two rows."
        )
        first = (
            "Add the column without the default (or with a per-row default such as gen_random_uuid()), "
            "fill it with distinct values, then add the constraint in its own migration file: "
        )
    return Hit(
        message=message,
        help=(
            f"{first}CREATE UNIQUE INDEX CONCURRENTLY {m.quote_ident(f'{table.name}_{column.name}_key')} "
            f"ON {table.sql()} ({name});"
        ),
        object=ctx.ref(table, column.name),
        table=table,
    )


_COARSER_EQUALITY = {
    "citext": ("ignores case", "differ only in case ('Ann@x.com' and 'ann@x.com')"),
    "char": ("ignores trailing spaces", "differ only in trailing spaces ('a' and 'a ')"),
}


def _coarser_equality(old: m.TypeSpec, new: m.TypeSpec) -> str | None:
    """The key of _COARSER_EQUALITY when values distinct as ``old`` may be equal as ``new``."""
    kind = {"citext": "citext", "char": "char", "bpchar": "char"}.get(new.base)
    was = {"citext": "citext", "char": "char", "bpchar": "char"}.get(old.base)
    return kind if kind is not None and kind != was else None


def _columns_of(action: m.AlterAction) -> tuple[str, ...]:
    """The columns an ALTER TABLE action adds, drops, retypes or renames."""
    if isinstance(action, (m.DropColumn, m.AlterColumnType)):
        return (action.column,)
    if isinstance(action, m.AddColumn):
        return (action.column.name,)
    if isinstance(action, m.RenameColumn):
        return (action.old, action.new)
    return ()


def _type_changes(ctx: Context, alter: m.AlterTable) -> Iterator[Hit]:
    """A column changed to citext or char(n) while a unique index (or the primary key) uses it."""
    table = alter.table
    for i, action in enumerate(alter.actions):
        if not isinstance(action, m.AlterColumnType):
            continue
        before = alter.actions[:i]
        column = ctx.schema.column(table, action.column)
        # An earlier action of the statement on the column: the model's column may not be the one changed here.
        redefined = any(action.column in _columns_of(a) for a in before)
        kind = _coarser_equality(column.type, action.new_type) if column is not None and not redefined else None
        if kind is None:
            continue
        equality, values = _COARSER_EQUALITY[kind]
        dropped = {a.name for a in before if isinstance(a, m.DropConstraint)}
        new_type = action.new_type.sql
        for index in ctx.schema.unique_indexes(table):
            if action.column not in index.columns or index.key[1] in dropped:
                continue
            keys = ", ".join(
                f"{m.quote_ident(c)}::{new_type}" if c == action.column else _key_sql([c]) for c in index.columns
            )
            where = " among the rows its WHERE clause covers" if index.partial else ""
            yield Hit(
                message=(
                    f"Changing {table.display()}.{action.column} to {action.new_type.display()} rebuilds unique "
                    f"index {index.key[1]} with {action.new_type.display()} equality, which {equality}: it fails "
                    f"if existing rows hold values that {values}{where}, while holding ACCESS EXCLUSIVE on "
                    f"{table.display()}."
                ),
                help=(
                    f"Find the values that become duplicates first: SELECT {keys}, count(*) FROM {table.sql()} "
                    f"GROUP BY {keys} HAVING count(*) > 1; merge or change them in an earlier migration."
                ),
                object=ctx.ref(table, action.column),
                table=table,
            )


def _unique_already(
    ctx: Context,
    table: m.Name,
    columns: Sequence[str],
    nulls_not_distinct: bool,
    before: Sequence[m.AlterAction] = (),
) -> bool:
    """The rows are unique on some of ``columns`` already: a key over all of them cannot repeat (with
    NULLS NOT DISTINCT, only when those columns hold no NULL)."""
    state = ctx.schema.table(table)
    wanted = set(columns)
    for key in ctx.schema.unique_keys(table, ctx.migration, before):
        if not set(key) <= wanted:
            continue
        if not nulls_not_distinct or (
            state is not None and all((c := state.columns.get(name)) is not None and c.not_null for name in key)
        ):
            return True
    return False


_UNIQUE_ALREADY = "the rows are unique on some of its columns already"


def _why_unique(
    ctx: Context,
    table: m.Name,
    columns: Sequence[str],
    nulls_not_distinct: bool,
    before: Sequence[m.AlterAction] = (),
) -> str:
    """Why the new key cannot repeat a value among the existing rows; "" when it may."""
    if _unique_already(ctx, table, columns, nulls_not_distinct, before):
        return _UNIQUE_ALREADY
    column = distinct_key_column(ctx, table, columns, before)
    if column is not None:
        return why_distinct(column)
    return ""


def check(ctx: Context) -> Iterator[Hit]:
    summary = ctx.summary
    if isinstance(summary, m.CreateIndex) and summary.unique:
        # A key column added in this file holds NULL everywhere, and NULLs never collide (unless
        # NULLS NOT DISTINCT makes them equal).
        nulls_collide = summary.nulls_not_distinct
        if nulls_collide or not any(column_added_empty(ctx, summary.table, c) for c in summary.columns):
            why = _why_unique(ctx, summary.table, summary.columns, nulls_collide)
            for hit in _index(ctx, summary):
                yield replace(hit, explained=why) if why else hit
    elif isinstance(summary, m.AlterTable):
        yield from _type_changes(ctx, summary)
        for i, action in enumerate(summary.actions):
            if isinstance(action, m.AddConstraint):
                constraint = action.constraint
                if constraint.kind != "unique" or constraint.using_index is not None:
                    continue
                before = summary.actions[:i]
                empty = any(column_added_empty(ctx, summary.table, c, before) for c in constraint.columns)
                if constraint.nulls_not_distinct or not empty:
                    hit = _constraint(ctx, summary.table, constraint)
                    why = _why_unique(ctx, summary.table, constraint.columns, constraint.nulls_not_distinct, before)
                    yield replace(hit, explained=why) if why else hit
            elif isinstance(action, m.AddColumn):
                column = action.column
                unique = [c for c in column.constraints if c.kind == "unique"]
                # A constant default gives every row the same value; gen_random_uuid() does not. A
                # generated expression is not in the summary: it may repeat (when unsure, report).
                constant = column.default is not None and not column.default.volatile
                repeats = (constant or column.generated) and column_gets_values(column)
                # NULL in every row: equal values under NULLS NOT DISTINCT
                nulls_collide = any(c.nulls_not_distinct for c in unique) and not column_gets_values(column)
                if unique and (repeats or nulls_collide) and not column.identity:
                    yield _added_column(ctx, summary.table, column)


RULE = Rule(
    id="SM203",
    name="unique-on-existing-table",
    category=Category.MAY_FAIL,
    severity=Severity.ERROR,
    summary="A unique index or constraint fails if the existing rows already hold duplicate values.",
    alternative="Find and fix duplicates first; then CREATE UNIQUE INDEX CONCURRENTLY in its own migration.",
    bad='CREATE UNIQUE INDEX "User_email_key" ON "User"("email");',
    good=(
        "-- after, in its own migration:\n"
        '-- CREATE UNIQUE INDEX CONCURRENTLY "User_email_key" ON "User" ("email");\n'
        'ALTER TABLE "User" ADD CONSTRAINT "User_email_key" UNIQUE USING INDEX "User_email_key";'
    ),
    why=__doc__ or "",
    check=check,
)
