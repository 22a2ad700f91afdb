"""A new enum value cannot be used in the transaction that added it.

PostgreSQL accepts ``ALTER TYPE ... ADD VALUE`` inside a transaction, but rejects any use of the
new value before that transaction commits ("unsafe use of new value ... New enum values must be
committed before they can be used"), even on an empty table. Prisma runs a migration file as one
transaction, and writes the added value and a new ``@default`` using it into the same file
(``ALTER TYPE "Role" ADD VALUE 'ADMIN';`` then ``SET DEFAULT 'ADMIN'``): the migration then fails
on every database. A BEGIN in the file does not commit the value (PostgreSQL runs the statements
before it in the block it opens); a COMMIT does, for ``prisma migrate deploy``. ``safemigrate
migrate`` leaves the file's BEGIN and COMMIT out and runs it in one transaction, so a use after the
COMMIT fails there too (Prisma writes such a file when one enum gains a value, another loses one, and
a default uses the new value): it is reported, as failing under ``safemigrate migrate`` only (the
linter does not know which engine will apply the file). For the same reason, a value one migration adds
and a later migration of the same deploy uses (``lint --pending``, ``--since``, and ``safemigrate
migrate``'s own check, where all pending migrations run in one transaction) is reported too. Neither is
reported when ``safemigrate migrate --engine prisma`` checks the migrations it hands to Prisma.
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, ObjectRef, Rule, Severity
from safemigrate.sql import model as m

# Statements whose string constants are enum labels being defined, not values being used.
_DEFINING = (m.AlterEnumAddValue, m.AlterEnumRenameValue, m.CreateEnum)


def _object(ctx: Context) -> ObjectRef:
    summary = ctx.summary
    if isinstance(summary, m.AlterTable):
        columns = {
            a.column if isinstance(a, m.SetDefault) else a.column.name
            for a in summary.actions
            if isinstance(a, (m.SetDefault, m.AddColumn))
        }
        return ctx.ref(summary.table, columns.pop() if len(columns) == 1 else None)
    if isinstance(summary, (m.Update, m.Insert, m.Delete, m.CreateIndex, m.CreateTable)):
        return ctx.ref(summary.table)
    return ObjectRef()


_SPLIT = (
    "move the statements that use the new value into a later migration file (prisma migrate dev "
    "--create-only gives you an empty one), and deploy this one first"
)


def _added_by_other_deployed(ctx: Context) -> list[tuple[str, str, str]]:
    """(enum, value, migration) for values the statement uses that another migration of this deploy added."""
    schema = ctx.schema
    if ctx.settings.one_transaction is False or len(schema.fresh_migrations) < 2 or not ctx.statement.string_literals:
        return []
    literals = set(ctx.statement.string_literals)
    return sorted(
        (enum.key[1], value, migration)
        for enum in schema.enums.values()
        for value, migration in enum.added_by.items()
        if value in literals and migration != ctx.migration and migration in schema.fresh_migrations
    )


def check(ctx: Context) -> Iterator[Hit]:
    if isinstance(ctx.summary, _DEFINING):
        return
    deployed = _added_by_other_deployed(ctx)
    if deployed:
        values = "; ".join(
            f"{m.quote_literal(value)} (enum {enum}), added by migration {by}" for enum, value, by in deployed
        )
        first = deployed[0][2]
        yield Hit(
            message=(
                f"This statement uses {values}, which this deploy applies too: `prisma migrate deploy` commits "
                "each migration on its own, but `safemigrate migrate` applies all pending migrations in one "
                'transaction, where PostgreSQL rejects the value with "unsafe use of new value": the deploy fails '
                "and is rolled back."
            ),
            help=(
                f"Deploy {first} on its own first (`safemigrate migrate` before this migration is added), or apply "
                "both with `safemigrate migrate --engine prisma`, which commits each migration on its own."
            ),
            object=_object(ctx),
            table=None,
        )
    session = ctx.session
    if not (session.enum_values_added or session.enum_values_committed):
        return
    literals = set(ctx.statement.string_literals)
    used = sorted({(enum, value) for enum, value, _ in session.enum_values_added if value in literals})
    if used:
        values = ", ".join(f"{m.quote_literal(value)} (enum {enum})" for enum, value in used)
        adds = " ".join(f"ALTER TYPE {m.quote_ident(enum)} ADD VALUE {m.quote_literal(value)};" for enum, value in used)
        yield Hit(
            message=(
                f"This statement uses {values}, added earlier in the same transaction: PostgreSQL rejects it "
                'with "unsafe use of new value" until that transaction commits, so the migration fails.'
            ),
            help=(
                f"Keep {adds} in this migration and {_SPLIT}: `safemigrate migrate` applies all pending files in "
                "one transaction (`--engine prisma` commits each file on its own)."
            ),
            object=_object(ctx),
            table=None,  # fails whatever the table holds, even on a table created by this deploy
        )
        return
    if ctx.settings.one_transaction is False:  # Prisma commits where the file does
        return
    committed = sorted(c for c in session.enum_values_committed if c[1] in literals)
    if not committed:
        return
    values = "; ".join(
        f"{m.quote_literal(value)} (enum {enum}), added on line {added} and committed by the COMMIT on line {commit}"
        for enum, value, added, commit in committed
    )
    yield Hit(
        message=(
            f"This statement uses {values}: `prisma migrate deploy` runs it after that commit, but "
            "`safemigrate migrate` leaves the file's BEGIN and COMMIT out and runs it in one transaction, where "
            'PostgreSQL rejects the value with "unsafe use of new value": the migration fails and is rolled back.'
        ),
        help=(
            "Apply it with `safemigrate migrate --engine prisma` (Prisma runs the file and commits where it "
            f"does), or {_SPLIT} with its own `safemigrate migrate` run."
        ),
        object=_object(ctx),
        table=None,
    )


RULE = Rule(
    id="SM208",
    name="enum-value-used-same-transaction",
    category=Category.MAY_FAIL,
    severity=Severity.ERROR,
    summary="An enum value added by ALTER TYPE ... ADD VALUE cannot be used before its transaction commits.",
    alternative=(
        "Move the statements that use the new value into a later migration file, and deploy the one that "
        "adds it first: `safemigrate migrate` applies every pending file in one transaction (or use "
        "`--engine prisma`, which commits each file on its own)."
    ),
    bad=('ALTER TYPE "Role" ADD VALUE \'ADMIN\';\nALTER TABLE "User" ALTER COLUMN "role" SET DEFAULT \'ADMIN\';'),
    good="ALTER TYPE \"Role\" ADD VALUE 'ADMIN';",
    why=__doc__ or "",
    check=check,
)
