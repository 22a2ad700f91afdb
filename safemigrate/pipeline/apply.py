"""Apply pending migrations the way `migrate` does: all transactional files in one transaction,
their `_prisma_migrations` rows written as Prisma writes them, explicit BEGIN/COMMIT absorbed; files
that cannot run in a transaction (CREATE INDEX CONCURRENTLY ...) alone, after the transaction.

With ``trace`` each statement is measured: duration, rows affected, the relation locks it added
(from ``pg_locks`` of this backend, before the transaction ends) and the existing tables it
rewrote (their ``relfilenode`` changed). A failing statement's SQLSTATE, message and position are
mapped back to ``file:line:column``. The same code rehearses on a clone (dry-run) and applies for
real (migrate), so what was rehearsed is what runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import psycopg

from safemigrate.db import load_sql
from safemigrate.db.prisma_migrations import (
    failure_logs,
    mark_row_rolled_back,
    record_failed_step,
    record_migration_finished,
    record_migration_started,
    record_successful_step,
)
from safemigrate.lint.reader import parse_source
from safemigrate.lint.shape import is_non_transactional
from safemigrate.migrations import Migration
from safemigrate.sql import model as m

Outcome = Literal["applied", "failed", "not run", "rolled back"]


@dataclass(frozen=True)
class LockTaken:
    relation: str
    mode: str  # AccessExclusiveLock, ShareLock, ...


@dataclass(frozen=True)
class StatementError:
    sqlstate: str
    message: str
    file: str
    line: int
    column: int


@dataclass(frozen=True)
class StatementTrace:
    index: int  # 0-based in its file
    line: int
    column: int
    text: str  # the first line, shortened
    seconds: float
    rows: int | None  # rows affected, when the server reports them
    locks: tuple[LockTaken, ...]  # relation locks this statement added
    rewritten: tuple[str, ...]  # tables that existed before and got a new relfilenode here


@dataclass(frozen=True)
class Leftover:
    """A statement of a failed non-transactional file that took effect and was not undone."""

    line: int
    text: str  # the first line, shortened
    undo: str | None  # the SQL that undoes it, when known (it failed here: ``reason``)
    reason: str = ""


@dataclass(frozen=True)
class MigrationTrace:
    name: str
    file: str
    outcome: Outcome
    transactional: bool
    seconds: float
    statements: tuple[StatementTrace, ...]
    error: StatementError | None = None
    # A failed file that ran alone: what its earlier statements built and was dropped again
    # (``index "public"."Post_slug_idx"``), and what stays; when something stays, its row is left
    # failed (P3009) instead of marked rolled back.
    undone: tuple[str, ...] = ()
    left: tuple[Leftover, ...] = ()
    # The session ended while the file ran (server restart, terminated backend): what it did could
    # not be read, nor undone, on that connection; its row stays failed for `safemigrate recover`.
    connection_lost: bool = False


@dataclass(frozen=True)
class ApplyResult:
    migrations: tuple[MigrationTrace, ...]
    committed: bool  # the transactional part committed (False on error or when asked not to)

    @property
    def failed(self) -> MigrationTrace | None:
        return next((t for t in self.migrations if t.outcome == "failed"), None)


class _RolledBack(Exception):
    """Ends a rehearsal's transaction (commit=False)."""


class _Failed(Exception):
    def __init__(self, trace: MigrationTrace) -> None:
        super().__init__(trace.name)
        self.trace = trace


@dataclass(frozen=True)
class PreparedMigration:
    migration: Migration
    script: bytes
    statements: tuple[m.Statement, ...]  # BEGIN/COMMIT removed
    transactional: bool


def prepare(migration: Migration) -> PreparedMigration:
    script = migration.data  # the bytes read once: what is checksummed is what runs
    parsed = parse_source(script)
    statements = tuple(s for s in parsed.statements if not isinstance(s.summary, m.TransactionControl))
    transactional = not any(is_non_transactional(s.summary) for s in statements)
    return PreparedMigration(migration, script, statements, transactional)


def _head(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= 100 else first[:97] + "..."


def _position(statement: m.Statement, offset: int | None) -> tuple[int, int]:
    """File line and column of character ``offset`` (1-based, as PostgreSQL reports) in the statement."""
    if not offset:
        return statement.line, statement.column
    before = statement.text[: offset - 1]
    newlines = before.count("\n")
    if not newlines:
        return statement.line, statement.column + offset - 1
    return statement.line + newlines, len(before) - before.rfind("\n")


class _Observer:
    """Locks and relfilenodes of this backend, read between statements."""

    def __init__(self, conn: psycopg.Connection[Any], schema: str) -> None:
        self.conn = conn
        self.schema = schema
        self.locks = self._locks()
        self.files = self._files()
        self.existing = frozenset(self.files)

    def _locks(self) -> set[tuple[str, str]]:
        rows = self.conn.execute(load_sql("backend_relation_locks"), {"schema": self.schema}).fetchall()
        return {(str(r[0]), str(r[1])) for r in rows}

    def _files(self) -> dict[str, int]:
        rows = self.conn.execute(load_sql("relation_filenodes"), {"schema": self.schema}).fetchall()
        return {str(r[0]): int(r[1]) for r in rows}

    def step(self) -> tuple[tuple[LockTaken, ...], tuple[str, ...]]:
        locks, files = self._locks(), self._files()
        added = tuple(LockTaken(rel, mode) for rel, mode in sorted(locks - self.locks))
        rewritten = tuple(
            sorted(name for name, node in files.items() if name in self.existing and self.files.get(name) != node)
        )
        self.locks, self.files = locks, files
        return added, rewritten


def _run_statements(
    conn: psycopg.Connection[Any],
    prepared: PreparedMigration,
    observer: _Observer | None,
    file_label: str,
    traces: list[StatementTrace] | None = None,
) -> list[StatementTrace]:
    """Run the statements in order; ``traces`` (given) shows how far they got when one fails or an
    interrupt stops them."""
    traces = [] if traces is None else traces
    for statement in prepared.statements:
        started = time.perf_counter()
        try:
            cursor = conn.execute(statement.text.encode("utf-8"))
        except psycopg.Error as err:
            diag = err.diag
            position = int(diag.statement_position) if diag.statement_position else None
            line, column = _position(statement, position)
            error = StatementError(
                diag.sqlstate or "", diag.message_primary or str(err).strip(), file_label, line, column
            )
            raise _Failed(
                MigrationTrace(
                    prepared.migration.name,
                    file_label,
                    "failed",
                    prepared.transactional,
                    0.0,
                    tuple(traces),
                    error,
                )
            ) from err
        seconds = time.perf_counter() - started
        rows = cursor.rowcount if cursor.rowcount >= 0 else None
        locks, rewritten = observer.step() if observer else ((), ())
        traces.append(
            StatementTrace(
                statement.index,
                statement.line,
                statement.column,
                _head(statement.text),
                seconds,
                rows,
                locks,
                rewritten,
            )
        )
    return traces


def apply_migrations(
    conn: psycopg.Connection[Any],
    schema: str,
    migrations: Sequence[Migration],
    *,
    trace: bool = False,
    commit: bool = True,
    repeatable_read: bool = False,
    before_apply: Callable[[psycopg.Connection[Any]], None] | None = None,
    before_commit: Callable[[psycopg.Connection[Any]], None] | None = None,
    file_label: Callable[[Migration], str] = lambda mig: str(mig.sql_path),
) -> ApplyResult:
    """Apply ``migrations`` (pending, in order) on ``conn`` (autocommit connection).

    The transactional files run in one transaction, each with its `_prisma_migrations` row written
    as `prisma migrate deploy` writes it. With ``repeatable_read`` the transaction sees one snapshot
    of other sessions' data throughout, so ``before_apply`` and ``before_commit`` (taking and
    checking fingerprints) compare like with like; either may raise to roll everything back. With
    ``commit`` False it is always rolled back (a rehearsal that leaves nothing behind). Files that
    cannot run in a transaction run afterwards, one statement at a time, only when the
    transactional part committed. A failure stops the run: the transaction is rolled back, the
    failing migration is reported with its error, later ones are "not run"."""
    prepared = [prepare(mig) for mig in migrations]
    problem = order_problem(prepared)
    if problem is not None:
        if before_apply is not None or before_commit is not None or not commit:
            from safemigrate.errors import InputError

            raise InputError(problem, "Apply them with `--engine prisma`, which runs each file in order.")
        return _apply_in_order(conn, schema, prepared, trace=trace, file_label=file_label)
    in_transaction = [p for p in prepared if p.transactional]
    alone = [p for p in prepared if not p.transactional]
    traces: dict[str, MigrationTrace] = {}
    committed = False
    failure: MigrationTrace | None = None
    try:
        with conn.transaction():
            if repeatable_read:
                conn.execute(b"SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            if before_apply is not None:
                before_apply(conn)
            observer = _Observer(conn, schema) if trace else None
            for item in in_transaction:
                started = time.perf_counter()
                row_id = record_migration_started(conn, schema, item.migration.name, item.script)
                if observer:
                    observer.step()  # the bookkeeping's own locks are not the migration's
                statements = _run_statements(conn, item, observer, file_label(item.migration))
                record_successful_step(conn, schema, row_id)
                record_migration_finished(conn, schema, row_id)
                if observer:
                    observer.step()
                traces[item.migration.name] = MigrationTrace(
                    item.migration.name,
                    file_label(item.migration),
                    "applied",
                    True,
                    time.perf_counter() - started,
                    tuple(statements),
                )
            if before_commit is not None:
                before_commit(conn)
            if not commit:
                raise _RolledBack
        committed = True
    except _Failed as failed:
        failure = failed.trace
    except _RolledBack:
        pass
    if committed:
        for item in alone:
            started = time.perf_counter()
            try:
                statements = _run_alone(conn, schema, item, trace, file_label(item.migration))
            except _Failed as failed:
                failure = failed.trace
                break
            traces[item.migration.name] = MigrationTrace(
                item.migration.name,
                file_label(item.migration),
                "applied",
                False,
                time.perf_counter() - started,
                tuple(statements),
            )
    result: list[MigrationTrace] = []
    for item in prepared:
        name = item.migration.name
        done = traces.get(name)
        if failure is not None and failure.name == name:
            result.append(failure)
        elif done is not None and item.transactional and not committed:
            result.append(MigrationTrace(name, done.file, "rolled back", True, done.seconds, done.statements))
        elif done is not None:
            result.append(done)
        else:
            result.append(MigrationTrace(name, file_label(item.migration), "not run", item.transactional, 0.0, ()))
    return ApplyResult(tuple(result), committed)


def order_problem(prepared: Sequence[PreparedMigration]) -> str | None:
    """Why the files cannot run as one transaction followed by the non-transactional ones: a file
    that cannot run in a transaction comes before one that can (order matters: an index built
    CONCURRENTLY, then a constraint USING it). None when they can."""
    first_alone = next((p for p in prepared if not p.transactional), None)
    if first_alone is None:
        return None
    later = prepared[prepared.index(first_alone) + 1 :]
    after = next((p for p in later if p.transactional), None)
    if after is None:
        return None
    return (
        f"Migration {first_alone.migration.name} cannot run in a transaction (CREATE INDEX CONCURRENTLY...) "
        f"and {after.migration.name} comes after it: they cannot be applied all-or-nothing in their order."
    )


def _apply_in_order(
    conn: psycopg.Connection[Any],
    schema: str,
    prepared: Sequence[PreparedMigration],
    *,
    trace: bool,
    file_label: Callable[[Migration], str],
) -> ApplyResult:
    """File order kept: each run of transactional files in one transaction, each other file alone
    (a rehearsal or a history replay; `migrate` refuses this shape, see :func:`order_problem`)."""
    groups: list[list[PreparedMigration]] = []
    for item in prepared:
        if item.transactional and groups and groups[-1][0].transactional:
            groups[-1].append(item)
        else:
            groups.append([item])
    return _apply_groups(conn, schema, groups, trace=trace, file_label=file_label)


def apply_each_committed(
    conn: psycopg.Connection[Any],
    schema: str,
    migrations: Sequence[Migration],
    *,
    trace: bool = False,
    file_label: Callable[[Migration], str] = lambda mig: str(mig.sql_path),
) -> ApplyResult:
    """Each file in its own transaction, committed before the next runs, as `prisma migrate deploy`
    runs them: the rehearsal of `migrate --engine prisma` (an enum value one file adds is usable in the
    next, where the one transaction of :func:`apply_migrations` rejects it). A failure stops the run;
    the files before it stay committed (on the throwaway clone)."""
    return _apply_groups(conn, schema, [[prepare(mig)] for mig in migrations], trace=trace, file_label=file_label)


def _apply_groups(
    conn: psycopg.Connection[Any],
    schema: str,
    groups: Sequence[Sequence[PreparedMigration]],
    *,
    trace: bool,
    file_label: Callable[[Migration], str],
) -> ApplyResult:
    traces: list[MigrationTrace] = []
    for index, group in enumerate(groups):
        result = apply_migrations(conn, schema, [p.migration for p in group], trace=trace, file_label=file_label)
        traces.extend(result.migrations)
        if result.failed is not None or not result.committed:
            for rest in groups[index + 1 :]:
                traces.extend(
                    MigrationTrace(p.migration.name, file_label(p.migration), "not run", p.transactional, 0.0, ())
                    for p in rest
                )
            return ApplyResult(tuple(traces), False)
    return ApplyResult(tuple(traces), True)


def _run_alone(
    conn: psycopg.Connection[Any], schema: str, item: PreparedMigration, trace: bool, label: str
) -> list[StatementTrace]:
    """A non-transactional file: its row, then each statement in autocommit (as Prisma runs it).

    When a statement fails (or an interrupt stops it), the statements before it have taken effect:
    the indexes the file built (valid, or left INVALID by an interrupted CONCURRENTLY build) are
    dropped, so that the row marked rolled back tells the truth and the next deploy can run the file
    again. Anything else that took effect and cannot be undone here keeps the row failed (P3009); the
    failure's trace names it (:class:`Leftover`)."""
    row_id = record_migration_started(conn, schema, item.migration.name, item.script)
    before = _file_indexes(conn, schema, item)
    ran: list[StatementTrace] = []
    try:
        _run_statements(conn, item, _Observer(conn, schema) if trace else None, label, ran)
    except _Failed as failed:
        if conn.broken:
            raise _Failed(dataclasses.replace(failed.trace, connection_lost=True)) from failed
        undone, left = _undo_alone(conn, schema, item, len(ran), before)
        error = failed.trace.error
        if error is not None:
            record_failed_step(conn, schema, row_id, failure_logs(item.migration.name, error.sqlstate, error.message))
        if not left:
            mark_row_rolled_back(conn, schema, row_id)
        raise _Failed(dataclasses.replace(failed.trace, undone=undone, left=left)) from failed
    except KeyboardInterrupt:
        # Ctrl-C (psycopg cancelled the statement): the same clean-up, best effort, then stop. What
        # cannot be undone, or an error on the way, leaves the row failed for `safemigrate recover`.
        with contextlib.suppress(psycopg.Error):
            _, left = _undo_alone(conn, schema, item, len(ran), before)
            if not left:
                mark_row_rolled_back(conn, schema, row_id)
        raise
    record_successful_step(conn, schema, row_id)
    record_migration_finished(conn, schema, row_id)
    return ran


# Statements that leave nothing behind once they ran (a failed file has nothing of them to undo).
_NO_TRACE = (m.SetSetting, m.Vacuum, m.Reindex, m.Cluster)
_NO_TRACE_KINDS = frozenset({"query", "analyze", "set", "copy to"})


def _index_table(statement: m.Statement, schema: str) -> tuple[str, str] | None:
    summary = statement.summary
    if not isinstance(summary, m.CreateIndex):
        return None
    return summary.table.schema or schema, summary.table.name


def _file_indexes(
    conn: psycopg.Connection[Any], schema: str, item: PreparedMigration
) -> dict[tuple[str, str], set[int]]:
    """The indexes of the tables the file builds indexes on, before it runs (their oids): an index
    found there afterwards that was not there before was built by the file."""
    tables = {table for s in item.statements if (table := _index_table(s, schema)) is not None}
    return {table: {oid for oid, _ in _table_indexes(conn, table)} for table in tables}


def _table_indexes(conn: psycopg.Connection[Any], table: tuple[str, str]) -> list[tuple[int, str]]:
    """(oid, name) of the table's indexes; none when the table does not exist."""
    from psycopg import sql

    regclass = sql.Identifier(*table).as_string(conn)
    rows = conn.execute(load_sql("apply_table_indexes"), {"table": regclass}).fetchall()
    return [(int(r[0]), str(r[1])) for r in rows]


def _undo_alone(
    conn: psycopg.Connection[Any],
    schema: str,
    item: PreparedMigration,
    completed: int,
    before: dict[tuple[str, str], set[int]],
) -> tuple[tuple[str, ...], tuple[Leftover, ...]]:
    """Undo what a non-transactional file did before it stopped at statement ``completed`` (0-based
    among its statements; that one ran too, and a CONCURRENTLY build leaves an INVALID index when it
    fails): drop, CONCURRENTLY, each index built since ``before``. Returns what was dropped, and what
    took effect and stays (with the SQL that would undo it, when known), in file order."""
    from psycopg import sql

    named = {
        (table, s.summary.name.name)
        for s in item.statements
        if isinstance(s.summary, m.CreateIndex) and s.summary.name is not None and (table := _index_table(s, schema))
    }
    # After the file's own SET search_path, an unqualified table may be in another schema: such an
    # index is not looked for (nor dropped) but named as left, and the migration stays failed.
    path_moved = any(isinstance(s.summary, m.SetSetting) and s.summary.name == "search_path" for s in item.statements)
    undone: list[str] = []
    left: list[Leftover] = []
    for position in reversed(range(min(completed + 1, len(item.statements)))):
        statement = item.statements[position]
        summary = statement.summary
        table = _index_table(statement, schema)
        if path_moved and isinstance(summary, m.CreateIndex) and summary.table.schema is None:
            left.append(Leftover(statement.line, _head(statement.text), None, "the file sets search_path"))
            continue
        if table is None or not isinstance(summary, m.CreateIndex):
            # The statement that failed took no effect (autocommit); one that completed may have.
            if position < completed and not (
                isinstance(summary, _NO_TRACE) or (isinstance(summary, m.Harmless) and summary.kind in _NO_TRACE_KINDS)
            ):
                left.append(Leftover(statement.line, _head(statement.text), None))
            continue
        # The index this statement built: its name, or (unnamed) a new index on the table no other
        # statement of the file names.
        built = [
            name
            for oid, name in _table_indexes(conn, table)
            if oid not in before.get(table, set())
            and (name == summary.name.name if summary.name is not None else (table, name) not in named)
        ]
        for name in built:
            drop = sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(table[0], name))
            try:
                conn.execute(drop)
            except psycopg.Error as err:
                reason = (err.diag.message_primary or str(err)).strip()
                left.append(Leftover(statement.line, _head(statement.text), f"{drop.as_string(conn)};", reason))
            else:
                undone.append(f'index "{table[0]}"."{name}"')
    return tuple(reversed(undone)), tuple(reversed(left))  # in file order


def relative_label(root: Path) -> Callable[[Migration], str]:
    """Files shown relative to ``root`` when they are below it."""

    def label(mig: Migration) -> str:
        try:
            return str(mig.sql_path.relative_to(root))
        except ValueError:
            return str(mig.sql_path)

    return label
