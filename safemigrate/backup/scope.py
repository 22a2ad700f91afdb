"""The backup scope of a deploy: the tables its pending migrations touch, as they exist now.

``backup --scope-from-migrations`` backs up, before the pending migrations run:

- every table that a ``data-loss`` or ``may-fail`` finding of ``lint --pending`` names, or a
  finding of a rule that rewrites the table (:data:`REWRITE_RULES`); a ``drop-type-cascade`` (or
  ``DROP EXTENSION ... CASCADE``) names a type, so the tables with columns of that type (arrays and
  domains of it too) are read from the catalog, a ``drop-schema`` brings every table of the
  schema, and a ``drop-owned`` (``DROP OWNED BY``, which drops whatever its roles own) every table
  of the backup's schema;
- the tables whose rows a CASCADE could reach from those, read from the live catalog: the ON
  DELETE CASCADE / SET NULL / SET DEFAULT keys pointing at a table a DELETE removes rows from (on,
  transitively, through CASCADE), the ON UPDATE actions of a table an UPDATE changes (likewise),
  every referencing table of a ``TRUNCATE ... CASCADE`` (transitively) and of a ``DROP ...
  CASCADE`` (whose foreign keys go). Other statements (DROP COLUMN, SET NOT NULL, a rewrite...)
  change no row of another table, so their tables' children stay out;
- the tables inheriting from a table in scope (INHERITS children, partitions, theirs too): a
  statement on a table reaches their rows as well.

A finding names a table as it is called at its statement; names are traced back through the
pending migrations' ``ALTER TABLE ... RENAME TO`` to the table as it is called now. Only tables of
the backup's schema that exist now can be backed up: the tables the pending migrations create,
tables a finding names but the database does not hold, and tables of other schemas are listed as
skipped, with the reason. Statements the linter could not read are listed too: the scope cannot
see what they touch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import class_row

from safemigrate.backup.ddl import partitioned_tables, schema_tables
from safemigrate.db import load_sql
from safemigrate.db.inheritance import descendants
from safemigrate.db.prisma_migrations import MIGRATIONS_TABLE
from safemigrate.lint.findings import Finding
from safemigrate.lint.reader import parse_source
from safemigrate.lint.rule import Category
from safemigrate.migrations import Migration
from safemigrate.sql import model as m

# Rules (category `lock`) whose statement rewrites every row of the table: a failure half-way or a
# wrong cast is worth a copy taken before.
REWRITE_RULES = frozenset(
    {"type-change-rewrite", "volatile-default", "add-serial-identity", "set-logged-unlogged", "cluster", "vacuum-full"}
)
SCOPED_CATEGORIES = frozenset({Category.DATA_LOSS, Category.MAY_FAIL})
# Rules that name something other than a table's rows: no table to back up for them.
_NOT_TABLE_RULES = frozenset({"drop-materialized-view", "drop-sequence"})
# Rules whose statement may drop every table of a schema: the backup takes them all, saying why.
_SCHEMA_RULES = {"drop-schema": "drops schema {schema}", "drop-owned": "DROP OWNED BY drops the tables its roles own"}
# `unchecked` rules about statements (or files) the linter could not read.
_UNREAD_RULES = frozenset({"unparsed-statement", "procedural-code", "unreadable-file"})

_ACTIONS = {"c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}

_Key = tuple[str, str]  # (schema, table) as the findings and the catalog spell them


PARTITIONED_REASON = "a partitioned table or a partition: backups do not hold them yet"


@dataclass(frozen=True)
class SkippedTable:
    name: str  # in the backup's schema: the table name; elsewhere "schema.table"
    reason: str

    @property
    def partitioned(self) -> bool:
        """A partitioned table or a partition the statements put at risk: it exists, and backups
        cannot hold it yet (migrate refuses rather than change it unbacked-up)."""
        return self.reason == PARTITIONED_REASON


@dataclass(frozen=True)
class BackupScope:
    schema: str  # the backup's schema (the URL's ?schema=)
    tables: tuple[str, ...]  # existing tables of ``schema`` to back up, by name
    reasons: Mapping[str, tuple[str, ...]]  # per table: the findings or foreign keys that put it in scope
    migrations: tuple[str, ...]  # the pending migrations, in deploy order
    skipped: tuple[SkippedTable, ...] = ()  # named or created by them, but nothing to back up now
    unread: tuple[str, ...] = ()  # statements the linter could not read: what they touch is not in scope

    @property
    def empty(self) -> bool:
        return not self.tables


@dataclass(frozen=True)
class ForeignKeyEdge:
    table_schema: str
    table_name: str
    referenced_schema: str
    referenced_name: str
    on_delete: str
    on_update: str
    name: str


@dataclass(frozen=True)
class TypeColumn:
    table_schema: str
    table_name: str
    column_name: str
    type_name: str


def read_foreign_keys(conn: psycopg.Connection[Any]) -> list[ForeignKeyEdge]:
    with conn.cursor(row_factory=class_row(ForeignKeyEdge)) as cur:
        return cur.execute(load_sql("backup_scope_foreign_keys")).fetchall()


def read_type_columns(
    conn: psycopg.Connection[Any], types: Iterable[_Key], extensions: Iterable[str]
) -> list[TypeColumn]:
    """The columns holding values of the given types, or of the types the given extensions define."""
    pairs = sorted(set(types))
    params = {
        "type_schemas": [schema for schema, _ in pairs],
        "type_names": [name for _, name in pairs],
        "extensions": sorted(set(extensions)),
    }
    with conn.cursor(row_factory=class_row(TypeColumn)) as cur:
        return cur.execute(load_sql("backup_scope_type_columns"), params).fetchall()


# --- Names: from a pending statement's point of view back to today's tables -------------------------


@dataclass(frozen=True)
class _Created:
    migration: str
    if_not_exists: bool


_Origin = _Key | _Created  # today's table, or the pending migration that creates it


class _PendingStatements:
    """The pending migrations read once: each statement's summary, and what the table names valid
    before it stand for today (renames folded forward, tables created on the way)."""

    def __init__(self, pending: Sequence[Migration], default_schema: str) -> None:
        self.default_schema = default_schema
        self.summaries: dict[tuple[str, int], m.Summary] = {}
        self._names_before: dict[tuple[str, int], Mapping[_Key, _Origin]] = {}
        self.created: dict[_Key, _Created] = {}  # tables the pending migrations create (first creation)
        names: Mapping[_Key, _Origin] = {}
        for migration in pending:
            for statement in parse_source(migration.data).statements:
                position = (migration.name, statement.index)
                self.summaries[position] = statement.summary
                self._names_before[position] = names
                names = self._fold(names, statement.summary, migration.name)

    def key(self, name: m.Name) -> _Key:
        return (name.schema or self.default_schema, name.name)

    def _fold(self, names: Mapping[_Key, _Origin], summary: m.Summary, migration: str) -> Mapping[_Key, _Origin]:
        """The names after ``summary`` (a new mapping when it changes them: earlier positions keep theirs)."""
        if isinstance(summary, m.CreateTable):
            key = self.key(summary.table)
            created = _Created(migration, summary.if_not_exists)
            self.created.setdefault(key, created)
            return {**names, key: created}
        if isinstance(summary, m.AlterTable):
            new_names = [a.new for a in summary.actions if isinstance(a, m.RenameTable)]
            if new_names:
                old = self.key(summary.table)
                renamed = dict(names)
                origin = renamed.pop(old, old)
                renamed[(old[0], new_names[-1])] = origin
                return renamed
        return names

    def origin(self, finding: Finding, key: _Key) -> _Origin:
        """What ``key``, named by ``finding`` at its statement, is today."""
        if finding.statement_index is None:
            return key
        return self._names_before.get((finding.migration, finding.statement_index), {}).get(key, key)

    def summary(self, finding: Finding) -> m.Summary | None:
        if finding.statement_index is None:
            return None
        return self.summaries.get((finding.migration, finding.statement_index))


# --- What each finding touches ------------------------------------------------------------------------

_DIRECT = "direct"  # the named table itself
_REFERENCING = "referencing"  # and the tables whose foreign keys to it a DROP ... CASCADE drops
_TRUNCATED = "truncated"  # and every table referencing it, transitively (TRUNCATE ... CASCADE)
_UPDATED = "updated"  # and the tables its ON UPDATE actions reach
_DELETED = "deleted"  # and the tables its ON DELETE actions reach


@dataclass(frozen=True)
class _Touch:
    table: _Key  # as named at the finding's statement
    how: str = _DIRECT


@dataclass
class _Collector:
    """Tables in scope with their reasons, and the skipped ones, in the order they were found."""

    schema: str
    live: frozenset[str]
    partitioned: frozenset[str] = frozenset()  # partitioned tables and partitions of the schema
    reasons: dict[str, list[str]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def add(self, key: _Key, reason: str) -> bool:
        """Put ``key`` in scope; False (and noted as skipped) when it cannot be backed up."""
        schema, name = key
        if schema != self.schema:
            self.skipped.setdefault(f"{schema}.{name}", f"in schema {schema}; backups hold schema {self.schema}")
            return False
        if name in self.partitioned:
            self.skipped.setdefault(name, PARTITIONED_REASON)
            return False
        if name not in self.live:
            self.skipped.setdefault(name, "not in the database")
            return False
        listed = self.reasons.setdefault(name, [])
        if reason not in listed:
            listed.append(reason)
        return True


def _finding_reason(finding: Finding) -> str:
    column = f", column {finding.object.column}" if finding.object.column else ""
    return f"{finding.migration}: {finding.rule} ({finding.category.value}{column})"


def _is_scoped(finding: Finding) -> bool:
    return finding.category in SCOPED_CATEGORIES or finding.rule in REWRITE_RULES


def _touches(finding: Finding, pending: _PendingStatements) -> Iterator[_Touch]:
    """The tables ``finding`` names (as named at its statement), with how their rows are reached.

    Types, extensions and schemas are not tables: :func:`_named_types` and :func:`_named_schemas`
    handle the findings about them."""
    ref = finding.object
    if finding.rule in _NOT_TABLE_RULES or finding.rule in ("drop-type-cascade", *_SCHEMA_RULES) or not ref.table:
        return
    if finding.rule == "sequence-reset" and not ref.column:
        return  # the sequence of no known table: no rows to back up (with its table, a rollback resets it)
    key = (ref.schema or pending.default_schema, ref.table)
    how = _DIRECT
    if finding.rule == "update":
        how = _UPDATED
    elif finding.rule == "delete":
        how = _DELETED
    elif finding.rule == "cascade":
        summary = pending.summary(finding)
        if isinstance(summary, m.Truncate):
            how = _TRUNCATED
        elif isinstance(summary, m.DropObjects):
            if summary.kind not in ("table", "foreign table"):
                return  # views, sequences, functions: no rows (an extension's types: _named_types)
            how = _REFERENCING
        else:  # DROP COLUMN / CONSTRAINT / INDEX ... CASCADE drops the foreign keys depending on them
            how = _REFERENCING
    yield _Touch(key, how)


def _named_types(finding: Finding, pending: _PendingStatements) -> tuple[list[_Key], list[str]]:
    """The types (schema, name) and extensions whose columns a CASCADE drop of ``finding`` removes."""
    ref = finding.object
    if finding.rule == "drop-type-cascade" and ref.table:
        return [(ref.schema or pending.default_schema, ref.table)], []
    if finding.rule == "cascade":
        summary = pending.summary(finding)
        if isinstance(summary, m.DropObjects) and summary.kind == "extension" and ref.table:
            return [], [ref.table]
    return [], []


def _add_descendants(
    conn: psycopg.Connection[Any], schema: str, collector: _Collector, touched: list[tuple[_Key, str]]
) -> None:
    """The tables inheriting from a table in scope (INHERITS children, partitions, theirs too): what a
    statement does to a table (DROP COLUMN, UPDATE, DELETE, TRUNCATE) it does to their rows too. One in
    another schema cannot be backed up: it is listed as skipped, as any table of another schema."""
    below = descendants(conn, schema)
    for key, how in list(touched):
        for child in below.get(key[1], []) if key[0] == schema else []:
            if collector.add(child, f"inherits from {key[1]}: what reaches {key[1]} reaches its rows"):
                touched.append((child, how))


def _live_key(key: _Key, schema: str, default_schema: str) -> _Key:
    """Unqualified names in a migration live in the URL's schema (Prisma's ?schema=)."""
    return (schema, key[1]) if key[0] == default_schema else key


# --- The scope ----------------------------------------------------------------------------------------


def scope_of(
    conn: psycopg.Connection[Any],
    *,
    schema: str,
    findings: Sequence[Finding],
    pending: Sequence[Migration],
    default_schema: str = "public",
) -> BackupScope:
    """The backup scope of ``pending`` (in deploy order) given the findings ``lint --pending`` reported
    on them, read against the database behind ``conn`` (``schema``: the backup's schema)."""
    names = tuple(migration.name for migration in pending)
    if not pending:
        return BackupScope(schema, (), {}, ())
    statements = _PendingStatements(pending, default_schema)
    collector = _Collector(
        schema,
        frozenset(schema_tables(conn, schema)),
        frozenset(p.name for p in partitioned_tables(conn, schema)),
    )
    scoped = [f for f in findings if _is_scoped(f)]
    unread = tuple(
        f"{f.migration}: line {f.line}"
        for f in findings
        if f.category is Category.UNCHECKED and f.rule in _UNREAD_RULES
    )

    def live(key: _Key) -> _Key:
        return _live_key(key, schema, default_schema)

    def is_kept(key: _Key, created: _Created) -> bool:
        """CREATE TABLE IF NOT EXISTS of a table the database holds leaves that table (and its rows) alone."""
        today = live(key)
        return created.if_not_exists and today[0] == schema and today[1] in collector.live

    created_skips: dict[str, str] = {}
    touched: list[tuple[_Key, str]] = []  # (today's table, how its rows are reached)
    for finding in scoped:
        reason = _finding_reason(finding)
        for touch in _touches(finding, statements):
            origin = statements.origin(finding, touch.table)
            if isinstance(origin, _Created):
                if not is_kept(touch.table, origin):
                    created_skips[live(touch.table)[1]] = f"created by pending migration {origin.migration}"
                    continue
                origin = touch.table
            today = live(origin)
            renamed = f" (named {touch.table[1]} there)" if origin[1] != touch.table[1] else ""
            if collector.add(today, reason + renamed):
                touched.append((today, touch.how))
        for schema_name in _named_schemas(finding, schema):  # DROP SCHEMA always names its schema
            if schema_name != schema:
                collector.skipped.setdefault(f"{schema_name}.*", f"in schema {schema_name}; backups hold {schema}")
                continue
            what = _SCHEMA_RULES[finding.rule].format(schema=schema_name)
            for table in sorted(collector.live - {MIGRATIONS_TABLE}):  # Prisma's ledger is not user data
                if collector.add((schema, table), f"{reason}: {what}"):
                    touched.append(((schema, table), _DIRECT))

    _add_type_columns(conn, scoped, statements, collector, touched, live)
    _add_descendants(conn, schema, collector, touched)
    _follow_foreign_keys(read_foreign_keys(conn), collector, touched)

    for key, created in statements.created.items():  # said even when no finding names them
        today = live(key)
        if today[0] == schema and not is_kept(key, created):
            created_skips.setdefault(today[1], f"created by pending migration {created.migration}")
    for table, reason in created_skips.items():
        collector.skipped[table] = reason  # more precise than "not in the database"
    tables = tuple(sorted(collector.reasons))
    skipped = tuple(
        SkippedTable(name, reason)
        for name, reason in sorted(collector.skipped.items())
        if name not in collector.reasons
    )
    return BackupScope(
        schema,
        tables,
        {table: tuple(collector.reasons[table]) for table in tables},
        names,
        skipped,
        unread,
    )


def _named_schemas(finding: Finding, backup_schema: str) -> list[str]:
    """The schemas every table of which a finding reaches: DROP SCHEMA's; DROP OWNED BY may drop any
    table of the database (those its roles own), so every table of the backup's schema."""
    if finding.rule == "drop-owned":
        return [backup_schema]
    if finding.rule == "drop-schema" and finding.object.schema:
        return [finding.object.schema]
    return []


def _add_type_columns(
    conn: psycopg.Connection[Any],
    findings: Sequence[Finding],
    statements: _PendingStatements,
    collector: _Collector,
    touched: list[tuple[_Key, str]],
    live: Callable[[_Key], _Key],
) -> None:
    """Tables with columns of a type (or of an extension's types) a finding drops with CASCADE."""
    for finding in findings:
        types, extensions = _named_types(finding, statements)
        if not types and not extensions:
            continue
        for column in read_type_columns(conn, [live(t) for t in types], extensions):
            key = (column.table_schema, column.table_name)
            reason = f"{_finding_reason(finding)}: drops column {column.column_name} ({column.type_name})"
            if collector.add(key, reason):
                touched.append((key, _DIRECT))


def _follow_foreign_keys(
    edges: Sequence[ForeignKeyEdge], collector: _Collector, touched: list[tuple[_Key, str]]
) -> None:
    """Add the tables whose rows a foreign-key action (or a CASCADE) reaches from the scoped tables."""
    referencing: dict[_Key, list[ForeignKeyEdge]] = {}
    for edge in edges:
        referencing.setdefault((edge.referenced_schema, edge.referenced_name), []).append(edge)

    def parent_name(edge: ForeignKeyEdge) -> str:
        return (
            edge.referenced_name
            if edge.referenced_schema == collector.schema
            else (f"{edge.referenced_schema}.{edge.referenced_name}")
        )

    def walk(starts: Iterable[_Key], step: Callable[[ForeignKeyEdge], tuple[str, bool] | None]) -> None:
        """Breadth-first from ``starts``; ``step(edge)`` returns (reason, go on) or None to stop."""
        queue = list(dict.fromkeys(starts))
        seen = set(queue)
        while queue:
            parent = queue.pop(0)
            for edge in referencing.get(parent, ()):
                followed = step(edge)
                if followed is None:
                    continue
                reason, onward = followed
                child = (edge.table_schema, edge.table_name)
                collector.add(child, reason)
                if onward and child not in seen:
                    seen.add(child)
                    queue.append(child)

    def truncated(edge: ForeignKeyEdge) -> tuple[str, bool]:
        return f"TRUNCATE ... CASCADE of {parent_name(edge)} empties it ({edge.name})", True

    def foreign_key_dropped(edge: ForeignKeyEdge) -> tuple[str, bool]:
        return f"its foreign key {edge.name} to {parent_name(edge)} is dropped by CASCADE", False

    def on_update(edge: ForeignKeyEdge) -> tuple[str, bool] | None:
        if edge.on_update not in _ACTIONS:
            return None
        return f"ON UPDATE {_ACTIONS[edge.on_update]} from {parent_name(edge)} ({edge.name})", edge.on_update == "c"

    def on_delete(edge: ForeignKeyEdge) -> tuple[str, bool] | None:
        if edge.on_delete not in _ACTIONS:
            return None
        return f"ON DELETE {_ACTIONS[edge.on_delete]} from {parent_name(edge)} ({edge.name})", edge.on_delete == "c"

    walk((k for k, how in touched if how == _TRUNCATED), truncated)
    walk((k for k, how in touched if how == _REFERENCING), foreign_key_dropped)
    walk((k for k, how in touched if how == _UPDATED), on_update)
    walk((k for k, how in touched if how == _DELETED), on_delete)


def backup_scope(
    project_dir: Path = Path("."),
    *,
    database_url: str | None = None,
    schema_path: Path | None = None,
    migrations_dir: Path | None = None,
    config_file: Path | None = None,
) -> BackupScope:
    """``backup --scope-from-migrations``: the scope of the project's pending migrations in its database."""
    # Lazy: the api layer sits above backup; `lint --pending` is the one way to get the findings.
    from safemigrate.api import lint
    from safemigrate.backup.project import project_url
    from safemigrate.db.connect import connect, database_errors
    from safemigrate.migrations import list_migrations
    from safemigrate.project import discover_project

    outcome = lint(
        project_dir=project_dir,
        schema=schema_path,
        migrations_dir=migrations_dir,
        config_file=config_file,
        pending=True,
        database_url=database_url,
        every_rule=True,
    )
    url = project_url(project_dir, database_url=database_url, schema_path=schema_path)
    pending_names = {report.migration for report in outcome.result.files}
    if not pending_names:
        return BackupScope(url.schema, (), {}, ())
    project = discover_project(project_dir, schema_path, migrations_dir)
    pending = [m for m in list_migrations(project.migrations_dir) if m.name in pending_names]
    settings = outcome.config.database
    with connect(url, command="backup", settings=settings) as conn, database_errors(url, settings):
        return scope_of(
            conn,
            schema=url.schema,
            findings=outcome.result.findings,
            pending=pending,
            default_schema=url.schema,  # as lint --pending resolved unqualified names
        )
