"""The target's own triggers and rules stay quiet while a clone loads and masks its tables.

Staging runs the same migrations as production, so its tables may carry audit triggers, rules that
log inserts, or BEFORE triggers that skip some updates: fired by the clone's TRUNCATE and load,
they would copy raw rows elsewhere or change what is loaded. So, inside the clone's one transaction,
each enabled user trigger and rule of the copied tables is disabled (``ALTER TABLE ... DISABLE
TRIGGER name``) and, before the commit, enabled again exactly as it was (``ENABLE``, ``ENABLE
ALWAYS`` or ``ENABLE REPLICA``). Other sessions never see the change: the ALTER TABLE locks the
table until the commit. Foreign keys' internal triggers are not touched, so the copied rows are
still checked. ``session_replication_role = replica`` would do it in one statement, but needs a
superuser (or a grant on the setting) and silences the foreign keys' checks too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from safemigrate.errors import SafemigrateError
from safemigrate.staging.identity import load_sql

_ENABLE = {"O": "ENABLE", "A": "ENABLE ALWAYS", "R": "ENABLE REPLICA"}


class TriggerOwnershipError(SafemigrateError):
    """A copied table has triggers or rules the clone's role may not disable (it does not own it)."""


@dataclass(frozen=True)
class UserTrigger:
    table_name: str
    kind: str  # TRIGGER or RULE
    name: str
    enabled: str  # O, A or R (pg_trigger.tgenabled)
    owned: bool


def pause_triggers(conn: psycopg.Connection[Any], schema: str, tables: Sequence[str]) -> tuple[UserTrigger, ...]:
    """Disable the enabled user triggers and rules of ``tables`` in the open transaction; return them
    for :func:`resume_triggers`. Refused, before any change, when the role does not own such a table."""
    with conn.cursor(row_factory=class_row(UserTrigger)) as cur:
        found = tuple(cur.execute(load_sql("user_triggers"), {"schema": schema, "tables": list(tables)}).fetchall())
    foreign = [t for t in found if not t.owned]
    if foreign:
        first = foreign[0]
        raise TriggerOwnershipError(
            f"Table {first.table_name!r} of the target has {first.kind.lower()} {first.name!r}, which would fire on "
            "the copied rows; the clone disables it during the load, which needs ownership of the table; "
            "nothing was cloned.",
            "Run the clone as the role that owns the target's tables (the one that runs its migrations).",
        )
    for trigger in found:
        conn.execute(_alter(schema, trigger, "DISABLE"))
    return found


def resume_triggers(conn: psycopg.Connection[Any], schema: str, paused: Sequence[UserTrigger]) -> None:
    """Enable again, each as it was, what :func:`pause_triggers` disabled (before the commit)."""
    for trigger in paused:
        conn.execute(_alter(schema, trigger, _ENABLE[trigger.enabled]))


def _alter(schema: str, trigger: UserTrigger, action: str) -> sql.Composed:
    return sql.SQL("ALTER TABLE {} {} {} {}").format(
        sql.Identifier(schema, trigger.table_name),
        sql.SQL(action),
        sql.SQL(trigger.kind),
        sql.Identifier(trigger.name),
    )
