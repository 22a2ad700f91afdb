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

What an IF NOT EXISTS statement would create and the catalog shows may be an object that was there
before the migration (the statement then kept it): "cannot tell", never dropped, unless the caller
has a snapshot from before the migration that says it was not there. A CREATE INDEX CONCURRENTLY
that failed or was interrupted leaves an invalid index: not built, so that is where it stopped, and
the index is dropped (DROP INDEX CONCURRENTLY, outside the transaction) before the rest is undone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from safemigrate.db import load_sql
from safemigrate.db.catalog.snapshot import Snapshot, Table
from safemigrate.errors import InputError, MigrationHistoryError
from safemigrate.sql import model as m


@dataclass(frozen=True)
class StatementEffect:
    line: int
    text: str  # first line
    took_effect: bool | None  # None: the catalog cannot tell
    undo: tuple[sql.Composed, ...] | None  # None: cannot be undone from the catalog; (): nothing to undo
    note: str = ""
    # Where the migration stopped at this statement: what it left half-built, dropped outside a
    # transaction (the invalid index of a failed CREATE INDEX CONCURRENTLY).
    cleanup: tuple[sql.Composed, ...] = ()
    # What an IF NOT EXISTS statement found that may predate the migration (to check by hand).
    unsure: tuple[str, ...] = ()


@dataclass(frozen=True)
class Diagnosis:
    migration: str
    logs: str
    effects: tuple[StatementEffect, ...]
    stopped_at: int | None  # index of the first statement that did not take effect; None = all did
    applied: tuple[StatementEffect, ...]  # what took effect (before stopped_at)
    blocker: StatementEffect | None  # an applied statement that cannot be undone, or cannot be told
    cleanup: tuple[sql.Composed, ...] = ()  # run first, outside a transaction: what the failing statement left

    @property
    def nothing_applied(self) -> bool:
        return not any(e.undo for e in self.applied)


@dataclass(frozen=True)
class Recovery:
    migration: str
    undone: int  # statements undone
    marked: tuple[str, ...]  # row ids marked rolled back


class _Catalog:
    """Existence questions about the schema (``db/sql/recover_exists.sql``, ``recover_index_state.sql``)."""

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

    def index_state(self, name: m.Name) -> str:
        """'missing', 'other' (not an index), 'building' (CREATE INDEX CONCURRENTLY still at it), 'invalid', 'valid'."""
        row = self.conn.execute(load_sql("recover_index_state"), {"name": self.qualified(name)}).fetchone()
        return str(row[0]) if row else "missing"


class _Before:
    """What existed before the migration began, from a snapshot the caller took then; every answer is
    None (no evidence) without one, for a schema it did not cover, and for a name the migration
    renames something to (what has that name now may be an older object under a new name)."""

    def __init__(self, snapshot: Snapshot | None, schema: str, renamed: frozenset[tuple[str, ...]]) -> None:
        self.snapshot = snapshot
        self.schema = schema
        self.renamed = renamed

    def _schema(self, name: m.Name) -> str | None:
        schema = name.schema or self.schema
        if self.snapshot is None or schema not in self.snapshot.schemas or (schema, name.name) in self.renamed:
            return None
        return schema

    def _table(self, name: m.Name) -> Table | None:
        """The table as it was; None when it was not there (or not a table) and without evidence: a
        table the migration created, or renamed to this name, has no columns to compare with."""
        schema = self._schema(name)
        if schema is None or self.snapshot is None:
            return None
        return next((t for t in self.snapshot.tables if t.schema == schema and t.name == name.name), None)

    def relation(self, name: m.Name) -> bool | None:
        """A table, view, sequence or index of that name."""
        schema = self._schema(name)
        if schema is None or self.snapshot is None:
            return None
        snap = self.snapshot
        tables = [t for t in snap.tables if t.schema == schema]
        views = [v for v in snap.views if v.schema == schema]
        names = {t.name for t in tables} | {v.name for v in views}
        names |= {i.name for t in tables for i in t.indexes} | {i.name for v in views for i in v.indexes}
        names |= {q.name for q in snap.sequences if q.schema == schema}
        return name.name in names

    def column(self, table: m.Name, column: str) -> bool | None:
        found = self._table(table)
        if found is None or (found.schema, table.name, column) in self.renamed:
            return None
        return found.column(column) is not None

    def not_null(self, table: m.Name, column: str) -> bool | None:
        found = self._table(table)
        col = found.column(column) if found is not None else None
        if found is None or col is None or (found.schema, table.name, column) in self.renamed:
            return None
        return col.not_null

    def constraint(self, table: m.Name, name: str) -> bool | None:
        found = self._table(table)
        return None if found is None else any(c.name == name for c in found.constraints)

    def type(self, name: m.Name) -> bool | None:
        schema = self._schema(name)
        if schema is None or self.snapshot is None:
            return None
        snap = self.snapshot
        kinds: tuple[tuple[Any, ...], ...] = (snap.enums, snap.domains, snap.composite_types, snap.tables, snap.views)
        return any(t.schema == schema and t.name == name.name for kind in kinds for t in kind)

    def label(self, name: m.Name, value: str) -> bool | None:
        schema = self._schema(name)
        if schema is None or self.snapshot is None:
            return None
        enum = next((e for e in self.snapshot.enums if e.schema == schema and e.name == name.name), None)
        return None if enum is None else value in enum.values

    def extension(self, name: str) -> bool | None:
        return None if self.snapshot is None else any(e.name == name for e in self.snapshot.extensions)


@dataclass(frozen=True)
class _Outcome:
    took: bool | None
    undo: tuple[sql.Composed, ...] | None
    unsure: tuple[str, ...] = ()


def _creation(
    found: bool, existed: bool | None, if_not_exists: bool, undo: Sequence[sql.Composed] | None, what: str
) -> _Outcome:
    """A statement that creates one object, which the catalog shows (``found``) or not.

    Found, it was made by the statement unless it was there before (``existed``; None: no evidence).
    An object that was there before made a plain CREATE fail (this is where the migration stopped),
    and an IF NOT EXISTS one skip it (nothing to undo). Without evidence, what an IF NOT EXISTS
    statement found may be an older object: the catalog cannot tell, and it is never dropped."""
    steps = tuple(undo) if undo is not None else None
    if not found:
        return _Outcome(False, steps)
    if existed is False:
        return _Outcome(True, steps)
    if existed:
        return _Outcome(None, ()) if if_not_exists else _Outcome(False, steps)
    if if_not_exists:
        return _Outcome(None, None, (what,))
    return _Outcome(True, steps)


def _ident(name: m.Name, schema: str) -> sql.Identifier:
    return sql.Identifier(name.schema or schema, name.name)


def _action(cat: _Catalog, before: _Before, table: m.Name, action: Any, schema: str) -> _Outcome:
    t = _ident(table, schema)
    if isinstance(action, m.AddColumn):
        column = action.column.name
        drop = sql.SQL("ALTER TABLE {} DROP COLUMN {}").format(t, sql.Identifier(column))
        what = f"column {sql.Identifier(column).as_string(cat.conn)} of {cat.qualified(table)}"
        return _creation(cat.column(table, column), before.column(table, column), action.if_not_exists, [drop], what)
    if isinstance(action, m.DropColumn):
        return _Outcome(not cat.column(table, action.column), None)
    if isinstance(action, m.SetNotNull):
        if before.not_null(table, action.column):
            return _Outcome(None, ())  # NOT NULL already: the statement changed nothing
        return _Outcome(
            cat.not_null(table, action.column),
            (sql.SQL("ALTER TABLE {} ALTER COLUMN {} DROP NOT NULL").format(t, sql.Identifier(action.column)),),
        )
    if isinstance(action, m.DropNotNull):
        if before.not_null(table, action.column) is False:
            return _Outcome(None, ())  # nullable already: the statement changed nothing
        return _Outcome(
            not cat.not_null(table, action.column),
            (sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET NOT NULL").format(t, sql.Identifier(action.column)),),
        )
    if isinstance(action, m.AddConstraint) and action.constraint.name:
        name = action.constraint.name
        drop = sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(t, sql.Identifier(name))
        # PostgreSQL has no ADD CONSTRAINT IF NOT EXISTS: one that was there before made it fail.
        return _creation(cat.constraint(table, name), before.constraint(table, name), False, [drop], name)
    if isinstance(action, m.DropConstraint):
        return _Outcome(not cat.constraint(table, action.name), None)
    if isinstance(action, m.RenameColumn):
        moved = cat.column(table, action.new) and not cat.column(table, action.old)
        return _Outcome(
            moved,
            (
                sql.SQL("ALTER TABLE {} RENAME COLUMN {} TO {}").format(
                    t, sql.Identifier(action.new), sql.Identifier(action.old)
                ),
            ),
        )
    if isinstance(action, m.RenameTable):
        new = m.Name(action.new, table.schema)
        moved = cat.table(new) and not cat.table(table)
        return _Outcome(
            moved,
            (sql.SQL("ALTER TABLE {} RENAME TO {}").format(_ident(new, schema), sql.Identifier(table.name)),),
        )
    return _Outcome(None, None)


def _alter_table(outcomes: Sequence[_Outcome]) -> _Outcome:
    """One statement: all its actions took effect or none did."""
    known = [o.took for o in outcomes if o.took is not None]
    if known and not any(known):
        return _Outcome(False, None)  # it did not run (what IF NOT EXISTS found was there before)
    unsure = tuple(what for o in outcomes for what in o.unsure)
    if unsure:
        return _Outcome(None, None, unsure)
    if any(o.undo is None for o in outcomes):
        return _Outcome(any(known) if known else None, None)
    return _Outcome(any(known) if known else None, tuple(s for o in reversed(outcomes) for s in o.undo or ()))


def _index(
    cat: _Catalog, before: _Before, s: m.CreateIndex, name: m.Name, schema: str
) -> tuple[_Outcome, str, tuple[sql.Composed, ...]]:
    """CREATE INDEX ``name``: its outcome, note and, when it left an invalid index, the DROP of it."""
    ident = _ident(name, schema)
    shown = cat.qualified(name)
    state = cat.index_state(name)
    existed = before.relation(name)
    if state == "building":
        note = (
            f"{shown} is still being built by a CREATE INDEX CONCURRENTLY: wait for it to end, then run recover again"
        )
        return _Outcome(None, None), note, ()
    if state == "other":  # a relation that is not an index: a plain CREATE INDEX failed on it, IF NOT EXISTS skipped
        return (_Outcome(None, ()) if s.if_not_exists else _Outcome(False, None)), "", ()
    if state == "invalid" and not existed:
        note = f"not built: it left an invalid index, {shown}, which recover drops with DROP INDEX CONCURRENTLY"
        drop = sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(ident)
        return _Outcome(False, None), note, (drop,)
    if state == "invalid":  # an older invalid index: not this statement's
        return (_Outcome(None, ()) if s.if_not_exists else _Outcome(False, None)), "", ()
    drop = sql.SQL("DROP INDEX {}").format(ident)
    return _creation(state == "valid", existed, s.if_not_exists, [drop], f"index {shown}"), "", ()


def _unsure_note(unsure: Sequence[str]) -> str:
    return (
        f"{', '.join(unsure)} exist{'s' if len(unsure) == 1 else ''}, but IF NOT EXISTS would also have kept "
        f"{'it' if len(unsure) == 1 else 'them'} had {'it' if len(unsure) == 1 else 'they'} been there before "
        "the migration"
    )


def _effect(cat: _Catalog, before: _Before, statement: m.Statement, schema: str) -> StatementEffect | None:
    """None for statements with no lasting effect (SET, BEGIN/COMMIT, comments)."""
    s = statement.summary
    head = statement.text.strip().splitlines()[0][:100] if statement.text.strip() else ""

    def effect(took: bool | None, undo: Sequence[sql.Composed] | None, note: str = "") -> StatementEffect:
        return StatementEffect(statement.line, head, took, tuple(undo) if undo is not None else None, note)

    def outcome(result: _Outcome, note: str = "", cleanup: tuple[sql.Composed, ...] = ()) -> StatementEffect:
        if result.unsure:
            note = _unsure_note(result.unsure)
        elif result.took is None and result.undo == ():
            note = note or "what it creates or sets was there before the migration: nothing to undo"
        return StatementEffect(statement.line, head, result.took, result.undo, note, cleanup, result.unsure)

    if isinstance(s, (m.SetSetting, m.TransactionControl, m.Harmless)):
        return None
    if isinstance(s, m.CreateTable):
        drop = sql.SQL("DROP TABLE {}").format(_ident(s.table, schema))
        found = cat.table(s.table)
        return outcome(
            _creation(found, before.relation(s.table), s.if_not_exists, [drop], f"table {cat.qualified(s.table)}")
        )
    if isinstance(s, m.AlterTable):
        return outcome(_alter_table([_action(cat, before, s.table, a, schema) for a in s.actions]))
    if isinstance(s, m.CreateIndex) and s.name is not None:
        index = m.Name(s.name.name, s.name.schema or s.table.schema)  # an index lives in its table's schema
        result, note, cleanup = _index(cat, before, s, index, schema)
        return outcome(result, note, cleanup)
    if isinstance(s, m.DropIndex):
        gone = not any(cat.table(n) for n in s.names)
        return effect(gone, None, "dropped an index, which the catalog cannot rebuild")
    if isinstance(s, m.CreateEnum):
        drop = sql.SQL("DROP TYPE {}").format(_ident(s.name, schema))
        return outcome(_creation(cat.type(s.name), before.type(s.name), False, [drop], f"type {cat.qualified(s.name)}"))
    if isinstance(s, m.AlterEnumAddValue):
        value = sql.Literal(s.value).as_string(cat.conn)
        result = _creation(
            cat.label(s.name, s.value),
            before.label(s.name, s.value),
            s.if_not_exists,
            None,
            f"value {value} of enum {cat.qualified(s.name)}",
        )
        return outcome(result, "added an enum value, which PostgreSQL cannot remove" if result.took else "")
    if isinstance(s, m.RenameType):
        new = m.Name(s.new, s.name.schema)
        return effect(
            cat.type(new) and not cat.type(s.name),
            [sql.SQL("ALTER TYPE {} RENAME TO {}").format(_ident(new, schema), sql.Identifier(s.name.name))],
        )
    if isinstance(s, m.CreateExtension):
        drop = sql.SQL("DROP EXTENSION {}").format(sql.Identifier(s.name))
        shown = sql.Identifier(s.name).as_string(cat.conn)
        # The summary does not record IF NOT EXISTS (Prisma always writes it): taken as written.
        return outcome(_creation(cat.extension(s.name), before.extension(s.name), True, [drop], f"extension {shown}"))
    if isinstance(s, m.DropObjects):
        kinds = {"table": cat.table, "type": cat.type}
        check = kinds.get(s.kind)
        dropped: bool | None = None if check is None else not any(check(n) for n in s.names)
        return effect(dropped, None, "dropped what only a backup can bring back")
    return effect(None, None, "may have changed data or code, which the catalog does not show")


def _renamed(statements: Sequence[m.Statement], schema: str) -> frozenset[tuple[str, ...]]:
    """The names the migration renames something to: (schema, relation or type) and (schema, table, column)."""
    names: set[tuple[str, ...]] = set()
    for statement in statements:
        s = statement.summary
        if isinstance(s, m.AlterTable):
            for a in s.actions:
                if isinstance(a, m.RenameTable):
                    names.add((s.table.schema or schema, a.new))
                elif isinstance(a, m.RenameColumn):
                    names.add((s.table.schema or schema, s.table.name, a.new))
        elif isinstance(s, m.RenameIndex):
            names.add((s.index.schema or schema, s.new))
        elif isinstance(s, m.RenameType):
            names.add((s.name.schema or schema, s.new))
    return frozenset(names)


def diagnose(
    conn: psycopg.Connection[Any],
    schema: str,
    name: str,
    script: bytes,
    logs: str,
    *,
    before: Snapshot | None = None,
) -> Diagnosis:
    """What of the failed migration ``name`` (its ``script``, Prisma's ``logs``) took effect.

    ``before``: a snapshot of ``schema`` taken before this migration began (not before an earlier
    migration of the same deploy: what that one created would then look like this one's), when the
    caller has one. It tells what IF NOT EXISTS statements created from what they found already
    there; without it, an object such a statement would create that the catalog shows cannot be
    told apart from an older one, and is never undone automatically."""
    from safemigrate.lint.reader import parse_source

    statements = parse_source(script).statements
    cat = _Catalog(conn, schema)
    evidence = _Before(before, schema, _renamed(statements, schema))
    effects = [e for e in (_effect(cat, evidence, s, schema) for s in statements) if e is not None]
    stopped = next((i for i, e in enumerate(effects) if e.took_effect is False), None)
    for index, e in enumerate(effects):
        if e.cleanup and index != stopped:  # after where it stopped: not this migration's
            effects[index] = replace(e, cleanup=(), note="an invalid index of that name is left as it is")
    applied = effects if stopped is None else effects[:stopped]
    blocker = next((e for e in applied if e.undo is None or (e.took_effect is None and e.undo)), None)
    unsure = [(e.line, what) for e in applied for what in e.unsure]
    if blocker is not None and blocker.unsure:
        listed = ", ".join(f"{what} (line {line})" for line, what in unsure)
        note = (
            "cannot be undone safely: IF NOT EXISTS keeps an object that was there before the migration, so check "
            f"which of these predate it (keep those, drop the others by hand): {listed}"
        )
        blocker = replace(blocker, note=note)
    already = _already_there(logs)
    if effects and (already or (stopped is None and blocker is None)):
        # The failing statement met an object that was already there (or every statement looks done):
        # what the catalog shows may predate the migration, so undoing it could drop someone's data.
        last = applied[-1] if applied else effects[-1]
        why = (
            f"looks applied, but the migration failed with {already}, so what the catalog shows may predate it"
            if already
            else "looks applied, as does every statement of the migration, though Prisma recorded it as failed"
        )
        blocker = StatementEffect(last.line, last.text, last.took_effect, None, why)
    # A statement after the stop that the catalog says did take effect contradicts the order: be careful.
    if stopped is not None and any(e.took_effect for e in effects[stopped + 1 :]):
        later = next(e for e in effects[stopped + 1 :] if e.took_effect)
        note = f"took effect although line {effects[stopped].line} before it did not, so where it stopped is unclear"
        blocker = StatementEffect(later.line, later.text, True, None, note)
    cleanup = effects[stopped].cleanup if stopped is not None else ()
    return Diagnosis(name, logs, tuple(effects), stopped, tuple(applied), blocker, cleanup)


# duplicate table, column, object, schema, function: the object existed before the statement ran
_ALREADY_THERE = frozenset({"42P07", "42701", "42710", "42P06", "42723"})


def _already_there(logs: str) -> str:
    """How Prisma's logs say the failing statement met an object that was already there, or "".

    Older Prisma engines write the SQLSTATE ("Database error code: 42P07"); the current one writes
    only PostgreSQL's message ("ERROR: relation "Audit" already exists", in English unless the
    server's lc_messages says otherwise)."""
    import re

    code = _sqlstate(logs)
    if code in _ALREADY_THERE:
        return f"{code} (an object it creates already existed)"
    match = re.search(r"ERROR:\s*([^\n]*\balready exists\b[^\n]*)", logs)
    return f"'{match.group(1).strip()}'" if match else ""


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
    from safemigrate.db.prisma_migrations import read_migration_rows
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
        return diagnosis, undo(conn, url.schema, diagnosis)


def undo(conn: psycopg.Connection[Any], schema: str, diagnosis: Diagnosis) -> Recovery:
    """Act on a diagnosis that has no blocker, on an autocommit connection holding Prisma's lock:
    drop what the statement it stopped at left half-built (an invalid index, by DROP INDEX
    CONCURRENTLY, which cannot run in a transaction), then, in one transaction, undo what took
    effect in reverse order and mark the migration rolled back."""
    from safemigrate.db.prisma_migrations import record_migration_rolled_back

    for statement in diagnosis.cleanup:
        conn.execute(statement)
    undone = 0
    with conn.transaction():
        for effect in reversed(diagnosis.applied):
            for statement in effect.undo or ():
                conn.execute(statement)
            undone += 1 if effect.undo else 0
        marked = record_migration_rolled_back(conn, schema, diagnosis.migration)
    return Recovery(diagnosis.migration, undone, marked)
