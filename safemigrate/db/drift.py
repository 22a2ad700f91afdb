"""Drift: does the live schema match what the applied migrations build?

The migrations `_prisma_migrations` marks applied are replayed, in Prisma's order, on a throwaway
database (a new database on the same server, dropped afterwards, or an empty one the user gives
with ``--shadow-url``, like Prisma's shadow database), and the catalog snapshots of both are
compared. Each file runs as one query, the way Prisma sends it, so it commits or fails as a whole.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from psycopg import sql

from safemigrate.config import DatabaseConfig
from safemigrate.db.catalog.snapshot import take_snapshot
from safemigrate.db.connect import connect, translate_error
from safemigrate.db.diff import Change, diff_snapshots
from safemigrate.db.prisma_migrations import MigrationRow
from safemigrate.db.url import DatabaseUrl
from safemigrate.errors import DatabaseError, InputError
from safemigrate.migrations import Migration

IGNORED_TABLES = ("_prisma_migrations",)


@dataclass(frozen=True)
class DriftReport:
    replayed: tuple[str, ...]  # migrations replayed on the throwaway database, in order
    missing_locally: tuple[str, ...]  # applied migrations without a local folder: the replay is incomplete
    changes: tuple[Change, ...]  # from the replayed schema to the live one
    replay_failure: str | None = None  # "<migration>: <error>" when a replay failed
    shadow: str = ""  # where the replay ran (redacted)

    @property
    def drifted(self) -> bool:
        return bool(self.changes or self.missing_locally or self.replay_failure)


def _same_database(a: DatabaseUrl, b: DatabaseUrl) -> bool:
    return (a.host, a.port, a.database) == (b.host, b.port, b.database)


@contextmanager
def throwaway_database(
    live: DatabaseUrl, settings: DatabaseConfig, shadow: DatabaseUrl | None
) -> Iterator[DatabaseUrl]:
    """A database to replay on: ``shadow`` when given (must be empty), else a new one on the live server."""
    if shadow is not None:
        if _same_database(shadow, live):
            raise InputError(
                "The shadow database is the database being validated.",
                "Pass --shadow-url of an empty database kept for this purpose.",
            )
        with connect(shadow, command="validate", settings=settings) as conn:
            tables = conn.execute(
                "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
            ).fetchone()
        if tables and tables[0]:
            raise InputError(
                f"The shadow database {shadow.display()} is not empty ({tables[0]} tables); safemigrate "
                "does not wipe a database it did not create.",
                "Give an empty database, or drop its tables yourself.",
            )
        yield shadow
        return
    name = "safemigrate_validate_" + secrets.token_hex(6)
    with connect(live.with_database("postgres"), command="validate", settings=settings) as admin:
        try:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.errors.InsufficientPrivilege as err:
            raise DatabaseError(
                f"The role {live.user!r} may not create the throwaway database that validate replays the "
                "migrations on.",
                "Grant CREATEDB, or pass --shadow-url with an empty database.",
            ) from err
        except psycopg.Error as err:
            raise translate_error(err, live, settings) from err
        try:
            yield live.with_database(name)
        finally:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def check_drift(
    live_conn: psycopg.Connection,
    live: DatabaseUrl,
    migrations: Sequence[Migration],
    rows: Sequence[MigrationRow],
    settings: DatabaseConfig,
    shadow: DatabaseUrl | None = None,
) -> DriftReport:
    """Replay the applied migrations elsewhere and compare that schema with the live one."""
    applied = {row.migration_name for row in rows if row.applied}
    local = {m.name for m in migrations}
    missing = tuple(sorted(applied - local))
    to_replay = [m for m in migrations if m.name in applied]
    with throwaway_database(live, settings, shadow) as target:
        with connect(target, command="validate", settings=settings) as conn:
            if live.schema != "public":
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(live.schema)))
            for migration in to_replay:
                try:
                    conn.execute(migration.data, prepare=False)
                except psycopg.Error as err:
                    failure = f"{migration.name}: {' '.join(str(err).split())}"
                    return DriftReport(tuple(m.name for m in to_replay), missing, (), failure, target.display())
            replayed = take_snapshot(conn, (live.schema,), exclude_tables=IGNORED_TABLES)
        current = take_snapshot(live_conn, (live.schema,), exclude_tables=IGNORED_TABLES)
    diff = diff_snapshots(replayed, current)
    return DriftReport(tuple(m.name for m in to_replay), missing, diff.changes, None, target.display())
