"""Read a table's DDL from the catalog (what a backup stores) and turn it back into statements.

Types, defaults, constraint and index definitions are the server's own deparsed text
(``format_type``, ``pg_get_expr``, ``pg_get_constraintdef``, ``pg_get_indexdef``), read with the
session's search_path set to the backed-up schema, as pg_dump does; they are spliced into the
composed statements as SQL text, every name around them is a ``sql.Identifier``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from safemigrate.backup.manifest import (
    ColumnDef,
    ConstraintDef,
    EnumType,
    IndexDef,
    SequenceDef,
    TableDDL,
)


def load_sql(name: str) -> str:
    """The text of ``safemigrate/backup/sql/<name>.sql``."""
    return (
        resources.files(__package__ or "safemigrate.backup").joinpath("sql").joinpath(f"{name}.sql").read_text("utf-8")
    )


@dataclass(frozen=True)
class _ColumnRow:
    name: str
    type: str
    default_expr: str | None
    not_null: bool
    identity: str
    generated_expr: str | None
    binary_ok: bool
    enum_schema: str | None
    enum_name: str | None


@dataclass(frozen=True)
class _ConstraintRow:
    name: str
    kind: str
    definition: str
    referenced_schema: str | None
    referenced_table: str | None


@dataclass(frozen=True)
class _SequenceRow:
    column_name: str
    schema: str
    name: str
    data_type: str
    start_value: int
    increment: int
    min_value: int
    max_value: int
    cache: int
    cycle: bool
    identity: bool


@dataclass(frozen=True)
class _NameRow:
    name: str


def schema_tables(conn: psycopg.Connection[Any], schema: str) -> list[str]:
    """The ordinary tables of ``schema``, by name."""
    with conn.cursor(row_factory=class_row(_NameRow)) as cur:
        return [r.name for r in cur.execute(load_sql("tables"), {"schema": schema})]


def read_columns(conn: psycopg.Connection[Any], schema: str, table: str) -> list[_ColumnRow]:
    with conn.cursor(row_factory=class_row(_ColumnRow)) as cur:
        return cur.execute(load_sql("columns"), {"schema": schema, "table": table}).fetchall()


def read_ddl(conn: psycopg.Connection[Any], schema: str, table: str) -> TableDDL:
    """Everything needed to recreate ``schema.table`` (sequence values as the server has them now)."""
    params = {"schema": schema, "table": table}
    columns = read_columns(conn, schema, table)
    with conn.cursor(row_factory=class_row(_ConstraintRow)) as cur:
        constraints = cur.execute(load_sql("constraints"), params).fetchall()
    with conn.cursor(row_factory=class_row(IndexDef)) as cur:
        indexes = cur.execute(load_sql("indexes"), params).fetchall()
    with conn.cursor(row_factory=class_row(_SequenceRow)) as cur:
        sequence_rows = cur.execute(load_sql("sequences"), params).fetchall()
    sequences = []
    for s in sequence_rows:
        row = conn.execute(
            sql.SQL("SELECT last_value, is_called FROM {}").format(sql.Identifier(s.schema, s.name))
        ).fetchone()
        assert row is not None
        sequences.append(
            SequenceDef(
                s.column_name, s.name, s.data_type, s.start_value, s.increment, s.min_value, s.max_value,
                s.cache, s.cycle, s.identity, int(row[0]), bool(row[1]),
            )
        )  # fmt: skip
    enums: dict[tuple[str, str], EnumType] = {}
    for c in columns:
        if c.enum_schema is not None and c.enum_name is not None and (c.enum_schema, c.enum_name) not in enums:
            labels = conn.execute(load_sql("enum_labels"), {"schema": c.enum_schema, "name": c.enum_name}).fetchall()
            enums[(c.enum_schema, c.enum_name)] = EnumType(c.enum_schema, c.enum_name, tuple(r[0] for r in labels))
    return TableDDL(
        tuple(
            ColumnDef(c.name, c.type, c.default_expr, c.not_null, c.identity, c.generated_expr, c.binary_ok)
            for c in columns
        ),
        tuple(ConstraintDef(c.name, c.kind, c.definition, c.referenced_table) for c in constraints),
        tuple(indexes),
        tuple(sequences),
        tuple(enums.values()),
    )


def _sequence_options(s: SequenceDef) -> sql.Composed:
    """Sequence options; ``AS type`` only for a serial sequence (an identity takes its column's type)."""
    return sql.SQL("{}INCREMENT BY {} MINVALUE {} MAXVALUE {} START WITH {} CACHE {} {}").format(
        sql.SQL("") if s.identity else sql.SQL("AS {} ").format(sql.SQL(s.data_type)),
        sql.Literal(s.increment),
        sql.Literal(s.min_value),
        sql.Literal(s.max_value),
        sql.Literal(s.start_value),
        sql.Literal(s.cache),
        sql.SQL("CYCLE" if s.cycle else "NO CYCLE"),
    )


def create_statements(
    schema: str, table: str, ddl: TableDDL, existing_types: set[tuple[str, str]]
) -> list[sql.Composed]:
    """Statements that recreate the table, its enum types (when missing), serial sequences and check
    constraints, to run before its data is loaded; :func:`index_statements` after the load, then
    :func:`foreign_key_statements` once every table is loaded."""
    statements: list[sql.Composed] = []
    for enum in ddl.enums:
        if (enum.schema, enum.name) not in existing_types:
            statements.append(
                sql.SQL("CREATE TYPE {} AS ENUM ({})").format(
                    sql.Identifier(enum.schema, enum.name), sql.SQL(", ").join(map(sql.Literal, enum.labels))
                )
            )
            existing_types.add((enum.schema, enum.name))
    serials = [s for s in ddl.sequences if not s.identity]
    for s in serials:
        statements.append(
            sql.SQL("CREATE SEQUENCE IF NOT EXISTS {} {}").format(sql.Identifier(schema, s.name), _sequence_options(s))
        )
    identities = {s.column_name: s for s in ddl.sequences if s.identity}
    items: list[sql.Composable] = []
    for c in ddl.columns:
        parts: list[sql.Composable] = [sql.Identifier(c.name), sql.SQL(c.type)]
        if c.generated_expr is not None:
            parts.append(sql.SQL("GENERATED ALWAYS AS ({}) STORED").format(sql.SQL(c.generated_expr)))
        elif c.identity:
            how = sql.SQL("ALWAYS" if c.identity == "a" else "BY DEFAULT")
            seq = identities.get(c.name)
            options = sql.SQL(" ({})").format(_sequence_options(seq)) if seq is not None else sql.SQL("")
            parts.append(sql.SQL("GENERATED {} AS IDENTITY{}").format(how, options))
        elif c.default_expr is not None:
            parts.append(sql.SQL("DEFAULT {}").format(sql.SQL(c.default_expr)))
        if c.not_null:
            parts.append(sql.SQL("NOT NULL"))
        items.append(sql.SQL(" ").join(parts))
    for con in ddl.constraints:
        if con.kind == "c":
            items.append(sql.SQL("CONSTRAINT {} {}").format(sql.Identifier(con.name), sql.SQL(con.definition)))
    statements.append(sql.SQL("CREATE TABLE {} ({})").format(sql.Identifier(schema, table), sql.SQL(", ").join(items)))
    for s in serials:
        statements.append(
            sql.SQL("ALTER SEQUENCE {} OWNED BY {}").format(
                sql.Identifier(schema, s.name), sql.Identifier(schema, table, s.column_name)
            )
        )
    return statements


def index_statements(schema: str, table: str, ddl: TableDDL) -> list[sql.Composed]:
    """Primary key, unique and exclusion constraints, then the other indexes: built once the data is
    loaded (one sort per index instead of maintaining it row by row, as pg_restore does)."""
    statements = [
        sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
            sql.Identifier(schema, table), sql.Identifier(con.name), sql.SQL(con.definition)
        )
        for con in ddl.constraints
        if con.kind in ("p", "u", "x")
    ]
    statements.extend(sql.Composed([sql.SQL(i.definition)]) for i in ddl.indexes)
    return statements


def foreign_key_statements(schema: str, table: str, ddl: TableDDL, present: set[str]) -> list[sql.Composed]:
    """ALTER TABLE ... ADD CONSTRAINT for the foreign keys whose referenced table is ``present``."""
    return [
        sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
            sql.Identifier(schema, table), sql.Identifier(fk.name), sql.SQL(fk.definition)
        )
        for fk in ddl.foreign_keys
        if fk.referenced_table in present
    ]
