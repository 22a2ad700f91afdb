"""Turning triggers off stops the app's trigger logic, or the foreign-key checks, for every session.

``ALTER TABLE ... DISABLE TRIGGER`` (a trigger, ``USER``: all of the table's own, ``ALL``) and ``ENABLE
REPLICA TRIGGER`` (fires only in replication sessions) take effect for every session when the migration
commits. A trigger left off stops doing its work for the running app, without an error: audit rows,
``updatedAt``-style columns, counters and copies it keeps stop being written. Turning the table's own
triggers off for a backfill and back on in the same migration is fine when the file runs as one
transaction (Prisma's native schema engine sends it as one script; ``safemigrate migrate`` runs it in
one transaction): other sessions wait on the table's lock meanwhile, and never see them off; the rest
of the file counts. (Prisma with a driver adapter runs the statements one by one: a statement failing
between the two leaves the triggers off.)

``ALL`` also turns off PostgreSQL's internal triggers, which check the foreign keys: rows written while
they are off are never checked (orphan rows stay after ``ENABLE TRIGGER ALL``), and only a superuser may
do it when the table has foreign keys or is referenced by one (others get "permission denied: ... is a
system trigger"). ``ENABLE TRIGGER USER`` does not turn them back on. ``SET session_replication_role =
replica`` turns off every trigger and foreign-key check of the migration's own session: the rows it
writes afterwards are not checked either; ``ALTER ROLE`` / ``ALTER DATABASE ... SET`` it does so for
every new session of the role or in the database, the app's included, for good. Tables created
earlier in this deploy are not reported.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from safemigrate.lint.rule import Category, Context, Hit, ObjectRef, Rule, Severity
from safemigrate.sql import model as m


@dataclass(frozen=True)
class _StillOff:
    """What the statement turned off that is still off once the whole file has run."""

    own: bool  # the trigger, or the table's own triggers
    system: bool  # the foreign-key checks (DISABLE TRIGGER ALL)


def _still_off_at_end(ctx: Context, table: m.Name, off: m.TriggerState) -> _StillOff:
    """Follow the rest of the file (renames of the table too): what turns the triggers back on, drops
    them, or turns them off again (then that statement is the one to report). A scan of the statements,
    not a fold of a copy of the schema model, which costs far more on a long history."""
    schema = ctx.schema
    key = schema.key(table)
    own, system = True, off.system
    for statement in ctx.later():
        summary = statement.summary
        if isinstance(summary, m.AlterTable) and schema.key(summary.table) == key:
            for action in summary.actions:
                if isinstance(action, m.RenameTable):
                    key = (key[0], action.new)
                elif isinstance(action, m.TriggerState) and _covers(action, off):
                    if action.enabled:
                        own, system = own and not _covers_own(action, off), system and not action.system
                    else:  # off again later: that statement is reported
                        return _StillOff(False, system and not action.system)
        elif isinstance(summary, m.DropObjects) and summary.kind == "table":
            if any(schema.key(name) == key for name in summary.names):
                return _StillOff(False, False)
        elif (
            isinstance(summary, m.Harmless)
            and summary.kind == "drop trigger"
            and off.trigger is not None
            and summary.name == off.trigger
            and summary.table is not None
            and schema.key(summary.table) == key
        ):
            own = False
    return _StillOff(own, system)


def _covers(action: m.TriggerState, off: m.TriggerState) -> bool:
    """Whether ``action`` is about (some of) the triggers ``off`` turned off."""
    return action.trigger is None or action.trigger == off.trigger


def _covers_own(action: m.TriggerState, off: m.TriggerState) -> bool:
    return action.trigger is None or off.trigger is not None


def _what(off: m.TriggerState) -> str:
    if off.system:
        return "DISABLE TRIGGER ALL"
    target = "USER" if off.trigger is None else m.quote_ident(off.trigger)
    return f"ENABLE REPLICA TRIGGER {target}" if off.replica else f"DISABLE TRIGGER {target}"


def _table_hit(ctx: Context, table: m.Name, off: m.TriggerState) -> Hit | None:
    end = _still_off_at_end(ctx, table, off)
    if not off.system and not end.own:
        return None  # turned back on (or dropped) later in the file
    what = f"ALTER TABLE {table.display()} {_what(off)}"
    one = off.trigger is not None  # one named trigger, or all of the table's own
    them = "the trigger" if one else "the table's own triggers"
    it = "it" if one else "them"
    stays = ""
    if end.own or end.system:
        skipped = (
            "its triggers and its foreign-key checks"
            if end.system
            else f"{them} (the audit rows, columns and counters they keep stop being written)"
        )
        stays = (
            f"; {'it is' if one else 'they are'} not turned back on in this migration, so from its "
            f"commit every session's inserts, updates and deletes of {table.display()} skip {skipped}"
        )
    if off.system:
        message = (
            f"{what} also turns off the foreign-key checks (PostgreSQL's internal triggers): rows written while "
            "they are off are never checked, and orphan rows stay after ENABLE TRIGGER ALL; only a superuser may do "
            f"it when the table has foreign keys or is referenced by one{stays}."
        )
        help_ = (
            "To skip the table's own triggers during a backfill, turn off only those and turn them back on in the "
            f"same migration: ALTER TABLE {table.sql()} DISABLE TRIGGER USER; <the backfill>; "
            f"ALTER TABLE {table.sql()} ENABLE TRIGGER USER;"
        )
    else:
        target = m.quote_ident(off.trigger) if off.trigger is not None else "USER"
        message = f"{what} turns {them} off for every session{stays}."
        help_ = (
            f"Turn {it} back on in the same migration, after the statements that must skip {it}: "
            f"ALTER TABLE {table.sql()} ENABLE TRIGGER {target};"
        )
    return Hit(message=message, help=help_, object=ctx.ref(table), table=table)


def _replica(setting: str, value: str) -> bool:
    return setting == "session_replication_role" and value.strip("'\" ").lower() == "replica"


def check(ctx: Context) -> Iterator[Hit]:
    summary = ctx.summary
    if isinstance(summary, m.Harmless) and summary.setting is not None and _replica(*summary.setting):
        who = "of that role" if summary.kind == "alter role" else "in that database"
        yield Hit(
            message=(
                f"{summary.kind.upper()} ... SET session_replication_role = replica makes every new session {who} "
                "start with every trigger and every foreign-key check off, for good: the app's writes skip its "
                "triggers and leave orphan rows, without an error (only a superuser may set it)."
            ),
            help=(
                f"Leave it out; if it was set by an earlier migration, undo it: {summary.kind.upper()} ... RESET "
                "session_replication_role;"
            ),
            object=ObjectRef(),
        )
        return
    if isinstance(summary, m.SetSetting):
        if _replica(summary.name, summary.value):
            yield Hit(
                message=(
                    "SET session_replication_role = replica turns off every trigger and every foreign-key check of "
                    "this migration's session: the rows it writes afterwards are not checked (orphan rows stay), and "
                    "only a superuser may set it."
                ),
                help=(
                    "Keep the foreign-key checks on: turn off only the triggers that must be skipped, on their table "
                    "(ALTER TABLE <table> DISABLE TRIGGER USER; ... ENABLE TRIGGER USER;)."
                ),
                object=ObjectRef(),
            )
        return
    if not isinstance(summary, m.AlterTable) or ctx.schema.is_created_by_deploy(summary.table):
        return
    for action in summary.actions:
        if isinstance(action, m.TriggerState) and not action.enabled:
            hit = _table_hit(ctx, summary.table, action)
            if hit is not None:
                yield hit


RULE = Rule(
    id="SM409",
    name="disable-trigger",
    category=Category.BREAKING,
    severity=Severity.WARNING,
    summary="Triggers left off stop the app's trigger logic; DISABLE TRIGGER ALL also stops foreign-key checks.",
    alternative=(
        "Turn off only the table's own triggers (DISABLE TRIGGER USER), and turn them back on in the same migration."
    ),
    bad='ALTER TABLE "Order" DISABLE TRIGGER ALL;',
    good=(
        'ALTER TABLE "Order" DISABLE TRIGGER USER; UPDATE "Order" SET "total" = 0 WHERE "total" IS NULL; '
        'ALTER TABLE "Order" ENABLE TRIGGER USER;'
    ),
    why=__doc__ or "",
    check=check,
    on=(m.AlterTable, m.SetSetting, m.Harmless),
    lock="SHARE ROW EXCLUSIVE",
)
