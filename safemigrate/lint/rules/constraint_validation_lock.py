"""Adding a foreign key or CHECK constraint checks every existing row while holding a blocking lock.

The validating scan holds SHARE ROW EXCLUSIVE on both tables for a foreign key (writes wait) and
ACCESS EXCLUSIVE for a CHECK (reads wait too). Prisma writes ``ADD CONSTRAINT ... FOREIGN KEY`` for
every new relation. ``NOT VALID`` makes the ADD instant; ``VALIDATE CONSTRAINT``, in a later
migration, scans under SHARE UPDATE EXCLUSIVE, which lets reads and writes go on.
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
        if constraint.kind not in ("foreign key", "check") or constraint.not_valid:
            continue
        label = f" {constraint.name}" if constraint.name else ""
        if constraint.kind == "foreign key":
            ref = constraint.references
            if ref is None or ctx.ref(ref) == ctx.ref(table):
                locked = f"{table.display()}: writes to it wait"
            else:
                locked = f"{table.display()} and {ref.display()}: writes to both wait"
            message = (
                f"Adding foreign key{label} on {table.display()} checks every existing row while holding "
                f"SHARE ROW EXCLUSIVE on {locked} until the scan ends."
            )
        else:
            message = (
                f"Adding check constraint{label} on {table.display()} scans every row while holding ACCESS "
                f"EXCLUSIVE on {table.display()}: reads and writes wait until the scan ends."
            )
        name = m.quote_ident(constraint.name) if constraint.name else '"<constraint name>"'
        unnamed = "" if constraint.name else " (and name it with ADD CONSTRAINT, so it can be validated)"
        yield Hit(
            message=message,
            help=(
                f"Add NOT VALID at the end of this statement{unnamed}: it then checks only new rows and "
                "returns at once. Validate the existing rows in a later migration file (in the same file the "
                "lock taken by ADD CONSTRAINT is held until commit): "
                f"ALTER TABLE {table.sql()} VALIDATE CONSTRAINT {name};"
            ),
            object=ctx.ref(table, constraint.columns[0] if len(constraint.columns) == 1 else None),
            table=table,
        )


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
