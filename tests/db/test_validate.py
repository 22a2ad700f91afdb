"""`safemigrate validate` on real databases: integrity, and drift against a replay of the migrations."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from safemigrate.db import prisma_migrations as pm
from safemigrate.errors import InputError
from safemigrate.migrations import list_migrations
from safemigrate.validate import validate
from tests.pgserver import PgServer

BLOG = Path(__file__).parents[2] / "fixtures" / "blog"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(BLOG, tmp_path / "blog")
    return tmp_path / "blog"


def deploy(project: Path, url: str) -> None:
    """Apply every migration as Prisma does (one query per file) and record it as Prisma records it."""
    with psycopg.connect(url, autocommit=True) as conn:
        pm.create_migrations_table(conn, "public")
        for migration in list_migrations(project / "prisma" / "migrations"):
            conn.execute(migration.data, prepare=False)
            pm.record_migration_deployed(conn, "public", migration.name, migration.data)


def run_sql(url: str, text: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(text.encode(), prepare=False)


def test_deployed_history_has_no_drift(project: Path, database_url: str) -> None:
    deploy(project, database_url)
    report = validate(project, database_url=database_url)
    assert not report.failed, report
    assert report.drift is not None and len(report.drift.replayed) == 7


def test_change_made_outside_migrations_is_drift(project: Path, database_url: str) -> None:
    deploy(project, database_url)
    run_sql(
        database_url, 'ALTER TABLE "User" ADD COLUMN "hotfix" TEXT; CREATE INDEX "User_name_idx" ON "User"("name");'
    )
    report = validate(project, database_url=database_url)
    assert report.failed and report.drift is not None
    described = " | ".join(c.describe() for c in report.drift.changes)
    assert "hotfix" in described and "User_name_idx" in described


def test_applied_migration_missing_locally_and_integrity_problems(project: Path, database_url: str) -> None:
    deploy(project, database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        pm.record_migration_deployed(conn, "public", "20240501000000_hotfix_from_another_branch", b"SELECT 1;")
    run_sql(
        database_url,
        """INSERT INTO "User" ("id", "email", "role") VALUES (100, 'a@example.com', 'USER');"""
        'ALTER TABLE "Post" DROP CONSTRAINT "Post_authorId_fkey";'
        """INSERT INTO "Post" ("title", "slug", "authorId", "updatedAt") VALUES ('t', 's', 999, now());"""
        'ALTER TABLE "Post" ADD CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User"("id") '
        "ON DELETE RESTRICT ON UPDATE CASCADE NOT VALID;",
    )
    report = validate(project, database_url=database_url)
    assert report.drift is not None
    assert report.drift.missing_locally == ("20240501000000_hotfix_from_another_branch",)
    assert [o.rows for o in report.integrity.orphans] == [1]
    assert [c.constraint_name for c in report.integrity.unvalidated_constraints] == ["Post_authorId_fkey"]
    assert [b.table_name for b in report.integrity.sequences_behind] == ["User"]


def test_shadow_database_must_be_empty_and_not_the_target(
    project: Path, database_url: str, pg_server: PgServer
) -> None:
    deploy(project, database_url)
    with pytest.raises(InputError, match="is the database being validated"):
        validate(project, database_url=database_url, shadow_url=database_url)
    with psycopg.connect(pg_server.url(), autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS shadow_busy WITH (FORCE)")
        admin.execute("CREATE DATABASE shadow_busy")
    run_sql(pg_server.url("shadow_busy"), "CREATE TABLE keep_me (id INTEGER)")
    with pytest.raises(InputError, match="not empty"):
        validate(project, database_url=database_url, shadow_url=pg_server.url("shadow_busy"))
    run_sql(pg_server.url("shadow_busy"), "DROP TABLE keep_me")
    report = validate(project, database_url=database_url, shadow_url=pg_server.url("shadow_busy"))
    assert not report.failed


def test_cli_exit_codes_json_and_no_password(project: Path, database_url: str, pg_server: PgServer) -> None:
    deploy(project, database_url)
    env = {**os.environ, "DATABASE_URL": database_url}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "safemigrate", "validate", "--project", str(project), *args],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )

    clean = cli()
    assert clean.returncode == 0, clean.stderr
    assert "No problems found" in clean.stdout
    run_sql(database_url, 'ALTER TABLE "Post" DROP COLUMN "viewCount";')
    drifted = cli("--format", "json")
    assert drifted.returncode == 1
    document = json.loads(drifted.stdout)
    assert document["failed"] and any("viewCount" in c["description"] for c in document["drift"]["changes"])
    for completed in (clean, drifted):
        assert pg_server.password not in completed.stdout + completed.stderr
