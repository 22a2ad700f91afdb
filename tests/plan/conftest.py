"""Small Prisma projects for `safemigrate plan`: applied migrations recorded as Prisma records them,
pending ones left in the folder, data inserted between."""

from __future__ import annotations

from pathlib import Path

import psycopg

from safemigrate.db import prisma_migrations as pm
from safemigrate.migrations import list_migrations

SCHEMA = """datasource db {
  provider = "postgresql"
  url      = env("DATABASE_URL")
}
"""


def make_project(tmp_path: Path, applied: str, *pending: str) -> Path:
    """A Prisma project: one applied migration, then one folder per pending SQL text."""
    project = tmp_path / "app"
    migrations = project / "prisma" / "migrations"
    migrations.mkdir(parents=True)
    (project / "prisma" / "schema.prisma").write_text(SCHEMA)
    (migrations / "migration_lock.toml").write_text('provider = "postgresql"\n')
    for index, text in enumerate((applied, *pending)):
        name = "20240101000000_init" if index == 0 else f"2024020{index}000000_change_{index}"
        (migrations / name).mkdir()
        (migrations / name / "migration.sql").write_text(text)
    return project


def apply_first(project: Path, database_url: str, count: int = 1) -> None:
    """Run the first ``count`` migrations and record them as `prisma migrate deploy` does."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        pm.create_migrations_table(conn, "public")
        for migration in list_migrations(project / "prisma" / "migrations")[:count]:
            conn.execute(migration.data, prepare=False)
            pm.record_migration_deployed(conn, "public", migration.name, migration.data)


def run_sql(database_url: str, text: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(text.encode(), prepare=False)
