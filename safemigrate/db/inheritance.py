"""Which tables inherit from which (``sql/inheritance_descendants.sql``): INHERITS children and
partitions, their children... What a statement does to a table it does to their rows, and SELECT
from the table returns them, so the backup scope, the migrate verification and the staging clone's
masks all follow them."""

from __future__ import annotations

from typing import Any

import psycopg

from safemigrate.db import load_sql


def descendants(conn: psycopg.Connection[Any], schema: str) -> dict[str, list[tuple[str, str]]]:
    """Each table of ``schema`` that others inherit from -> (schema, name) of every table below it,
    in any schema (callers working on one schema refuse or leave out the others, as they need)."""
    found: dict[str, list[tuple[str, str]]] = {}
    for ancestor, child_schema, child in conn.execute(load_sql("inheritance_descendants"), {"schema": schema}):
        found.setdefault(str(ancestor), []).append((str(child_schema), str(child)))
    return found
