"""Integrity checks on a live database: what a past migration or an interrupted operation left behind.

- indexes that are not valid (an interrupted ``CREATE INDEX CONCURRENTLY``): unused, yet maintained;
- constraints added ``NOT VALID`` and never validated: existing rows were never checked;
- rows whose foreign key points at a missing parent (possible under a NOT VALID key, or after
  triggers were disabled): counted per key, with a few example keys;
- sequences behind their column's largest value: the next insert fails with a duplicate key (a
  sequence the role may not read is reported as not checked, not as a problem).

All checks are read-only queries; the orphan and sequence scans run under the session's
statement_timeout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from safemigrate.db import load_sql


@dataclass(frozen=True)
class InvalidIndex:
    schema: str
    table_name: str
    index_name: str
    definition: str


@dataclass(frozen=True)
class UnvalidatedConstraint:
    schema: str
    table_name: str
    constraint_name: str
    kind: str
    definition: str


@dataclass(frozen=True)
class ForeignKey:
    schema: str
    table_name: str
    constraint_name: str
    columns: list[str]
    parent_schema: str
    parent_table: str
    parent_columns: list[str]


@dataclass(frozen=True)
class Orphans:
    schema: str
    table_name: str
    constraint_name: str
    parent_table: str
    rows: int
    examples: tuple[str, ...]  # up to 5 offending keys, as text


@dataclass(frozen=True)
class OwnedSequence:
    schema: str
    sequence_name: str
    table_name: str
    column_name: str
    increment: int
    readable: bool  # the role may SELECT from the sequence (its last_value and is_called)
    used_last_value: int | None  # pg_sequences.last_value: NULL when not called yet, or without privilege


@dataclass(frozen=True)
class SequenceBehind:
    schema: str
    sequence_name: str
    table_name: str
    column_name: str
    next_value: int
    column_max: int


@dataclass(frozen=True)
class SequenceNotChecked:
    """A sequence whose next value the role may not read: neither a problem nor checked."""

    schema: str
    sequence_name: str
    table_name: str
    column_name: str
    reason: str


NO_SEQUENCE_PRIVILEGE = "not checked (no privilege on the sequence)"


@dataclass(frozen=True)
class IntegrityReport:
    invalid_indexes: tuple[InvalidIndex, ...]
    unvalidated_constraints: tuple[UnvalidatedConstraint, ...]
    orphans: tuple[Orphans, ...]
    sequences_behind: tuple[SequenceBehind, ...]
    sequences_not_checked: tuple[SequenceNotChecked, ...] = ()  # not problems

    @property
    def problems(self) -> int:
        return (
            len(self.invalid_indexes)
            + len(self.unvalidated_constraints)
            + len(self.orphans)
            + len(self.sequences_behind)
        )


def _orphans(conn: psycopg.Connection, key: ForeignKey) -> Orphans | None:
    child = sql.Identifier(key.schema, key.table_name)
    parent = sql.Identifier(key.parent_schema, key.parent_table)
    # MATCH SIMPLE: a row with any NULL in the key references nothing and is not an orphan.
    not_null = sql.SQL(" AND ").join(sql.SQL("c.{} IS NOT NULL").format(sql.Identifier(c)) for c in key.columns)
    matches = sql.SQL(" AND ").join(
        sql.SQL("p.{} = c.{}").format(sql.Identifier(pc), sql.Identifier(cc))
        for cc, pc in zip(key.columns, key.parent_columns, strict=True)
    )
    shown = sql.SQL(" || ', ' || ").join(sql.SQL("c.{}::text").format(sql.Identifier(c)) for c in key.columns)
    query = sql.SQL(
        "SELECT count(*) OVER (), {shown} FROM {child} c WHERE {not_null} "
        "AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE {matches}) LIMIT 5"
    ).format(shown=shown, child=child, not_null=not_null, parent=parent, matches=matches)
    rows = conn.execute(query).fetchall()
    if not rows:
        return None
    return Orphans(
        key.schema,
        key.table_name,
        key.constraint_name,
        key.parent_table,
        int(rows[0][0]),
        tuple(str(r[1]) for r in rows),
    )


def _next_value(conn: psycopg.Connection, owned: OwnedSequence) -> int | None:
    """What the next nextval() gives; None when the role may not read the sequence. Read from the
    sequence itself: pg_sequences.last_value is NULL after setval(..., false) or RESTART, when the
    next value is last_value itself (is_called false), not start_value."""
    if owned.readable:
        query = sql.SQL("SELECT last_value, is_called FROM {}").format(
            sql.Identifier(owned.schema, owned.sequence_name)
        )
        row = conn.execute(query).fetchone()
        if row is None:  # a sequence always has its one row
            return None
        last_value, is_called = int(row[0]), bool(row[1])
        return last_value + owned.increment if is_called else last_value
    if owned.used_last_value is not None:  # USAGE only: pg_sequences shows it once called
        return owned.used_last_value + owned.increment
    return None


def _sequence_behind(conn: psycopg.Connection, owned: OwnedSequence) -> SequenceBehind | SequenceNotChecked | None:
    if owned.increment <= 0:
        return None  # descending sequences are rare and compare with min(); not checked
    next_value = _next_value(conn, owned)
    if next_value is None:
        return SequenceNotChecked(
            owned.schema, owned.sequence_name, owned.table_name, owned.column_name, NO_SEQUENCE_PRIVILEGE
        )
    query = sql.SQL("SELECT max({})::bigint FROM {}").format(
        sql.Identifier(owned.column_name), sql.Identifier(owned.schema, owned.table_name)
    )
    row = conn.execute(query).fetchone()
    column_max = row[0] if row else None
    if column_max is None or column_max < next_value:
        return None
    return SequenceBehind(
        owned.schema, owned.sequence_name, owned.table_name, owned.column_name, next_value, int(column_max)
    )


def check_integrity(conn: psycopg.Connection, schemas: Sequence[str]) -> IntegrityReport:
    """Run every check on ``schemas`` in one read-only snapshot (rolled back afterwards)."""
    params = {"schemas": list(schemas)}
    with conn.transaction(force_rollback=True):
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        with conn.cursor(row_factory=class_row(InvalidIndex)) as cur:
            invalid = tuple(cur.execute(load_sql("integrity_invalid_indexes"), params).fetchall())
        with conn.cursor(row_factory=class_row(UnvalidatedConstraint)) as cur:
            unvalidated = tuple(cur.execute(load_sql("integrity_unvalidated_constraints"), params).fetchall())
        with conn.cursor(row_factory=class_row(ForeignKey)) as cur:
            keys = cur.execute(load_sql("integrity_foreign_keys"), params).fetchall()
        with conn.cursor(row_factory=class_row(OwnedSequence)) as cur:
            sequences = cur.execute(load_sql("integrity_sequences"), params).fetchall()
        orphans = tuple(o for o in (_orphans(conn, k) for k in keys) if o is not None)
        compared = [_sequence_behind(conn, s) for s in sequences]
    behind = tuple(b for b in compared if isinstance(b, SequenceBehind))
    not_checked = tuple(b for b in compared if isinstance(b, SequenceNotChecked))
    return IntegrityReport(invalid, unvalidated, orphans, behind, not_checked)
