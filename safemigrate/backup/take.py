"""Take a backup: every table at one snapshot, COPY streamed through zstandard to files, manifest last."""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import select
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO

import psycopg
import zstandard
from psycopg import pq, sql
from psycopg.pq.abc import PGconn, PGresult

from safemigrate import __version__
from safemigrate.backup.ddl import (
    PartitionRow,
    partitioned_tables,
    read_ddl,
    row_security_hidden,
    schema_tables,
    xml_text_casts,
)
from safemigrate.backup.manifest import CopyFormat, Manifest, Reason, TableDDL, TableEntry
from safemigrate.backup.store import create_file, ensure_store, new_id, partial_folder, publish, write_manifest
from safemigrate.config import DatabaseConfig
from safemigrate.db.connect import connect, database_errors
from safemigrate.db.fingerprint import DataFingerprint, fingerprint
from safemigrate.db.url import DatabaseUrl
from safemigrate.errors import BackupError, DatabasePermissionError, UnknownTableError

ZSTD_LEVEL = 1  # 2x less CPU than level 3 for 2% more bytes; still smaller than pg_dump -Fc
CHUNK = 1 << 20
COPY_BLOCK = 1 << 18  # rows are gathered into blocks of this size before compression
# The settings that change how COPY's text format writes and reads values (dates, intervals,
# floats, xml: under a database's ``xmloption = document`` the content fragments it holds are
# refused on the way back), pinned around a text-format COPY in backup and restore as pg_dump pins them.
TEXT_COPY_SETTINGS = (
    ("DateStyle", "ISO"),
    ("IntervalStyle", "postgres"),
    ("extra_float_digits", "3"),
    ("xmloption", "content"),
)


@dataclass(frozen=True)
class BackupProgress:
    """Reported once per table, when its data file is complete."""

    table: str
    index: int  # 1-based, in completion order
    count: int
    rows: int
    bytes: int  # compressed size of the data file
    seconds: float


BackupProgressCallback = Callable[[BackupProgress], None]


@dataclass(frozen=True)
class _Copied:
    rows: int
    bytes: int
    sha256: str
    copy_format: CopyFormat
    seconds: float


class _HashingWriter:
    """A file wrapper that hashes and counts what goes through it (the compressed bytes)."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.size += len(data)
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()


def copy_statement(
    schema: str,
    table: str,
    ddl: TableDDL,
    direction: str,
    copy_format: CopyFormat,
    *,
    freeze: bool = False,
    casts: Mapping[str, str] | None = None,
) -> sql.Composed:
    """``COPY schema.table (columns) TO STDOUT`` / ``FROM STDIN`` in the given format (``FREEZE``:
    into a table created or truncated in the current transaction). ``casts`` (out only: column ->
    type) reads those columns cast, through ``COPY (SELECT ... FROM ONLY schema.table)``."""
    columns = ddl.copy_columns
    if casts:
        selected = sql.SQL(", ").join(
            sql.SQL("{}::{}").format(sql.Identifier(c), sql.SQL(casts[c])) if c in casts else sql.Identifier(c)
            for c in columns
        )
        return sql.SQL("COPY (SELECT {} FROM ONLY {}) TO STDOUT (FORMAT {})").format(
            selected, sql.Identifier(schema, table), sql.SQL(copy_format)
        )
    column_list = sql.SQL(" ({})").format(sql.SQL(", ").join(map(sql.Identifier, columns))) if columns else sql.SQL("")
    return sql.SQL("COPY {}{} {} (FORMAT {}{})").format(
        sql.Identifier(schema, table),
        column_list,
        sql.SQL("TO STDOUT" if direction == "out" else "FROM STDIN"),
        sql.SQL(copy_format),
        sql.SQL(", FREEZE" if freeze else ""),
    )


@contextlib.contextmanager
def text_copy_settings(conn: psycopg.Connection[Any]) -> Iterator[None]:
    """Pin TEXT_COPY_SETTINGS (``SET LOCAL``: the caller's transaction) for a text-format COPY, then
    put back the values the session had. After an error they are left: the transaction is aborted,
    and its rollback puts them back."""
    names = [name for name, _ in TEXT_COPY_SETTINGS]
    read = sql.SQL("SELECT {}").format(
        sql.SQL(", ").join(sql.SQL("current_setting({})").format(sql.Literal(name)) for name in names)
    )
    before = conn.execute(read).fetchone()
    assert before is not None
    _set_local(conn, TEXT_COPY_SETTINGS)
    yield
    _set_local(conn, zip(names, map(str, before), strict=True))


def _set_local(conn: psycopg.Connection[Any], settings: Iterable[tuple[str, str]]) -> None:
    conn.execute(
        sql.SQL("SELECT {}").format(
            sql.SQL(", ").join(
                sql.SQL("set_config({}, {}, true)").format(sql.Literal(name), sql.Literal(value))
                for name, value in settings
            )
        )
    )


def _copy_table(
    conn: psycopg.Connection[Any], schema: str, table: str, ddl: TableDDL, casts: Mapping[str, str], path: Path
) -> _Copied:
    started = time.monotonic()
    copy_format: CopyFormat = "binary" if all(c.binary_ok for c in ddl.columns if c.generated_expr is None) else "text"
    statement = copy_statement(schema, table, ddl, "out", copy_format, casts=casts).as_bytes(conn)
    with text_copy_settings(conn) if copy_format == "text" else contextlib.nullcontext():
        return _copy_to_file(conn, statement, copy_format, path, started)


def _copy_to_file(
    conn: psycopg.Connection[Any], statement: bytes, copy_format: CopyFormat, path: Path, started: float
) -> _Copied:
    fd = create_file(path)
    with os.fdopen(fd, "wb") as raw:
        hashing = _HashingWriter(raw)
        # zstd works in its own thread (threads=1), so compression overlaps reading the rows
        compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL, threads=1)
        with compressor.stream_writer(hashing, closefd=False) as writer:  # type: ignore[arg-type]
            rows = copy_out(conn, statement, writer.write)
        raw.flush()
        os.fsync(raw.fileno())
    return _Copied(rows, hashing.size, hashing.hash.hexdigest(), copy_format, time.monotonic() - started)


def copy_out(conn: psycopg.Connection[Any], statement: bytes, write: Callable[[bytearray], object]) -> int:
    """Run ``COPY ... TO STDOUT`` and hand its output to ``write`` in blocks of about COPY_BLOCK bytes;
    return the row count. libpq delivers one message per row: this loop is psycopg's copy-out
    without its per-row generator and wait machinery (half the client CPU). The socket is awaited
    with ``poll`` between rows, so other threads run meanwhile."""
    pgconn = conn.pgconn
    pgconn.send_query(statement)
    _expect(conn, _next_result(pgconn), pq.ExecStatus.COPY_OUT)
    get_copy_data, consume_input = pgconn.get_copy_data, pgconn.consume_input
    wait_readable = _readable_waiter(pgconn.socket)
    block = bytearray()
    while True:
        size, data = get_copy_data(1)  # 1: never blocks
        if size > 0:
            block += data
            if len(block) >= COPY_BLOCK:
                write(block)
                block = bytearray()
        elif size == 0:
            wait_readable()
            consume_input()
        else:
            break
    if block:
        write(block)
    result = _next_result(pgconn)
    _expect(conn, result, pq.ExecStatus.COMMAND_OK)
    assert result is not None
    while _next_result(pgconn) is not None:  # the end of the statement's results
        pass
    return result.command_tuples or 0


def _next_result(pgconn: PGconn) -> PGresult | None:
    """libpq's next result, the socket awaited with ``poll`` until it is there. psycopg's
    ``get_result`` waits holding the interpreter lock: a COPY queued behind another session's lock
    froze every thread of the process, and Ctrl-C, until that lock was released."""
    if pgconn.is_busy():
        wait_readable = _readable_waiter(pgconn.socket)
        while pgconn.is_busy():
            wait_readable()
            pgconn.consume_input()
    return pgconn.get_result()


def _readable_waiter(fd: int) -> Callable[[], object]:
    """A function that blocks until ``fd`` is readable, releasing the interpreter lock meanwhile.
    ``poll`` where there is one: ``select`` refuses descriptors from 1024 on, which a process (an
    application calling the library) may well have open."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return poller.poll
    return lambda: select.select([fd], [], [])


def _expect(conn: psycopg.Connection[Any], result: PGresult | None, status: pq.ExecStatus) -> None:
    if result is None or result.status != status:
        if result is not None and result.status == pq.ExecStatus.FATAL_ERROR:
            while _next_result(conn.pgconn) is not None:
                pass
            raise psycopg.errors.error_from_result(result, encoding=conn.info.encoding)
        raise psycopg.OperationalError(conn.pgconn.get_error_message() or "unexpected result from COPY")


def git_commit(project_dir: Path | None) -> str | None:
    """``git rev-parse HEAD`` in the project directory; None outside a repository (or without git)."""
    if project_dir is None:
        return None
    try:
        done = subprocess.run(
            ["git", "-C", str(project_dir), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and len(commit) >= 40 else None


def _begin_snapshot(conn: psycopg.Connection[Any], snapshot: str | None) -> None:
    conn.execute(b"SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    if snapshot is not None:
        conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
    # As pg_dump: a row-level security policy that applies to this role makes a query fail rather
    # than return the rows it may see, so no COPY and no fingerprint reads a subset.
    conn.execute(b"SET LOCAL row_security = off")
    # COPY sends text in the session's client_encoding, which PGCLIENTENCODING or the URL may set:
    # the data files hold the database's own encoding (the manifest's ``encoding``) whatever they say.
    conn.execute(
        b"SELECT pg_catalog.set_config('client_encoding', pg_catalog.current_setting('server_encoding'), true)"
    )


def _refuse_row_security(conn: psycopg.Connection[Any], schema: str, names: list[str]) -> None:
    """Stop before anything is copied when row-level security hides rows of a table from this role:
    with row_security off its COPY would fail anyway, this names every such table and what to do."""
    hidden = row_security_hidden(conn, schema, names)
    if hidden:
        tables = ", ".join(repr(row.table_name) for row in hidden)
        raise DatabasePermissionError(
            f"Row-level security hides rows of table{'s' if len(hidden) > 1 else ''} {tables} from the role "
            f"{hidden[0].role_name!r}, so a backup taken by it would leave them out; nothing was saved.",
            "Back up as a superuser, as a role with BYPASSRLS, or as the table's owner when the table does not "
            "FORCE ROW LEVEL SECURITY.",
            "42501",
        )


@dataclass(frozen=True)
class TablesBackup:
    manifest: Manifest
    # Partitioned tables and partitions of the schema a full backup left out (not supported yet),
    # by name; always empty when tables were named (naming one is refused).
    skipped_partitioned: tuple[str, ...]


def take_backup(
    url: DatabaseUrl,
    store: Path,
    *,
    settings: DatabaseConfig | None = None,
    tables: Sequence[str] | None = None,
    reason: Reason | None = None,
    jobs: int | None = None,
    project_dir: Path | None = None,
    progress: BackupProgressCallback | None = None,
) -> Manifest:
    """:func:`backup_tables`' manifest alone."""
    return backup_tables(
        url,
        store,
        settings=settings,
        tables=tables,
        reason=reason,
        jobs=jobs,
        project_dir=project_dir,
        progress=progress,
    ).manifest


def backup_tables(
    url: DatabaseUrl,
    store: Path,
    *,
    settings: DatabaseConfig | None = None,
    tables: Sequence[str] | None = None,
    reason: Reason | None = None,
    jobs: int | None = None,
    project_dir: Path | None = None,
    progress: BackupProgressCallback | None = None,
) -> TablesBackup:
    """Back up ``tables`` (default: every ordinary table of the URL's schema) into a new folder of
    ``store``, all read at one snapshot, and return its manifest with the partitioned tables a full
    backup left out. Nothing is published unless every file is complete; a failure removes the
    partial folder and raises a SafemigrateError. Naming a partitioned table or a partition is refused."""
    settings = settings or DatabaseConfig()
    reason = reason or Reason()
    jobs = max(1, jobs if jobs is not None else (os.cpu_count() or 1))
    schema = url.schema
    created = datetime.now(timezone.utc)
    backup_id = new_id(created)
    with connect(url, command="backup", settings=settings, autocommit=False) as main, database_errors(url, settings):
        _begin_snapshot(main, None)
        row = main.execute(b"SELECT pg_export_snapshot()").fetchone()
        assert row is not None
        snapshot = str(row[0])
        available = schema_tables(main, schema)
        partitioned = partitioned_tables(main, schema)
        skipped: tuple[str, ...] = ()
        if tables is None:
            names = available
            skipped = tuple(p.name for p in partitioned)
        else:
            names = list(dict.fromkeys(tables))
            _refuse_partitioned(names, partitioned)
            missing = [n for n in names if n not in available]
            if missing:
                raise UnknownTableError(
                    f"No table {', '.join(repr(n) for n in missing)} in schema {schema!r}.",
                    "Table names are case-sensitive and exactly as in the database.",
                )
        if not names:
            left_out = f" (partitioned tables are not supported by backups yet: {', '.join(skipped)})"
            left_out = left_out if skipped else ""
            raise UnknownTableError(f"There is no table to back up in schema {schema!r}{left_out}.", "")
        _refuse_row_security(main, schema, names)
        ddls = {name: read_ddl(main, schema, name) for name in names}
        casts = xml_text_casts(main, schema, names)
        taken: list[DataFingerprint] = []

        def take_fingerprints() -> None:  # on ``main``, at the snapshot, while workers copy
            # Parallel workers only on the cores the copies leave free: beside them they add
            # start-up and compilation work and take CPU from the copies.
            # (at most the cores: --jobs may be any number, PostgreSQL's setting stops at 1024)
            spare = min(max(0, jobs - 1 - min(jobs - 1, len(names))), os.cpu_count() or 1)
            main.execute(
                sql.SQL("SET LOCAL max_parallel_workers_per_gather = {}").format(sql.Literal(spare)).as_bytes(main)
            )
            taken.append(fingerprint(main, schema=schema, tables=names, mode="full"))

        try:
            ensure_store(store)
            with partial_folder(store, backup_id) as folder:
                copied = _copy_all(
                    url, settings, main, snapshot, schema, names, ddls, casts, folder, jobs, progress, take_fingerprints
                )
                prints = taken[0]
                entries = []
                for number, name in enumerate(names, start=1):
                    done = copied[name]
                    table_print = prints.table(name)
                    assert table_print is not None
                    if done.rows != table_print.rows:  # same snapshot: they must agree
                        raise BackupError(
                            f"Table {name!r}: COPY read {done.rows} rows but the fingerprint counted "
                            f"{table_print.rows} in the same snapshot.",
                            "Nothing was saved; please report this.",
                        )
                    entries.append(
                        TableEntry(
                            name,
                            ddls[name],
                            done.rows,
                            DataFingerprint(schema, "full", (table_print,), prints.server_major).to_dict(),
                            _data_file(number),
                            done.bytes,
                            done.sha256,
                            done.copy_format,
                        )
                    )
                manifest = Manifest(
                    backup_id,
                    created.isoformat().replace("+00:00", "Z"),
                    reason,
                    __version__,
                    main.info.parameter_status("server_version") or "",
                    url.display(),
                    schema,
                    git_commit(project_dir),
                    tuple(entries),
                    encoding=main.info.parameter_status("server_encoding"),
                )
                write_manifest(folder, manifest)
                publish(store, folder, backup_id)
        except OSError as err:
            raise BackupError(
                f"Cannot write the backup to {store}: {err.strerror or err}.",
                "Check the free space and permissions of the backup store; nothing was saved.",
            ) from err
        # The backup is complete and published: ending the read-only snapshot transaction cannot
        # change it, and a session lost at this point must not report a good backup as failed.
        with contextlib.suppress(psycopg.Error):
            main.rollback()
    return TablesBackup(manifest, skipped)


def _refuse_partitioned(names: Sequence[str], partitioned: Sequence[PartitionRow]) -> None:
    named = [p for p in partitioned if p.name in names]
    if named:
        what = "a partitioned table" if named[0].partitioned else "a partition"
        raise UnknownTableError(
            f"Table {named[0].name!r} is {what}: partitioned tables are not supported by backups yet.",
            "Back up the other tables, or use pg_dump for this one.",
        )


def _data_file(number: int) -> str:
    return f"tables/{number}.copy.zst"


def _copy_all(
    url: DatabaseUrl,
    settings: DatabaseConfig,
    main: psycopg.Connection[Any],
    snapshot: str,
    schema: str,
    names: list[str],
    ddls: dict[str, TableDDL],
    casts: dict[str, dict[str, str]],
    folder: Path,
    jobs: int,
    progress: BackupProgressCallback | None,
    meanwhile: Callable[[], None],
) -> dict[str, _Copied]:
    """Copy every table into ``folder``: on ``main`` one after the other with one job, else on
    worker connections that import ``snapshot``, ``meanwhile`` running on ``main`` at the same time
    (before the copies with one job). Progress is reported from this thread."""
    results: dict[str, _Copied] = {}

    def report(name: str, done: _Copied) -> None:
        if progress is not None:
            progress(BackupProgress(name, len(results), len(names), done.rows, done.bytes, done.seconds))

    workers = min(jobs - 1, len(names))  # ``main`` is busy with ``meanwhile``
    if workers < 1:
        meanwhile()
        for number, name in enumerate(names, start=1):
            results[name] = _copy_table(
                main, schema, name, ddls[name], casts.get(name, {}), folder / _data_file(number)
            )
            report(name, results[name])
        return results
    pool: queue.Queue[psycopg.Connection[Any]] = queue.Queue()
    connections: list[psycopg.Connection[Any]] = []
    try:
        for _ in range(workers):
            conn = connect(url, command="backup", settings=settings, autocommit=False)
            connections.append(conn)
            _begin_snapshot(conn, snapshot)
            pool.put(conn)

        def work(number: int, name: str) -> _Copied:
            conn = pool.get()
            try:
                return _copy_table(conn, schema, name, ddls[name], casts.get(name, {}), folder / _data_file(number))
            finally:
                pool.put(conn)

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="safemigrate-backup") as executor:
            futures: dict[Future[_Copied], str] = {
                executor.submit(work, number, name): name for number, name in enumerate(names, start=1)
            }
            pending = set(futures)
            try:
                meanwhile()
            except BaseException:
                for future in pending:
                    future.cancel()
                for conn in connections:
                    conn.cancel_safe()
                raise
            try:
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        error = future.exception()
                        if error is not None:
                            raise error
                        results[futures[future]] = future.result()
                        report(futures[future], results[futures[future]])
            except BaseException:  # an error or Ctrl-C: stop the other copies now, not after every table
                for other in pending:
                    other.cancel()
                for conn in connections:
                    conn.cancel_safe()
                raise
    finally:
        for conn in connections:
            conn.close()
    return results
