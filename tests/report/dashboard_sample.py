"""A project whose store holds real runs and backups, made by `migrate` and `backup` on a real server."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import psycopg

from safemigrate.backup.manifest import Manifest, Reason
from safemigrate.backup.project import backup_database
from safemigrate.migrations import list_migrations
from safemigrate.pipeline.apply import apply_migrations
from safemigrate.pipeline.migrate import MigrateRun, migrate

PATTERNS = Path(__file__).parents[2] / "fixtures" / "patterns"
HOSTILE = '<script>alert("x")</script>'  # must reach the page as text, never as markup


@dataclass(frozen=True)
class Ledger:
    project: Path
    refused: MigrateRun
    applied: MigrateRun
    manual: Manifest  # a verified manual backup whose reason text is HOSTILE


def copy_pattern(tmp_path: Path, pattern: str) -> Path:
    project = tmp_path / "project"
    shutil.copytree(PATTERNS / pattern, project)
    (project / "safemigrate.toml").write_text(f'[backup]\nstore = "{tmp_path / "backups"}"\n')
    return project


def deploy_first(project: Path, url: str, sql: str) -> None:
    first = list_migrations(project / "prisma" / "migrations")[:1]
    with psycopg.connect(url, autocommit=True) as conn:
        apply_migrations(conn, "public", first)
        conn.execute(sql)


def add_migration(project: Path, name: str, sql: str) -> None:
    folder = project / "prisma" / "migrations" / name
    folder.mkdir()
    (folder / "migration.sql").write_text(sql)


def make_ledger(tmp_path: Path, url: str) -> Ledger:
    """drop_column: a refused run, then an applied one (pre-migrate backup, schema changes), then a
    verified manual backup."""
    project = copy_pattern(tmp_path, "drop_column")
    deploy_first(
        project,
        url,
        """INSERT INTO "User" (email, nickname)
           SELECT 'u' || i || '@example.com', 'nick' || i FROM generate_series(1, 30) i""",
    )
    refused = migrate(project, database_url=url)
    assert refused.verdict == "refused", refused.message
    applied = migrate(project, database_url=url, allow=("data-loss",))
    assert applied.verdict == "applied", applied.message
    manual = backup_database(project, database_url=url, reason=Reason("manual", HOSTILE), verify=True).manifest
    assert manual.verified is True
    return Ledger(project, refused, applied, manual)
