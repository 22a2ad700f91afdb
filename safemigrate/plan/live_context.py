"""Live facts a plan reads from the target's catalog (read only): table sizes, column types,
primary keys, constraints (for VALIDATE CONSTRAINT), enum labels, and the sessions a migration
would queue behind."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.rows import class_row

from safemigrate.db import load_sql
from safemigrate.plan.model import Blocker, TableFacts

TableKey = tuple[str, str]


@dataclass(frozen=True)
class LiveColumn:
    name: str
    type_name: str  # pg_type.typname: int4, varchar, text, a user type; _int4 for arrays
    type_category: str  # pg_type.typcategory
    type_modifier: int  # atttypmod: -1 when none
    formatted_type: str  # character varying(50)
    not_null: bool

    @property
    def text_limit(self) -> int | None:
        """n of varchar(n) / char(n); None when unbounded or not text."""
        if self.type_name in ("varchar", "bpchar", "_varchar", "_bpchar") and self.type_modifier >= 4:
            return self.type_modifier - 4
        return None

    @property
    def numeric_limits(self) -> tuple[int, int] | None:
        """(precision, scale) of numeric(p, s) (or of the elements of numeric(p, s)[]); None when unconstrained.

        atttypmod is ((p << 16) | s) + 4, the scale an 11-bit signed number (negative since PostgreSQL 15).
        """
        if self.type_name not in ("numeric", "_numeric") or self.type_modifier < 4:
            return None
        packed = self.type_modifier - 4
        return (packed >> 16) & 0xFFFF, ((packed & 0x7FF) ^ 1024) - 1024


@dataclass(frozen=True)
class LiveConstraint:
    """A foreign key, CHECK or NOT NULL constraint as it is today."""

    name: str
    kind: str  # pg_constraint.contype: f foreign key, c check, n not null
    validated: bool
    columns: tuple[str, ...]
    parent: TableKey | None = None  # foreign keys: the referenced table
    parent_columns: tuple[str, ...] = ()
    expression: str | None = None  # CHECK: its condition, deparsed by PostgreSQL


@dataclass(frozen=True)
class LiveContext:
    tables: Mapping[TableKey, TableFacts]
    columns: Mapping[TableKey, Mapping[str, LiveColumn]]
    primary_keys: Mapping[TableKey, tuple[str, ...]]
    server_version: int  # server_version_num, e.g. 150004
    constraints: Mapping[TableKey, Mapping[str, LiveConstraint]] = field(default_factory=dict)

    def column(self, table: TableKey, name: str) -> LiveColumn | None:
        return self.columns.get(table, {}).get(name)

    def constraint(self, table: TableKey, name: str) -> LiveConstraint | None:
        return self.constraints.get(table, {}).get(name)


@dataclass(frozen=True)
class _TableRow:
    schema_name: str
    table_name: str
    reltuples: float
    relpages: int
    total_bytes: int


@dataclass(frozen=True)
class _ColumnRow:
    schema_name: str
    table_name: str
    column_name: str
    type_name: str
    type_category: str
    type_modifier: int
    formatted_type: str
    not_null: bool


@dataclass(frozen=True)
class _KeyRow:
    schema_name: str
    table_name: str
    columns: list[str]


@dataclass(frozen=True)
class _ConstraintRow:
    schema_name: str
    table_name: str
    constraint_name: str
    kind: str
    validated: bool
    columns: list[str]
    parent_schema: str | None
    parent_table: str | None
    parent_columns: list[str]
    expression: str | None


@dataclass(frozen=True)
class _EnumRow:
    schema_name: str
    type_name: str
    labels: list[str]


@dataclass(frozen=True)
class _BlockerRow:
    pid: int
    application_name: str
    usename: str | None
    state: str | None
    transaction_age: float | None
    tables: list[str]
    modes: list[str]
    query: str


def _pairs(keys: Iterable[TableKey]) -> dict[str, list[str]]:
    unique = sorted(set(keys))
    return {"schemas": [k[0] for k in unique], "names": [k[1] for k in unique]}


def _rows_estimate(row: _TableRow) -> int | None:
    if row.reltuples < 0:
        return None  # never analysed (PostgreSQL 14+ says -1)
    if row.reltuples == 0 and row.relpages > 0:
        return None  # never analysed on older servers, yet holds pages
    return int(row.reltuples)


def read_live_context(conn: psycopg.Connection[Any], tables: Iterable[TableKey]) -> LiveContext:
    """Facts of ``tables``, and of the tables their foreign keys not yet validated reference."""
    wanted = set(tables)
    constraints: dict[TableKey, dict[str, LiveConstraint]] = {}
    with conn.cursor(row_factory=class_row(_ConstraintRow)) as cur:
        for r in cur.execute(load_sql("plan_constraints"), _pairs(wanted)):
            parent = (r.parent_schema, r.parent_table) if r.parent_schema and r.parent_table else None
            constraints.setdefault((r.schema_name, r.table_name), {})[r.constraint_name] = LiveConstraint(
                r.constraint_name, r.kind, r.validated, tuple(r.columns), parent, tuple(r.parent_columns), r.expression
            )
            if parent is not None and not r.validated:
                wanted.add(parent)  # a VALIDATE looks its keys up there
    params = _pairs(wanted)
    with conn.cursor(row_factory=class_row(_TableRow)) as cur:
        facts = {
            (r.schema_name, r.table_name): TableFacts(r.schema_name, r.table_name, _rows_estimate(r), r.total_bytes)
            for r in cur.execute(load_sql("plan_tables"), params)
        }
    columns: dict[TableKey, dict[str, LiveColumn]] = {}
    with conn.cursor(row_factory=class_row(_ColumnRow)) as cur:
        for c in cur.execute(load_sql("plan_columns"), params):
            columns.setdefault((c.schema_name, c.table_name), {})[c.column_name] = LiveColumn(
                c.column_name, c.type_name, c.type_category, c.type_modifier, c.formatted_type, c.not_null
            )
    with conn.cursor(row_factory=class_row(_KeyRow)) as cur:
        keys = {
            (k.schema_name, k.table_name): tuple(k.columns) for k in cur.execute(load_sql("plan_primary_keys"), params)
        }
    return LiveContext(facts, columns, keys, conn.info.server_version, constraints)


def read_enum_labels(conn: psycopg.Connection[Any], types: Iterable[TableKey]) -> dict[TableKey, tuple[str, ...]]:
    """Labels of existing enum types, by (schema, type name)."""
    with conn.cursor(row_factory=class_row(_EnumRow)) as cur:
        return {
            (r.schema_name, r.type_name): tuple(r.labels)
            for r in cur.execute(load_sql("plan_enum_labels"), _pairs(types))
        }


def read_blockers(conn: psycopg.Connection[Any], tables: Iterable[TableKey], long_transaction: float) -> list[Blocker]:
    """Sessions holding locks on ``tables``, and transactions open longer than ``long_transaction`` seconds."""
    params: dict[str, Any] = {**_pairs(tables), "long_transaction": long_transaction}
    with conn.cursor(row_factory=class_row(_BlockerRow)) as cur:
        rows = cur.execute(load_sql("plan_blockers"), params).fetchall()
    return [
        Blocker(
            r.pid,
            r.application_name,
            r.usename,
            r.state,
            r.transaction_age,
            tuple(r.tables),
            tuple(r.modes),
            " ".join(r.query.split())[:120],
        )
        for r in rows
    ]
