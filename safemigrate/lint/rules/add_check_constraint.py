"""Adding a validated CHECK constraint fails when an existing row breaks the condition.

Without ``NOT VALID``, PostgreSQL evaluates the condition on every existing row and stops the
migration at the first one that is false ("check constraint ... of relation ... is violated by some
row"). Prisma never writes CHECK constraints, so they come from hand-edited migrations, where the
rule is usually new and old rows were never held to it. Adding it ``NOT VALID`` enforces it on new
rows at once and leaves time to fix old ones before ``VALIDATE CONSTRAINT``, in a later migration:
validated in the same one, the old rows are checked in the same transaction and fail it just the
same. A CHECK written inline in ``ADD COLUMN`` cannot be ``NOT VALID``: every existing row is
checked with the column's new value.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity, column_gets_values
from safemigrate.lint.rules.validate_constraint import validated_in_same_transaction
from safemigrate.sql import model as m


def _constraint(ctx: Context, table: m.Name, constraint: m.ConstraintSpec, validated_on: int | None) -> Hit:
    """``validated_on``: the line of the VALIDATE that checks a NOT VALID constraint in the same transaction."""
    columns = constraint.columns
    label = f" {constraint.name}" if constraint.name else ""
    on = f" ({', '.join(columns)})" if columns else ""
    name = m.quote_ident(constraint.name) if constraint.name else '"<constraint name>"'
    unnamed = "" if constraint.name else " (name it with ADD CONSTRAINT so it can be validated)"
    validate = f"ALTER TABLE {table.sql()} VALIDATE CONSTRAINT {name};"
    if validated_on is None:
        added = f"Adding check constraint{label} on {table.display()}{on}"
        fix = (
            f"Add NOT VALID at the end of this statement{unnamed} so only new rows are checked, "
            f"fix the old rows, then validate in a later migration: {validate}"
        )
    else:
        added = (
            f"Adding check constraint{label} on {table.display()}{on} NOT VALID and validating it on line "
            f"{validated_on} of the same migration"
        )
        fix = (
            f"Keep the NOT VALID here, fix the old rows, and move the VALIDATE on line {validated_on} to a "
            f"later migration file: {validate}"
        )
    return Hit(
        message=(f"{added} fails if any existing row of {table.display()} does not satisfy it."),
        help=f"Find the rows that break it: SELECT * FROM {table.sql()} WHERE NOT (<the CHECK condition>); {fix}",
        object=ctx.ref(table, columns[0] if len(columns) == 1 else None),
        table=table,
    )


def column_definition(column: m.ColumnSpec) -> str:
    """The column definition without its inline constraints, for suggestions."""
    not_null = " NOT NULL" if column.not_null else ""
    default = f" DEFAULT {column.default.sql}" if column.default else ""
    return f"{m.quote_ident(column.name)} {column.type.sql or column.type.display()}{not_null}{default}"


def _added_column(ctx: Context, table: m.Name, column: m.ColumnSpec, constraint: m.ConstraintSpec) -> Hit:
    name = m.quote_ident(constraint.name or f"{table.name}_{column.name}_check")
    where = f"{table.display()}.{column.name}"
    if not column_gets_values(column):
        message = (
            f"Adding {where} with a check constraint checks every existing row of {table.display()}, which "
            "holds NULL in it: it fails if the condition is false for NULL (IS NOT NULL, COALESCE(...))."
        )
    elif column.default is not None and not (column.identity or column.generated):
        message = (
            f"Adding {where} with the default {column.default.sql} and a check constraint fails if the default "
            f"breaks the condition: every existing row of {table.display()} gets it and is checked."
        )
    else:
        message = (
            f"Adding {where} with generated values and a check constraint fails if a value breaks the "
            f"condition: every existing row of {table.display()} gets one and is checked."
        )
    return Hit(
        message=message,
        help=(
            f"Add the column without the check: ALTER TABLE {table.sql()} ADD COLUMN {column_definition(column)}; "
            f"then the check NOT VALID: ALTER TABLE {table.sql()} ADD CONSTRAINT {name} CHECK "
            "(<the CHECK condition>) NOT VALID; fix the rows that break it, and validate in a later migration: "
            f"ALTER TABLE {table.sql()} VALIDATE CONSTRAINT {name};"
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
            if constraint.kind != "check":
                continue
            validation = validated_in_same_transaction(ctx, table, constraint, alter.actions[i + 1 :])
            if constraint.not_valid and validation is None:
                continue  # only new rows are checked; a VALIDATE after commit is validate-constraint's
            yield _constraint(ctx, table, constraint, validation.line if validation else None)
        elif isinstance(action, m.AddColumn):
            # An inline CHECK cannot be NOT VALID: every existing row is checked with its new value, and
            # even NULL fails some conditions (IS NOT NULL, COALESCE(...)), which the summary does not hold.
            for constraint in action.column.constraints:
                if constraint.kind == "check":
                    yield _added_column(ctx, table, action.column, constraint)


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
