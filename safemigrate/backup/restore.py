"""Restore a backup (or some of its tables) into a database, in one transaction, checked against the manifest.

A table the restore recreates gets its extras back (triggers, privileges, row-level security,
policies, comments, storage parameters, replica identity, owner) once its rows are loaded and
verified, so no user trigger fires on the loaded rows and no policy hides them from the check. A
table that is present keeps what it has, its INHERITS links too. A recreated table is linked to its
INHERITS parents once every table holds its rows (a parent restored in the same run is one of
them). What cannot be given back (a parent not there or no longer fitting the table, a role missing
here, an owner the restoring role may not give the table to) is a warning line on the result; a
trigger whose function is missing is left out with a warning (``restore``: the target may be a
fresh database) or stops the restore (``rollback``: the function outlives the dropped table), as
the caller asks.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NoReturn

import psycopg
import zstandard
from psycopg import sql
from psycopg.rows import class_row

from safemigrate.backup.ddl import (
    add_constraint_statement,
    catalog_rows,
    column_difference,
    ensure_schema,
    extras_statements,
    foreign_key_statements,
    foreign_keys_left_out,
    index_statements,
    inherit_statement,
    load_sql,
    read_columns,
    referenced,
    row_security_hidden,
    schema_tables,
    table_statements,
    type_and_sequence_statements,
    unvalidated_constraints,
)
from safemigrate.backup.manifest import Manifest, SequenceDef, TableEntry, TableExtras
from safemigrate.backup.store import find_backup
from safemigrate.backup.take import CHUNK, copy_statement, text_copy_settings
from safemigrate.config import DatabaseConfig
from safemigrate.db.connect import connect, database_errors, transaction_status
from safemigrate.db.fingerprint import DataFingerprint, compare_tables, fingerprint
from safemigrate.db.url import DatabaseUrl
from safemigrate.db.user_triggers import UserTrigger, find_user_triggers, switch_back_on, switch_off
from safemigrate.errors import (
    BackupCorruptError,
    BackupNotFoundError,
    RestoreMismatchError,
    RestoreRefusedError,
    RestoreTargetLacksError,
    with_outcome,
)

# Takes over one table's load in restore_in_transaction (a clone's masking): called with the
# connection, schema, manifest entry and data file, it returns True when it loaded the rows and
# checked them against the entry's count and fingerprint itself, False to leave them to the COPY.
TableLoader = Callable[[psycopg.Connection[Any], str, TableEntry, Path], bool]

# What a restore does with a recreated table's extras (triggers, grants, policies, owner...):
# "apply" re-applies them, a trigger whose function is missing stops the restore; "apply-available"
# leaves such a trigger out with a warning (a scratch database without the source's functions);
# "skip" leaves them all out (a schema rebuilt elsewhere, as a clone into staging does).
ExtrasMode = Literal["apply", "apply-available", "skip"]


@dataclass(frozen=True)
class RestoredTable:
    name: str
    rows: int
    recreated: bool  # True: the table was missing and was created from the manifest's DDL
    warnings: tuple[str, ...] = ()  # extras of a recreated table that could not be given back, and why


@dataclass(frozen=True)
class RestoreResult:
    backup_id: str
    database: str  # host:port/database?schema= of the target (never the password)
    tables: tuple[RestoredTable, ...]
    seconds: float

    @property
    def warnings(self) -> tuple[str, ...]:
        """One line per extra that could not be given back (see RestoredTable.warnings)."""
        return tuple(w for t in self.tables for w in t.warnings)


@dataclass(frozen=True)
class _Reference:
    table_name: str
    referenced: str
    name: str


def select_tables(manifest: Manifest, tables: Sequence[str] | None) -> list[TableEntry]:
    """The manifest's entries for ``tables`` (all when None); an unknown name is refused."""
    if tables is None:
        return list(manifest.tables)
    names = list(dict.fromkeys(tables))
    missing = [n for n in names if manifest.table(n) is None]
    if missing:
        raise BackupNotFoundError(
            f"Backup {manifest.id} holds no table {', '.join(repr(n) for n in missing)}.",
            f"It holds: {', '.join(t.name for t in manifest.tables) or 'no tables'}.",
        )
    return [t for t in manifest.tables if t.name in names]


def check_files(folder: Path, entries: Sequence[TableEntry]) -> None:
    """Every data file exists with the manifest's size and SHA-256 (read in full, streamed)."""
    for entry in entries:
        path = folder / entry.file
        digest = hashlib.sha256()
        size = 0
        try:
            with path.open("rb") as data:
                while block := data.read(CHUNK):
                    digest.update(block)
                    size += len(block)
        except OSError as err:
            raise BackupCorruptError(
                f"The data file {path} of table {entry.name!r} cannot be read ({err.strerror or err}); "
                "nothing was restored.",
                "The backup is incomplete: restore another one.",
            ) from err
        if size != entry.bytes or digest.hexdigest() != entry.sha256:
            what = "truncated" if size < entry.bytes else "corrupted"
            raise BackupCorruptError(
                f"The data file {path} of table {entry.name!r} is {what} (its size or SHA-256 differs from "
                "the manifest's); nothing was restored.",
                "Restore another backup.",
            )


def load_order(entries: Sequence[TableEntry]) -> list[TableEntry]:
    """Referenced tables before the tables whose foreign keys point at them (order kept otherwise;
    a cycle keeps the remaining order, its keys then need to be deferrable)."""
    by_name = {e.name: e for e in entries}
    done: list[TableEntry] = []
    seen: set[str] = set()
    visiting: set[str] = set()

    def visit(entry: TableEntry) -> None:
        if entry.name in seen or entry.name in visiting:
            return
        visiting.add(entry.name)
        for fk in entry.ddl.foreign_keys:
            if fk.referenced_schema is not None:  # another schema's table: not among these
                continue
            parent = by_name.get(fk.referenced_table or "")
            if parent is not None and parent.name != entry.name:
                visit(parent)
        visiting.discard(entry.name)
        seen.add(entry.name)
        done.append(entry)

    for entry in entries:
        visit(entry)
    return done


def restore_backup(
    url: DatabaseUrl,
    store: Path,
    *,
    backup_id: str | None = None,
    tables: Sequence[str] | None = None,
    settings: DatabaseConfig | None = None,
    into_empty: bool = False,
    table_extras: ExtrasMode = "apply-available",
) -> RestoreResult:
    """Restore backup ``backup_id`` (the newest when None) into the URL's database and schema, in one
    transaction: missing tables are recreated from the DDL, present ones have their rows replaced;
    counts and fingerprints are then compared with the manifest and any difference rolls back.

    ``into_empty``: the present tables are empty (a fresh clone whose schema was copied), so they
    are filled without a TRUNCATE, even when tables outside the restore reference them; a present
    table that holds rows is refused. ``table_extras``: see ExtrasMode; by default a trigger whose
    function the target lacks (a fresh database, ``backup --verify``'s scratch one) is left out with
    a warning, the rest is re-applied."""
    settings = settings or DatabaseConfig()
    started = time.monotonic()
    folder, manifest = find_backup(store, backup_id)
    if manifest.schema != url.schema:
        # Index definitions and enum types name the backup's schema: another schema would get them wrong.
        raise RestoreRefusedError(
            f"Backup {manifest.id} holds schema {manifest.schema!r}, the target URL selects {url.schema!r}; "
            "restoring into another schema is not supported; nothing was restored.",
            f"Use ?schema={manifest.schema} in the target URL (or leave it out for public).",
        )
    entries = select_tables(manifest, tables)
    check_files(folder, entries)
    transaction: int | None = None  # its id, once everything is loaded and checked and COMMIT is next
    try:
        with (
            connect(url, command="restore", settings=settings) as conn,
            database_errors(url, settings),
            conn.transaction(),
        ):
            use_backup_encoding(conn, manifest)
            restored = restore_in_transaction(
                conn, url.schema, folder, entries, into_empty=into_empty, table_extras=table_extras
            )
            restored = _inbound_keys_lost(conn, url.schema, manifest, restored)
            row = conn.execute(b"SELECT txid_current()").fetchone()
            transaction = int(row[0]) if row else None
    except KeyboardInterrupt as interrupt:
        raise with_outcome(interrupt, _interrupted_outcome(url, settings, transaction)) from None
    return RestoreResult(manifest.id, url.display(), tuple(restored), time.monotonic() - started)


def use_backup_encoding(conn: psycopg.Connection[Any], manifest: Manifest) -> None:
    """Refuse a target database whose encoding is not the backup's (PostgreSQL would convert the text,
    or garble it, and fingerprints only compare within one encoding), then read the data files in the
    backup's encoding for the rest of the caller's transaction, whatever client_encoding the session
    got from PGCLIENTENCODING or the URL. A manifest written before the encoding was recorded is left
    to the session's client_encoding, as it was restored then."""
    if manifest.encoding is None:
        return
    target = conn.info.parameter_status("server_encoding")
    if target != manifest.encoding:
        raise RestoreRefusedError(
            f"Backup {manifest.id} was taken of a {manifest.encoding} database and the target database is "
            f"{target}: its text would not come back byte for byte, and its fingerprints can only be compared "
            "within one encoding; nothing was restored.",
            f"Restore into a {manifest.encoding} database (CREATE DATABASE ... ENCODING '{manifest.encoding}' "
            "LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0, or a locale of that encoding), with --to-url.",
        )
    read_in_backup_encoding(conn, manifest)


def read_in_backup_encoding(conn: psycopg.Connection[Any], manifest: Manifest) -> None:
    """For the rest of the caller's transaction, read the data files in the encoding they were written
    in (PostgreSQL converts it to the target's; a character the target cannot hold is an error). A
    manifest that does not record its encoding leaves the session's client_encoding."""
    if manifest.encoding is not None:
        conn.execute(b"SELECT pg_catalog.set_config('client_encoding', %s, true)", (manifest.encoding,))


def _restart_sequence(conn: psycopg.Connection[Any], schema: str, table: str, seq: SequenceDef) -> list[sql.Composed]:
    """Put the sequence of ``table.column`` back where the backup found it, in the transaction:
    ``ALTER SEQUENCE ... RESTART`` (then one ``nextval`` when it had handed out its value) is undone by
    a rollback, where ``setval`` is not: a restore that fails or is interrupted after this point must
    not leave the live sequence rewound under rows that hold its later values. A role that may use
    the sequence but not alter it (not its owner) gets the ``setval`` back, to run after every check."""
    regclass = sql.Identifier(schema, table).as_string(conn)
    row = conn.execute(
        b"SELECT n.nspname, c.relname, s.seqincrement, s.seqmin, s.seqmax, s.seqcache FROM pg_catalog.pg_class c "
        b"JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace JOIN pg_catalog.pg_sequence s ON s.seqrelid = c.oid "
        b"WHERE c.oid = pg_catalog.pg_get_serial_sequence(%s, %s)::regclass",
        (regclass, seq.column_name),
    ).fetchone()
    if row is None:
        return []
    name = sql.Identifier(str(row[0]), str(row[1]))
    step, lowest, highest, cache = (int(v) for v in row[2:6])
    following = seq.last_value + step
    try:
        with conn.transaction():
            if seq.is_called and cache > 1 and lowest <= following <= highest:
                # nextval would take a whole CACHE block for this session, leaving the next id that far ahead:
                # restart at the value that comes next instead.
                conn.execute(sql.SQL("ALTER SEQUENCE {} RESTART WITH {}").format(name, sql.Literal(following)))
                return []
            conn.execute(sql.SQL("ALTER SEQUENCE {} RESTART WITH {}").format(name, sql.Literal(seq.last_value)))
            if seq.is_called:
                conn.execute(sql.SQL("SELECT pg_catalog.nextval({})").format(sql.Literal(name.as_string(conn))))
    except psycopg.errors.InsufficientPrivilege:
        return [
            sql.SQL("SELECT pg_catalog.setval({}, {}, {})").format(
                sql.Literal(name.as_string(conn)), sql.Literal(seq.last_value), sql.Literal(seq.is_called)
            )
        ]
    return []


def _interrupted_outcome(url: DatabaseUrl, settings: DatabaseConfig, transaction: int | None) -> str:
    """What an interrupted restore left, in one sentence. Before its COMMIT, the transaction was rolled
    back; during it (a synchronous standby awaited, a slow disk), the server may have committed
    already: its status is asked on a new connection."""
    if transaction is None:
        return "Nothing was restored: the restore's transaction was rolled back."
    status = transaction_status(url, settings, transaction, "restore")
    if status == "committed":
        return (
            "The restore had already committed: the tables hold the backup's rows, checked against its "
            "fingerprints before the commit."
        )
    if status == "aborted":
        return "Nothing was restored: the restore's transaction was rolled back."
    return (
        f"The interrupt came during the restore's COMMIT, and whether it committed is not known yet (transaction "
        f"{transaction}): compare the tables with `safemigrate fingerprint` before doing anything else."
    )


def restore_in_transaction(
    conn: psycopg.Connection[Any],
    schema: str,
    folder: Path,
    entries: Sequence[TableEntry],
    *,
    into_empty: bool = False,
    loader: TableLoader | None = None,
    table_extras: ExtrasMode = "skip",
) -> list[RestoredTable]:
    """The restore itself, inside the caller's open transaction (``check_files`` done): a rollback
    uses it to drop and restore in one transaction. Raises on any mismatch; the caller's
    transaction then rolls everything back. ``loader`` (see TableLoader) may take over tables' loads.
    ``table_extras`` (see ExtrasMode; "skip" unless asked) says what recreated tables get back."""
    conn.execute(b"SET CONSTRAINTS ALL DEFERRED")
    present = set(schema_tables(conn, schema))
    existing = [e for e in entries if e.name in present]
    beyond_backup = _check_compatible(conn, schema, existing)
    if into_empty:
        _refuse_rows(conn, schema, [e.name for e in existing])
    else:
        _refuse_outside_references(conn, schema, [e.name for e in existing])
    _refuse_taken_names(conn, schema, [e for e in entries if e.name not in present])
    _refuse_row_security(conn, schema, [e.name for e in existing])
    order = load_order(entries)
    existing_names = [e.name for e in existing]
    # Before the TRUNCATE, which fires ON TRUNCATE triggers; nothing is pending on the tables yet.
    switched_off = _switch_off_triggers(conn, schema, existing_names) if existing else ()
    deferred, barred = (
        _defer_keys_loaded_backwards(conn, schema, order, existing_names) if len(existing) > 1 else ([], [])
    )
    if existing and not into_empty:
        # ONLY: an inheritance child of a restored table is another table, restored or not by itself
        conn.execute(
            sql.SQL("TRUNCATE ONLY {}").format(sql.SQL(", ").join(sql.Identifier(schema, e.name) for e in existing))
        )
    # The target's NOT VALID checks and foreign keys hold for new rows, yet the backed-up rows never
    # had to satisfy them: dropped for the load, added back NOT VALID after it.
    not_valid = unvalidated_constraints(conn, schema, [e.name for e in existing]) if existing else []
    for con in not_valid:
        conn.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                sql.Identifier(schema, con.table_name), sql.Identifier(con.name)
            )
        )
    types = {
        (str(r[0]), str(r[1]))
        for r in conn.execute(
            b"SELECT n.nspname, t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
        )
    }
    created = [e for e in entries if e.name not in present]
    if created:
        ensure_schema(conn, schema)  # --to-url into a database without it, as pg_restore makes it
    for entry in created:  # every type and sequence first: a default may name another table's sequence
        with _missing_definitions(entry.name):
            for statement in type_and_sequence_statements(schema, entry.ddl, types):
                conn.execute(statement)
    for entry in created:
        with _missing_definitions(entry.name):
            for statement in table_statements(schema, entry.name, entry.ddl):
                conn.execute(statement)
    # created or emptied here: loadable frozen (COPY FREEZE), unless the transaction holds a snapshot
    fresh = {e.name for e in created} | (set() if into_empty else {e.name for e in existing})
    freeze = _read_committed(conn)
    checked_by_loader: set[str] = set()
    with _keys_not_deferred(barred):
        for entry in order:
            with _rows_not_fitting(entry.name, barred):
                if loader is not None and loader(conn, schema, entry, folder / entry.file):
                    checked_by_loader.add(entry.name)
                else:
                    _load(conn, schema, entry, folder / entry.file, freeze=freeze and entry.name in fresh)
    for entry in created:
        with _missing_definitions(entry.name):  # an expression index may call a function the target lacks
            for statement in index_statements(schema, entry.name, entry.ddl):
                conn.execute(statement)
    now_present = _tables_present(conn, {referenced(schema, fk) for e in created for fk in e.ddl.foreign_keys})
    left_out: dict[str, tuple[str, ...]] = {}
    for entry in created:
        for statement in foreign_key_statements(schema, entry.name, entry.ddl, now_present):
            conn.execute(statement)
        left_out[entry.name] = foreign_keys_left_out(schema, entry.name, entry.ddl, now_present)
    late_setvals: list[sql.Composed] = []  # for sequences this role may use but not alter
    for entry in entries:
        for seq in entry.ddl.sequences:
            late_setvals += _restart_sequence(conn, schema, entry.name, seq)
    with _keys_not_deferred(barred), _rows_not_fitting(None, barred):
        conn.execute(b"SET CONSTRAINTS ALL IMMEDIATE")  # every deferred check runs here
    # Below, ALTER TABLE on the present tables: it refuses a table with pending trigger events.
    for key in deferred:
        conn.execute(
            sql.SQL("ALTER TABLE {} ALTER CONSTRAINT {} NOT DEFERRABLE").format(
                sql.Identifier(schema, key.table_name), sql.Identifier(key.name)
            )
        )
    for con in not_valid:  # the target's own, read from it before the load
        conn.execute(add_constraint_statement(schema, con.table_name, con.name, con.definition))
    # Links last: a child must hold its parents' NOT VALID checks, and present parents have theirs back
    # by now. The check below reads ONLY each table, so what the links add to a parent's reads is not in it.
    unlinked = _link_parents(conn, schema, created)
    switch_back_on(conn, schema, switched_off)
    _verify(conn, schema, [e for e in entries if e.name not in checked_by_loader])
    # After the check: a forced policy would hide rows from it, and no trigger fires on the load.
    warnings: dict[str, tuple[str, ...]] = {}
    if table_extras != "skip":
        for entry in created:
            if entry.ddl.extras is not None:  # None: a backup taken before extras were stored
                warnings[entry.name] = _restore_extras(
                    conn, schema, entry.name, entry.ddl.extras, skip_missing_functions=table_extras == "apply-available"
                )
    for entry in created:
        warnings[entry.name] = unowned_sequence_warnings(conn, schema, entry.name) + warnings.get(entry.name, ())
    for setval in late_setvals:  # last: setval is not undone by a rollback
        conn.execute(setval)
    return [
        RestoredTable(
            e.name,
            e.rows,
            e.name not in present,
            beyond_backup.get(e.name, ())
            + left_out.get(e.name, ())
            + unlinked.get(e.name, ())
            + warnings.get(e.name, ()),
        )
        for e in entries
    ]


# How ALTER TABLE ... INHERIT refuses a parent that no longer fits the recreated table (a column or
# check it lacks, or has otherwise), that cannot be inherited from (partitioned), that would close a
# cycle, or that the restoring role does not own.
_LINK_REFUSED = (
    psycopg.errors.DatatypeMismatch,
    psycopg.errors.CollationMismatch,
    psycopg.errors.ObjectNotInPrerequisiteState,
    psycopg.errors.WrongObjectType,
    psycopg.errors.DuplicateTable,
    psycopg.errors.InsufficientPrivilege,
)


def _link_parents(
    conn: psycopg.Connection[Any], schema: str, created: Sequence[TableEntry]
) -> dict[str, tuple[str, ...]]:
    """Link each recreated table to its INHERITS parents, in their stored order, parents before their
    children. A parent that is not there, or refuses the link, leaves the table without it: SELECT from
    the parent no longer returns the table's rows, so a warning line says so, with the statement."""
    present = _tables_present(conn, {(p.schema, p.name) for e in created for p in e.ddl.parents})
    unlinked: dict[str, tuple[str, ...]] = {}
    for entry in _parents_first(schema, created):
        lines: list[str] = []
        for parent in entry.ddl.parents:
            statement = inherit_statement(schema, entry.name, parent)
            if (parent.schema, parent.name) not in present:
                why = "that table is not there: restore or create it first"
            else:
                try:
                    with conn.transaction():  # a savepoint: a refused link leaves the restore going
                        conn.execute(statement)
                    continue
                except _LINK_REFUSED as err:
                    why = f"PostgreSQL refused the link: {err.diag.message_primary or err}"
            shown = f"{parent.schema}.{parent.name}"
            lines.append(
                f"table {entry.name!r} was recreated without inheriting from {shown} ({why}), so SELECT from "
                f"{shown} does not return its rows; to link them: {statement.as_string(conn)};"
            )
        if lines:
            unlinked[entry.name] = tuple(lines)
    return unlinked


def _parents_first(schema: str, created: Sequence[TableEntry]) -> list[TableEntry]:
    """``created`` with each table after the recreated tables it inherits from (as pg_dump orders them)."""
    by_name = {e.name: e for e in created}
    done: list[TableEntry] = []
    seen: set[str] = set()

    def visit(entry: TableEntry) -> None:
        if entry.name in seen:
            return
        seen.add(entry.name)  # before the parents: a cycle (a damaged manifest) ends here
        for parent in entry.ddl.parents:
            if parent.schema == schema and parent.name in by_name:
                visit(by_name[parent.name])
        done.append(entry)

    for entry in created:
        visit(entry)
    return done


@dataclass(frozen=True)
class _UnownedSequence:
    column_name: str
    sequence_name: str


def unowned_sequence_warnings(conn: psycopg.Connection[Any], schema: str, table: str) -> tuple[str, ...]:
    """A recreated table's column whose default draws from a sequence no column owns (``DEFAULT
    nextval('order_no')``): the backup holds neither that sequence nor its position, so it may hand
    out values the restored rows already hold. One line per column."""
    lines = []
    for found in catalog_rows(conn, "unowned_default_sequences", _UnownedSequence, {"schema": schema, "table": table}):
        setval = sql.SQL("SELECT setval({}, (SELECT max({}) FROM {}));").format(
            sql.Literal(found.sequence_name), sql.Identifier(found.column_name), sql.Identifier(schema, table)
        )
        lines.append(
            f"table {table!r}: column {found.column_name!r} takes its default from sequence {found.sequence_name}, "
            "which no column owns, so the backup holds neither it nor its position; make sure it is past the "
            f"restored rows before the next insert: {setval.as_string(conn)}"
        )
    return tuple(lines)


@contextlib.contextmanager
def _rows_not_fitting(table: str | None, barred: Sequence[_ImmediateKey] = ()) -> Iterator[None]:
    """A present table that changed since the backup (a unique index, a CHECK or a domain's check
    added, a column with a constant default made unique, an enum label renamed or removed) or rows
    referencing rows that are gone (a partial restore), rejecting backed-up rows, as one sentence.
    ``table`` None: the one PostgreSQL names (deferred checks); a key of ``barred`` is left to
    :func:`_keys_not_deferred`."""
    try:
        yield
    except psycopg.errors.ForeignKeyViolation as err:
        if any(k.name == err.diag.constraint_name for k in barred):
            raise
        _refuse_not_fitting(table or err.diag.table_name or "?", err)
    except (
        psycopg.errors.UniqueViolation,
        psycopg.errors.CheckViolation,
        psycopg.errors.NotNullViolation,
        psycopg.errors.ExclusionViolation,
        psycopg.errors.InvalidTextRepresentation,  # 22P02: an enum label the type no longer has
    ) as err:
        _refuse_not_fitting(table or err.diag.table_name or "?", err)


def _refuse_not_fitting(table: str, err: psycopg.Error) -> NoReturn:
    raise RestoreRefusedError(
        f"The backed-up rows of table {table!r} do not fit the target's table as it is now "
        f"({err.diag.message_primary or err}); nothing was restored.",
        "The table or its types changed since the backup (a constraint, index or column added, an enum value "
        "renamed or removed), or its rows reference rows that are gone (restore those tables too with "
        "--tables): make it fit first, or restore into an empty database (--to-url).",
    ) from err


@contextlib.contextmanager
def _missing_definitions(table: str) -> Iterator[None]:
    """A table whose columns, defaults or checks use a type or function the target lacks, as one
    sentence: a backup holds the enum types its tables use, not domains, composite or range types,
    nor functions (a fresh database, ``backup --verify``'s scratch one, has none of them)."""
    try:
        yield
    except (
        psycopg.errors.UndefinedObject,
        psycopg.errors.UndefinedFunction,
        psycopg.errors.UndefinedTable,  # a sequence no column owns, named by a default
        psycopg.errors.InvalidSchemaName,  # a type in another schema
    ) as err:
        raise RestoreTargetLacksError(
            f"Table {table!r} cannot be recreated here: {err.diag.message_primary or err}; a restore recreates "
            "the enum types a table uses and the sequences its columns own, not domains, composite or range "
            "types, sequences no column owns, other schemas, nor the functions its defaults and checks call. "
            "Nothing was restored.",
            "Create it in the target first (as the source defines it: pg_dump --schema-only shows it), or restore "
            "into a database that has it.",
        ) from err


def _inbound_keys_lost(
    conn: psycopg.Connection[Any], schema: str, manifest: Manifest, restored: list[RestoredTable]
) -> list[RestoredTable]:
    """A table outside a partial restore whose foreign key to a recreated table is gone (``DROP TABLE
    ... CASCADE`` dropped it with the table): a warning line on the recreated table with the statement
    that adds the key back, from the backup. Not added here: the outside table's rows were not
    restored, and checking them against the restored ones could fail the whole restore."""
    recreated = {t.name for t in restored if t.recreated}
    chosen = {t.name for t in restored}
    outside = [
        (entry.name, fk)
        for entry in manifest.tables
        if entry.name not in chosen
        for fk in entry.ddl.foreign_keys
        if fk.referenced_schema is None and fk.referenced_table in recreated
    ]
    if not outside:
        return restored
    names = sorted({table for table, _ in outside})
    rows = conn.execute(load_sql("constraint_names"), {"schema": schema, "tables": names}).fetchall()
    has = {(str(r[0]), str(r[1])) for r in rows}
    there = _tables_present(conn, {(schema, table) for table in names})
    lost: dict[str, list[str]] = {}
    for table, fk in outside:
        if (schema, table) in there and (table, fk.name) not in has:
            # The definition names its table as the backup's session saw it (search_path = the schema):
            # run under the same search_path, or an unqualified name could bind to another schema's table.
            statement = (
                sql.SQL("BEGIN; SET LOCAL search_path TO {}; {}; COMMIT;")
                .format(sql.Identifier(schema), add_constraint_statement(schema, table, fk.name, fk.definition))
                .as_string(conn)
            )
            lost.setdefault(fk.referenced_table or "", []).append(
                f"table {table!r} (not restored) has lost its foreign key {fk.name!r} to {fk.referenced_table!r}; "
                f"the backup has it: {statement}"
            )
    return [dataclasses.replace(t, warnings=t.warnings + tuple(lost.get(t.name, ()))) for t in restored]


def _tables_present(conn: psycopg.Connection[Any], wanted: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of the (schema, table) pairs exist."""
    if not wanted:
        return set()
    pairs = sorted(wanted)
    rows = conn.execute(
        load_sql("tables_present"), {"schemas": [p[0] for p in pairs], "tables": [p[1] for p in pairs]}
    ).fetchall()
    return {(str(r[0]), str(r[1])) for r in rows}


@dataclass(frozen=True)
class _TakenName:
    name: str
    relkind: str
    used_by: str | None


_RELATION_KINDS = {
    "r": "table",
    "p": "table",
    "i": "index",
    "I": "index",
    "v": "view",
    "m": "materialized view",
    "S": "sequence",
}


def _refuse_taken_names(conn: psycopg.Connection[Any], schema: str, created: Sequence[TableEntry]) -> None:
    """Refuse when a serial or identity sequence or an index a recreated table needs has a name another
    relation of the schema now holds (a renamed table keeps its sequence's and indexes' names). ``OWNED
    BY`` and ``setval`` would take such a serial sequence from the table that uses it and rewind it;
    an identity sequence (created under its backed-up name) or an index of that name would fail the
    restore late, with PostgreSQL's words."""
    if created:
        # The table's own name held by a view, a partitioned table... (CREATE TABLE would fail, 42P07)
        occupied = catalog_rows(
            conn, "taken_relation_names", _TakenName, {"schema": schema, "names": sorted(e.name for e in created)}
        )
        if occupied:
            held = occupied[0]
            what = "partitioned table" if held.relkind == "p" else _RELATION_KINDS.get(held.relkind, "relation")
            raise RestoreRefusedError(
                f"Table {held.name!r} cannot be restored: in schema {schema!r} that name is now a {what}, which a "
                "restore does not replace (partitioned tables are not restored by backups yet); nothing was "
                "restored.",
                f"Restore into another database (--to-url), or rename that {what} first, or leave the table out "
                "with --tables.",
            )
    needed: dict[str, tuple[str, str]] = {}  # relation name -> (table, what it is to the table)
    for entry in created:
        needed.update(
            (s.name, (entry.name, "identity sequence" if s.identity else "serial sequence"))
            for s in entry.ddl.sequences
        )
        needed.update((c.name, (entry.name, "index")) for c in entry.ddl.constraints if c.kind in ("p", "u", "x"))
        needed.update((i.name, (entry.name, "index")) for i in entry.ddl.indexes)
    if not needed:
        return
    taken = [
        t
        for t in catalog_rows(conn, "taken_relation_names", _TakenName, {"schema": schema, "names": sorted(needed)})
        # an unused sequence is reused as a serial's (CREATE SEQUENCE IF NOT EXISTS)
        if not (t.relkind == "S" and t.used_by is None and needed[t.name][1] == "serial sequence")
    ]
    if not taken:
        return
    first = taken[0]
    table, role = needed[first.name]
    what = _RELATION_KINDS.get(first.relkind, "relation")
    if first.relkind == "S" and first.used_by:
        holder = f"the sequence that {first.used_by} draws from"
    elif first.used_by:
        holder = f"{'an' if what == 'index' else 'a'} {what} of table {first.used_by}"
    else:
        holder = f"a {what}"
    kind = "SEQUENCE" if first.relkind == "S" else "INDEX" if first.relkind in "iI" else "TABLE"
    raise RestoreRefusedError(
        f"Table {table!r} is recreated with its {role} {first.name!r}, but that name is now {holder}; "
        + (
            "restoring would take it over and rewind it"
            if first.relkind == "S" and role == "serial sequence"
            else "the restore cannot create it"
        )
        + ". Nothing was restored.",
        f"Restore into another database (--to-url), or rename that {kind.lower()} first "
        f"(ALTER {kind} {sql.Identifier(schema, first.name).as_string(None)} RENAME TO ...).",
    )


def _refuse_row_security(conn: psycopg.Connection[Any], schema: str, tables: list[str]) -> None:
    """A present table whose row-level security applies to this role could neither take every
    restored row (COPY FROM refuses) nor show them all to the check: refused up front, by name."""
    hidden = row_security_hidden(conn, schema, tables)
    if hidden:
        raise RestoreRefusedError(
            f"Row-level security applies to the role {hidden[0].role_name!r} on table {hidden[0].table_name!r}, so "
            "the restore could neither load every row nor check them; nothing was restored.",
            "Restore as a superuser, as a role with BYPASSRLS, or as the table's owner when the table does not "
            "FORCE ROW LEVEL SECURITY.",
        )


@dataclass(frozen=True)
class _ImmediateKey:
    table_name: str
    name: str
    referenced_table: str
    may_alter: bool


def _switch_off_triggers(conn: psycopg.Connection[Any], schema: str, tables: list[str]) -> tuple[UserTrigger, ...]:
    """Switch off the user triggers a load fires on the present ``tables`` (put back by the caller, in
    the same transaction): restored rows are the backup's, and an audit or counter trigger must not
    run once per restored row, nor rewrite what it loads. Refused when the role may not."""
    firing = find_user_triggers(conn, schema, tables, fired_by_load=True)
    barred = [t for t in firing if not t.owned]
    if barred:
        names = ", ".join(sorted({repr(t.name) for t in barred if t.table_name == barred[0].table_name}))
        raise RestoreRefusedError(
            f"Table {barred[0].table_name!r} has trigger(s) {names} that would fire for every restored row, and only "
            "its owner may switch them off for the load; nothing was restored.",
            "Restore as the table's owner (or a superuser), or disable those triggers yourself and run again.",
        )
    switch_off(conn, schema, firing)
    return firing


def _defer_keys_loaded_backwards(
    conn: psycopg.Connection[Any], schema: str, order: Sequence[TableEntry], tables: list[str]
) -> tuple[list[_ImmediateKey], list[_ImmediateKey]]:
    """Make deferrable, for the load, the non-deferrable foreign keys between present ``tables`` whose
    table is loaded before the one it references (a cycle: no order satisfies them all); the caller
    makes them NOT DEFERRABLE again once they are checked. Returns those, and the ones this role may
    not alter (not its table's owner): left as they are, they fail the load only when a restored row
    references one loaded later (a NULL back-reference does not), see :func:`_keys_not_deferred`."""
    position = {e.name: i for i, e in enumerate(order)}
    keys = catalog_rows(conn, "immediate_foreign_keys", _ImmediateKey, {"schema": schema, "tables": tables})
    backwards = [k for k in keys if position[k.table_name] < position[k.referenced_table]]
    deferred = [k for k in backwards if k.may_alter]
    for key in deferred:
        conn.execute(
            sql.SQL("ALTER TABLE {} ALTER CONSTRAINT {} DEFERRABLE INITIALLY DEFERRED").format(
                sql.Identifier(schema, key.table_name), sql.Identifier(key.name)
            )
        )
    return deferred, [k for k in backwards if not k.may_alter]


@contextlib.contextmanager
def _keys_not_deferred(barred: Sequence[_ImmediateKey]) -> Iterator[None]:
    """A foreign key violation while keys this role could not defer are in a cycle: said as such."""
    try:
        yield
    except psycopg.errors.ForeignKeyViolation as err:
        key = next((k for k in barred if k.name == err.diag.constraint_name), None)
        if key is None:
            raise
        raise RestoreRefusedError(
            f"Tables {key.table_name!r} and {key.referenced_table!r} reference each other through foreign keys that "
            f"cannot be deferred ({key.name!r}), so their rows can only be loaded with that key deferred, which only "
            "the table's owner may do; nothing was restored.",
            "Restore as the tables' owner (or a superuser), or make the key DEFERRABLE and run again.",
        ) from err


@dataclass(frozen=True)
class _OwnerCheck:
    restoring_role: str
    role_exists: bool
    may_own: bool


@dataclass(frozen=True)
class _Found:
    found: bool


def _restore_extras(
    conn: psycopg.Connection[Any], schema: str, table: str, extras: TableExtras, *, skip_missing_functions: bool
) -> tuple[str, ...]:
    """Give the recreated ``table`` its extras back; return a warning per one that could not be."""
    missing = [t for t in extras.triggers if not _function_exists(conn, t.function)]
    if missing and not skip_missing_functions:
        trigger = missing[0]
        raise RestoreRefusedError(
            f"Table {table!r} had trigger {trigger.name!r}, whose function {trigger.function} does not exist "
            "here, so the table cannot be recreated as it was; nothing was restored.",
            "Create that function (or restore into the database that has it), then run this again.",
        )
    warnings = [
        f"table {table!r}: trigger {t.name!r} was left out: its function {t.function} does not exist here."
        for t in missing
    ]
    # The owner first: a grant to the restoring role itself then stays a grant, not owner's rights.
    warnings += _give_to_owner(conn, schema, table, extras.owner)
    # A new table may hold grants from ALTER DEFAULT PRIVILEGES: taken back, the backup's are what it had.
    for row in conn.execute(load_sql("table_grantees"), {"schema": schema, "table": table}).fetchall():
        conn.execute(
            sql.SQL("REVOKE ALL ON TABLE {} FROM {}").format(
                sql.Identifier(schema, table), sql.SQL("PUBLIC") if row[0] is None else sql.Identifier(row[0])
            )
        )
    wanted = sorted(
        {g.grantee for g in extras.grants if g.grantee is not None} | {r for p in extras.policies for r in p.roles}
    )
    roles = {str(r[0]) for r in conn.execute(load_sql("roles_present"), {"roles": wanted})}
    present = {(str(k), str(n)) for k, n in conn.execute(load_sql("table_objects"), {"schema": schema, "table": table})}
    plan = extras_statements(
        schema, table, extras, roles=roles, skip_triggers={t.name for t in missing}, objects_present=present
    )
    for statement in plan.statements:
        conn.execute(statement)
    return tuple(warnings) + plan.warnings


def _function_exists(conn: psycopg.Connection[Any], signature: str) -> bool:
    with conn.cursor(row_factory=class_row(_Found)) as cur:
        row = cur.execute(load_sql("function_exists"), {"signature": signature}).fetchone()
    return row is not None and row.found


def _give_to_owner(conn: psycopg.Connection[Any], schema: str, table: str, owner: str) -> list[str]:
    """ALTER TABLE ... OWNER TO the backed-up owner when the restoring role may; else a warning (the
    restoring role keeps the table: the restore is not refused for it)."""
    with conn.cursor(row_factory=class_row(_OwnerCheck)) as cur:
        check = cur.execute(load_sql("owner_check"), {"owner": owner}).fetchone()
    assert check is not None
    if check.restoring_role == owner:
        return []
    statement = sql.SQL("ALTER TABLE {} OWNER TO {}").format(sql.Identifier(schema, table), sql.Identifier(owner))
    if check.role_exists and check.may_own:
        try:
            with conn.transaction():  # a savepoint: the owner may lack CREATE on the schema
                conn.execute(statement)
            return []
        except psycopg.errors.InsufficientPrivilege:
            pass
    why = "that role does not exist here" if not check.role_exists else f"{check.restoring_role!r} may not give it"
    return [
        f"table {table!r} is owned by {check.restoring_role!r}, not by {owner!r} as when backed up ({why}); "
        f"to give it back, run as a member of {owner!r}: {statement.as_string(conn)};"
    ]


def _check_compatible(
    conn: psycopg.Connection[Any], schema: str, entries: Sequence[TableEntry]
) -> dict[str, tuple[str, ...]]:
    """Refuse a present table that cannot take the backed-up rows; a warning per table that has
    columns besides (a migration added them since the backup): the loaded rows get their defaults."""
    notes: dict[str, tuple[str, ...]] = {}
    for entry in entries:
        present = read_columns(conn, schema, entry.name)
        difference = column_difference(entry.name, entry.ddl.columns, present, "backup")
        if difference is not None:
            raise RestoreRefusedError(
                f"{difference}; nothing was restored.",
                "Restore into a database whose schema matches the backup, or into an empty one (--to-url).",
            )
        backed_up = {c.name for c in entry.ddl.columns}
        beyond = [c for c in present if c.name not in backed_up]
        unfillable = [c.name for c in beyond if c.needs_value]
        if unfillable:
            raise RestoreRefusedError(
                f"Table {entry.name!r} in the target has column {unfillable[0]!r} (NOT NULL, without a default) "
                "that the backup does not have, so the backed-up rows cannot be loaded into it; nothing was restored.",
                "Give that column a default (or drop its NOT NULL) first, or restore into an empty database "
                "(--to-url).",
            )
        if beyond:
            names = ", ".join(repr(c.name) for c in beyond)
            notes[entry.name] = (
                f"table {entry.name!r} has column(s) {names} that the backup does not have: the restored rows hold "
                "their default (NULL where there is none), and the check compares the backed-up columns.",
            )
    return notes


def _refuse_outside_references(conn: psycopg.Connection[Any], schema: str, names: list[str]) -> None:
    """TRUNCATE would fail (or, with CASCADE, empty tables nobody asked to restore): refuse first."""
    if not names:
        return
    found = catalog_rows(conn, "references_in", _Reference, {"schema": schema, "tables": names})
    if found:
        ref = found[0]
        raise RestoreRefusedError(
            f"Table {ref.table_name!r} (not restored) references {ref.referenced!r} through foreign key "
            f"{ref.name!r}, so its rows cannot be replaced alone; nothing was restored.",
            f"Add {ref.table_name} to --tables (if the backup holds it) or restore the whole backup.",
        )


def _refuse_rows(conn: psycopg.Connection[Any], schema: str, names: list[str]) -> None:
    for name in names:
        query = sql.SQL("SELECT EXISTS (SELECT FROM ONLY {})").format(sql.Identifier(schema, name))
        row = conn.execute(query).fetchone()
        if row and row[0]:
            raise RestoreRefusedError(
                f"Table {name!r} of the target is not empty; nothing was restored.",
                "Restore into an empty copy of the schema, or without the empty-target option.",
            )


def _read_committed(conn: psycopg.Connection[Any]) -> bool:
    """COPY FREEZE needs a transaction without a snapshot of its own (READ COMMITTED)."""
    row = conn.execute(b"SHOW transaction_isolation").fetchone()
    return row is not None and row[0] == "read committed"


def _load(conn: psycopg.Connection[Any], schema: str, entry: TableEntry, path: Path, *, freeze: bool) -> None:
    """Stream the data file into the table. ``freeze`` (the table was created or truncated in this
    transaction) loads the rows frozen: less work for the server now, when the verification reads
    them back and after commit; a rollback still discards them, with the table's new file."""
    decompressor = zstandard.ZstdDecompressor()
    statement = copy_statement(schema, entry.name, entry.ddl, "in", entry.copy_format, freeze=freeze)
    with (
        text_copy_settings(conn) if entry.copy_format == "text" else contextlib.nullcontext(),
        path.open("rb") as raw,
        decompressor.stream_reader(raw, read_across_frames=True) as reader,
        conn.cursor() as cur,
        cur.copy(statement) as copy,
    ):
        while block := reader.read(CHUNK):
            copy.write(block)


def _verify(conn: psycopg.Connection[Any], schema: str, entries: Sequence[TableEntry]) -> None:
    expectations = {e.name: DataFingerprint.from_dict(e.fingerprint).tables[0] for e in entries}
    # Rows hashed in the backup's column order: a present table may hold the same columns in another,
    # and columns besides (added since the backup), which are left out.
    order = {name: [c.name for c in expected.columns] for name, expected in expectations.items()}
    actual = fingerprint(conn, schema=schema, tables=[e.name for e in entries], mode="full", column_order=order)
    for entry in entries:
        expected = expectations[entry.name]
        got = actual.table(entry.name)
        assert got is not None
        differences = compare_tables(expected, got)
        if differences:
            raise RestoreMismatchError(
                f"After restoring, table {entry.name!r} differs from the backup ({differences[0].describe()}); "
                "the restore was rolled back.",
                "The target's column types or collations may differ from the backed-up database's.",
            )
