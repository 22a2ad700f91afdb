"""``safemigrate recover``: get a database out of Prisma's failed state (P3009) after a plain
`prisma migrate deploy` failed half-way.

Prisma runs a migration's statements one after the other; when one fails, the ones before it stay
applied and the migration's row is left failed, so no later deploy runs. ``recover`` reads the
failed migration's statements and asks the catalog, statement by statement, whether each took
effect (a created table exists, an added column exists, a renamed column has its new name...).
Statements run in order, so the first one that certainly did not take effect is where it stopped.

- Nothing took effect: the row is marked rolled back (what `prisma migrate resolve --rolled-back`
  does), and the next deploy runs the migration again.
- Some statements took effect and each can be undone from the catalog alone (drop what was
  created, rename back, drop a NOT NULL that was set...): they are undone in reverse order and the
  row is marked rolled back, in one transaction.
- A statement that took effect and cannot be undone without data (a dropped column, an UPDATE) is
  named, and nothing is changed: restore from a backup, or finish the migration by hand and mark it
  applied (`prisma migrate resolve --applied`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from safemigrate.db import load_sql
from safemigrate.errors import InputError, MigrationHistoryError
from safemigrate.sql import model as m


@dataclass(frozen=True)
class StatementEffect:
    line: int
    text: str  # first line
    took_effect: bool | None  # None: the catalog cannot tell
    undo: tuple[sql.Composed, ...] | None  # None: cannot be undone from the catalog
    note: str = ""


@dataclass(frozen=True)
class Diagnosis:
    migration: str
    logs: str
    effects: tuple[StatementEffect, ...]
    stopped_at: int | None  # index of the first statement that did not take effect; None = all did
    applied: tuple[StatementEffect, ...]  # what took effect (before stopped_at)
    blocker: StatementEffect | None  # an applied statement that cannot be undone, or cannot be told

    @property
    def nothing_applied(self) -> bool:
        return not self.applied


@dataclass(frozen=True)
class Recovery:
    migration: str
    undone: int  # statements undone
    marked: tuple[str, ...]  # row ids marked rolled back


class _Catalog:
    """Existence questions about the schema (``db/sql/recover_exists.sql``)."""

    def __init__(self, conn: psycopg.Connection[Any], schema: str) -> None:
        self.conn = conn
        self.schema = schema

    def _ask(self, kind: str, name: m.Name | None, detail: str | None = None) -> bool:
        qualified = self.qualified(name) if name is not None else None
        row = self.conn.execute(
            load_sql("recover_exists"), {"kind": kind, "name": qualified, "detail": detail}
        ).fetchone()
        return bool(row and row[0])

    def qualified(self, name: m.Name) -> str:
        return sql.Identifier(name.schema or self.schema, name.name).as_string(self.conn)

    def table(self, name: m.Name) -> bool:
        return self._ask("table", name)

    def column(self, table: m.Name, column: str) -> bool:
        return self._ask("column", table, column)

    def not_null(self, table: m.Name, column: str) -> bool:
        return self._ask("not_null", table, column)

    def constraint(self, table: m.Name, name: str) -> bool:
        return self._ask("constraint", table, name)

    def type(self, name: m.Name) -> bool:
        return self._ask("type", name)

    def label(self, name: m.Name, value: str) -> bool:
        return self._ask("label", name, value)

    def extension(self, name: str) -> bool:
        return self._ask("extension", None, name)


def _ident(name: m.Name, schema: str) -> sql.Identifier:
    return sql.Identifier(name.schema or schema, name.name)


def _action(cat: _Catalog, table: m.Name, action: Any, schema: str) -> tuple[bool | None, sql.Composed | None]:
    t = _ident(table, schema)
    if isinstance(action, m.AddColumn):
        return cat.column(table, action.column.name), sql.SQL("ALTER TABLE {} DROP COLUMN {}").format(
            t, sql.Identifier(action.column.name)
        )
    if isinstance(action, m.DropColumn):
        return (not cat.column(table, action.column)), None
    if isinstance(action, m.SetNotNull):
        return cat.not_null(table, action.column), sql.SQL("ALTER TABLE {} ALTER COLUMN {} DROP NOT NULL").format(
            t, sql.Identifier(action.column)
        )
    if isinstance(action, m.DropNotNull):
        return (not cat.not_null(table, action.column)), sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET NOT NULL").format(
            t, sql.Identifier(action.column)
        )
    if isinstance(action, m.AddConstraint) and action.constraint.name:
        return cat.constraint(table, action.constraint.name), sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
            t, sql.Identifier(action.constraint.name)
        )
    if isinstance(action, m.DropConstraint):
        return (not cat.constraint(table, action.name)), None
    if isinstance(action, m.RenameColumn):
        moved = cat.column(table, action.new) and not cat.column(table, action.old)
        return moved, sql.SQL("ALTER TABLE {} RENAME COLUMN {} TO {}").format(
            t, sql.Identifier(action.new), sql.Identifier(action.old)
        )
    if isinstance(action, m.RenameTable):
        new = m.Name(action.new, table.schema)
        moved = cat.table(new) and not cat.table(table)
        return moved, sql.SQL("ALTER TABLE {} RENAME TO {}").format(_ident(new, schema), sql.Identifier(table.name))
    return None, None


def _effect(cat: _Catalog, statement: m.Statement, schema: str) -> StatementEffect | None:
    """None for statements with no lasting effect (SET, BEGIN/COMMIT, comments)."""
    s = statement.summary
    head = statement.text.strip().splitlines()[0][:100] if statement.text.strip() else ""

    def effect(took: bool | None, undo: Sequence[sql.Composed] | None, note: str = "") -> StatementEffect:
        return StatementEffect(statement.line, head, took, tuple(undo) if undo is not None else None, note)

    if isinstance(s, (m.SetSetting, m.TransactionControl, m.Harmless)):
        return None
    if isinstance(s, m.CreateTable):
        return effect(cat.table(s.table), [sql.SQL("DROP TABLE {}").format(_ident(s.table, schema))])
    if isinstance(s, m.AlterTable):
        results = [_action(cat, s.table, a, schema) for a in s.actions]
        known = [took for took, _ in results if took is not None]
        took = None if not known else any(known)  # one statement: all its actions or none
        undos = [undo for _, undo in results]
        return effect(took, None if any(u is None for u in undos) else [u for u in reversed(undos) if u])
    if isinstance(s, m.CreateIndex) and s.name is not None:
        exists = cat.table(m.Name(s.name.name, s.name.schema or s.table.schema))
        return effect(exists, [sql.SQL("DROP INDEX {}").format(_ident(m.Name(s.name.name, s.table.schema), schema))])
    if isinstance(s, m.DropIndex):
        gone = not any(cat.table(n) for n in s.names)
        return effect(gone, None, "a dropped index is rebuilt by running the migration again")
    if isinstance(s, m.CreateEnum):
        return effect(cat.type(s.name), [sql.SQL("DROP TYPE {}").format(_ident(s.name, schema))])
    if isinstance(s, m.AlterEnumAddValue):
        return effect(cat.label(s.name, s.value), None, "PostgreSQL cannot remove an enum value")
    if isinstance(s, m.RenameType):
        new = m.Name(s.new, s.name.schema)
        return effect(
            cat.type(new) and not cat.type(s.name),
            [sql.SQL("ALTER TYPE {} RENAME TO {}").format(_ident(new, schema), sql.Identifier(s.name.name))],
        )
    if isinstance(s, m.CreateExtension):
        return effect(cat.extension(s.name), [sql.SQL("DROP EXTENSION {}").format(sql.Identifier(s.name))])
    if isinstance(s, m.DropObjects):
        kinds = {"table": cat.table, "type": cat.type}
        check = kinds.get(s.kind)
        dropped: bool | None = None if check is None else not any(check(n) for n in s.names)
        return effect(dropped, None, "what was dropped can only come back from a backup")
    return effect(None, None, "the catalog cannot tell whether it ran (data or code)")


def diagnose(conn: psycopg.Connection[Any], schema: str, name: str, script: bytes, logs: str) -> Diagnosis:
    from safemigrate.lint.reader import parse_source

    cat = _Catalog(conn, schema)
    effects = [e for e in (_effect(cat, s, schema) for s in parse_source(script).statements) if e is not None]
    stopped = next((i for i, e in enumerate(effects) if e.took_effect is False), None)
    applied = effects if stopped is None else effects[:stopped]
    blocker = next((e for e in applied if e.took_effect is None or e.undo is None), None)
    code = _sqlstate(logs)
    if code in _ALREADY_THERE or (stopped is None and effects):
        # The failing statement met an object that was already there (or every statement looks done):
        # what the catalog shows may predate the migration, so undoing it could drop someone's data.
        last = applied[-1] if applied else effects[-1]
        why = f"failed with {code} (already exists)" if code in _ALREADY_THERE else "every statement looks applied"
        blocker = StatementEffect(last.line, last.text, last.took_effect, None, f"the migration {why}")
    # A statement after the stop that the catalog says did take effect contradicts the order: be careful.
    if stopped is not None and any(e.took_effect for e in effects[stopped + 1 :]):
        later = next(e for e in effects[stopped + 1 :] if e.took_effect)
        blocker = StatementEffect(later.line, later.text, True, None, "took effect after one that did not")
    return Diagnosis(name, logs, tuple(effects), stopped, tuple(applied), blocker)


# duplicate table, column, object, schema, function: the object existed before the statement ran
_ALREADY_THERE = frozenset({"42P07", "42701", "42710", "42P06", "42723"})


def _sqlstate(logs: str) -> str:
    """The SQLSTATE Prisma wrote in the failed row's logs ("Database error code: 42P07")."""
    import re

    match = re.search(r"(?:Database error code|SQLSTATE|code):?\s*([0-9A-Z]{5})\b", logs)
    return match.group(1) if match else ""


def recover(
    project_dir: Path = Path("."),
    *,
    database_url: str | None = None,
    schema_path: Path | None = None,
    migrations_dir: Path | None = None,
    config_file: Path | None = None,
    confirm: Callable[[Diagnosis], bool] | None = None,
) -> tuple[Diagnosis, Recovery | None]:
    """Diagnose the failed migration; with ``confirm`` returning True, undo what took effect and mark
    it rolled back (one transaction). Returns the diagnosis and, when acted, what was done."""
    from safemigrate.config import load_config
    from safemigrate.db.connect import connect, database_errors
    from safemigrate.db.datasource import resolve_database_url
    from safemigrate.db.lock import migration_lock
    from safemigrate.db.prisma_migrations import read_migration_rows, record_migration_rolled_back
    from safemigrate.lint.registry import rule_names
    from safemigrate.migrations import list_migrations
    from safemigrate.project import discover_project

    config = load_config(project_dir, config_file, rule_names())
    project = discover_project(project_dir, schema_path, migrations_dir)
    by_name = {mig.name: mig for mig in list_migrations(project.migrations_dir)}
    url = resolve_database_url(project, database_url=database_url, for_migration=True)
    settings = config.database
    with (
        connect(url, command="recover", settings=settings) as conn,
        database_errors(url, settings),
        migration_lock(conn, timeout=settings.migrate_lock_timeout),
    ):
        failed = [row for row in read_migration_rows(conn, url.schema) if row.failed]
        if not failed:
            raise InputError("No migration is in Prisma's failed state: there is nothing to recover.")
        row = failed[-1]
        migration = by_name.get(row.migration_name)
        if migration is None:
            raise MigrationHistoryError(
                f"The failed migration {row.migration_name} is not in {project.migrations_dir}.",
                "Check out the commit that has it, then run recover again.",
            )
        diagnosis = diagnose(conn, url.schema, row.migration_name, migration.data, row.logs or "")
        if diagnosis.blocker is not None or confirm is None or not confirm(diagnosis):
            return diagnosis, None
        undone = 0
        with conn.transaction():
            for effect in reversed(diagnosis.applied):
                for statement in effect.undo or ():
                    conn.execute(statement)
                undone += 1
            marked = record_migration_rolled_back(conn, url.schema, row.migration_name)
    return diagnosis, Recovery(row.migration_name, undone, marked)
