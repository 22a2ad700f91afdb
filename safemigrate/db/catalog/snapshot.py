"""Take a catalog snapshot: the schema(s) of a live database as plain frozen dataclasses.

A snapshot holds no OID, relfilenode or anything else that changes when the same DDL runs again,
and reads the same on PostgreSQL 15 and 18 for the same DDL. What makes that so:

- objects are identified by schema and name (PostgreSQL's own generated names, such as
  ``"User_pkey"`` or ``"User_id_seq"``, are deterministic), and every collection is sorted by name
  (code-point order, as ``COLLATE "C"``);
- definitions come from ``pg_get_*def``/``pg_get_expr``/``format_type``, whose text depends on
  session settings: the snapshot runs in its own read-only transaction with those settings fixed
  (``session.sql``) and ``search_path`` set to the snapshotted schemas (sorted), so names in those
  schemas print unqualified, as in hand-written migrations, and any other schema is qualified;
- view definitions of PostgreSQL 15 and older are rewritten as 16 and later print them (no
  qualifier on the columns of a single-relation top-level query: see ``normalize.py``);
- NOT NULL is a column property: PostgreSQL 18 also records it in ``pg_constraint`` (with a
  generated name), which is left out; ``Constraint.enforced`` is always true before 18;
- data-dependent fields (``Table.estimated_rows``, ``Table.size_bytes``, ``DbSequence.last_value``
  and ``is_called``) are part of the snapshot but compared by the diff only when asked;
- a domain's NOT NULL is a property of the domain, as a column's is (PostgreSQL 17 and later also
  record it in ``pg_constraint``, left out).

The JSON form carries a format version. Version 1 files (before domains, composite types,
row-level security, policies and plain inheritance were snapshotted) stay readable: they load with
those parts empty; :func:`read_snapshot_document` says which version a file is, and
:func:`as_version_1` blanks those parts so that a version 1 file compares only what it recorded.

Rows are read with ``psycopg.rows.class_row`` onto flat row classes, then grouped per table.
"""

from __future__ import annotations

import json
import types
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from collections.abc import Sequence as Seq
from dataclasses import dataclass, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from safemigrate.db.catalog import OLDEST_SUPPORTED_MAJOR, load_query
from safemigrate.db.catalog.normalize import unqualify_single_relation_view
from safemigrate.errors import SnapshotFileError, UnsupportedServerError

SNAPSHOT_FORMAT = "safemigrate-snapshot"
SNAPSHOT_VERSION = 2
# Members added in version 2, by class: missing from version 1 files, which load them as the default.
_ADDED_IN_VERSION_2 = {
    "Table": ("row_security", "force_row_security", "inherits", "policies"),
    "Snapshot": ("domains", "composite_types"),
}


# ---------------------------------------------------------------------------------------------
# The snapshot


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # format_type: with modifiers, e.g. "character varying(120)", "timestamp(3) with time zone"
    not_null: bool
    not_null_validated: bool  # false for NOT NULL ... NOT VALID (PostgreSQL 18); true otherwise
    default: str | None  # the DEFAULT expression as PostgreSQL prints it
    identity: str | None  # "always" | "by default"
    generated: str | None  # "GENERATED ALWAYS AS (expr) STORED" (or VIRTUAL on 18)
    collation: str | None  # only when not the type's default

    @property
    def nullability(self) -> str:
        """``NULL``, ``NOT NULL`` or ``NOT NULL NOT VALID``."""
        if not self.not_null:
            return "NULL"
        return "NOT NULL" if self.not_null_validated else "NOT NULL NOT VALID"


@dataclass(frozen=True)
class Constraint:
    name: str
    kind: str  # "primary key" | "unique" | "foreign key" | "check" | "exclusion"
    definition: str  # pg_get_constraintdef: includes NOT VALID, DEFERRABLE, actions
    columns: tuple[str, ...]
    references_table: str | None  # foreign keys: quoted schema.table
    references_columns: tuple[str, ...]
    on_update: str | None  # foreign keys: "no action" | "restrict" | "cascade" | "set null" | "set default"
    on_delete: str | None
    match: str | None  # foreign keys: "simple" | "full" | "partial"
    deferrable: bool
    initially_deferred: bool
    validated: bool
    enforced: bool


@dataclass(frozen=True)
class Index:
    name: str
    definition: str  # pg_get_indexdef: the whole CREATE INDEX statement
    unique: bool
    primary: bool
    valid: bool
    predicate: str | None  # WHERE of a partial index
    constraint: str | None  # the constraint it implements (primary key, unique, exclusion)


@dataclass(frozen=True)
class Trigger:
    name: str
    definition: str  # pg_get_triggerdef: the CREATE TRIGGER statement
    enabled: str  # "origin" (default) | "replica" | "always" | "disabled"


@dataclass(frozen=True)
class Policy:
    name: str
    command: str  # "all" | "select" | "insert" | "update" | "delete"
    permissive: bool  # false for AS RESTRICTIVE
    roles: tuple[str, ...]  # quoted role names, "public" for PUBLIC; sorted
    using: str | None  # the USING expression as PostgreSQL prints it
    with_check: str | None  # the WITH CHECK expression

    @property
    def definition(self) -> str:
        """The policy as CREATE POLICY writes it, from AS on: ``AS PERMISSIVE FOR ALL TO public USING (false)``."""
        text = f"AS {'PERMISSIVE' if self.permissive else 'RESTRICTIVE'} FOR {self.command.upper()}"
        text += f" TO {', '.join(self.roles)}"
        if self.using is not None:
            text += f" USING ({self.using})"
        if self.with_check is not None:
            text += f" WITH CHECK ({self.with_check})"
        return text


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    persistence: str  # "logged" | "unlogged"
    partition_key: str | None  # partitioned tables: "RANGE (logdate)"
    partition_of: str | None  # partitions: quoted schema.name of the parent
    partition_bound: str | None  # partitions: "FOR VALUES FROM (...) TO (...)"
    columns: tuple[Column, ...]  # in column order
    constraints: tuple[Constraint, ...]
    indexes: tuple[Index, ...]
    triggers: tuple[Trigger, ...]
    estimated_rows: int | None  # reltuples; None until the table is first vacuumed or analyzed
    size_bytes: int  # pg_total_relation_size: heap, indexes, TOAST
    # Defaults: snapshot format version 1 did not record these (see _ADDED_IN_VERSION_2).
    row_security: bool = False  # ENABLE ROW LEVEL SECURITY
    force_row_security: bool = False  # FORCE ROW LEVEL SECURITY (applies to the table's owner too)
    inherits: tuple[str, ...] = ()  # INHERITS parents (quoted schema.name), in order; not partitioning
    policies: tuple[Policy, ...] = ()

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass(frozen=True)
class View:
    schema: str
    name: str
    kind: str  # "view" | "materialized view"
    definition: str  # pg_get_viewdef
    options: tuple[str, ...]  # reloptions, e.g. "security_invoker=true"
    populated: bool  # false for a materialized view created WITH NO DATA
    columns: tuple[Column, ...]
    indexes: tuple[Index, ...]  # materialized views only
    triggers: tuple[Trigger, ...]


@dataclass(frozen=True)
class EnumType:
    schema: str
    name: str
    values: tuple[str, ...]  # in order


@dataclass(frozen=True)
class DomainConstraint:
    name: str
    definition: str  # pg_get_constraintdef: "CHECK ((VALUE > 0))", with NOT VALID when not validated
    validated: bool


@dataclass(frozen=True)
class Domain:
    schema: str
    name: str
    type: str  # the base type, with modifiers
    not_null: bool
    default: str | None
    collation: str | None  # only when not the base type's default
    constraints: tuple[DomainConstraint, ...]  # CHECK constraints, by name


@dataclass(frozen=True)
class CompositeAttribute:
    name: str
    type: str
    collation: str | None  # only when not the type's default


@dataclass(frozen=True)
class CompositeType:
    schema: str
    name: str
    attributes: tuple[CompositeAttribute, ...]  # in order


@dataclass(frozen=True)
class DbSequence:
    schema: str
    name: str
    data_type: str
    start: int
    increment: int
    min_value: int
    max_value: int
    cache: int
    cycle: bool
    owned_by: str | None  # quoted schema.table.column
    identity: bool  # the sequence of an identity column
    last_value: int | None  # None when the sequence cannot be read (no SELECT privilege)
    is_called: bool | None


@dataclass(frozen=True)
class Function:
    schema: str
    name: str
    kind: str  # "function" | "procedure" | "aggregate" | "window"
    arguments: str  # pg_get_function_identity_arguments
    result: str | None  # pg_get_function_result; None for procedures
    language: str
    volatility: str  # "immutable" | "stable" | "volatile"
    strict: bool
    security_definer: bool
    config: tuple[str, ...]  # SET clauses, e.g. "search_path=public"
    body_sha256: str

    @property
    def signature(self) -> str:
        return f"{self.name}({self.arguments})"


@dataclass(frozen=True)
class Extension:
    name: str
    version: str
    schema: str


@dataclass(frozen=True)
class Snapshot:
    schemas: tuple[str, ...]  # the snapshotted schemas, sorted
    extensions: tuple[Extension, ...]
    enums: tuple[EnumType, ...]
    tables: tuple[Table, ...]
    views: tuple[View, ...]
    sequences: tuple[DbSequence, ...]
    functions: tuple[Function, ...]
    # Defaults: snapshot format version 1 did not record these (see _ADDED_IN_VERSION_2).
    domains: tuple[Domain, ...] = ()
    composite_types: tuple[CompositeType, ...] = ()


# ---------------------------------------------------------------------------------------------
# Rows as the catalog queries return them (column names = field names)


@dataclass(frozen=True)
class _TableRow:
    schema: str
    name: str
    persistence: str
    partition_key: str | None
    partition_of: str | None
    partition_bound: str | None
    estimated_rows: float
    size_bytes: int
    row_security: bool
    force_row_security: bool
    inherits: list[str]


@dataclass(frozen=True)
class _PolicyRow:
    schema: str
    relation: str
    name: str
    command: str
    permissive: bool
    roles: list[str]
    using_expression: str | None
    check_expression: str | None


@dataclass(frozen=True)
class _DomainRow:
    schema: str
    name: str
    type: str
    not_null: bool
    default_value: str | None
    collation: str | None


@dataclass(frozen=True)
class _DomainConstraintRow:
    schema: str
    domain: str
    name: str
    definition: str
    validated: bool


@dataclass(frozen=True)
class _CompositeTypeRow:
    schema: str
    name: str
    attribute_names: list[str]
    attribute_types: list[str]
    attribute_collations: list[str | None]


@dataclass(frozen=True)
class _ColumnRow:
    schema: str
    relation: str
    name: str
    type: str
    not_null: bool
    not_null_validated: bool
    default_value: str | None
    identity: str | None
    generated: str | None
    collation: str | None


@dataclass(frozen=True)
class _ConstraintRow:
    schema: str
    relation: str
    name: str
    kind: str
    definition: str
    columns: list[str]
    references_table: str | None
    references_columns: list[str] | None
    on_update: str | None
    on_delete: str | None
    match: str | None
    deferrable: bool
    initially_deferred: bool
    validated: bool
    enforced: bool


@dataclass(frozen=True)
class _IndexRow:
    schema: str
    relation: str
    name: str
    definition: str
    is_unique: bool
    is_primary: bool
    valid: bool
    predicate: str | None
    constraint_name: str | None


@dataclass(frozen=True)
class _TriggerRow:
    schema: str
    relation: str
    name: str
    definition: str
    enabled: str


@dataclass(frozen=True)
class _ViewRow:
    schema: str
    name: str
    kind: str
    definition: str
    options: list[str]
    populated: bool


@dataclass(frozen=True)
class _EnumRow:
    schema: str
    name: str
    labels: list[str]


@dataclass(frozen=True)
class _SequenceRow:
    schema: str
    name: str
    data_type: str
    start_value: int
    increment: int
    min_value: int
    max_value: int
    cache: int
    cycle: bool
    owned_by: str | None
    identity: bool
    readable: bool


@dataclass(frozen=True)
class _SequenceValueRow:
    schema: str
    name: str
    last_value: int
    is_called: bool


@dataclass(frozen=True)
class _FunctionRow:
    schema: str
    name: str
    kind: str
    arguments: str
    result: str | None
    language: str
    volatility: str
    strict: bool
    security_definer: bool
    config: list[str]
    body_sha256: str


R = TypeVar("R")


def _rows(conn: psycopg.Connection[Any], kind: str, row_type: type[R], params: Mapping[str, Any]) -> list[R]:
    query = load_query(kind, conn.info.server_version // 10000)
    with conn.cursor(row_factory=class_row(row_type)) as cur:
        cur.execute(query.encode(), params or None)  # bytes: a literal query, not composed from input
        return cur.fetchall()


# ---------------------------------------------------------------------------------------------
# Taking a snapshot


def take_snapshot(
    conn: psycopg.Connection[Any],
    schemas: Seq[str] = ("public",),
    *,
    exclude_tables: Collection[str] = (),
) -> Snapshot:
    """Snapshot ``schemas`` (default ``public``) of the database ``conn`` is connected to.

    ``exclude_tables`` names tables to leave out in every snapshotted schema (with their columns,
    constraints, indexes and triggers), e.g. ``("_prisma_migrations",)``. The snapshot runs in its
    own read-only, repeatable-read transaction (a savepoint when a transaction is already open),
    rolled back at the end: the connection's settings are left as they were.
    """
    major = conn.info.server_version // 10000
    if major < OLDEST_SUPPORTED_MAJOR:
        raise UnsupportedServerError(
            f"PostgreSQL {major} is too old for catalog snapshots.",
            f"safemigrate supports PostgreSQL {OLDEST_SUPPORTED_MAJOR} and later.",
        )
    wanted = tuple(sorted(set(schemas)))
    if not wanted:
        raise ValueError("take_snapshot needs at least one schema")
    outer = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    with conn.transaction(force_rollback=True):
        if outer:
            conn.execute(b"SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        conn.execute(load_query("session", major).encode())
        conn.execute(
            sql.SQL("SET LOCAL search_path TO {}").format(sql.SQL(", ").join(sql.Identifier(s) for s in wanted))
        )
        return _read(conn, wanted, frozenset(exclude_tables))


def _read(conn: psycopg.Connection[Any], schemas: tuple[str, ...], excluded: frozenset[str]) -> Snapshot:
    params = {"schemas": list(schemas)}
    major = conn.info.server_version // 10000
    columns: dict[tuple[str, str], list[Column]] = defaultdict(list)
    for c in _rows(conn, "columns", _ColumnRow, params):
        columns[c.schema, c.relation].append(
            Column(
                c.name, c.type, c.not_null, c.not_null_validated, c.default_value, c.identity, c.generated, c.collation
            )
        )
    constraints: dict[tuple[str, str], list[Constraint]] = defaultdict(list)
    for k in _rows(conn, "constraints", _ConstraintRow, params):
        constraints[k.schema, k.relation].append(
            Constraint(
                k.name,
                k.kind,
                k.definition,
                tuple(k.columns),
                k.references_table,
                tuple(k.references_columns or ()),
                k.on_update,
                k.on_delete,
                k.match,
                k.deferrable,
                k.initially_deferred,
                k.validated,
                k.enforced,
            )
        )
    indexes: dict[tuple[str, str], list[Index]] = defaultdict(list)
    for i in _rows(conn, "indexes", _IndexRow, params):
        indexes[i.schema, i.relation].append(
            Index(i.name, i.definition, i.is_unique, i.is_primary, i.valid, i.predicate, i.constraint_name)
        )
    triggers: dict[tuple[str, str], list[Trigger]] = defaultdict(list)
    for t in _rows(conn, "triggers", _TriggerRow, params):
        triggers[t.schema, t.relation].append(Trigger(t.name, t.definition, t.enabled))
    policies: dict[tuple[str, str], list[Policy]] = defaultdict(list)
    for p in _rows(conn, "policies", _PolicyRow, params):
        policies[p.schema, p.relation].append(
            Policy(p.name, p.command, p.permissive, tuple(p.roles), p.using_expression, p.check_expression)
        )

    tables = tuple(
        Table(
            schema=t.schema,
            name=t.name,
            persistence=t.persistence,
            partition_key=t.partition_key,
            partition_of=t.partition_of,
            partition_bound=t.partition_bound,
            columns=tuple(columns[t.schema, t.name]),  # column order, as queried
            constraints=_by_name(constraints[t.schema, t.name]),
            indexes=_by_name(indexes[t.schema, t.name]),
            triggers=_by_name(triggers[t.schema, t.name]),
            estimated_rows=None if t.estimated_rows < 0 else round(t.estimated_rows),
            size_bytes=t.size_bytes,
            row_security=t.row_security,
            force_row_security=t.force_row_security,
            inherits=tuple(t.inherits),
            policies=_by_name(policies[t.schema, t.name]),
        )
        for t in _rows(conn, "tables", _TableRow, params)
        if t.name not in excluded
    )
    views = tuple(
        View(
            schema=v.schema,
            name=v.name,
            kind=v.kind,
            definition=unqualify_single_relation_view(v.definition) if major < 16 else v.definition,
            options=tuple(v.options),
            populated=v.populated,
            columns=tuple(columns[v.schema, v.name]),
            indexes=_by_name(indexes[v.schema, v.name]),
            triggers=_by_name(triggers[v.schema, v.name]),
        )
        for v in _rows(conn, "views", _ViewRow, params)
    )
    enums = tuple(EnumType(e.schema, e.name, tuple(e.labels)) for e in _rows(conn, "enums", _EnumRow, params))
    sequence_rows = _rows(conn, "sequences", _SequenceRow, params)
    values = _sequence_values(conn, [s for s in sequence_rows if s.readable])
    sequences = tuple(
        DbSequence(
            schema=s.schema,
            name=s.name,
            data_type=s.data_type,
            start=s.start_value,
            increment=s.increment,
            min_value=s.min_value,
            max_value=s.max_value,
            cache=s.cache,
            cycle=s.cycle,
            owned_by=s.owned_by,
            identity=s.identity,
            last_value=values[s.schema, s.name].last_value if (s.schema, s.name) in values else None,
            is_called=values[s.schema, s.name].is_called if (s.schema, s.name) in values else None,
        )
        for s in sequence_rows
    )
    functions = tuple(
        Function(
            f.schema,
            f.name,
            f.kind,
            f.arguments,
            f.result,
            f.language,
            f.volatility,
            f.strict,
            f.security_definer,
            tuple(f.config),
            f.body_sha256,
        )
        for f in _rows(conn, "functions", _FunctionRow, params)
    )
    domain_constraints: dict[tuple[str, str], list[DomainConstraint]] = defaultdict(list)
    for dk in _rows(conn, "domain_constraints", _DomainConstraintRow, params):
        domain_constraints[dk.schema, dk.domain].append(DomainConstraint(dk.name, dk.definition, dk.validated))
    domains = tuple(
        Domain(
            d.schema,
            d.name,
            d.type,
            d.not_null,
            d.default_value,
            d.collation,
            _by_name(domain_constraints[d.schema, d.name]),
        )
        for d in _rows(conn, "domains", _DomainRow, params)
    )
    composite_types = tuple(
        CompositeType(
            c.schema,
            c.name,
            tuple(
                CompositeAttribute(name, type_, collation)
                for name, type_, collation in zip(
                    c.attribute_names, c.attribute_types, c.attribute_collations, strict=True
                )
            ),
        )
        for c in _rows(conn, "composite_types", _CompositeTypeRow, params)
    )
    extensions = tuple(Extension(e.name, e.version, e.schema) for e in _rows(conn, "extensions", Extension, {}))
    return Snapshot(
        schemas=schemas,
        extensions=tuple(sorted(extensions, key=lambda e: e.name)),
        enums=tuple(sorted(enums, key=_schema_name)),
        tables=tuple(sorted(tables, key=_schema_name)),
        views=tuple(sorted(views, key=_schema_name)),
        sequences=tuple(sorted(sequences, key=_schema_name)),
        functions=tuple(sorted(functions, key=lambda f: (f.schema, f.name, f.arguments))),
        domains=tuple(sorted(domains, key=_schema_name)),
        composite_types=tuple(sorted(composite_types, key=_schema_name)),
    )


_Named = TypeVar("_Named", Constraint, Index, Trigger, Policy, DomainConstraint)


def _by_name(items: Iterable[_Named]) -> tuple[_Named, ...]:
    return tuple(sorted(items, key=lambda item: item.name))


def _schema_name(item: Table | View | EnumType | DbSequence | Domain | CompositeType) -> tuple[str, str]:
    return (item.schema, item.name)


def _sequence_values(
    conn: psycopg.Connection[Any], sequences: Seq[_SequenceRow]
) -> dict[tuple[str, str], _SequenceValueRow]:
    """last_value and is_called of each sequence: one UNION ALL over the sequence relations."""
    if not sequences:
        return {}
    query = sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT {}::text AS schema, {}::text AS name, last_value, is_called FROM {}.{}").format(
            sql.Literal(s.schema), sql.Literal(s.name), sql.Identifier(s.schema), sql.Identifier(s.name)
        )
        for s in sequences
    )
    with conn.cursor(row_factory=class_row(_SequenceValueRow)) as cur:
        cur.execute(query)
        return {(v.schema, v.name): v for v in cur.fetchall()}


# ---------------------------------------------------------------------------------------------
# JSON


def snapshot_to_dict(snapshot: Snapshot) -> dict[str, Any]:
    """The snapshot as plain dicts and lists, keys in field order, preceded by format and version."""
    plain = _plain(snapshot)
    assert isinstance(plain, dict)
    return {"format": SNAPSHOT_FORMAT, "version": SNAPSHOT_VERSION, **plain}


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


def snapshot_to_json(snapshot: Snapshot, *, pretty: bool = True) -> str:
    """The JSON document of ``snapshot`` (no trailing newline); equal snapshots give equal text."""
    document = snapshot_to_dict(snapshot)
    if pretty:
        return json.dumps(document, indent=2, ensure_ascii=False)
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def snapshot_from_dict(document: Any) -> Snapshot:
    """The snapshot of a document made by :func:`snapshot_to_dict` (this format version or an older
    one); ValueError naming what is wrong."""
    if not isinstance(document, dict) or document.get("format") != SNAPSHOT_FORMAT:
        raise ValueError(f'it has no "format": "{SNAPSHOT_FORMAT}" member')
    version = document.get("version")
    if version not in (1, SNAPSHOT_VERSION) or isinstance(version, bool):
        raise ValueError(f"its format version is {version!r}, not 1 or {SNAPSHOT_VERSION}")
    body = {k: v for k, v in document.items() if k not in ("format", "version")}
    optional = _ADDED_IN_VERSION_2 if version == 1 else {}
    snapshot = _load(Snapshot, body, "snapshot", optional)
    assert isinstance(snapshot, Snapshot)
    return snapshot


def as_version_1(snapshot: Snapshot) -> Snapshot:
    """``snapshot`` without what format version 1 did not record (domains, composite types, tables'
    row-level security, policies and plain inheritance): for comparing with a version 1 file."""
    tables = tuple(
        replace(t, row_security=False, force_row_security=False, inherits=(), policies=()) for t in snapshot.tables
    )
    return replace(snapshot, tables=tables, domains=(), composite_types=())


def read_snapshot(path: Path) -> Snapshot:
    """Read a snapshot file written by ``safemigrate snapshot --format json``."""
    return read_snapshot_document(path)[0]


def read_snapshot_document(path: Path) -> tuple[Snapshot, int]:
    """Read a snapshot file: the snapshot and the format version it was written in."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise SnapshotFileError(f"{path} does not exist.", "Pass a file written by `safemigrate snapshot`.") from err
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else "it is not UTF-8 text"
        raise SnapshotFileError(f"Cannot read {path}: {reason}.", "Check the file.") from err
    try:
        document = json.loads(text)
        return snapshot_from_dict(document), int(document["version"])
    except json.JSONDecodeError as err:
        raise SnapshotFileError(
            f"{path} is not JSON (line {err.lineno}, column {err.colno}: {err.msg}).",
            "Pass a file written by `safemigrate snapshot --format json`.",
        ) from err
    except ValueError as err:
        raise SnapshotFileError(
            f"{path} is not a safemigrate snapshot: {err}.",
            "Pass a file written by `safemigrate snapshot --format json`.",
        ) from err


def _load(tp: Any, value: Any, where: str, optional: Mapping[str, Seq[str]]) -> Any:
    """Rebuild a value of type ``tp`` from JSON, strictly (no missing, extra or mistyped member),
    except that the members ``optional`` names per class name may be missing (they take their default)."""
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if value is None:
            return None
        (tp,) = args
        origin = get_origin(tp)
    if origin is tuple:
        if not isinstance(value, list):
            raise ValueError(f"{where} should be a list")
        (item_type, _) = get_args(tp)
        return tuple(_load(item_type, item, f"{where}[{i}]", optional) for i, item in enumerate(value))
    if isinstance(tp, type) and is_dataclass(tp):
        if not isinstance(value, dict):
            raise ValueError(f"{where} should be an object")
        may_lack = optional.get(tp.__name__, ())
        names = [f.name for f in fields(tp) if f.name in value or f.name not in may_lack]
        missing = [n for n in names if n not in value]
        extra = sorted(set(value) - {f.name for f in fields(tp)})
        if missing or extra:
            problem = f"lacks {', '.join(missing)}" if missing else f"has unknown {', '.join(extra)}"
            raise ValueError(f"{where} {problem}")
        hints = get_type_hints(tp)
        return tp(**{n: _load(hints[n], value[n], f"{where}.{n}", optional) for n in names})
    expected = {str: (str,), int: (int,), bool: (bool,)}[tp]
    if not isinstance(value, expected) or (tp is int and isinstance(value, bool)):
        raise ValueError(f"{where} should be {tp.__name__}")
    return value
