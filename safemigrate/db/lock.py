"""Prisma Migrate's advisory lock, so safemigrate and ``prisma migrate deploy`` never run at once.

Prisma's schema engine takes ``SELECT pg_advisory_lock(72707369)`` (session level, in the database it
migrates) before it reads or writes ``_prisma_migrations``, and gives up after 10 seconds
(``ADVISORY_LOCK_TIMEOUT`` in prisma-engines ``sql-schema-connector/src/flavour/postgres.rs``).
safemigrate takes the very same lock, waits at most ``[database] migrate_lock_timeout`` (the wait is
PostgreSQL's own ``lock_timeout``, so waiters queue fairly), and on timeout names the session
holding it: pid, application_name and the time it started.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from safemigrate.db import load_sql
from safemigrate.db.connect import duration_text
from safemigrate.errors import MigrationLockError

PRISMA_MIGRATION_LOCK_KEY = 72707369  # "a unique number we chose to identify Migrate" (prisma-engines)


@dataclass(frozen=True)
class LockHolder:
    """A session holding the lock (columns of sql/locks.sql)."""

    pid: int
    application_name: str
    backend_start: dt.datetime | None  # None when this role may not see other roles' sessions
    usename: str | None
    client_addr: str | None
    state: str | None

    def describe(self) -> str:
        name = f'application_name "{self.application_name}"' if self.application_name else "no application_name"
        started = (
            f"session started {self.backend_start.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M:%S} UTC"
            if self.backend_start is not None
            else "start time hidden from this role"
        )
        user = f', user "{self.usename}"' if self.usename else ""
        return f"pid {self.pid} ({name}, {started}{user})"


def lock_holders(conn: psycopg.Connection[Any], key: int = PRISMA_MIGRATION_LOCK_KEY) -> list[LockHolder]:
    """The sessions that hold advisory lock ``key`` in the connection's database."""
    with conn.cursor(row_factory=class_row(LockHolder)) as cur:
        cur.execute(load_sql("locks"), {"key": key})
        return cur.fetchall()


def acquire_migration_lock(
    conn: psycopg.Connection[Any], *, timeout: float, key: int = PRISMA_MIGRATION_LOCK_KEY
) -> None:
    """Take the session-level lock, waiting at most ``timeout`` seconds (0: as long as it takes).

    The connection must not be inside a transaction. Raises MigrationLockError naming the holder."""
    if conn.broken or conn.closed:  # the session ended (server restart, terminated): the user's to see
        raise psycopg.OperationalError("the connection is closed")
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise RuntimeError("take the migration lock outside a transaction")  # a programming error, not a user's
    wait = sql.Literal(f"{round(timeout * 1000)}ms")
    try:
        with conn.transaction():  # SET LOCAL: the session's own limits come back when it ends
            conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(wait))
            conn.execute("SET LOCAL statement_timeout = 0")
            conn.execute("SELECT pg_advisory_lock(%s)", [key])
    except psycopg.errors.LockNotAvailable:
        with conn.transaction():
            holders = [h for h in lock_holders(conn, key) if h.pid != conn.info.backend_pid]
        database = conn.info.dbname
        if not holders:
            raise MigrationLockError(
                f'Prisma\'s migration lock (pg_advisory_lock({key})) on database "{database}" was held for '
                f"{duration_text(timeout)} and has just been released.",
                "Run the command again.",
                "55P03",
            ) from None
        raise MigrationLockError(
            f'Another migration holds Prisma\'s migration lock (pg_advisory_lock({key})) on database "{database}": '
            f"{'; '.join(h.describe() for h in holders)}; waited {duration_text(timeout)}.",
            "Wait for that deploy to finish, or raise [database] migrate_lock_timeout; if that session is stuck, "
            f"end it with SELECT pg_terminate_backend({holders[0].pid}).",
            "55P03",
        ) from None


def release_migration_lock(conn: psycopg.Connection[Any], key: int = PRISMA_MIGRATION_LOCK_KEY) -> None:
    """Release the lock; a closed session has released it already."""
    if conn.closed:
        return
    if conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR:
        conn.rollback()
    if conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        with conn.transaction():  # leaves no transaction open on a non-autocommit connection
            conn.execute("SELECT pg_advisory_unlock(%s)", [key])
    else:
        conn.execute("SELECT pg_advisory_unlock(%s)", [key])


@contextlib.contextmanager
def migration_lock(
    conn: psycopg.Connection[Any], *, timeout: float, key: int = PRISMA_MIGRATION_LOCK_KEY
) -> Iterator[None]:
    """Hold Prisma's migration lock for the block (``timeout``: seconds to wait for it, 0 = no limit)."""
    acquire_migration_lock(conn, timeout=timeout, key=key)
    try:
        yield
    finally:
        release_migration_lock(conn, key)
