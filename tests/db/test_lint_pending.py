"""`lint --pending`: only what the database has not applied yet, judged with the deploy's fresh tables."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg

from safemigrate import api
from safemigrate.db import prisma_migrations as pm
from safemigrate.migrations import list_migrations
from tests.pgserver import PgServer

BLOG = Path(__file__).parents[2] / "fixtures" / "blog"


def test_lint_pending_reports_only_unapplied_migrations(tmp_path: Path, database_url: str, pg_server: PgServer) -> None:
    project = tmp_path / "blog"
    shutil.copytree(BLOG, project)
    migrations = list_migrations(project / "prisma" / "migrations")
    applied, pending = migrations[:4], migrations[4:]
    with psycopg.connect(database_url, autocommit=True) as conn:
        pm.create_migrations_table(conn, "public")
        for migration in applied:
            conn.execute(migration.data, prepare=False)
            pm.record_migration_deployed(conn, "public", migration.name, migration.data)

    outcome = api.lint(project_dir=project, pending=True, database_url=database_url)
    assert {f.migration for f in outcome.result.files} == {m.name for m in pending}
    assert {f.migration for f in outcome.result.findings} <= {m.name for m in pending}

    env = {**os.environ, "DATABASE_URL": database_url}
    completed = subprocess.run(
        [sys.executable, "-m", "safemigrate", "lint", "--pending", "--project", str(project), "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    document = json.loads(completed.stdout)
    assert {m["migration"] for m in document["migrations"]} == {m.name for m in pending}
    assert pg_server.password not in completed.stdout + completed.stderr
