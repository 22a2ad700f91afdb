"""A table's own triggers and rules stay quiet while rows are loaded into it, and come back as they were.

A restore into a table that is there, and a staging clone, write rows the backup already holds: an
audit or counter trigger fired by the TRUNCATE or the load would run once per loaded row (writing to
other tables), and a BEFORE trigger could rewrite what is loaded. So, inside the load's one
transaction, each is disabled (``ALTER TABLE ... DISABLE TRIGGER name``) and, before the commit,
enabled again exactly as it was (``ENABLE``, ``ENABLE ALWAYS`` or ``ENABLE REPLICA``), as
``pg_restore --disable-triggers`` does. Other sessions never see the change: the ALTER TABLE locks
the table until the commit. Foreign keys' internal triggers are not touched, so loaded rows are still
checked. ``session_replication_role = replica`` would do it in one statement, but needs a superuser
(or a grant on the setting) and silences the foreign keys' checks too.

Only the table's owner may disable its triggers: the callers refuse, in their own words, before any
change, when :attr:`UserTrigger.owned` is false.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from safemigrate.db import load_sql

_ENABLE = {"O": "ENABLE", "A": "ENABLE ALWAYS", "R": "ENABLE REPLICA"}


@dataclass(frozen=True)
class UserTrigger:
    table_name: str
    kind: str  # TRIGGER or RULE
    name: str
    enabled: str  # O, A or R (pg_trigger.tgenabled / pg_rewrite.ev_enabled)
    owned: bool  # the session's role may ALTER the table


def find_user_triggers(
    conn: psycopg.Connection[Any], schema: str, tables: Sequence[str], *, fired_by_load: bool
) -> tuple[UserTrigger, ...]:
    """The enabled user triggers and rules of ``tables``. ``fired_by_load``: only the triggers a
    TRUNCATE or COPY fires (on INSERT or TRUNCATE, not replica-only; COPY invokes no rule)."""
    params = {"schema": schema, "tables": list(tables), "fired_by_load": fired_by_load}
    with conn.cursor(row_factory=class_row(UserTrigger)) as cur:
        return tuple(cur.execute(load_sql("user_triggers"), params).fetchall())


def switch_off(conn: psycopg.Connection[Any], schema: str, triggers: Sequence[UserTrigger]) -> None:
    """Disable ``triggers`` in the open transaction (the caller has checked :attr:`UserTrigger.owned`)."""
    for trigger in triggers:
        conn.execute(_alter(schema, trigger, "DISABLE"))


def switch_back_on(conn: psycopg.Connection[Any], schema: str, triggers: Sequence[UserTrigger]) -> None:
    """Enable ``triggers`` again, each as it was, before the commit."""
    for trigger in triggers:
        conn.execute(_alter(schema, trigger, _ENABLE[trigger.enabled]))


def _alter(schema: str, trigger: UserTrigger, action: str) -> sql.Composed:
    return sql.SQL("ALTER TABLE {} {} {} {}").format(
        sql.Identifier(schema, trigger.table_name),
        sql.SQL(action),
        sql.SQL(trigger.kind),
        sql.Identifier(trigger.name),
    )
