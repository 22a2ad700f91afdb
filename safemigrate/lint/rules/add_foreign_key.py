"""Adding a validated foreign key fails when existing rows point at parents that do not exist.

Without ``NOT VALID``, PostgreSQL checks every existing row of the referencing table and stops the
migration at the first orphan ("insert or update on table ... violates foreign key constraint").
Prisma writes ``ADD CONSTRAINT ... FOREIGN KEY`` for every new or changed relation; data written
before the relation existed (or after rows were deleted by hand) often holds orphans. Adding the
constraint ``NOT VALID`` and validating it later lets you clean them up first.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity, column_added_empty, column_gets_values
from safemigrate.sql import model as m


def _orphans_query(table: m.Name, constraint: m.ConstraintSpec, parent: m.Name) -> str:
    """Rows of ``table`` whose key has no match in ``parent`` (MATCH SIMPLE: rows with a NULL key pass)."""
    ref_columns = constraint.ref_columns or tuple("<referenced column>" for _ in constraint.columns)
    pairs = zip(constraint.columns, ref_columns, strict=False)
    join = " AND ".join(f"p.{m.quote_ident(r)} = c.{m.quote_ident(c)}" for c, r in pairs)
    not_null = " AND ".join(f"c.{m.quote_ident(c)} IS NOT NULL" for c in constraint.columns)
    first = m.quote_ident(ref_columns[0]) if ref_columns else '"<referenced column>"'
    return (
        f"SELECT c.* FROM {table.sql()} c LEFT JOIN {parent.sql()} p ON {join} WHERE {not_null} AND p.{first} IS NULL;"
    )


def _constraint(ctx: Context, table: m.Name, constraint: m.ConstraintSpec) -> Hit:
    parent = constraint.references or m.Name("<referenced table>")
    columns = ", ".join(constraint.columns)
    targets = ", ".join(constraint.ref_columns) or "its primary key"
    label = f" {constraint.name}" if constraint.name else ""
    name = constraint.name or f"{table.name}_{'_'.join(constraint.columns)}_fkey"
    unnamed = "" if constraint.name else f" (name it: ADD CONSTRAINT {m.quote_ident(name)} ...)"
    return Hit(
        message=(
            f"Adding foreign key{label} on {table.display()} ({columns}) -> {parent.display()} ({targets}) "
            f"fails if any row of {table.display()} references a {parent.display()} that does not exist."
        ),
        help=(
            f"Find the orphans: {_orphans_query(table, constraint, parent)} Add NOT VALID at the end of this "
            f"statement{unnamed} so only new rows are checked, fix or delete the orphans, then validate in a "
            f"later migration: ALTER TABLE {table.sql()} VALIDATE CONSTRAINT {m.quote_ident(name)};"
        ),
        object=ctx.ref(table, constraint.columns[0] if len(constraint.columns) == 1 else None),
        table=table,
    )


def _added_column(ctx: Context, table: m.Name, column: m.ColumnSpec, constraint: m.ConstraintSpec) -> Hit:
    parent = constraint.references or m.Name("<referenced table>")
    default = column.default.sql if column.default else ""
    target = m.quote_ident(constraint.ref_columns[0]) if constraint.ref_columns else '"<referenced column>"'
    return Hit(
        message=(
            f"Adding {table.display()}.{column.name} with the default {default} and a foreign key to "
            f"{parent.display()} fails if {parent.display()} has no row with that key: every existing row "
            "gets the default."
        ),
        help=(
            f"Check the parent exists first: SELECT 1 FROM {parent.sql()} WHERE {target} = {default}; "
            "or add the column without the default, fill it, and add the foreign key NOT VALID, "
            "then VALIDATE CONSTRAINT in a later migration."
        ),
        object=ctx.ref(table, column.name),
        table=table,
    )


def check(ctx: Context) -> Iterator[Hit]:
    alter = ctx.summary
    if not isinstance(alter, m.AlterTable):
        return
    table = alter.table
    for i, action in enumerate(alter.actions):
        if isinstance(action, m.AddConstraint):
            constraint = action.constraint
            if constraint.kind != "foreign key" or constraint.not_valid:
                continue
            # A key column added in this file holds NULL everywhere, and a NULL key references nothing.
            if not any(column_added_empty(ctx, table, c, alter.actions[:i]) for c in constraint.columns):
                yield _constraint(ctx, table, constraint)
        elif isinstance(action, m.AddColumn):
            column = action.column
            if column.default is None or not column_gets_values(column):
                continue  # existing rows get NULL, which a foreign key accepts
            for constraint in column.constraints:
                if constraint.kind == "foreign key":
                    yield _added_column(ctx, table, column, constraint)


RULE = Rule(
    id="SM204",
    name="add-foreign-key",
    category=Category.MAY_FAIL,
    severity=Severity.ERROR,
    summary="A validated foreign key fails when existing rows reference parents that do not exist.",
    alternative=("ADD CONSTRAINT ... NOT VALID, clean the orphans, then VALIDATE CONSTRAINT in a later migration."),
    bad=(
        'ALTER TABLE "Post" ADD CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") '
        'REFERENCES "User"("id") ON DELETE RESTRICT ON UPDATE CASCADE;'
    ),
    good=(
        'ALTER TABLE "Post" ADD CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") '
        'REFERENCES "User"("id") ON DELETE RESTRICT ON UPDATE CASCADE NOT VALID;'
    ),
    why=__doc__ or "",
    check=check,
    on=(m.AlterTable,),
)
