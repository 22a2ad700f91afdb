"""Row-level security without a policy that lets rows be read hides every row of the table from the app.

With ``ENABLE ROW LEVEL SECURITY`` and no policy, PostgreSQL denies by default: every role that does
not own the table (and is not a superuser or ``BYPASSRLS``) sees no rows, and its inserts, updates
and deletes fail or change nothing. No error tells the app: its queries just return nothing. Only a
*permissive* policy for ``ALL`` or ``SELECT`` lets rows be read: a restrictive one only narrows what
permissive ones allow, and one ``FOR INSERT`` lets nothing be read. ``FORCE ROW LEVEL SECURITY``
applies the policies to the owner too, so an app that connects as the owner of its tables (the usual
Prisma set-up) loses every row in the same way. Dropping the last such policy of a table whose row
security is on does the same. The data is still there, but the running app version cannot see it.
The rest of the file counts (it is applied as a whole): a policy created later in it, a policy
dropped later in it, row security disabled again. Tables created earlier in this deploy are not in
use yet and are not reported.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass

from safemigrate.lint.rule import Category, Context, Hit, Rule, Severity
from safemigrate.sql import model as m

_ENABLE = f"enable {m.ROW_SECURITY}"
_FORCE = f"force {m.ROW_SECURITY}"


@dataclass(frozen=True)
class _AtEnd:
    """The table once the whole file has run."""

    name: m.Name
    exists: bool
    known: bool  # created by the history: its policies and row security are known
    enabled: bool
    forced: bool
    readable: bool  # a policy lets rows be read
    readable_after: bool  # one did right after this statement


def _at_end_of_file(ctx: Context, table: m.Name) -> _AtEnd:
    """Fold this statement and the rest of the file into a copy of the schema model (search_path,
    renames, policies created and dropped, row security turned on and off) and read the table then."""
    model = copy.deepcopy(ctx.schema)
    key = model.key(table)
    known = model.table(table) is not None
    exists = True
    readable_after = True
    for statement in (ctx.statement, *ctx.later()):
        summary = statement.summary
        if isinstance(summary, m.AlterTable) and model.key(summary.table) == key:
            for action in summary.actions:
                if isinstance(action, m.RenameTable):
                    key = (key[0], action.new)
        elif isinstance(summary, m.DropObjects) and summary.kind == "table":
            exists = exists and all(model.key(name) != key for name in summary.names)
        model.apply(summary, ctx.migration)
        if statement is ctx.statement:
            readable_after = model.has_readable_policy(m.Name(key[1], key[0]))
    name = m.Name(key[1], key[0])
    enabled, forced = model.row_security_of(name)
    return _AtEnd(name, exists, known, enabled, forced, model.has_readable_policy(name), readable_after)


def _policy_dropped(summary: m.Summary) -> tuple[m.Name, str] | None:
    """DROP POLICY: the table and the policy."""
    if isinstance(summary, m.Harmless) and summary.kind == "drop policy" and summary.table and summary.name:
        return summary.table, summary.name
    return None


def check(ctx: Context) -> Iterator[Hit]:
    summary = ctx.summary
    dropped = _policy_dropped(summary)
    forcing = False
    if isinstance(summary, m.AlterTable):
        table = summary.table
        settings = {a.description for a in summary.actions if isinstance(a, m.OtherTableAction)}
        if not settings & {_ENABLE, _FORCE}:
            return
        forcing = _FORCE in settings
        done = f"{'Enabling' if _ENABLE in settings else 'Forcing'} row-level security on {table.display()}"
    elif dropped is not None and ctx.schema.row_security_of(dropped[0])[0]:
        table = dropped[0]
        done = f"Dropping policy {dropped[1]} of {table.display()} leaves row-level security on"
    else:
        return
    if ctx.schema.is_created_by_deploy(table):
        return
    end = _at_end_of_file(ctx, table)
    # A table the history does not know may have row security on already (FORCE then matters) and
    # policies of its own: it is reported, and the message says what is not known.
    enabled = end.enabled or (forcing and not end.known)
    if not end.exists or not enabled or end.readable:
        return
    if dropped is not None and end.readable_after:
        return  # not the last one: the statement that drops it is reported
    if end.forced:
        who = (
            "from every role, its owner included (superusers and BYPASSRLS roles aside): an app that connects as "
            "the owner of its tables (the usual Prisma set-up) sees no rows and can change none"
        )
    else:
        who = (
            "from every role that does not own it (superusers and BYPASSRLS roles aside): their queries see "
            "no rows and change none"
        )
    known = "" if end.known else " in the migration history"
    yield Hit(
        message=(
            f"{done}, with no policy{known} that lets rows be read (a permissive one for ALL or SELECT): it hides "
            f"every row {who}, without an error."
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
    summary="Row-level security without a policy that lets rows be read hides every row from the app's role.",
    alternative="Create the table's policies before (or in the same migration as) enabling row-level security.",
    bad='ALTER TABLE "Order" ENABLE ROW LEVEL SECURITY;',
    good=(
        'CREATE POLICY "Order_access" ON "Order" USING (true) WITH CHECK (true); '
        'ALTER TABLE "Order" ENABLE ROW LEVEL SECURITY;'
    ),
    why=__doc__ or "",
    check=check,
    on=(m.AlterTable, m.Harmless),
    lock="ACCESS EXCLUSIVE",
)
