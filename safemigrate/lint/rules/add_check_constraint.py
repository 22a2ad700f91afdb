"""Adding a validated CHECK constraint fails when an existing row breaks the condition.

Without ``NOT VALID``, PostgreSQL evaluates the condition on every existing row and stops the
migration at the first one that is false ("check constraint ... of relation ... is violated by some
row"). Prisma never writes CHECK constraints, so they come from hand-edited migrations, where the
rule is usually new and old rows were never held to it. Adding it ``NOT VALID`` enforces it on new
rows at once and leaves time to fix old ones before ``VALIDATE CONSTRAINT``.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql import model as m


def check(ctx: Context) -> Iterator[Hit]:
    alter = ctx.summary
    if not isinstance(alter, m.AlterTable):
        return
    table = alter.table
    for action in alter.actions:
        if not isinstance(action, m.AddConstraint):
            continue
        constraint = action.constraint
        if constraint.kind != "check" or constraint.not_valid:
            continue
        columns = constraint.columns
        label = f" {constraint.name}" if constraint.name else ""
        on = f" ({', '.join(columns)})" if columns else ""
        name = m.quote_ident(constraint.name) if constraint.name else '"<constraint name>"'
        unnamed = "" if constraint.name else " (name it with ADD CONSTRAINT so it can be validated)"
        yield Hit(
            message=(
                f"Adding check constraint{label} on {table.display()}{on} fails if any existing row of "
                f"{table.display()} does not satisfy it."
            ),
            help=(
                f"Find the rows that break it: SELECT * FROM {table.sql()} "
                "WHERE NOT (<the CHECK condition>); "
                f"Add NOT VALID at the end of this statement{unnamed} so only new rows are checked, "
                "fix the old rows, then validate in a later migration: "
                f"ALTER TABLE {table.sql()} VALIDATE CONSTRAINT {name};"
            ),
            object=ctx.ref(table, columns[0] if len(columns) == 1 else None),
            table=table,
        )


RULE = Rule(
    id="SM205",
    name="add-check-constraint",
    category=Category.MAY_FAIL,
    severity=Severity.ERROR,
    summary="A validated CHECK constraint fails when an existing row breaks the condition.",
    alternative=("ADD CONSTRAINT ... NOT VALID, fix the old rows, then VALIDATE CONSTRAINT in a later migration."),
    bad='ALTER TABLE "Product" ADD CONSTRAINT "Product_price_check" CHECK ("price" >= 0);',
    good='ALTER TABLE "Product" ADD CONSTRAINT "Product_price_check" CHECK ("price" >= 0) NOT VALID;',
    why=__doc__ or "",
    check=check,
    on=(m.AlterTable,),
)
