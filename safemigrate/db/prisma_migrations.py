"""``_prisma_migrations``, read and written exactly as Prisma's schema engine does.

What Prisma does, and so what this module does (prisma-engines: ``sql_migration_persistence.rs``,
``checksum.rs``, ``apply_migrations.rs``, ``mark_migration_applied.rs``,
``mark_migration_rolled_back.rs``; the rows checked against the rows Prisma 6.19.3 wrote):

- The table lives in the URL's schema (``?schema=``, default ``public``); its DDL is
  ``sql/prisma_migrations_create.sql``. Rows are read ordered by ``started_at``.
- One row per attempt: a migration may have several rows (a failed attempt marked rolled back,
  then a successful one). ``id`` is a random UUID v4; timestamps come from the client's clock, in
  UTC (Prisma 6.19.3 stores them to the millisecond, and so does this module).
- ``migrate deploy`` writes, per migration: a row with id, checksum, migration_name and started_at
  (logs NULL, applied_steps_count 0); after the script succeeded, ``applied_steps_count + 1``
  then ``finished_at``; after it failed, ``logs`` (the error text) and nothing else. A failed
  migration is a row whose ``finished_at`` and ``rolled_back_at`` are both NULL.
- ``migrate resolve --rolled-back`` sets ``rolled_back_at`` on the failed rows of the migration
  (P3011 if it has no row, P3012 if every row finished); ``migrate resolve --applied`` marks the
  failed rows rolled back and inserts a finished row (logs ``''``, started_at = finished_at,
  applied_steps_count 0), refusing (P3008) a migration that already has a finished row.
- Before its first write into a database, ``migrate deploy`` refuses a schema that has tables but
  no ``_prisma_migrations`` (P3005); ``resolve --applied`` (baselining) creates the table without
  that check.
- The checksum is the SHA-256 hex of migration.sql. A stored checksum matches a script when the
  script, or the script with CRLF turned into LF, or with LF turned into CRLF, hashes to it; a
  stored checksum that is not 64 characters long is compared in the legacy format of old Prisma
  versions (each byte in hex without zero padding, prisma-engines#1887).

Every function runs its statements on the connection it is given and leaves the transaction to
the caller: on an autocommit connection each write commits at once (as Prisma's do); inside a
transaction the caller commits or rolls back the rows with the migration itself.
"""

from __future__ import annotations

import functools
import hashlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from safemigrate.db import load_sql
from safemigrate.errors import (
    DatabaseSchemaNotEmptyError,
    MigrationAlreadyAppliedError,
    MigrationNotFailedError,
    MigrationNotInDatabaseError,
)

MIGRATIONS_TABLE = "_prisma_migrations"
DEFAULT_SCHEMA = "public"
CHECKSUM_LENGTH = 64
BASELINE_DOCS = "https://pris.ly/d/migrate-baseline"
RESOLVE_DOCS = "https://pris.ly/d/migrate-resolve"

# Tables Prisma does not count when it decides whether a schema is empty (PostGIS's own tables).
_IGNORED_TABLES = re.compile(
    r"^(spatial_ref_sys|geometry_columns|geography_columns|raster_columns|raster_overviews)$", re.IGNORECASE
)


@dataclass(frozen=True)
class MigrationRow:
    """One row of ``_prisma_migrations``: one attempt at applying one migration."""

    id: str
    checksum: str
    finished_at: datetime | None
    migration_name: str
    logs: str | None
    rolled_back_at: datetime | None
    started_at: datetime
    applied_steps_count: int

    @property
    def failed(self) -> bool:
        """Prisma's definition: neither finished nor rolled back (``migrate deploy`` stops on it)."""
        return self.finished_at is None and self.rolled_back_at is None

    @property
    def applied(self) -> bool:
        """Finished and not rolled back since: the migration is in the database."""
        return self.finished_at is not None and self.rolled_back_at is None

    @property
    def rolled_back(self) -> bool:
        return self.rolled_back_at is not None


@dataclass(frozen=True)
class _TableName:
    name: str


# --- checksums ---------------------------------------------------------------------------------


def render_checksum(script: bytes) -> str:
    """The checksum Prisma stores for a migration script: lowercase SHA-256 hex, 64 characters."""
    return hashlib.sha256(script).hexdigest()


def _legacy_checksum(digest: bytes) -> str:
    """The format of old Prisma versions: each byte in hex without zero padding."""
    return "".join(format(byte, "x") for byte in digest)


def script_matches_checksum(script: bytes, checksum: str) -> bool:
    """Whether ``script`` is the script whose checksum Prisma stored, as Prisma decides it.

    Line endings do not matter (git may check a file out with CRLF on Windows and LF elsewhere),
    and a legacy checksum without zero padding (any length but 64) is compared in that format.
    """
    legacy = bool(checksum) and len(checksum) != CHECKSUM_LENGTH
    for candidate in (script, script.replace(b"\r\n", b"\n"), script.replace(b"\n", b"\r\n")):
        digest = hashlib.sha256(candidate).digest()
        if (_legacy_checksum(digest) if legacy else digest.hex()) == checksum:
            return True
    return False


# --- SQL ---------------------------------------------------------------------------------------


@functools.cache
def _table(schema: str) -> sql.Identifier:
    return sql.Identifier(schema, MIGRATIONS_TABLE)


def _with_table(name: str, schema: str) -> sql.Composed:
    return sql.SQL(load_sql(name)).format(table=_table(schema))


_INSERT_STARTED = sql.SQL("INSERT INTO {table} (id, checksum, started_at, migration_name) VALUES (%s, %s, %s, %s)")
_INSERT_APPLIED = sql.SQL(
    "INSERT INTO {table} (id, checksum, logs, started_at, finished_at, migration_name) VALUES (%s, %s, %s, %s, %s, %s)"
)
_STEP = sql.SQL("UPDATE {table} SET applied_steps_count = applied_steps_count + 1 WHERE id = %s")
_FINISHED = sql.SQL("UPDATE {table} SET finished_at = %s WHERE id = %s")
_FAILED = sql.SQL("UPDATE {table} SET logs = %s WHERE id = %s")
_ROLLED_BACK = sql.SQL("UPDATE {table} SET rolled_back_at = %s WHERE id = %s")


def _execute(conn: psycopg.Connection[object], statement: sql.SQL, schema: str, params: Sequence[object]) -> int:
    with conn.cursor() as cur:
        cur.execute(statement.format(table=_table(schema)), params)
        return cur.rowcount


def utc_now() -> datetime:
    """The client's clock in UTC, to the millisecond, as Prisma 6.19.3 stores its timestamps."""
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=now.microsecond - now.microsecond % 1000)


def new_migration_id() -> str:
    """A random UUID v4 in its 36-character text form, as Prisma's ids."""
    return str(uuid.uuid4())


# --- reading -----------------------------------------------------------------------------------


def table_names(conn: psycopg.Connection[object], schema: str) -> tuple[str, ...]:
    """The ordinary tables of ``schema`` (as Prisma lists them), sorted by name."""
    with conn.cursor(row_factory=class_row(_TableName)) as cur:
        cur.execute(load_sql("prisma_migrations_tables"), {"schema": schema})
        return tuple(row.name for row in cur.fetchall())


def counted_tables(names: Sequence[str]) -> tuple[str, ...]:
    """The tables that make a schema non-empty for Prisma: all but PostGIS's own and the migrations table."""
    return tuple(n for n in names if n != MIGRATIONS_TABLE and not _IGNORED_TABLES.match(n))


def migrations_table_exists(conn: psycopg.Connection[object], schema: str) -> bool:
    return MIGRATIONS_TABLE in table_names(conn, schema)


def read_migration_rows(conn: psycopg.Connection[object], schema: str) -> tuple[MigrationRow, ...]:
    """Every row of the schema's ``_prisma_migrations`` ordered by started_at; none when the table is missing."""
    if not migrations_table_exists(conn, schema):
        return ()
    with conn.cursor(row_factory=class_row(MigrationRow)) as cur:
        cur.execute(_with_table("prisma_migrations_rows", schema))
        return tuple(cur.fetchall())


def rows_named(rows: Sequence[MigrationRow], name: str) -> tuple[MigrationRow, ...]:
    return tuple(row for row in rows if row.migration_name == name)


# --- creating the table ------------------------------------------------------------------------


def create_migrations_table(conn: psycopg.Connection[object], schema: str) -> bool:
    """Create the schema (if missing) and the table (if missing), with no emptiness check.

    This is Prisma's ``baseline_initialize`` (used by ``resolve --applied``); it also creates the
    schema the way Prisma does when the URL names one that does not exist. True when created.
    """
    if migrations_table_exists(conn, schema):
        return False
    with conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        cur.execute(_with_table("prisma_migrations_create", schema))
    return True


def initialize(conn: psycopg.Connection[object], schema: str, *, first_migration: str | None = None) -> bool:
    """Make sure the table exists before a first write, refusing a non-empty schema like Prisma's P3005.

    ``first_migration`` (the oldest local migration) is named in the baseline advice. Returns True
    when the table was created.
    """
    names = table_names(conn, schema)
    if MIGRATIONS_TABLE in names:
        return False
    others = counted_tables(names)
    if others:
        target = f'"{first_migration}"' if first_migration else "<migration-name>"
        raise DatabaseSchemaNotEmptyError(
            f'The database schema "{schema}" is not empty ({len(others)} table{"s" if len(others) != 1 else ""}, '
            f"e.g. {others[0]}) and has no {MIGRATIONS_TABLE} table, so no Prisma migration history was started "
            "in it (like Prisma's P3005).",
            "Baseline it first: mark each migration the database already reflects as applied with "
            f"`prisma migrate resolve --applied {target}`; see {BASELINE_DOCS}.",
        )
    return create_migrations_table(conn, schema)


# --- writing, as migrate deploy ----------------------------------------------------------------


def record_migration_started(
    conn: psycopg.Connection[object],
    schema: str,
    name: str,
    script: bytes,
    *,
    now: datetime | None = None,
    migration_id: str | None = None,
) -> str:
    """Insert the row ``migrate deploy`` writes before it runs a migration; returns its id.

    Refuses a non-empty schema without the table (P3005), and creates the table otherwise.
    """
    initialize(conn, schema, first_migration=name)
    row_id = migration_id or new_migration_id()
    _execute(conn, _INSERT_STARTED, schema, (row_id, render_checksum(script), now or utc_now(), name))
    return row_id


def record_successful_step(conn: psycopg.Connection[object], schema: str, migration_id: str) -> None:
    """``applied_steps_count + 1``: Prisma counts the whole script as one step."""
    _execute(conn, _STEP, schema, (migration_id,))


def record_migration_finished(
    conn: psycopg.Connection[object], schema: str, migration_id: str, *, now: datetime | None = None
) -> None:
    _execute(conn, _FINISHED, schema, (now or utc_now(), migration_id))


def record_failed_step(conn: psycopg.Connection[object], schema: str, migration_id: str, logs: str) -> None:
    """Store the error of a failed migration in ``logs``; the row stays failed (no finished_at)."""
    _execute(conn, _FAILED, schema, (logs, migration_id))


def record_migration_deployed(
    conn: psycopg.Connection[object],
    schema: str,
    name: str,
    script: bytes,
    *,
    started_at: datetime | None = None,
    finished_at: datetime | None = None,
) -> str:
    """The three writes of a successful ``migrate deploy`` of one migration (started, step, finished)."""
    row_id = record_migration_started(conn, schema, name, script, now=started_at)
    record_successful_step(conn, schema, row_id)
    record_migration_finished(conn, schema, row_id, now=finished_at)
    return row_id


def failure_logs(name: str, sqlstate: str | None, error: str) -> str:
    """The text Prisma's native schema engine stores in ``logs`` when a migration fails (P3018)."""
    return (
        "A migration failed to apply. New migrations cannot be applied before the error is recovered from. "
        f"Read more about how to resolve migration issues in a production database: {RESOLVE_DOCS}\n\n"
        f"Migration name: {name}\n\n"
        f"Database error code: {sqlstate or 'none'}\n\n"
        f"Database error:\n{error}\n"
    )


def record_migration_failed(
    conn: psycopg.Connection[object],
    schema: str,
    name: str,
    script: bytes,
    logs: str,
    *,
    now: datetime | None = None,
) -> str:
    """The two writes of a ``migrate deploy`` whose migration failed (started, then logs)."""
    row_id = record_migration_started(conn, schema, name, script, now=now)
    record_failed_step(conn, schema, row_id, logs)
    return row_id


# --- writing, as migrate resolve ---------------------------------------------------------------


def mark_row_rolled_back(
    conn: psycopg.Connection[object], schema: str, migration_id: str, *, now: datetime | None = None
) -> None:
    """Set ``rolled_back_at`` on one row (Prisma's ``mark_migration_rolled_back_by_id``)."""
    _execute(conn, _ROLLED_BACK, schema, (now or utc_now(), migration_id))


def record_migration_rolled_back(
    conn: psycopg.Connection[object], schema: str, name: str, *, now: datetime | None = None
) -> tuple[str, ...]:
    """``prisma migrate resolve --rolled-back NAME``: mark the migration's failed rows rolled back.

    Refuses, as Prisma does, a migration with no row (P3011) and one whose rows all finished
    (P3012). Returns the ids of the rows marked.
    """
    rows = rows_named(read_migration_rows(conn, schema), name)
    if not rows:
        raise MigrationNotInDatabaseError(
            f"Migration `{name}` cannot be rolled back because it was never applied to the database "
            "(like Prisma's P3011).",
            "Check the name: it is the whole folder name, e.g. 20201207184859_initial_migration.",
        )
    if all(row.finished_at is not None for row in rows):
        raise MigrationNotFailedError(
            f"Migration `{name}` cannot be rolled back because it is not in a failed state (like Prisma's P3012).",
            "Only a failed migration can be marked rolled back; undo an applied one with a new migration.",
        )
    stamp = now or utc_now()
    marked = tuple(row.id for row in rows if row.failed)
    for row_id in marked:
        mark_row_rolled_back(conn, schema, row_id, now=stamp)
    return marked


def record_migration_applied(
    conn: psycopg.Connection[object], schema: str, name: str, script: bytes, *, now: datetime | None = None
) -> str:
    """``prisma migrate resolve --applied NAME``: record the migration as applied without running it.

    Creates the table if missing (baselining: no emptiness check); refuses a migration that
    already has a finished row (P3008); marks its failed rows rolled back; inserts a finished row.
    """
    create_migrations_table(conn, schema)
    rows = rows_named(read_migration_rows(conn, schema), name)
    if any(row.finished_at is not None for row in rows):
        raise MigrationAlreadyAppliedError(
            f"The migration `{name}` is already recorded as applied in the database (like Prisma's P3008).",
            "Nothing to do; `safemigrate status` lists what is applied.",
        )
    stamp = now or utc_now()
    for row in rows:
        if row.failed:
            mark_row_rolled_back(conn, schema, row.id, now=stamp)
    row_id = new_migration_id()
    _execute(conn, _INSERT_APPLIED, schema, (row_id, render_checksum(script), "", stamp, stamp, name))
    return row_id
