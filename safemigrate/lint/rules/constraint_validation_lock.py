"""Adding a foreign key or CHECK constraint checks every existing row while holding a blocking lock.

The validating scan holds SHARE ROW EXCLUSIVE on both tables for a foreign key (writes wait) and
ACCESS EXCLUSIVE for a CHECK (reads wait too). Prisma writes ``ADD CONSTRAINT ... FOREIGN KEY`` for
every new relation. ``NOT VALID`` makes the ADD instant; ``VALIDATE CONSTRAINT``, in a later
migration, scans under SHARE UPDATE EXCLUSIVE, which lets reads and writes go on. In the same
migration (one transaction) the ADD's lock is still held while VALIDATE scans, as if ``NOT VALID``
had not been written. Constraints written inline in ``ADD COLUMN`` cannot be ``NOT VALID``: their
scan runs under the ACCESS EXCLUSIVE lock of the ADD COLUMN.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.lint.rules.add_check_constraint import column_definition
from safemigrate.lint.rules.validate_constraint import validated_in_same_transaction
from safemigrate.sql import model as m


def _foreign_key_locks(ctx: Context, table: m.Name, constraint: m.ConstraintSpec) -> str:
    ref = constraint.references
    if ref is None or ctx.ref(ref) == ctx.ref(table):
        return f"{table.display()}: writes to it wait"
    return f"{table.display()} and {ref.display()}: writes to both wait"


def _constraint(ctx: Context, table: m.Name, constraint: m.ConstraintSpec, validated_on: int | None) -> Hit:
    """``validated_on``: the line of the VALIDATE that scans a NOT VALID constraint in the same transaction."""
    label = f" {constraint.name}" if constraint.name else ""
    name = m.quote_ident(constraint.name) if constraint.name else '"<constraint name>"'
    validate = f"ALTER TABLE {table.sql()} VALIDATE CONSTRAINT {name};"
    if constraint.kind == "foreign key":
        added, lock = f"Adding foreign key{label} on {table.display()}", "SHARE ROW EXCLUSIVE on "
        lock += _foreign_key_locks(ctx, table, constraint)
        scans = "checks every existing row"
    else:
        added, lock = f"Adding check constraint{label} on {table.display()}", "ACCESS EXCLUSIVE on "
        lock += f"{table.display()}: reads and writes wait"
        scans = "scans every row"
    if validated_on is None:
        message = f"{added} {scans} while holding {lock} until the scan ends."
        unnamed = "" if constraint.name else " (and name it with ADD CONSTRAINT, so it can be validated)"
        help_text = (
            f"Add NOT VALID at the end of this statement{unnamed}: it then checks only new rows and "
            "returns at once. Validate the existing rows in a later migration file (in the same file the "
            f"lock taken by ADD CONSTRAINT is held until commit): {validate}"
        )
    else:
        message = (
            f"{added} NOT VALID and validating it on line {validated_on} of the same migration {scans} while "
            f"holding {lock} until the migration commits: the ADD's lock is kept through the VALIDATE's scan."
        )
        help_text = (
            f"Keep the NOT VALID here and move the VALIDATE on line {validated_on} to a later migration file, "
            f"where it scans under SHARE UPDATE EXCLUSIVE only (reads and writes go on): {validate}"
        )
    # A table this deploy created is used by no one else, but once filled, the foreign key's scan of it
    # holds the referenced table's lock too: judge the finding by that table then.
    judged = table
    ref = constraint.references
    filled_here = ctx.schema.is_created_by_deploy(table) and not ctx.schema.is_fresh_table(table)
    if constraint.kind == "foreign key" and ref is not None and filled_here:
        judged = table if ctx.schema.is_created_by_deploy(ref) else ref
    return Hit(
        message=message,
        help=help_text,
        object=ctx.ref(table, constraint.columns[0] if len(constraint.columns) == 1 else None),
        table=judged,
    )


def _constraint_sql(constraint: m.ConstraintSpec, column: str) -> str:
    if constraint.kind == "check":
        return "CHECK (<the CHECK condition>)"
    parent = constraint.references.sql() if constraint.references else '"<referenced table>"'
    targets = f"({', '.join(m.quote_ident(c) for c in constraint.ref_columns)})" if constraint.ref_columns else ""
    on_delete = f" ON DELETE {constraint.on_delete}" if constraint.on_delete else ""
    return f"FOREIGN KEY ({m.quote_ident(column)}) REFERENCES {parent}{targets}{on_delete}"


def _added_column(ctx: Context, table: m.Name, column: m.ColumnSpec, constraint: m.ConstraintSpec) -> Hit:
    where = f"{table.display()}.{column.name}"
    suffix = "fkey" if constraint.kind == "foreign key" else "check"
    name = m.quote_ident(constraint.name or f"{table.name}_{column.name}_{suffix}")
    ref = constraint.references
    if constraint.kind == "foreign key" and ref is not None and ctx.ref(ref) != ctx.ref(table):
        message = (
            f"Adding {where} with a foreign key to {ref.display()} checks every existing row while holding "
            f"ACCESS EXCLUSIVE on {table.display()} and SHARE ROW EXCLUSIVE on {ref.display()}: reads and "
            f"writes of {table.display()}, and writes to {ref.display()}, wait until the scan ends."
        )
    else:
        kind = "a foreign key" if constraint.kind == "foreign key" else "a check constraint"
        message = (
            f"Adding {where} with {kind} checks every existing row while holding ACCESS EXCLUSIVE on "
            f"{table.display()}: reads and writes wait until the scan ends."
        )
    return Hit(
        message=message,
        help=(
            "An inline constraint cannot be NOT VALID. Add the column without it: "
            f"ALTER TABLE {table.sql()} ADD COLUMN {column_definition(column)}; then the constraint NOT VALID "
            f"(instant): ALTER TABLE {table.sql()} ADD CONSTRAINT {name} {_constraint_sql(constraint, column.name)} "
            f"NOT VALID; and validate it in a later migration file: ALTER TABLE {table.sql()} VALIDATE "
            f"CONSTRAINT {name};"
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
            if constraint.kind not in ("foreign key", "check"):
                continue
            validation = validated_in_same_transaction(ctx, table, constraint, alter.actions[i + 1 :])
            if constraint.not_valid and validation is None:
                continue  # instant; a VALIDATE after commit scans under SHARE UPDATE EXCLUSIVE only
            yield _constraint(ctx, table, constraint, validation.line if validation else None)
        elif isinstance(action, m.AddColumn):
            for constraint in action.column.constraints:
                if constraint.kind in ("foreign key", "check"):
                    yield _added_column(ctx, table, action.column, constraint)


RULE = Rule(
    id="SM310",
    name="constraint-validation-lock",
    category=Category.LOCK,
    severity=Severity.WARNING,
    summary="A validated foreign key or CHECK scans the table while blocking writes (or reads and writes).",
    alternative="ADD CONSTRAINT ... NOT VALID, then VALIDATE CONSTRAINT in a later migration.",
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
    lock="SHARE ROW EXCLUSIVE (foreign key), ACCESS EXCLUSIVE (check)",
    references=("https://www.postgresql.org/docs/current/sql-altertable.html#SQL-ALTERTABLE-DESC-VALIDATE-CONSTRAINT",),
)
