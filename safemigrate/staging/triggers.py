"""The target's own triggers and rules stay quiet while a clone loads and masks its tables.

Staging runs the same migrations as production, so its tables may carry audit triggers, rules that
log inserts, or BEFORE triggers that skip some updates: fired by the clone's TRUNCATE, load and
masking updates, they would copy raw rows elsewhere or change what is loaded. So every enabled user
trigger and rule of the copied tables (not only those a load fires: masking updates rows) is switched
off for the clone's transaction, see :mod:`safemigrate.db.user_triggers`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from safemigrate.db.user_triggers import UserTrigger, find_user_triggers, switch_back_on, switch_off
from safemigrate.errors import SafemigrateError


class TriggerOwnershipError(SafemigrateError):
    """A copied table has triggers or rules the clone's role may not disable (it does not own it)."""


def pause_triggers(conn: psycopg.Connection[Any], schema: str, tables: Sequence[str]) -> tuple[UserTrigger, ...]:
    """Disable the enabled user triggers and rules of ``tables`` in the open transaction; return them
    for :func:`resume_triggers`. Refused, before any change, when the role does not own such a table."""
    found = find_user_triggers(conn, schema, tables, fired_by_load=False)
    foreign = [t for t in found if not t.owned]
    if foreign:
        first = foreign[0]
        raise TriggerOwnershipError(
            f"Table {first.table_name!r} of the target has {first.kind.lower()} {first.name!r}, which would fire on "
            "the copied rows; the clone disables it during the load, which needs ownership of the table; "
            "nothing was cloned.",
            "Run the clone as the role that owns the target's tables (the one that runs its migrations).",
        )
    switch_off(conn, schema, found)
    return found


def resume_triggers(conn: psycopg.Connection[Any], schema: str, paused: Sequence[UserTrigger]) -> None:
    """Enable again, each as it was, what :func:`pause_triggers` disabled (before the commit)."""
    switch_back_on(conn, schema, paused)
