"""`safemigrate status`: the project's migrations against the database's ``_prisma_migrations``.

Like ``prisma migrate status``, with more detail. Each migration gets one state:

- ``applied``: a finished, not rolled back row whose checksum matches the file (line endings and
  legacy checksums tolerated as Prisma does);
- ``pending``: no row at all (``prisma migrate status`` lists it as not yet applied);
- ``failed``: a row with neither finished_at nor rolled_back_at; ``migrate deploy`` refuses to run
  until it is resolved (its logs are kept);
- ``rolled_back``: every row was rolled back (``migrate resolve --rolled-back``): ``migrate
  deploy`` applies it again, although ``prisma migrate status`` does not mention it;
- ``edited``: applied, but migration.sql changed since (checksum differs); ``prisma migrate
  status`` does not report this;
- ``missing_locally``: applied in the database, but its folder is not in the migrations directory.

With several rows per name, a failed row decides first, then the latest applied row, then the
latest row. The database is in sync when every migration is ``applied`` (rolled-back rows of a
migration whose folder is gone are mere history); anything else, and a schema with tables but no
``_prisma_migrations`` (it must be baselined first), makes the command exit 1.
Prisma exits 1 only for pending, failed and diverged (pending together with missing) histories.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from safemigrate.collation import UnorderableNamesError, sort_like_prisma
from safemigrate.db.prisma_migrations import (
    DEFAULT_SCHEMA,
    MIGRATIONS_TABLE,
    MigrationRow,
    counted_tables,
    read_migration_rows,
    script_matches_checksum,
    table_names,
)
from safemigrate.migrations import Migration, checksum_of, list_migrations

if TYPE_CHECKING:
    import psycopg

APPLIED = "applied"
PENDING = "pending"
FAILED = "failed"
ROLLED_BACK = "rolled_back"
EDITED = "edited"
MISSING_LOCALLY = "missing_locally"
STATES = (APPLIED, PENDING, FAILED, ROLLED_BACK, EDITED, MISSING_LOCALLY)


@dataclass(frozen=True)
class MigrationStatus:
    name: str
    state: str  # one of STATES
    local: bool  # the folder is in the migrations directory
    checksum: str | None  # SHA-256 of the local migration.sql
    recorded_checksum: str | None  # the checksum stored in the row that decides the state
    started_at: datetime | None  # of that row
    applied_at: datetime | None  # its finished_at
    rolled_back_at: datetime | None
    applied_steps_count: int | None
    logs: str | None  # what Prisma (or safemigrate) stored when the migration failed
    attempts: int  # rows with this name

    @property
    def checksum_matches(self) -> bool | None:
        """None when there is nothing to compare (no file or no row)."""
        if self.checksum is None or self.recorded_checksum is None:
            return None
        return self.state != EDITED


@dataclass(frozen=True)
class StatusReport:
    migrations: tuple[MigrationStatus, ...]
    schema: str
    has_migrations_table: bool
    unmanaged_tables: tuple[str, ...]  # tables found while _prisma_migrations is missing
    rows: int  # rows in _prisma_migrations
    migrations_dir: Path | None = None
    database: str = ""  # the URL, redacted

    def named(self, state: str) -> tuple[MigrationStatus, ...]:
        return tuple(m for m in self.migrations if m.state == state)

    @property
    def counts(self) -> dict[str, int]:
        return {state: len(self.named(state)) for state in STATES}

    @property
    def needs_baseline(self) -> bool:
        """The schema has tables but no migration history: Prisma would refuse to deploy (P3005)."""
        return not self.has_migrations_table and bool(self.unmanaged_tables)

    @property
    def first_local(self) -> str | None:
        return next((m.name for m in self.migrations if m.local), None)

    @property
    def out_of_sync(self) -> tuple[MigrationStatus, ...]:
        """Every migration that is not plainly applied (a rolled-back attempt whose folder is gone is history)."""
        return tuple(m for m in self.migrations if m.state != APPLIED and (m.local or m.state != ROLLED_BACK))

    @property
    def in_sync(self) -> bool:
        return not self.needs_baseline and not self.out_of_sync


def _status_of(name: str, script: bytes | None, rows: Sequence[MigrationRow]) -> MigrationStatus:
    checksum = checksum_of(script) if script is not None else None
    if not rows:
        return MigrationStatus(name, PENDING, True, checksum, None, None, None, None, None, None, 0)
    failed = [r for r in rows if r.failed]
    applied = [r for r in rows if r.applied]
    if failed:
        row, state = failed[-1], FAILED
    elif applied:
        row = applied[-1]
        if script is None:
            state = MISSING_LOCALLY
        elif script_matches_checksum(script, row.checksum):
            state = APPLIED
        else:
            state = EDITED
    else:
        row, state = rows[-1], ROLLED_BACK
    return MigrationStatus(
        name,
        state,
        script is not None,
        checksum,
        row.checksum,
        row.started_at,
        row.finished_at,
        row.rolled_back_at,
        row.applied_steps_count,
        row.logs if state == FAILED else None,
        len(rows),
    )


def compute_status(migrations: Sequence[Migration], rows: Sequence[MigrationRow]) -> tuple[MigrationStatus, ...]:
    """One status per migration, local or recorded, in Prisma's folder order (recorded-only ones merged in)."""
    by_name: dict[str, list[MigrationRow]] = {}
    for row in sorted(rows, key=lambda r: r.started_at):
        by_name.setdefault(row.migration_name, []).append(row)
    statuses = {m.name: _status_of(m.name, m.data, by_name.get(m.name, ())) for m in migrations}
    for name, named_rows in by_name.items():
        if name not in statuses:
            statuses[name] = _status_of(name, None, named_rows)
    try:
        order = sort_like_prisma(statuses)
    except UnorderableNamesError:  # local ones in Prisma's order, then the rest by first attempt
        order = list(statuses)
    return tuple(statuses[name] for name in order)


def read_status(
    conn: psycopg.Connection[object],
    migrations: Sequence[Migration],
    *,
    schema: str = DEFAULT_SCHEMA,
    migrations_dir: Path | None = None,
    database: str = "",
) -> StatusReport:
    """Read ``_prisma_migrations`` of ``schema`` (read only: nothing is created) and compare."""
    tables = table_names(conn, schema)
    has_table = MIGRATIONS_TABLE in tables
    rows = read_migration_rows(conn, schema) if has_table else ()
    unmanaged = () if has_table else counted_tables(tables)
    return StatusReport(
        compute_status(migrations, rows), schema, has_table, unmanaged, len(rows), migrations_dir, database
    )


def status(
    project_dir: Path = Path("."),
    *,
    schema_path: Path | None = None,
    migrations_dir: Path | None = None,
    database_url: str | None = None,
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> StatusReport:
    """The status of the project's migrations in its database (found as Prisma finds it); read only."""
    from safemigrate.config import load_config
    from safemigrate.db.connect import connect, database_errors
    from safemigrate.db.datasource import resolve_database_url
    from safemigrate.lint.registry import rule_names
    from safemigrate.project import discover_project

    config = load_config(project_dir, config_file, rule_names())
    project = discover_project(project_dir, schema_path, migrations_dir)
    migrations = list_migrations(project.migrations_dir)
    url = resolve_database_url(project, database_url=database_url, environ=environ, for_migration=False)
    with connect(url, command="status", settings=config.database) as conn, database_errors(url, config.database):
        return read_status(
            conn, migrations, schema=url.schema, migrations_dir=project.migrations_dir, database=url.redacted()
        )
