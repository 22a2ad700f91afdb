"""Turning on row-level security without a policy hides every row of the table from the app.

With ``ENABLE ROW LEVEL SECURITY`` and no policy, PostgreSQL denies by default: every role that does
not own the table (and is not a superuser or ``BYPASSRLS``) sees no rows, and its inserts, updates
and deletes fail or change nothing. No error tells the app: its queries just return nothing.
``FORCE ROW LEVEL SECURITY`` applies the policies to the owner too, so an app that connects as the
owner of its tables (the usual Prisma set-up) loses every row in the same way. The data is still
there, but the running app version cannot see it until a policy allows it. Tables created earlier
in this deploy are not in use yet and are not reported; policies created later in the same file
count (the file is applied as a whole).
"""

from __future__ import annotations

from collections.abc import Iterator

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql import model as m

_ENABLE = f"enable {m.ROW_SECURITY}"
_FORCE = f"force {m.ROW_SECURITY}"


def _policy_follows(ctx: Context, table: m.Name) -> bool:
    key = ctx.schema.key(table)
    return any(
        isinstance(later.summary, m.Harmless)
        and later.summary.kind == "create policy"
        and later.summary.table is not None
        and ctx.schema.key(later.summary.table) == key
        for later in ctx.later()
    )


def check(ctx: Context) -> Iterator[Hit]:
    alter = ctx.summary
    if not isinstance(alter, m.AlterTable) or ctx.schema.is_created_by_deploy(alter.table):
        return
    table = alter.table
    settings = {a.description for a in alter.actions if isinstance(a, m.OtherTableAction)}
    if not settings & {_ENABLE, _FORCE}:
        return
    if ctx.schema.has_policy(table) or _policy_follows(ctx, table):
        return
    known = "" if ctx.schema.table(table) is not None else " in the migration history"
    if _FORCE in settings:
        who = (
            "from its owner as well: an app that connects as the owner of its tables (the usual Prisma set-up) "
            "sees no rows and can change none"
        )
        turned = "Forcing"
    else:
        who = (
            "from every role that does not own it (superusers and BYPASSRLS roles aside): their queries see "
            "no rows and change none"
        )
        turned = "Enabling"
    yield Hit(
        message=(
            f"{turned} row-level security on {table.display()}, which has no policy{known}, hides every row "
            f"{who}, without an error."
        ),
        help=(
            f'Create the policies first, in the same migration: CREATE POLICY "{table.name}_access" ON {table.sql()} '
            f"USING (<the rows a role may see>) WITH CHECK (<the rows it may write>); then ALTER TABLE {table.sql()} "
            "ENABLE ROW LEVEL SECURITY;"
        ),
        object=ctx.ref(table),
        table=table,
    )


RULE = Rule(
    id="SM407",
    name="row-security-without-policy",
    category=Category.BREAKING,
    severity=Severity.WARNING,
    summary="Row-level security without a policy hides every row from the app's role.",
    alternative="Create the table's policies before (or in the same migration as) enabling row-level security.",
    bad='ALTER TABLE "Order" ENABLE ROW LEVEL SECURITY;',
    good=(
        'CREATE POLICY "Order_access" ON "Order" USING (true) WITH CHECK (true); '
        'ALTER TABLE "Order" ENABLE ROW LEVEL SECURITY;'
    ),
    why=__doc__ or "",
    check=check,
    on=(m.AlterTable,),
    lock="ACCESS EXCLUSIVE",
)
